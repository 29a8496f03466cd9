"""The privacy side of the event log: the operator's list of staff phones (left out of every figure),
which events may count (location consent, once a consent store answers), retention per data kind with
the daily job that applies it, a member's export and erasure, and the audit of who exported what."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Mapping

import redis

from core.errors import N_, CatalogInputError
from core.security import MacHasher
from core.storage import VenueKeys
from portal.events.log import Event, EventKeys
from portal.events.moments import MomentKeys
from portal.notify.outbox import Outbox

AUDIT_KEPT = 1000
# Retention per data kind, in days: (what happens, default, lowest allowed).
RETENTION = {
    "events_anonymise": ("event log: phone and shopper ids replaced by unlinkable ones", 90, 1),
    "events_delete": ("event log: deleted", 395, 7),
    "deliveries_delete": ("moments delivery log and undelivered notifications: deleted", 30, 1),
}
RETENTION_MAX_DAYS = 3650
ANON = "anon-"
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


class PrivacyStore:
    def __init__(self, db: redis.Redis, hasher: MacHasher | None = None) -> None:
        self.db = db
        self.hasher = hasher
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
        """The filter the insights apply: an event that names a shopper counts only when that shopper gave
        location consent (presence events name none: they count as aggregates, shown k-anonymously).
        None: no consent store, every event counts. Answers are cached for the one computation."""
        if self.consents is None:
            return None
        check, cache = self.consents, {}

        def allowed(event: Event) -> bool:
            if event.shopper is None or event.shopper.startswith(ANON):
                return True
            if event.shopper not in cache:
                cache[event.shopper] = check(venue, event.shopper, "location")
            return cache[event.shopper]

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
        if not self.db.set(PrivacyKeys(venue).daily(), "1", nx=True, ex=86400):
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
        deleted; before `anonymise_before`, each phone and shopper id becomes a pseudonym keyed by a secret
        thrown away after this run (a day's figures still add up; nobody can link them back), and of its data only
        ANONYMOUS_DATA is kept (a member number, a payment's order id are dropped). A rewritten event goes to the
        stream's end (readers order by `at`)."""
        key = secrets.token_bytes(32)

        def pseudonym(value: str | None) -> str | None:
            return ANON + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:16] if value else None

        stream, deleted, anonymised, start = EventKeys(venue).stream(), 0, 0, "-"
        while True:
            entries = self.db.xrange(stream, min=start, max="+", count=batch)
            pipe = self.db.pipeline(transaction=False)
            for entry_id, raw in entries:
                event = Event.from_entry(venue, entry_id, raw)
                if event is not None and event.at < delete_before:
                    pipe.xdel(stream, entry_id)
                    deleted += 1
                elif event is not None and event.at < anonymise_before and _identifies(event):
                    data = {k: v for k, v in event.data.items() if k in ANONYMOUS_DATA}
                    # A payment's amount, purpose and time still match its ledger entry, whose order names the
                    # shopper for the books: under the day's pseudonym it would lead back to her whole day, so a
                    # money event gets a pseudonym of its own (it counts as one more shopper on that old day).
                    own = entry_id.decode() if _is_money(event) else ""
                    pipe.xadd(stream, Event(event.kind, event.at, venue, pseudonym(event.device and event.device + own),
                                            pseudonym(event.shopper and event.shopper + own), event.zone,
                                            data).fields())
                    pipe.xdel(stream, entry_id)
                    anonymised += 1
            pipe.execute()
            if len(entries) < batch:
                return deleted, anonymised
            start = "(" + entries[-1][0].decode()


MONEY_ACTIONS = frozenset({"payment", "refund"})  # the payments' money listener's txn actions (portal/events/log.py)


def _is_money(event: Event) -> bool:
    return event.kind == "txn" and event.data.get("action") in MONEY_ACTIONS


def _identifies(event: Event) -> bool:
    return any(v and not v.startswith(ANON) for v in (event.device, event.shopper)) or bool(event.data.keys()
                                                                                          - ANONYMOUS_DATA)
