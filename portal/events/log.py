"""The venue's event log: one bounded Valkey stream per venue, the one source of insights and moments.

Every producer goes through `EventLog.emit` (or the presence script, which writes the same fields):
the tracking locator's presence listener (arrive, zone_enter, zone_leave, leave), the captive landing
(landing) and the light apps' transactions (txn, through portal.apps.views.record_event). A stream
entry's fields (the schema; README "Insights and moments"):

    k    kind: arrive | zone_enter | dwell | zone_leave | leave | landing | txn
    at   when it happened, epoch seconds (the stream id is when it was written)
    dev  the phone's client id (keyed HMAC of its MAC; never the MAC), when known
    sh   the shopper id (portal/shopper.py: random, what the light apps key their data by), when known
    z    the zone, when there is one
    d    JSON object of the rest (dwell_s, app, action, member, tier, link, ...)

The stream is trimmed to about `maxlen` entries (XADD MAXLEN ~); readers that must see every event
(the moments engine) use a consumer group (XREADGROUP + XACK), so a crash re-reads what it did not ack."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import redis

from core.storage import VenueKeys

log = logging.getLogger(__name__)

KINDS = ("arrive", "zone_enter", "dwell", "zone_leave", "leave", "landing", "txn")
MAXLEN = 1_000_000


class EventKeys(VenueKeys):
    def stream(self) -> str:
        """Stream: the venue's events (fields above)."""
        return self.key("ev")

    def presence(self) -> str:
        """Hash: device -> "zone|zone since|last seen|arrived" of each phone present now (portal/events/presence.py)."""
        return self.key("ev", "here")

    def present_by_time(self) -> str:
        """Sorted set: device by last seen, to find the ones that left."""
        return self.key("ev", "seen")

    def dwell_marks(self) -> str:
        """Set: minutes (the dwell rules' N) at which the presence script emits a `dwell` event in a stay."""
        return self.key("ev", "marks")

    def insights_cache(self, generation: int, scope: str, since: float, until: float) -> str:
        """String (JSON, short TTL): the figures of one scope and range (portal/events/report.py)."""
        return self.key("ev", "ins", str(generation), scope, f"{since:.0f}", f"{until:.0f}")

    def insights_generation(self) -> str:
        """Counter: bumped by an erasure or a retention run, so no cached figure outlives the data it counted."""
        return self.key("ev", "ins", "gen")

    def occupancy_limits(self) -> str:
        """Hash: zone -> the occupancy at which the consoles raise an alert."""
        return self.key("ev", "limits")


@dataclass(frozen=True)
class Event:
    kind: str
    at: float
    venue: str
    device: str | None = None
    shopper: str | None = None
    zone: str | None = None
    data: dict = field(default_factory=dict)
    id: str = ""

    def fields(self) -> dict[str, str]:
        out = {"k": self.kind, "at": f"{self.at:.3f}"}
        for name, value in (("dev", self.device), ("sh", self.shopper), ("z", self.zone)):
            if value:
                out[name] = value
        if self.data:
            out["d"] = json.dumps(self.data, separators=(",", ":"), sort_keys=True)
        return out

    @classmethod
    def from_entry(cls, venue: str, entry_id: bytes | str, raw: dict[bytes, bytes]) -> Event | None:
        """From an XRANGE/XREADGROUP entry; None for one that is not an event (a malformed write)."""
        try:
            text = {k.decode(): v.decode() for k, v in raw.items()}
            return cls(kind=text["k"], at=float(text["at"]), venue=venue, device=text.get("dev"),
                       shopper=text.get("sh"), zone=text.get("z"), data=json.loads(text.get("d", "{}")),
                       id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id)
        except (KeyError, ValueError, UnicodeDecodeError):
            return None


class LogEntry(NamedTuple):
    """One event ready to append (EventLog.entry): for a caller that appends it inside its own Lua call
    (the probe's shopper-token mint, portal/shopper.py), so the event costs no round trip of its own."""
    stream: str
    maxlen: int
    fields: dict[str, str]


