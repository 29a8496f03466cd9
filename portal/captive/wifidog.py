"""WiFiDog's one-time tokens (../shared/reference/captive-portals.md 3.4; wifidog-gateway src/centralserver.c).

Continue sends the browser to the gateway's /wifidog/auth?token=<token> (gateways.WiFiDog); the gateway then
asks the portal's auth/ (stage=login) with that token and the MAC of the phone that brought it. The token is a
bearer secret on the venue's network: only its SHA-256 is stored, for TOKEN_TTL_S (the browser takes the
redirect at once), bound to the phone's client id (a keyed hash of the MAC, never the MAC), the shopper whose
Continue issued it and the session's length. Redeemed once, in one step: two auth calls with the same token
cannot both pass."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import redis

from core.storage import VenueKeys

TOKEN_TTL_S = 120  # Continue -> the gateway's auth call is one redirect away; a token left unused dies soon
MAX_TOKEN_CHARS = 128  # ours are 43; anything much longer is no token of ours (not even hashed)


# After its login the token stays the phone's: the gateway names it in every later auth call (counters,
# logout, a login again when the browser reloads the gateway's auth page), so those calls must bring it. Kept
# the session's time left and this much more, renewed at every counters call while the session lives (an
# Extend lengthens the session; the gateway's next counters call, within CheckInterval, lengthens this).
HELD_EXTRA_S = 3600


class WiFiDogKeys(VenueKeys):
    def ticket(self, digest: str) -> str:
        """STRING: a Ticket as JSON, under the SHA-256 of its token, in the venue's slot."""
        return self.key("wifidog", "ticket", digest)

    def held(self, phone: str) -> str:
        """STRING: the SHA-256 of the token the phone logged in with, in the venue's slot (as its ticket)."""
        return self.key("wifidog", "held", phone)


@dataclass(frozen=True)
class Ticket:
    phone: str  # the client id of the MAC the redirect named: the gateway's auth call must name the same
    granted_by: str  # the shopper (client id) whose Continue issued it: the session is theirs
    seconds: int  # the session the grant is for
    timed: bool  # the gateway enforces that length (gateways.tells_length)


# Redeem: the ticket, deleted, when it is there and for this phone, and the token kept as the phone's (KEYS[2]);
# 0 (kept) when it names another phone (a token the right phone may still bring); nil when there is none (never
# issued, used, or expired).
_REDEEM = """
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local ticket = cjson.decode(raw)
if ticket.phone ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[2], 'EX', tonumber(ticket.seconds) + tonumber(ARGV[3]))
return raw
"""


class WiFiDogTickets:
    def __init__(self, db: redis.Redis, ttl_s: int = TOKEN_TTL_S) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._redeem = db.register_script(_REDEEM)

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def issue(self, venue: str, token: str, ticket: Ticket) -> None:
        self.db.set(WiFiDogKeys(venue).ticket(self.digest(token)), json.dumps(asdict(ticket)), ex=self.ttl_s)

    def redeem(self, venue: str, token: str, phone: str) -> Ticket | None:
        """The ticket of `token` for `phone`, now used up; None when there is none for that phone."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        keys, digest = WiFiDogKeys(venue), self.digest(token)
        raw = self._redeem(keys=[keys.ticket(digest), keys.held(phone)], args=[phone, digest, HELD_EXTRA_S])
        return Ticket(**json.loads(raw)) if isinstance(raw, bytes) else None

    def hold_for(self, venue: str, phone: str, seconds_left: int) -> None:
        """The phone's token kept as long as its session (seconds_left) and HELD_EXTRA_S more."""
        self.db.expire(WiFiDogKeys(venue).held(phone), max(0, seconds_left) + HELD_EXTRA_S)

    def holds(self, venue: str, phone: str, token: str) -> bool:
        """Whether `token` is the one `phone` logged in with (a later auth call about it must bring it)."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return False
        held = self.db.get(WiFiDogKeys(venue).held(phone))
        return held is not None and held.decode() == self.digest(token)
