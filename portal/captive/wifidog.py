"""WiFiDog's one-time tokens (../shared/reference/captive-portals.md 3.4; wifidog-gateway src/centralserver.c).

Continue sends the browser to the gateway's /wifidog/auth?token=<token> (gateways.WiFiDog); the gateway then
asks the portal's auth/ (stage=login) with that token and the MAC (and IP) of the phone that brought it. The
token is a bearer secret on the venue's network: only its SHA-256 is stored, for TOKEN_TTL_S (the browser takes
the redirect at once), bound to the phone's client id (a keyed hash of the MAC, never the MAC) or, where the
redirect named no MAC (older WiFiDog versions, some gateways), to the phone's address it named; to the shopper
whose Continue issued it, the gateway whose redirect it answered (its `gw_id`) and the session's length.
Redeemed once: two auth calls with the same token cannot both pass. The MAC and IP the gateway names are those
of the browser that brought the token (its ARP table), and only the venue's named gateways may call auth/: a
guest who forged a redirect with another phone's MAC or IP holds a token that redeems nothing for the guest's
own phone.

A redemption writes the session, the phone's held token and the ticket's end in one script, in the phone's bucket
(a store fault leaves all or none of them; the gateway's retry, a reload of its auth page, finds the ticket or
the session). A ticket bound to an address cannot live in its phone's bucket (no one knows the phone until the
gateway names it): it is in the venue's slot, first claimed for the MAC the gateway names (only that MAC may
redeem it from then on, a retry included), then redeemed as the others."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, fields

import redis

from core.storage import VenueKeys
from portal.captive.gateways import WiFiDog
from portal.captive.sessions import LUA_GRANT, Session, SessionKeys, SessionStore

TOKEN_TTL_S = 120  # Continue -> the gateway's auth call is one redirect away; a token left unused dies soon
MAX_TOKEN_CHARS = 128  # ours are 43; anything much longer is no token of ours (not even hashed)


# After its login the token stays the phone's: the gateway names it in every later auth call (counters,
# logout, a login again when the browser reloads the gateway's auth page), so those calls must bring it. Kept
# the session's time left and this much more, renewed at every counters call while the session lives (an
# Extend lengthens the session; the gateway's next counters call, within CheckInterval, lengthens this).
HELD_EXTRA_S = 3600


class WiFiDogKeys(VenueKeys):
    def ticket(self, phone: str, digest: str) -> str:
        """STRING: a Ticket for `phone` as JSON, under the SHA-256 of its token, in the phone's bucket (beside its
        held token and its session: redeemed in one script)."""
        return self.phone_key(phone, "wifidog-ticket", digest)

    def address_ticket(self, digest: str) -> str:
        """STRING: a Ticket bound to an address (no MAC known), in the venue's slot; where an older version kept
        every ticket (one it issued during a rolling deploy is redeemed from here too)."""
        return self.key("wifidog", "ticket", digest)

    def held(self, phone: str) -> str:
        """STRING: the SHA-256 of the token the phone logged in with, in the phone's bucket (beside its session)."""
        return self.phone_key(phone, "wifidog-held", phone)


@dataclass(frozen=True)
class Ticket:
    phone: str  # the client id of the MAC the redirect named: the gateway's auth call must name the same; "": none
    granted_by: str  # the shopper (client id) whose Continue issued it: the session is theirs
    seconds: int  # the session the grant is for
    timed: bool  # the gateway enforces that length (gateways.tells_length)
    gw_id: str = ""  # the redirect's gw_id: only that gateway's auth call redeems it
    ip: str = ""  # no `phone`: the phone's address the redirect named, which the gateway's auth call must name

    @classmethod
    def from_json(cls, raw: bytes | str) -> Ticket:
        """A stored ticket; fields this version does not know are left out (a newer host may have written it)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in json.loads(raw).items() if k in known})


# commit(ticket, held key, session key, session template, now, digest, extra): the ticket's session granted (the
# template with the ticket's length, shopper and timing; a live one kept, as any grant keeps it), then the token
# held as the phone's for the session's time left and `extra` more (a new sign-in after the gateway forgot its
# phones, a restart, replaces the last one). Everything read and decoded before the first write: a script that
# fails half way keeps what it wrote.
_COMMIT_FN = LUA_GRANT + """
local function commit(ticket, held_key, session_key, template, now, digest, extra)
  local s = cjson.decode(template)
  s.expires_at = now + tonumber(ticket.seconds)
  s.granted_by = ticket.granted_by
  s.timed = ticket.timed
  local granted = grant(session_key, s, now, '1')
  local ends = cjson.decode(granted[1]).expires_at
  redis.call('SET', held_key, digest, 'EX', math.max(0, math.ceil(ends - now)) + extra)
  return granted
