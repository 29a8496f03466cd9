"""What a shopper agreed to: the privacy notice (PIPL) and two separate consents.

Location is sensitive personal information under PIPL (art. 28-29): using it for location-based services
needs its own, separate consent, and marketing another; neither may be a condition of the WiFi itself. Each
shopper's answer is kept with the version of the notice it answered and when, one small hash per shopper
(`mp:{venue}:consent:<shopper id>`). A new notice (NOTICES) asks everyone again; until she answers it, her answer
to the one before still stands for what happened while that one was in force (`Consent.covers`: the insights keep
past days' figures; in force on this install from when it first showed it, `Notices`), and only her own no takes it
back. Other host code reads a shopper's answer with `services().consent.get(venue, shopper_id)`; the shopper changes
it from Me.

Location declined is also kept per phone, for the paths that know a phone and no shopper: each phone the gateway
vouched for on her tokens (`Shopper.own_phone`, her phone set `ShopperKeys.phones_of`) gets a marker in its own
bucket (`ConsentKeys.location_off`, a string for KEEP_S: the probe's one round trip reads it with the phone's
other keys, portal/captive/probe_state.py, and lands the phone on the mall home) and a place in the venue's sorted
set `EventKeys.untracked` (score: until when), which the presence script reads in its own call (no round trip:
no `arrive` / `zone_enter` / `dwell` / `leave` for the phone; footfall's aggregate counts go on). Saying yes again
removes both; before any answer, nothing changes (the first landing comes before any page can ask). Declining ends
the phone's visit open then as the tracker ends one (`zone_leave`, `leave` at its last sighting): nothing new about
the phone, and no stay left open in the figures. Light apps ask with `portal.apps.location_consent`
(`position_phone`, `location_declined`)."""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis

from core.storage import VenueKeys, is_cluster, phone_buckets
from portal.events.log import EventKeys, Since
from portal.events.presence import LUA_CLOSE_VISIT

# Every privacy notice shown so far, oldest first, each named by the day (UTC) it came into force: a new notice text is
# added at the end (every shopper is asked again). 12-06: periods, who. On an install it is in force from that day or
# from when the install first showed it, whichever is later (`Notices`).
NOTICES = ("2026-11-30", "2026-12-06")
NOTICE_VERSION = NOTICES[-1]
_DATED = tuple(datetime.fromisoformat(version).replace(tzinfo=UTC).timestamp() for version in NOTICES)
KEEP_S = 400 * 86400  # a consent record outlives the shopper's data (tokens: 30 days after last use)
PURPOSES = ("location", "marketing")

# Location declined on phones (ARGV[3..]): each is untracked until ARGV[1] (the set kept ARGV[2] s), and its visit
# open now ends as the presence tracker's sweep ends one, by the same Lua (LUA_CLOSE_VISIT): a zone_leave with the
# stay's dwell and a leave with the visit's, at its last sighting. Its state goes. A stay left open would count the
# phone in its zone on every later day; the last sighting is nothing the log did not have coming. One call: a sighting
# cannot come between the end and the untracking. (No MAXLEN: this store does not know the stream's configured bound,
# settings.events_maxlen, and trimming to the default would drop events a larger bound keeps; the stream's next
# write trims it.)
_DECLINE = LUA_CLOSE_VISIT + """
local untracked, here, seen, stream = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
for i = 3, #ARGV do
  local dev = ARGV[i]
  redis.call('ZADD', untracked, ARGV[1], dev)
  local state = redis.call('HGET', here, dev)
  if state then close_visit(stream, nil, dev, state) end
  redis.call('HDEL', here, dev)
  redis.call('ZREM', seen, dev)
end
redis.call('EXPIRE', untracked, ARGV[2])
"""


