"""The `state` of WeChat's sign-in for JSAPI (the official account's snsapi_base): the portal sends WeChat's browser
to WeChat with it, and WeChat sends it back, with the code, to the order's sign-in return. It says which order
and which shopper the sign-in is for and until when, under a MAC of the portal's SECRET_KEY, so a return with a
state made up, made for another order or shopper, or older than STATE_TTL_S places nothing. WeChat takes up to
128 characters of [A-Za-z0-9]: `<expiry, Unix seconds>x<MAC, 40 hex digits>`."""

from __future__ import annotations

import hmac
import re

from core.security import keyed_hash

STATE_TTL_S = 600  # the press of Pay to the return: a sign-in's code itself lasts 5 minutes
_PURPOSE = b"mallportal payments: wechat sign-in state"
_STATE = re.compile(r"([0-9]{1,12})x([0-9a-f]{40})")


def sign_in_state(key: str, venue: str, order_id: str, client: str, now_s: float) -> str:
    expires = int(now_s) + STATE_TTL_S
    return f"{expires}x{_mac(key, venue, order_id, client, expires)}"


def state_problem(key: str, state: str, venue: str, order_id: str, client: str, now_s: float) -> str:
    """"" for a state this portal made for this order and shopper, still in time; else "forged" (made up, or made
    for another order or shopper) or "expired"."""
    match = _STATE.fullmatch(state or "")
    if match is None or not hmac.compare_digest(match[2], _mac(key, venue, order_id, client, int(match[1]))):
        return "forged"
    return "expired" if int(match[1]) < now_s else ""


def _mac(key: str, venue: str, order_id: str, client: str, expires: int) -> str:
    return keyed_hash(key, _PURPOSE, f"{venue}\n{order_id}\n{client}\n{expires}", length=40)
