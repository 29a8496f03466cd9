"""The privacy side of the event log: the operator's list of staff phones (left out of every figure),
which events may count (location consent, once a consent store answers), retention per data kind with
the daily job that applies it, a member's export and erasure, and the audit of who exported what."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from bisect import bisect_right
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, tzinfo

import redis

from core.errors import N_, CatalogInputError
from core.security import MacHasher
from core.storage import VenueKeys
from portal.events.insights import ANON
from portal.events.log import Event, EventKeys, Since
from portal.events.moments import MomentKeys
from portal.notify.outbox import Outbox

AUDIT_KEPT = 1000
DAILY_S = 86400  # the retention job runs once in this long per venue (`PrivacyStore.daily`)
# How long a venue day's anonymisation key outlives the last run that used it (each run sets it again; a run that
# finishes deletes the keys it used, its days anonymised whole). It exists only to bridge a run that failed part way
# through a day to the run that finishes that day, the next daily run: one DAILY_S, and an hour for that run to start
# (the tracker's rounds) and reach the day's events. Kept longer, anyone holding the store could re-link the day's
# pseudonyms to the phones they stand for (HMAC of a known id), which a per-day key is there to prevent.
DAY_KEY_KEPT_S = DAILY_S + 3600
# Retention per data kind, in days: (what happens, default, lowest allowed).
RETENTION = {
    "events_anonymise": ("event log: phone and shopper ids replaced by unlinkable ones", 90, 1),
    "events_delete": ("event log: deleted", 395, 7),
    "deliveries_delete": ("moments delivery log and undelivered notifications: deleted", 30, 1),
}
RETENTION_MAX_DAYS = 3650
# A phone's events this far apart are two visits even with no `leave` between them (a state dropped without one).
VISIT_GAP_S = 86400.0
# What an anonymised event keeps of its data: what the insights count, nothing that names a record kept elsewhere.
# A payment's `order` (its order names the shopper for the books' 400 days), a member number, and any field added
# later are dropped, so a new field is left out until it is named here as saying nothing of who it was.
ANONYMOUS_DATA = frozenset({"app", "action", "amount_fen", "dwell_s", "min", "seats", "party", "won", "show", "item",
                            "link", "coupon", "game"})


class RetentionError(CatalogInputError):
    """Retention days refused: `field` names the data kind (RETENTION), the catalog message says why."""


def retention_problems(days: Mapping[str, int]) -> dict[str, RetentionError]:
    """Every problem of a whole retention setting (days per kind of RETENTION), by kind: a kind missing or
    out of its bounds, or events deleted before they are anonymised (checked once both are within theirs).
    Empty: it may be saved."""
    problems = {}
    for kind, (_what, _default, low) in RETENTION.items():
        if not low <= days.get(kind, -1) <= RETENTION_MAX_DAYS:
            problems[kind] = RetentionError(kind, N_("Keep it from %(low)d to %(high)d days."), low=low,
                                            high=RETENTION_MAX_DAYS)
    events = ("events_anonymise", "events_delete")
    if not problems.keys() & set(events) and days[events[0]] > days[events[1]]:
        problems["events_anonymise"] = RetentionError(
            "events_anonymise", N_("Events must be anonymised before they are deleted."))
    return problems


class PrivacyKeys(VenueKeys):
    def staff(self) -> str:
        """Set: client ids (keyed hashes of MACs) of the venue's staff phones, kept by the operator."""
        return self.key("priv", "staff")

    def exports(self) -> str:
        """List: who exported what, newest first (JSON)."""
        return self.key("priv", "exports")

    def retention(self) -> str:
        """Hash: data kind -> days kept (RETENTION)."""
        return self.key("priv", "retention")

    def daily(self) -> str:
        """String with a day's TTL: the retention job ran."""
        return self.key("priv", "daily")

    def kept(self) -> str:
        """ZSET keeper shopper id -> when what an erasure kept under it ends (epoch s): erased then
        (portal/events/mydata.py `keep_paid`, `erase_kept_due`)."""
        return self.key("priv", "kept")

    def day_key(self, day: date) -> str:
        """String (32 random bytes, TTL DAY_KEY_KEPT_S): the secret of a venue day's pseudonyms while an
        anonymisation of that day is under way, so that a run that failed part way and the run after it (or two
        runs at once) give the day's events one pseudonym per phone."""
        return self.key("priv", "anonday", day.isoformat())