end
"""

# Redeem a ticket of the phone's bucket (KEYS: ticket, held, session), for this phone (ARGV[1]) from its gateway
# (ARGV[2]): {the ticket, the session, the live session's earlier address}, the ticket deleted; 0 (kept) when it
# names another phone or gateway (a token the right one may still bring); nil when there is none.
_REDEEM = _COMMIT_FN + """
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local ticket = cjson.decode(raw)
if ticket.phone ~= ARGV[1] or ticket.gw_id ~= ARGV[2] then return 0 end
local granted = commit(ticket, KEYS[2], KEYS[3], ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]))
redis.call('DEL', KEYS[1])
return {raw, granted[1], granted[2]}
"""

# Claim a ticket of the venue's slot (KEYS[1]) for the phone (ARGV[1]) the gateway names at the address ARGV[2],
# from its gateway (ARGV[3]): the ticket, when it is bound to that address and unclaimed or this phone's already
# (a retry), or bound to this phone (an older host's); 0 (kept) when not; nil when there is none. Marked, not
# deleted: a fault before the redemption leaves it for this phone's retry.
_CLAIM = """
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local ticket = cjson.decode(raw)
if ticket.gw_id ~= ARGV[3] then return 0 end
if ticket.phone ~= '' then
  if ticket.phone == ARGV[1] then return raw end
  return 0
end
if (ticket.ip or '') == '' or ticket.ip ~= ARGV[2] then return 0 end
local claimed = ticket.claimed_by or ''
if claimed == ARGV[1] then return raw end
if claimed ~= '' then return 0 end
ticket.claimed_by = ARGV[1]
redis.call('SET', KEYS[1], cjson.encode(ticket), 'KEEPTTL')
return raw
"""

# Redeem a claimed ticket (ARGV[1]) in the phone's bucket (KEYS: held, session): {the session, the earlier address}.
_REDEEM_CLAIMED = _COMMIT_FN + """
local granted = commit(cjson.decode(ARGV[1]), KEYS[1], KEYS[2], ARGV[2], tonumber(ARGV[3]), ARGV[4],
                       tonumber(ARGV[5]))
return granted
"""


class WiFiDogTickets:
    def __init__(self, db: redis.Redis, sessions: SessionStore, ttl_s: int = TOKEN_TTL_S) -> None:
        self.db = db
        self.sessions = sessions
        self.ttl_s = ttl_s
        self._redeem = db.register_script(_REDEEM)
        self._claim = db.register_script(_CLAIM)
        self._redeem_claimed = db.register_script(_REDEEM_CLAIMED)

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def issue(self, venue: str, token: str, ticket: Ticket) -> None:
        """Stored beside its phone's session, or in the venue's slot when only an address names the phone."""
        keys, digest = WiFiDogKeys(venue), self.digest(token)
        key = keys.ticket(ticket.phone, digest) if ticket.phone else keys.address_ticket(digest)
        self.db.set(key, json.dumps(asdict(ticket)), ex=self.ttl_s)

    def redeem(self, venue: str, token: str, phone: str, gw_id: str, ip: str | None) -> Ticket | None:
        """The ticket of `token` for `phone` at the address `ip` (normalised; None: the call named none) from
        gateway `gw_id`, now used up: the phone's session granted and the token held as the phone's. None when
        there is none for that phone (or address) and gateway."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        keys, digest, now = WiFiDogKeys(venue), self.digest(token), time.time()
        template = json.dumps(Session.fresh(phone, now, 0, WiFiDog.name, ip=ip).__dict__)
        commit = [template, repr(now), digest, HELD_EXTRA_S]
        own = [keys.held(phone), SessionKeys(venue).session(phone)]
        found = self._redeem(keys=[keys.ticket(phone, digest), *own], args=[phone, gw_id, *commit])
        if found == 0:
            return None
        if found is None:  # none beside the phone: one bound to its address (or an older host's)
            raw = self._claim(keys=[keys.address_ticket(digest)], args=[phone, ip or "", gw_id])
            if not isinstance(raw, bytes):
                return None
            found = [raw, *self._redeem_claimed(keys=own, args=[raw, *commit])]
            self.db.delete(keys.address_ticket(digest))  # claimed: no other phone could redeem it meanwhile
        raw, session, previous_ip = found
        self.sessions.bind_ip(venue, Session(**json.loads(session)), previous_ip.decode())
        return Ticket.from_json(raw)

    def hold_for(self, venue: str, phone: str, seconds_left: int) -> None:
        """The phone's token kept as long as its session (seconds_left) and HELD_EXTRA_S more."""
        self.db.expire(WiFiDogKeys(venue).held(phone), max(0, seconds_left) + HELD_EXTRA_S)

    def holds(self, venue: str, phone: str, token: str) -> bool:
        """Whether `token` is the one `phone` logged in with (a later auth call about it must bring it)."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return False
        held = self.db.get(WiFiDogKeys(venue).held(phone))
        return held is not None and held.decode() == self.digest(token)