@dataclass(frozen=True)
class Notices:
    """When each notice of NOTICES came into force at a venue of one install (`starts`, one per notice, never
    decreasing).

    Not before its day, and not before the venue's pages first showed it (`Since`: when the release that brought it
    first ran there): a mall still on an older release kept showing the notice before, and its shoppers' answers to
    that one stand for what they did until the mall upgraded (their landings and purchases stayed out of the insights,
    one day's visitors for good). A notice never shown there (one that came and went between two of its upgrades, or
    one older than its records) was never in force on its own: it starts with the next one."""

    starts: tuple[float, ...]

    @classmethod
    def shown(cls, first_shown: Mapping[str, float]) -> Notices:
        """From when the venue first showed each notice (version -> epoch s; other keys are ignored)."""
        starts, later = [], float("inf")
        for version, dated in zip(reversed(NOTICES), reversed(_DATED), strict=True):
            if version in first_shown:
                later = min(later, max(dated, first_shown[version]))
            starts.append(later)
        return cls(tuple(reversed(starts)))


BY_DATE = Notices(_DATED)  # a venue that showed every notice from its day on


def notice_at(at: float, notices: Notices = BY_DATE) -> str:
    """The version of the notice in force at `at` (epoch s) at a venue (`notices`); "" before the first."""
    shown = bisect_right(notices.starts, at)
    return NOTICES[shown - 1] if shown else ""


@dataclass(frozen=True)
class Consent:
    """One shopper's answer to the notice of `version`, given at `at` (epoch seconds); `notices`: when each notice
    came into force at its venue (`ConsentStore.get` gives the venue's)."""

    location: bool
    marketing: bool
    version: str
    at: float
    notices: Notices = field(default=BY_DATE, compare=False, repr=False)

    @property
    def current(self) -> bool:
        """Answered the notice in force now (else the notice is shown again)."""
        return self.version == NOTICE_VERSION

    def covers(self, at: float) -> bool:
        """The answer stands for what happened at `at`: it answered the notice in force then, or a later one (her
        last word; a yes also covers what came before any page could ask her). A newer notice she has not
        answered yet is not covered."""
        return self.version >= notice_at(at, self.notices)

    def allows(self, purpose: str, at: float | None = None) -> bool:
        """Consent for this purpose now, under the current notice (an answer to an older notice counts as no), or
        for what happened at `at` (`covers`)."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown purpose {purpose!r}; known: {', '.join(PURPOSES)}")
        return (self.current if at is None else self.covers(at)) and bool(getattr(self, purpose))


class ConsentKeys(VenueKeys):
    def consent(self, shopper: str) -> str:
        return self.key("consent", shopper)

    def location_off(self, phone: str) -> str:
        """String (when it was declined, epoch s; TTL KEEP_S), in the phone's bucket: the shopper of this phone
        declined location-based services. Read by the probe with the phone's other keys."""
        return self.phone_key(phone, "nolocation", phone)


