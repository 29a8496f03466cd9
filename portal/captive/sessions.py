"""Internet-access sessions, kept server side (the iOS mini-browser keeps no cookies) in Redis with AOF,
so they survive a server restart; and the IP -> client table learnt from gateways."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import redis

from core.addresses import client_address
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


# The gateways whose sessions end when the portal's record says (see Session.extendable).
PORTAL_ENDS = ("direct", "wifidog")


@dataclass(frozen=True)
class Session:
    client: str
    granted_at: float
    expires_at: float
    gateway: str
    extensions: int
    granted_by: str = ""  # the shopper (client id) whose Continue granted it ("": a session from before)
    ip: str = ""  # the address the phone had when granted, normalised ("": the gateway named none)
    timed: bool = False  # the gateway's grant carried this length (Meraki's duration, a controller's minutes)

    @property
    def extendable(self) -> bool:
        """Only the sessions whose end is the portal's: its own (DIRECT_MODE=gateway, the demo) and WiFiDog's
        (its gateway asks the portal every CheckInterval whether the phone is still out). No other gateway's grant
        can be lengthened afterwards, and a longer record here would only tell the phone it is online after the
        gateway cut it off."""
        return self.gateway in PORTAL_ENDS

    @property
    def counts_down(self) -> bool:
        """Its time left is the one that holds: ours, or a length the gateway was told. The other gateways
        (CoovaChilli, WLC, Aruba, MikroTik, Ruckus, openNDS 0-2) keep their own, which we do not know."""
        return self.gateway == "direct" or self.timed

    @classmethod
    def fresh(cls, client: str, now: float, seconds: int, gateway: str, granted_by: str = "", ip: str | None = None,
              timed: bool = False) -> Session:
        """A new session from `now`, at the address `ip` names (normalised; None: none)."""
        return cls(client=client, granted_at=now, expires_at=now + seconds, gateway=gateway, extensions=0,
                   granted_by=granted_by, ip=normal_ip(ip) if ip else "", timed=timed)

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


# Grant: a new session (`s`, decoded), unless a live one is there (`now`). A live session is kept, never shortened
# nor its extensions reset: a second Continue is no free extension. `handed` '1' (the grant handed the phone to its
# gateway again): its end moves to this grant's when that is later (the gateway was handed that length, or started
# its own again), and it is the granting shopper's. The address is the grant's when it names one. Returns {the
# stored session, the live session's address ('': none)}. A function, for the scripts that grant along with other
# writes in the phone's bucket (portal/captive/wifidog.py: a WiFiDog token's redemption).
LUA_GRANT = """
local function grant(key, s, now, handed)
  local previous_ip = ''
  local raw = redis.call('GET', key)
  if raw then
    local live = cjson.decode(raw)
    if live.expires_at > now then
      previous_ip = live.ip or ''
      if handed == '1' then
        live.granted_by = s.granted_by
        if s.expires_at > live.expires_at then live.expires_at = s.expires_at end
      end
      if s.ip ~= '' then live.ip = s.ip end
      s = live
    end
  end
  local encoded = cjson.encode(s)
  redis.call('SET', key, encoded, 'EXAT', math.floor(s.expires_at) + 1)
  return {encoded, previous_ip}
end
"""
_GRANT = LUA_GRANT + """
return grant(KEYS[1], cjson.decode(ARGV[1]), tonumber(ARGV[2]), ARGV[3])
"""


def normal_ip(ip: str) -> str:
    """The one spelling of an address in the IP table: an IPv4-mapped IPv6 address (a dual-stack socket's
    REMOTE_ADDR, ::ffff:10.0.0.7) as its IPv4 address, IPv6 in its compressed form; anything else as it is.
    Not budgets' address_key: that counts a whole IPv6 /64 as one, and the IP table must tell phones apart."""
    address = client_address(ip)
    return ip if address is None else str(address)


# Point an address at a client, for no longer than that client's live session (ARGV[3], its end, 0: none) or,
# before a grant, ARGV[2] seconds: a departed phone's address, which DHCP hands to the next one, must not
# keep naming it.
_REMEMBER_IP = """
local ends = tonumber(ARGV[3])
if ends > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'EXAT', ends)
else
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
"""

# On an extend: the address's entry lives as long as the session, while it still names this client.
_STRETCH_IP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('EXPIREAT', KEYS[1], ARGV[2]) end
"""

_FORGET_IP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
"""

# Compare-and-delete of a session (KEYS[1]) as it was read (ARGV[1]). 0: it changed since it was read (a
# grant in between, perhaps at another address): the caller reads it again.
_REVOKE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""
_REVOKE_TRIES = 5


