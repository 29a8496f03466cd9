"""Validating a batch of parking-system events (no Flask, no Redis: the API calls it before storing).

    {"events": [
      {"type": "bay",   "bay": "G-A01", "status": "occupied" | "free",  "ts": 1714550400},
      {"type": "plate", "bay": "G-A01", "plate": "粤B 12345",            "ts": "2025-05-01T10:00:00+08:00"},
      {"type": "entry", "plate": "SG1234A",                              "ts": 1714550000},
      {"type": "exit",  "plate": "SG1234A",                              "ts": 1714557600.5}
    ]}

``ts``: Unix seconds (a number) or ISO 8601 with a UTC offset; at most the venue's clock-skew allowance
in the future and at most 24 h in the past. Unknown bays, bad plates, bad times: the first problem is
reported with its field (``events[3].bay``) and nothing of the batch is stored."""

from __future__ import annotations

import math
from datetime import datetime

from core.errors import InputError
from lightapps.parking import plates
from lightapps.parking.store import DAY_MS, Bay, Event
from portal.errors import ROOT

MAX_EVENTS = 500
STATUSES = ("occupied", "free")
KINDS = ("bay", "plate", "entry", "exit")


class EventError(InputError):
    template = "{field} {message}"


def parse_ts(raw: object, field: str, now: float, max_skew_s: float) -> int:
    """-> milliseconds since the epoch."""
    if isinstance(raw, bool) or raw is None:
        raise EventError(field, "must be Unix seconds or an ISO 8601 time with a UTC offset")
    if isinstance(raw, int | float):
        try:
            seconds = float(raw)
        except OverflowError:  # an integer of hundreds of digits
            raise EventError(field, "is not a time") from None
    elif isinstance(raw, str) and len(raw) <= 40:
        try:
            parsed = datetime.fromisoformat(raw.strip())
        except ValueError:
            raise EventError(field, "is not an ISO 8601 time") from None
        if parsed.tzinfo is None:
            raise EventError(field, "needs a UTC offset (e.g. +08:00 or Z)")
        seconds = parsed.timestamp()
    else:
        raise EventError(field, "must be Unix seconds or an ISO 8601 time with a UTC offset")
    if not math.isfinite(seconds):
        raise EventError(field, "must be a finite number")
    if seconds > now + max_skew_s:
        raise EventError(field, f"is {seconds - now:.0f} s in the future (clock skew over {max_skew_s:g} s)")
    if seconds <= now - DAY_MS / 1000:
        raise EventError(field, "is more than 24 h old")
    return int(round(seconds * 1000))


def _plate(raw: object, field: str, hasher: plates.PlateHasher, venue: str) -> tuple[str, str]:
    try:
        folded = plates.plate_from_system(raw)
    except plates.PlateError as exc:
        raise EventError(field, str(exc)) from None
    return folded, hasher.digest(venue, folded)


def _bay(raw: object, field: str, bays: dict[str, Bay]) -> Bay:
    if not isinstance(raw, str) or not raw:
        raise EventError(field, "must be a bay id")
    bay = bays.get(raw) if len(raw) <= 40 else None
    if bay is None:
        raise EventError(field, f"is not a bay of this venue: {raw[:40]!r}")
    return bay


def parse_batch(payload: object, *, venue: str, bays: dict[str, Bay], hasher: plates.PlateHasher,
                now: float, max_skew_s: float) -> list[Event]:
    if not isinstance(payload, dict):
        raise EventError(ROOT, "must be an object with an events list")
    items = payload.get("events")
    if not isinstance(items, list) or not items:
        raise EventError("events", "must be a non-empty list")
    if len(items) > MAX_EVENTS:
        raise EventError("events", f"has {len(items)} events; at most {MAX_EVENTS} per request")
    out = []
    for i, item in enumerate(items):
        where = f"events[{i}]"
        if not isinstance(item, dict):
            raise EventError(where, "must be an object")
        kind = item.get("type")
        if kind not in KINDS:
            raise EventError(f"{where}.type", f"must be one of: {', '.join(KINDS)}")
        ts_ms = parse_ts(item.get("ts"), f"{where}.ts", now, max_skew_s)
        if kind == "bay":
            bay = _bay(item.get("bay"), f"{where}.bay", bays)
            status = item.get("status")
            if status not in STATUSES:
                raise EventError(f"{where}.status", f"must be one of: {', '.join(STATUSES)}")
            out.append(Event("bay", ts_ms, bay=bay, status=status))
        elif kind == "plate":
            bay = _bay(item.get("bay"), f"{where}.bay", bays)
            text, digest = _plate(item.get("plate"), f"{where}.plate", hasher, venue)
            out.append(Event("plate", ts_ms, bay=bay, plate_hash=digest, plate_text=text))
        else:  # entry or exit: the barrier read the plate
            text, digest = _plate(item.get("plate"), f"{where}.plate", hasher, venue)
            # an exit's plate is kept only if the stay ends owed (the office's list; store.SETTLE_EXIT_LUA)
            out.append(Event(kind, ts_ms, plate_hash=digest, plate_text=text if kind == "exit" else ""))
    return out