class ConsentStore:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db
        self._decline = db.register_script(_DECLINE)
        self.since = Since.of(db).running(NOTICE_VERSION)  # the notice this release shows, from its first run here

    def notices(self, venue: str) -> Notices:
        """When each notice came into force at the venue on this install (read once per process: it changes on a
        deploy)."""
        return Notices.shown(self.since.read(venue))

    def get(self, venue: str, shopper: str) -> Consent | None:
        """The shopper's (shopper id, `Shopper.client`) recorded answer; None before they answered. The first call a
        process makes for a venue (the notice's page, a page asking for an answer) records the notice it shows as
        shown from now where no process did before (`Since`)."""
        notices = self.notices(venue)
        raw = self.db.hgetall(ConsentKeys(venue).consent(shopper))
        if not raw:
            return None
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        return Consent(location=fields.get("location") == "1", marketing=fields.get("marketing") == "1",
                       version=fields.get("version", ""), at=float(fields.get("at", 0)), notices=notices)

    def forget(self, venue: str, shopper: str) -> int:
        """Erasure: the shopper's answer (with nothing left about her, there is nothing it permits). Her phones'
        location-declined markers stay: an erasure does not turn back on what she asked to stop."""
        return int(self.db.delete(ConsentKeys(venue).consent(shopper)))

    def allows(self, venue: str, shopper: str, *purposes: str, at: float | None = None) -> bool:
        """Has this shopper consented to every one of `purposes` ("location", "marketing") under the current
        notice, or (`at`) for what happened then (`Consent.covers`: an insight counts a past day under the answer
        of its time)? One read of her answer however many purposes are asked about."""
        consent = self.get(venue, shopper)
        return consent is not None and all(consent.allows(purpose, at) for purpose in purposes)

    def declines_location(self, venue: str, shopper: str, phone: str | None = None) -> bool:
        """Did this shopper answer the notice (any version: her last word) with location-based services off, or
        the shopper of `phone` (her verified phone) decline them on it? False before any answer."""
        consent = self.get(venue, shopper)
        if consent is not None and not consent.location:
            return True
        return phone is not None and self.db.exists(ConsentKeys(venue).location_off(phone)) > 0

    def location_off_since(self, venue: str, phone: str) -> float | None:
        """When location-based services were declined on this phone (its marker), None when they are not."""
        raw = self.db.get(ConsentKeys(venue).location_off(phone))
        return None if raw is None else float(raw)

    def record(self, venue: str, shopper: str, *, location: bool, marketing: bool, phones: Iterable[str] = (),
               now: float | None = None) -> Consent:
        """Keep the shopper's answer to the current notice (replacing any earlier one), in one MULTI; `phones`:
        her verified phones, marked as declining location (or no longer) in the same MULTI where the store has
        one slot for them (a Valkey Cluster with phone buckets: in a second call, each phone's in its slot)."""
        consent = Consent(location=location, marketing=marketing, version=NOTICE_VERSION,
                          at=time.time() if now is None else now)
        key = ConsentKeys(venue).consent(shopper)
        phones = sorted(set(phones))
        was = self.db.hget(key, "location")
        one_slot = not is_cluster(self.db) or phone_buckets(venue) == 1
        pipe = self.db.pipeline(transaction=True)
        pipe.hset(key, mapping={"location": int(location), "marketing": int(marketing),
                                "version": consent.version, "at": f"{consent.at:.0f}"})
        pipe.expire(key, KEEP_S)
        if was is not None and bool(int(was)) != location:
            # The insights count a shopper's identified events only with location consent, and keep past
            # days' figures for minutes: a changed answer starts a new generation of them, so a withdrawal
            # leaves the figures at once (a first answer changes no figure: nothing counted the shopper yet).
            pipe.incr(EventKeys(venue).insights_generation())
        if phones:
            self._untracked(pipe, venue, phones, location, consent.at)
            if one_slot:
                self._markers(pipe, venue, phones, location, consent.at)
        pipe.execute()
        if phones and not one_slot:
            pipe = self.db.pipeline(transaction=False)  # routed per slot
            self._markers(pipe, venue, phones, location, consent.at)
            pipe.execute()
        return consent

    def _untracked(self, pipe, venue: str, phones: list[str], location: bool, now: float) -> None:
        """The venue's untracked set (`EventKeys.untracked`, in the venue's slot with the presence state): its
        members past their time dropped, then the phones added (declined: the visit each has open ended, _DECLINE)
        or removed."""
        keys = EventKeys(venue)
        untracked = keys.untracked()
        pipe.zremrangebyscore(untracked, "-inf", now)
        if location:
            pipe.zrem(untracked, *phones)
        else:
            # the set outlives every member (each is kept KEEP_S from its answer at most)
            self._decline(keys=[untracked, keys.presence(), keys.present_by_time(), keys.stream()],
                          args=[f"{now + KEEP_S:.3f}", KEEP_S, *phones],
                          # A cluster pipeline cannot queue a script (no EVALSHA, no reload on NOSCRIPT): sent now.
                          client=None if is_cluster(pipe) else pipe)

    @staticmethod
    def _markers(pipe, venue: str, phones: list[str], location: bool, now: float) -> None:
        keys = ConsentKeys(venue)
        for phone in phones:
            if location:
                pipe.delete(keys.location_off(phone))
            else:
                pipe.set(keys.location_off(phone), f"{now:.0f}", ex=KEEP_S)