class EventLog:
    """Emit and read a venue's events. Emitting fails open: an analytics write never breaks a shopper's
    page (the failure is logged, without ids)."""

    def __init__(self, db: redis.Redis, maxlen: int = MAXLEN) -> None:
        self.db = db
        self.maxlen = max(1000, int(maxlen))
        # When an event without an explicit time happened: the wall clock, except inside a simulated day
        # (portal/events/sim.py drives the apps' real forms at simulated times, one request at a time).
        self.clock: Callable[[], float] = time.time

    def emit(self, venue: str, kind: str, *, at: float | None = None, device: str | None = None,
             shopper: str | None = None, zone: str | None = None, pipe=None, **data) -> None:
        """Append one event (on `pipe` when given: the caller's round trip). `data`: JSON-able extras."""
        entry = self.entry(venue, kind, at=at, device=device, shopper=shopper, zone=zone, **data)
        target = pipe if pipe is not None else self.db
        try:
            target.xadd(entry.stream, entry.fields, maxlen=entry.maxlen, approximate=True)
        except redis.RedisError as exc:
            log.warning("event %s for venue %s not logged: %s", kind, venue, exc.__class__.__name__)

    def entry(self, venue: str, kind: str, *, at: float | None = None, device: str | None = None,
              shopper: str | None = None, zone: str | None = None, **data) -> LogEntry:
        """The stream entry `emit` appends (XADD stream MAXLEN ~ maxlen * fields), for a caller's own script."""
        if kind not in KINDS:
            raise ValueError(f"unknown event kind {kind!r}")
        event = Event(kind, self.clock() if at is None else float(at), venue, device, shopper, zone,
                      {k: v for k, v in data.items() if v is not None})
        return LogEntry(EventKeys(venue).stream(), self.maxlen, event.fields())

    def read(self, venue: str, since: float | None = None, until: float | None = None,
             batch: int = 5000) -> Iterator[Event]:
        """The venue's events with since <= at < until, oldest written first."""
        key, start = EventKeys(venue).stream(), "-"
        if since is not None:  # ids are write times: an event is written at or after it happened
            start = f"{max(0, int(since * 1000) - 1)}-0"
        while True:
            entries = self.db.xrange(key, min=start, max="+", count=batch)
            for entry_id, raw in entries:
                event = Event.from_entry(venue, entry_id, raw)
                if event is not None and (since is None or event.at >= since) and (until is None or event.at < until):
                    yield event
            if len(entries) < batch:
                return
            start = "(" + entries[-1][0].decode()

    def set_dwell_marks(self, venue: str, minutes: set[int]) -> None:
        """The stay lengths (minutes) the presence script marks with a `dwell` event (the moments engine's
        dwell rules: each fires while the shopper is still in the zone, once per stay)."""
        key = EventKeys(venue).dwell_marks()
        pipe = self.db.pipeline(transaction=True)
        pipe.delete(key)
        if minutes:
            pipe.sadd(key, *sorted(int(m) for m in minutes))
        pipe.execute()

    def length(self, venue: str) -> int:
        return int(self.db.xlen(EventKeys(venue).stream()))

    def ensure_group(self, venue: str, group: str, start: str = "$") -> None:
        """A consumer group on the venue's stream (created once; `start`: "$" new events, "0" all)."""
        try:
            self.db.xgroup_create(EventKeys(venue).stream(), group, id=start, mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read_group(self, venue: str, group: str, consumer: str, count: int = 500) -> list[Event]:
        """Events delivered to this consumer: its pending ones first (a restart), then new ones."""
        key = EventKeys(venue).stream()
        out = []
        for start in ("0", ">"):
            for _stream, entries in self.db.xreadgroup(group, consumer, {key: start}, count=count) or []:
                for entry_id, raw in entries:
                    event = Event.from_entry(venue, entry_id, raw) if raw else None
                    if event is not None:
                        out.append(event)
                    elif raw is None or not raw:  # trimmed away while pending: nothing to do
                        self.db.xack(key, group, entry_id)
            if out:
                return out
        return out

    def ack(self, venue: str, group: str, ids: list[str]) -> None:
        if ids:
            self.db.xack(EventKeys(venue).stream(), group, *ids)

    def invalidate_insights(self, venue: str) -> None:
        """Cached figures of the venue are stale (an erasure, a retention run): the next view recomputes."""
        self.db.incr(EventKeys(venue).insights_generation())

    def delete_where(self, venue: str, predicate) -> int:
        """Delete the events `predicate(event)` selects (a member's erasure); returns how many."""
        key, doomed = EventKeys(venue).stream(), []
        for event in self.read(venue):
            if predicate(event):
                doomed.append(event.id)
        for i in range(0, len(doomed), 500):
            self.db.xdel(key, *doomed[i:i + 500])
        if doomed:
            self.invalidate_insights(venue)
        return len(doomed)


def payment_listener(log: EventLog):
    """A PaymentService money listener (portal/payments): every payment and refund is a `txn` event
    (action `payment` / `refund`, `amount_fen`, the order's purpose as `app`)."""

    def listener(kind: str, order, amount: int) -> None:
        log.emit(order.venue, "txn", shopper=order.shopper or None, app=order.purpose,
                 action="payment" if kind == "paid" else "refund", amount_fen=int(amount), order=order.id)

    return listener
