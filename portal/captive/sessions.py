"""Internet-access sessions, kept server side (the iOS mini-browser keeps no cookies) in Redis with AOF,
so they survive a server restart; and the IP -> client table learnt from gateways."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import redis

from core.storage import VenueKeys


class SessionKeys(VenueKeys):
    def session(self, client: str) -> str:
        """In the phone's bucket, beside its kept position: the probe reads both in one script."""
        return self.phone_key(client, "session", client)

    def client_ip(self, ip: str) -> str:
        return self.key("ip", ip)

    def gateway_context(self, client: str) -> str:
        return self.key("gwctx", client)

    def phone_gateway_context(self, phone: str) -> str:
        """The last context a verified gateway sent for this phone (its own name space: a shopper's client id
        and a phone's never share a key)."""
        return self.key("gwctx-phone", phone)


@dataclass(frozen=True)
class Session:
    client: str
    granted_at: float
    expires_at: float
    gateway: str
    extensions: int
    granted_by: str = ""  # the shopper (client id) whose Continue granted it ("": a session from before)

    def seconds_remaining(self, now: float | None = None) -> int:
        return max(0, int(self.expires_at - (time.time() if now is None else now)))


# Extend only a live session, and at most `max_extensions` times: check and write in one step so two
# taps on "extend" cannot both pass the limit.
_EXTEND = """
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local s = cjson.decode(raw)
local now = tonumber(ARGV[1])
if s.expires_at <= now then return nil end
if s.extensions >= tonumber(ARGV[3]) then return -1 end
s.extensions = s.extensions + 1
s.expires_at = s.expires_at + tonumber(ARGV[2])
local encoded = cjson.encode(s)
redis.call('SET', KEYS[1], encoded, 'EXAT', math.ceil(s.expires_at))
return encoded
"""


class SessionStore:
    def __init__(self, db: redis.Redis, ip_ttl_s: int = 24 * 3600) -> None:
        self.db = db
        self.ip_ttl_s = ip_ttl_s
        self._extend = db.register_script(_EXTEND)

    def grant(self, venue: str, client: str, seconds: int, gateway: str, now: float | None = None,
              granted_by: str = "") -> Session:
        now = time.time() if now is None else now
        session = Session(client=client, granted_at=now, expires_at=now + seconds, gateway=gateway, extensions=0,
                          granted_by=granted_by)
        self.db.set(SessionKeys(venue).session(client), json.dumps(session.__dict__), exat=int(session.expires_at) + 1)
        return session

    def get(self, venue: str, client: str, now: float | None = None) -> Session | None:
        return self.decode(self.db.get(SessionKeys(venue).session(client)), now)

    @staticmethod
    def decode(raw: bytes | None, now: float | None = None) -> Session | None:
        """The live session in a stored value; None for none or an expired one."""
        if raw is None:
            return None
        session = Session(**json.loads(raw))
        return session if session.expires_at > (time.time() if now is None else now) else None

    def extend(self, venue: str, client: str, seconds: int, max_extensions: int,
               now: float | None = None) -> Session | None:
        """The extended session; None if there is none to extend; raises LookupError at the limit."""
        result = self._extend(keys=[SessionKeys(venue).session(client)],
                              args=[time.time() if now is None else now, seconds, max_extensions])
        if result == -1:
            raise LookupError("this session cannot be extended again")
        return Session(**json.loads(result)) if result else None

    def revoke(self, venue: str, client: str) -> None:
        self.db.delete(SessionKeys(venue).session(client))

    # -- the gateway's view of who is who ---------------------------------------------------------

    def remember_ip(self, venue: str, ip: str, client: str) -> None:
        self.db.set(SessionKeys(venue).client_ip(ip), client, ex=self.ip_ttl_s)

    def client_for_ip(self, venue: str, ip: str) -> str | None:
        raw = self.db.get(SessionKeys(venue).client_ip(ip))
        return raw.decode() if raw else None

    def save_gateway_context(self, venue: str, client: str, sealed: bytes, ttl_s: int = 3600) -> None:
        """`sealed` is the encrypted gateway context (it can hold the raw MAC a grant call needs)."""
        self.db.set(SessionKeys(venue).gateway_context(client), sealed, ex=ttl_s)

    def gateway_context(self, venue: str, client: str) -> bytes | None:
        return self.db.get(SessionKeys(venue).gateway_context(client))

    def save_phone_gateway_context(self, venue: str, phone: str, sealed: bytes, ttl_s: int = 3600) -> None:
        """The context of the last redirect a gateway *vouched for* (a checksum or an encryption only it can
        make), keyed by the phone: a Continue that did not come through the gateway (the CAPPORT API's
        user-portal-url, a bookmark, the venue-info page) from that same phone grants through it. Never from
        an unverified redirect: anyone could then plant a context for someone else's phone."""
        self.db.set(SessionKeys(venue).phone_gateway_context(phone), sealed, ex=ttl_s)

    def phone_gateway_context(self, venue: str, phone: str) -> bytes | None:
        return self.db.get(SessionKeys(venue).phone_gateway_context(phone))
