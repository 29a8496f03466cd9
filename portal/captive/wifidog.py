"""WiFiDog's one-time tokens (../shared/reference/captive-portals.md 3.4; wifidog-gateway src/centralserver.c).

Continue sends the browser to the gateway's /wifidog/auth?token=<token> (gateways.WiFiDog); the gateway then
asks the portal's auth/ (stage=login) with that token and the MAC of the phone that brought it. The token is a
bearer secret on the venue's network: only its SHA-256 is stored, for TOKEN_TTL_S (the browser takes the
redirect at once), bound to the phone's client id (a keyed hash of the MAC, never the MAC), the shopper whose
Continue issued it, the gateway whose redirect it answered (its `gw_id`) and the session's length. Redeemed
once, in one step: two auth calls with the same token cannot both pass. The MAC the gateway names is that of
the browser that brought the token (its ARP table), and only the venue's named gateways may call auth/: a guest
who forged a redirect with another phone's MAC holds a token that redeems nothing for the guest's own phone."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields

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
        """STRING: the SHA-256 of the token the phone logged in with, in the phone's bucket (beside its session)."""
        return self.phone_key(phone, "wifidog-held", phone)


@dataclass(frozen=True)
class Ticket:
    phone: str  # the client id of the MAC the redirect named: the gateway's auth call must name the same
    granted_by: str  # the shopper (client id) whose Continue issued it: the session is theirs
    seconds: int  # the session the grant is for
    timed: bool  # the gateway enforces that length (gateways.tells_length)
    gw_id: str = ""  # the redirect's gw_id: only that gateway's auth call redeems it

    @classmethod
    def from_json(cls, raw: bytes | str) -> Ticket:
        """A stored ticket; fields this version does not know are left out (a newer host may have written it)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in json.loads(raw).items() if k in known})


# Redeem, step 1, in the venue's slot: the ticket, deleted, when it is there, for this phone (ARGV[1]) and from
# its gateway (ARGV[2]); 0 (kept) when it names another phone or gateway (a token the right one may still bring);
# nil when there is none (never issued, used, or expired).
_TAKE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local ticket = cjson.decode(raw)
if ticket.phone ~= ARGV[1] then return 0 end
if ticket.gw_id ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
return raw
"""


class WiFiDogTickets:
    def __init__(self, db: redis.Redis, ttl_s: int = TOKEN_TTL_S) -> None:
        self.db = db
        self.ttl_s = ttl_s
        self._take = db.register_script(_TAKE)

    @staticmethod
    def digest(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def issue(self, venue: str, token: str, ticket: Ticket) -> None:
        self.db.set(WiFiDogKeys(venue).ticket(self.digest(token)), json.dumps(asdict(ticket)), ex=self.ttl_s)

    def redeem(self, venue: str, token: str, phone: str, gw_id: str) -> Ticket | None:
        """The ticket of `token` for `phone` from gateway `gw_id`, now used up and the token held as the phone's;
        None when there is none for that phone and gateway."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        keys, digest = WiFiDogKeys(venue), self.digest(token)
        raw = self._take(keys=[keys.ticket(digest)], args=[phone, gw_id])
        if not isinstance(raw, bytes):
            return None
        ticket = Ticket.from_json(raw)
        # The phone's token from now on (a new sign-in after the gateway forgot its phones, a restart, replaces the
        # last one): only the named gateways may call auth/, and the gateway names the MAC of the browser that
        # brought the token (its ARP table), so another guest's browser cannot redeem a token for this phone.
        self.db.set(keys.held(phone), digest, ex=ticket.seconds + HELD_EXTRA_S)
        return ticket

    def hold_for(self, venue: str, phone: str, seconds_left: int) -> None:
        """The phone's token kept as long as its session (seconds_left) and HELD_EXTRA_S more."""
        self.db.expire(WiFiDogKeys(venue).held(phone), max(0, seconds_left) + HELD_EXTRA_S)

    def holds(self, venue: str, phone: str, token: str) -> bool:
        """Whether `token` is the one `phone` logged in with (a later auth call about it must bring it)."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return False
        held = self.db.get(WiFiDogKeys(venue).held(phone))
        return held is not None and held.decode() == self.digest(token)
