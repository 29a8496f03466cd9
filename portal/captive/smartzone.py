"""The northbound portal interface (NBI) of Ruckus SmartZone (SZ, vSZ) and RUCKUS One hotspots, as an external
portal uses it (RUCKUS One Hotspot WISPr API Reference, 800-73417-001; the SmartZone Hotspot NBI guides):
one JSON POST per call to `<scheme>://<nbiIP>:<port>/portalintf` (SmartZone: https on 9443 or http on 9080;
RUCKUS One: https on 443, its `nbiIP` being the tenant's host name), each naming `Vendor`, `APIVersion`,
`RequestPassword` (the NBI password set on the controller; RUCKUS One also `RequestUserName`),
`RequestCategory` and `RequestType`; the answer's `ResponseCode` says how it went.

- `GetConfig` / `Decrypt` with `Data`: the controller encrypts the phone's MAC and IP in its redirect
  (`client_mac=ENC...`, `uip=ENC...`) unless the WLAN says otherwise; this reads them (answer: code 200 and
  `Data`). Only the controller can make a value it decrypts, so a decrypted MAC is one the gateway vouched for.
- `UserOnlineControl` / `Login` with `UE-IP`, `UE-MAC` (exactly as the redirect sent them, encrypted or not),
  `UE-Proxy`, `UE-Username`, `UE-Password`: the hotspot's authentication service checks the guest credentials
  (for a click-through portal, an "always accept" service or a guest account) and lets the phone out.
  101 (already authorised) and 201 (login succeeded) are a grant; 202 (authentication pending) is not yet one.

TLS and the HTTP plumbing: portal/captive/controller_api.py."""

from __future__ import annotations

from portal.captive.controller_api import ControllerClient

NBI_PATH = "/portalintf"
API_VERSION = "1.0"
GRANTED = (101, 201)  # client authorised already; login succeeded
DECRYPTED = 200
DECRYPT_TIMEOUT_S = 3.0  # on the landing path: a phone waits for it, and lands unknown if it does not come


def is_encrypted(value: str | None) -> bool:
    """A value the controller encrypted (`ENC` and hex), as it sends client_mac and uip by default."""
    return (value is not None and 3 < len(value) <= 512 and value.startswith("ENC") and value.isascii()
            and value[3:].isalnum())


class SmartZoneNbi(ControllerClient):
    prefix = "smartzone"

    def __init__(self, base_url: str, password: str, username: str = "", **options) -> None:
        super().__init__(base_url, **options)
        self.password = password
        self.username = username

    def call(self, category: str, kind: str, **fields: str) -> tuple[int | None, dict]:
        """(the answer's ResponseCode, the answer) of one NBI request."""
        body = {"Vendor": "ruckus", "APIVersion": API_VERSION, "RequestPassword": self.password,
                "RequestCategory": category, "RequestType": kind, **fields}
        if self.username:
            body["RequestUserName"] = self.username
        status, _, answer = self.request("POST", NBI_PATH, body)
        answer = answer if isinstance(answer, dict) else {}
        code = answer.get("ResponseCode")
        if isinstance(code, str) and code.isdigit():
            code = int(code)
        if status != 200 or not isinstance(code, int) or isinstance(code, bool):
            return None, answer
        return code, answer

    def decrypt(self, data: str) -> str:
        """The plain text of a value the controller encrypted; ControllerError when it does not say."""
        code, answer = self.call("GetConfig", "Decrypt", Data=data)
        plain = answer.get("Data")
        if code != DECRYPTED or not isinstance(plain, str) or not plain or plain.startswith("ENC"):
            raise self.fail(f"Decrypt refused (ResponseCode={code}, {_reply(answer)})")
        return plain

    def login(self, ue_mac: str, ue_ip: str | None, proxy: str, username: str, password: str) -> None:
        """Let the phone out; ControllerError (with the controller's code and reply) when it did not."""
        fields = {"UE-MAC": ue_mac, "UE-Proxy": proxy, "UE-Username": username, "UE-Password": password}
        if ue_ip:
            fields["UE-IP"] = ue_ip
        code, answer = self.call("UserOnlineControl", "Login", **fields)
        if code not in GRANTED:
            raise self.fail(f"Login refused (ResponseCode={code}, {_reply(answer)})")


def _reply(answer: dict) -> str:
    """The controller's ReplyMessage, short and printable, for the operator's log."""
    text = answer.get("ReplyMessage")
    return repr(text[:120]) if isinstance(text, str) else "no ReplyMessage"