class SessionStore:
    def __init__(self, db: redis.Redis, ip_ttl_s: int = 24 * 3600) -> None:
        self.db = db
        self.ip_ttl_s = ip_ttl_s
        self._grant = db.register_script(_GRANT)
        self._extend = db.register_script(_EXTEND)
        self._remember_ip = db.register_script(_REMEMBER_IP)
        self._stretch_ip = db.register_script(_STRETCH_IP)
        self._forget_ip = db.register_script(_FORGET_IP)
        self._revoke = db.register_script(_REVOKE)

    def grant(self, venue: str, client: str, seconds: int, gateway: str, now: float | None = None,
              granted_by: str = "", ip: str | None = None, timed: bool = False,
              handed_to_gateway: bool = True) -> Session:
        """The session now: a new one, or the client's live one kept (never shortened, its extensions kept).
        `handed_to_gateway`: this grant handed the phone to its gateway (again; False: the portal's own session,
        kept exactly as it is): a live session's end moves to now + `seconds` when that is later, and it is
        `granted_by`'s now. `ip`: the phone's address the gateway named (or the portal saw, as the gateway): the
        session holds it, and the IP table names this client there for as long as the session lives. `timed`:
        the gateway's grant carried `seconds` (gateways.tells_length)."""
        now = time.time() if now is None else now
        fresh = Session.fresh(client, now, seconds, gateway, granted_by=granted_by, ip=ip, timed=timed)
        raw, previous_ip = self._grant(keys=[SessionKeys(venue).session(client)],
                                       args=[json.dumps(fresh.__dict__), repr(now), int(handed_to_gateway)])
        session = Session(**json.loads(raw))
        self.bind_ip(venue, session, previous_ip.decode())
        return session

    def bind_ip(self, venue: str, session: Session, previous_ip: str) -> None:
        """The IP table after a grant (`grant`, or a script granting with LUA_GRANT): the session's address names
        its client as long as it lives (another slot than the session's, keyed by address: written after it, so it
        never outlives it); an address a kept session held before names it no more."""
        keys, ends = SessionKeys(venue), int(session.expires_at) + 1
        if previous_ip and previous_ip != session.ip:
            self._forget_ip(keys=[keys.client_ip(previous_ip)], args=[session.client])
        if session.ip and session.ip == previous_ip:  # still there: only while it still names this client
            self._stretch_ip(keys=[keys.client_ip(session.ip)], args=[session.client, ends])
        elif session.ip:
            self._remember_ip(keys=[keys.client_ip(session.ip)], args=[session.client, self.ip_ttl_s, ends])

    def restore_ip(self, venue: str, session: Session) -> None:
        """The IP table's entry for a live session whose grant wrote the session but not the entry (a store fault
        between the two slots): written when missing, never over another client's."""
        if session.ip:
            self.db.set(SessionKeys(venue).client_ip(session.ip), session.client, exat=int(session.expires_at) + 1,
                        nx=True)

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
        session = Session(**json.loads(result)) if result else None
        if session is not None and session.ip:
            self._stretch_ip(keys=[SessionKeys(venue).client_ip(session.ip)],
                             args=[client, int(session.expires_at) + 1])
        return session

    def revoke(self, venue: str, client: str) -> None:
        """The session ends (the gateway logged the phone off); so does the IP table's entry it held, while that
        still names this client."""
        keys = SessionKeys(venue)
        for _ in range(_REVOKE_TRIES):
            raw = self.db.get(keys.session(client))
            if raw is None:
                return
            if not self._revoke(keys=[keys.session(client)], args=[raw]):
                continue  # granted again since it was read (perhaps at another address): that one ends
            session = self.decode(raw, now=0)  # an expired one's address too: it may still name this client
            if session is not None and session.ip:  # the phone's bucket and the IP table: two slots
                self._forget_ip(keys=[keys.client_ip(session.ip)], args=[client])
            return
        self.db.delete(keys.session(client))  # granted again on every try: the logoff still wins

    # -- the gateway's view of who is who ---------------------------------------------------------

    def remember_ip(self, venue: str, ip: str, client: str, now: float | None = None) -> None:
        """`ip` is `client`'s now (a verified gateway said so): for as long as its live session held at this
        address lasts, else for `ip_ttl_s` (a phone not granted yet: the landing still locates it)."""
        ip = normal_ip(ip)
        session = self.get(venue, client, now)
        until = int(session.expires_at) + 1 if session is not None and session.ip == ip else 0
        self._remember_ip(keys=[SessionKeys(venue).client_ip(ip)], args=[client, self.ip_ttl_s, until])

    def named_at(self, venue: str, ip: str) -> str | None:
        """The client the IP table names at `ip`, as stored. Whether that phone still holds the address is
        `held_elsewhere` of its session, which the landing reads anyway (Landing.decide): a phone granted at
        another address since names no one here, whoever has this address now is someone else."""
        raw = self.db.get(SessionKeys(venue).client_ip(normal_ip(ip)))
        return raw.decode() if raw else None

    @staticmethod
    def held_elsewhere(session: Session | None, ip: str) -> bool:
        """The live `session` is held at another address than `ip`: its phone moved, and whoever has `ip` now
        is someone else."""
        return session is not None and bool(session.ip) and session.ip != normal_ip(ip)

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