class PrivacyStore:
    def __init__(self, db: redis.Redis, hasher: MacHasher | None = None,
                 tz_of: Callable[[str], tzinfo] | None = None) -> None:
        """`tz_of`: venue -> its time zone, whose days the anonymisation keys by (None: UTC)."""
        self.db = db
        self.hasher = hasher
        self.tz_of = tz_of or (lambda venue: UTC)
        self.since = Since.of(db)  # when each venue first showed each notice (the consent answers' spans)
        # (venue, shopper, *purposes) -> consented to all: the consent store's `allows`, plugged in by the
        # composition root; None (no consent store): every event counts, every shopper may be contacted.
        self.consents: Callable[..., bool] | None = None

    # ---- staff phones ----
    def staff(self, venue: str) -> set[str]:
        return {m.decode() for m in self.db.smembers(PrivacyKeys(venue).staff())}

    def add_staff_mac(self, venue: str, mac: str) -> str:
        """A staff phone by its MAC (hashed here, as every MAC is; the MAC is not kept). ValueError if bad."""
        if self.hasher is None:
            raise RuntimeError("no MAC hasher")
        client = self.hasher.client_id(mac)
        self.db.sadd(PrivacyKeys(venue).staff(), client)
        self.db.incr(EventKeys(venue).insights_generation())  # the figures leave it out from now on
        return client

    def remove_staff(self, venue: str, client: str) -> bool:
        removed = bool(self.db.srem(PrivacyKeys(venue).staff(), client))
        if removed:
            self.db.incr(EventKeys(venue).insights_generation())
        return removed

    # ---- consent ----
    def allowed(self, venue: str) -> Callable[[Event], bool] | None:
        """The filter the insights apply: an event that names a shopper counts only when that shopper's
        location consent stood when it happened (`Consent.covers`: her answer to the notice of that time, or a
        later one; a new notice does not take back past days, her no takes back all). Presence events name
        none: they count as aggregates, shown k-anonymously. None: no consent store, every event counts.
        Answers are cached for the one computation, per shopper and span of time no notice came into force in: a
        notice does at a UTC midnight (its day, portal/consent.py NOTICES) or when the venue first showed it (a time
        of `Since`)."""
        if self.consents is None:
            return None
        check, cache, changes = self.consents, {}, sorted(self.since.read(venue).values())

        def allowed(event: Event) -> bool:
            if event.shopper is None or event.shopper.startswith(ANON):
                return True
            asked = (event.shopper, event.at // 86400, bisect_right(changes, event.at))
            if asked not in cache:
                cache[asked] = check(venue, event.shopper, "location", at=event.at)
            return cache[asked]

        return allowed

    def may_contact(self, venue: str, device: str | None, shopper: str | None,
                    purposes: tuple[str, ...] = ("marketing",)) -> bool:
        """The moments engine's consent condition: the shopper agreed to every purpose (a rule's
        `moments.purposes`: marketing, and location for a rule her whereabouts trigger); no consent store:
        yes."""
        if self.consents is None:
            return True
        return shopper is not None and (not purposes or self.consents(venue, shopper, *purposes))

    # ---- export audit ----
    def audit_export(self, venue: str, who: str, what: str, scope: str, at: float | None = None) -> None:
        entry = json.dumps({"at": time.time() if at is None else at, "who": who, "what": what, "scope": scope})
        pipe = self.db.pipeline(transaction=True)
        pipe.lpush(PrivacyKeys(venue).exports(), entry)
        pipe.ltrim(PrivacyKeys(venue).exports(), 0, AUDIT_KEPT - 1)
        pipe.execute()

    def exports(self, venue: str, limit: int = 100) -> list[dict]:
        return [json.loads(raw) for raw in self.db.lrange(PrivacyKeys(venue).exports(), 0, limit - 1)]

    # ---- what an erasure kept (a shopper's paid tickets and orders, under a keeper id) ----
    def keep_until(self, venue: str, keeper: str, until: float) -> None:
        """The keeper id's things end at `until` (later only: a thing kept later is not cut short)."""
        self.db.zadd(PrivacyKeys(venue).kept(), {keeper: until}, gt=True)

    def kept_due(self, venue: str, now: float, limit: int = 100) -> list[str]:
        """The keeper ids whose things have ended by `now`, longest ended first."""
        return [k.decode() for k in self.db.zrangebyscore(PrivacyKeys(venue).kept(), "-inf", now, 0, limit)]

    def kept_done(self, venue: str, keeper: str) -> None:
        self.db.zrem(PrivacyKeys(venue).kept(), keeper)

    # ---- retention ----
    def retention(self, venue: str) -> dict[str, int]:
        stored = {k.decode(): int(v) for k, v in self.db.hgetall(PrivacyKeys(venue).retention()).items()}
        return {kind: stored.get(kind, default) for kind, (_what, default, _low) in RETENTION.items()}

    def set_retention(self, venue: str, days: Mapping[str, int]) -> dict[str, int]:
        """Every kind's days at once, in one HSET: a refused setting leaves the stored one whole (never half
        a change). Returns the days kept before, read in the same MULTI (for the audit). ValueError for an
        unknown kind; RetentionError (the first of retention_problems) for a missing or bad one."""
        if unknown := sorted(set(days) - set(RETENTION)):
            raise ValueError(f"unknown data kind {unknown[0]!r}")
        if problems := retention_problems(days):
            raise next(iter(problems.values()))
        key = PrivacyKeys(venue).retention()
        pipe = self.db.pipeline(transaction=True)
        pipe.hmget(key, list(RETENTION))
        pipe.hset(key, mapping={kind: int(days[kind]) for kind in RETENTION})
        before, _written = pipe.execute()
        stored = zip(RETENTION, before, strict=True)
        return {kind: RETENTION[kind][1] if raw is None else int(raw) for kind, raw in stored}

    def daily(self, venue: str, now: float | None = None) -> dict[str, int] | None:
        """The daily job (the tracker's sweep calls it; it runs once a day per venue): apply retention."""
        if not self.db.set(PrivacyKeys(venue).daily(), "1", nx=True, ex=DAILY_S):
            return None
        return self.apply_retention(venue, time.time() if now is None else now)

    def apply_retention(self, venue: str, now: float) -> dict[str, int]:
        days = self.retention(venue)
        deleted, anonymised = self._sweep_events(venue, delete_before=now - days["events_delete"] * 86400,
                                                 anonymise_before=now - days["events_anonymise"] * 86400)
        keys = MomentKeys(venue)
        old = self.db.zrangebyscore(keys.deliveries(), "-inf", now - days["deliveries_delete"] * 86400)
        if old:
            self.db.delete(*(keys.delivery(d.decode()) for d in old))
            self.db.zrem(keys.deliveries(), *old)
        # the notifications that could not be delivered go with the deliveries: each names its shopper and message
        dead = Outbox(self.db).drop_dead_before(venue, now - days["deliveries_delete"] * 86400)
        if deleted or anonymised:
            self.db.incr(EventKeys(venue).insights_generation())  # no cached figure outlives its data
        return {"events_deleted": deleted, "events_anonymised": anonymised, "deliveries_deleted": len(old),
                "dead_letters_deleted": dead}

    def _sweep_events(self, venue: str, delete_before: float, anonymise_before: float,
                      batch: int = 1000) -> tuple[int, int]:
        """One pass over the venue's stream (a daily job): events that happened before `delete_before` are
        deleted; the venue's days up to the one `anonymise_before` falls in are anonymised whole: each phone and
        shopper id becomes a pseudonym keyed by a secret of its day (`_Days`, kept in the store while a run is
        under way, so a run that fails part way and the next give a day one; deleted when a run is through, else
        DAY_KEY_KEPT_S after the last run that used it), so a day's figures still add up and nobody can link them
        back, nor one day's to another's; of its data only ANONYMOUS_DATA is kept (a member number, a payment's
        order id are dropped). A rewritten event goes to the stream's end (readers order by `at`)."""
        days = _Days(self.tz_of(venue), self.db, PrivacyKeys(venue))
        last_day = days.day_of(anonymise_before)
        stream, deleted, anonymised, start = EventKeys(venue).stream(), 0, 0, "-"
        while True:
            entries = self.db.xrange(stream, min=start, max="+", count=batch)
            # One MULTI a batch (one key, the stream): a connection lost part way through a plain pipeline could
            # leave a rewritten copy beside its original, and the next run would rewrite that original again.
            pipe = self.db.pipeline(transaction=True)
            for entry_id, raw in entries:
                event = Event.from_entry(venue, entry_id, raw)
                if event is not None and event.at < delete_before:
                    pipe.xdel(stream, entry_id)
                    deleted += 1
                elif event is not None and _identifies(event) and (day := days.visit_day(event)) <= last_day:
                    data = {k: v for k, v in event.data.items() if k in ANONYMOUS_DATA}
                    device, shopper = days.anonymous_ids(day, event, entry_id.decode())
                    pipe.xadd(stream, Event(event.kind, event.at, venue, device, shopper, event.zone, data).fields())
                    pipe.xdel(stream, entry_id)
                    anonymised += 1
            pipe.execute()
            if len(entries) < batch:
                days.forget()
                return deleted, anonymised
            start = "(" + entries[-1][0].decode()


class _Days:
    """One anonymisation run's venue days: the secret of each day's pseudonyms (`PrivacyKeys.day_key`: made by
    the first run that needs it, read by any other run until one is through), and the day each event is anonymised
    with. That is the day of the visit it is part of, so that a visit (arrive .. leave of its phone: its stays, its
    landings) is never split between two pseudonyms, which would count its phone twice and leave a stay with no
    exit: a visit across midnight keeps the day it began, and one begun on the run's last day is anonymised whole,
    its events after midnight too. Events are met in the stream's (write) order."""

    def __init__(self, zone: tzinfo, db: redis.Redis, keys: PrivacyKeys) -> None:
        self.zone = zone
        self.db = db
        self.privacy_keys = keys
        self.keys: dict[date, bytes] = {}
        self.visits: dict[str, tuple[date, float]] = {}  # phone -> its visit's day, its last event's time

    def day_of(self, at: float) -> date:
        return datetime.fromtimestamp(at, self.zone).date()

    def visit_day(self, event: Event) -> date:
        """The day `event` is anonymised with: its visit's (an arrive, a phone's first event or one VISIT_GAP_S
        after its last begins one; a leave ends it), or its own when it names no phone."""
        day = self.day_of(event.at)
        if event.device is None:
            return day
        visit = self.visits.pop(event.device, None)
        if visit is not None and event.kind != "arrive" and event.at - visit[1] < VISIT_GAP_S:
            day = visit[0]
        if event.kind != "leave":
            self.visits[event.device] = (day, event.at)
        return day

    def anonymous_ids(self, day: date, event: Event, entry_id: str) -> tuple[str | None, str | None]:
        """The event's phone and shopper ids once anonymised with `day`. An id that is a pseudonym already is kept:
        an earlier run wrote it (an older release's, which kept data this one drops: a member's tier, a referral's
        campaign), and a second one would count its shopper twice on that day, her other events under the first.
        A payment's amount, purpose and time still match its ledger entry, whose order names the shopper for the
        books: under the day's pseudonym it would lead back to her whole day, so a money event gets a pseudonym of
        its own (it counts as one more shopper on that old day)."""
        own = entry_id if _is_money(event) else ""
        device, shopper = (value if value is None or value.startswith(ANON) else self.pseudonym(day, value + own)
                           for value in (event.device, event.shopper))
        return device, shopper

    def pseudonym(self, day: date, value: str | None) -> str | None:
        if not value:
            return None
        if day not in self.keys:
            self.keys[day] = self._day_key(day)
        return ANON + hmac.new(self.keys[day], value.encode(), hashlib.sha256).hexdigest()[:16]

    def _day_key(self, day: date) -> bytes:
        """The day's secret: the one a run before made (SET NX: two runs agree), kept DAY_KEY_KEPT_S from now."""
        name = self.privacy_keys.day_key(day)
        pipe = self.db.pipeline(transaction=True)
        pipe.set(name, secrets.token_bytes(32), nx=True)
        pipe.expire(name, DAY_KEY_KEPT_S)
        pipe.get(name)
        return pipe.execute()[-1]

    def forget(self) -> None:
        """The run is through: its days are anonymised whole, and their secrets go."""
        if self.keys:
            self.db.delete(*(self.privacy_keys.day_key(day) for day in self.keys))


MONEY_ACTIONS = frozenset({"payment", "refund"})  # the payments' money listener's txn actions (portal/events/log.py)


def _is_money(event: Event) -> bool:
    """A payment or refund, or a light app's transaction written when its order was paid (log.paid_transaction,
    marked `paid`): each shares its time, zone and app with a ledger entry whose order names the shopper."""
    return event.kind == "txn" and (event.data.get("action") in MONEY_ACTIONS or bool(event.data.get("paid")))


def _identifies(event: Event) -> bool:
    return any(v and not v.startswith(ANON) for v in (event.device, event.shopper)) or bool(event.data.keys()
                                                                                          - ANONYMOUS_DATA)
