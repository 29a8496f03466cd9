"""The locator's writes of a batch's motion states and kept positions, queued as plain commands (a SET with its TTL
each), store what the script they replaced stored (reference_listener_scripts.KEEP, with its arguments built as the
locator built them): the same keys, values and TTLs, for phones with a new state or none, a kept position or none
(no newest reading; a locator that keeps none). The script kept a position as a hash, field by field; it is one
string since 2026-12-05 (KeptPosition.encode): the same position, newest reading and time."""

from __future__ import annotations

import math
import time
from itertools import chain

import pytest

from core.storage import PackedPipeline
from portal.ingest.store import RssiStore
from portal.tracking.locator import Locator, encode_state
from portal.tracking.positions import KeptPosition, Position, TrackKeys
from tests.tracking.reference_listener_scripts import KEEP

NOW = 1_800_000_000.25


def _done() -> list:
    out = []
    for i in range(40):
        position = Position(floor=i % 3, x=1.5 + i / 7, y=40.0 - i / 3, zone=None if i % 5 == 0 else f"z{i % 4}",
                            confidence=0.8 - i / 100, zone_confidence=0.5 + i / 97, group="g" if i % 6 == 0 else None,
                            group_confidence=0.25 if i % 6 == 0 else 0.0, source=["readings", "partial", "ap"][i % 3])
        state = None if i % 4 == 1 else {"p": {"z1": 0.25, "z2": 0.75 - i / 1000}, "x": i / 3, "floor": i % 3}
        newest = None if i % 7 == 3 else f"ap{i}|-{60 + i}.5|{NOW - i / 10!r}".encode()
        out.append((f"phone{i}", (state, position), newest))
    return out


def _fields(kept: KeptPosition) -> dict:
    """The hash the script kept a position as (KeptPosition.to_fields before 2026-12-05)."""
    p = kept.position
    return {"newest": kept.newest, "at": repr(kept.at), "floor": str(p.floor), "x": repr(p.x), "y": repr(p.y),
            "zone": p.zone or "", "conf": repr(p.confidence), "zconf": repr(p.zone_confidence), "group": p.group or "",
            "gconf": repr(p.group_confidence), "source": p.source}


def _as_kept(key: str, kind: str, value) -> tuple:
    """A stored value; a kept position as the fields it holds: the script's hash, or this version's string decoded."""
    if key.split(":")[2] != "kept":
        return kind, value
    if kind == "string":
        return "kept", {k.encode(): v.encode() if isinstance(v, str) else v
                        for k, v in _fields(KeptPosition.decode(value)).items()}
    return "kept", value


def _by_script(db, locator: Locator, venue: str, done: list) -> None:
    """The writes as the `_KEEP` script made them (its queueing before 2026-12-03; the venue has one bucket)."""
    keys = TrackKeys(venue)
    key_list, args = [], [int(locator.rssi.window_s * 5), max(1, math.ceil(locator.cache_s))]
    for client, (state, position), newest in done:
        kept = newest is not None and locator.cache_s > 0
        if state is not None or kept:
            fields = _fields(KeptPosition(position, newest, NOW)) if kept else {}
            key_list += [keys.track(client), keys.last_position(client)]
            args += ["" if state is None else encode_state(state), 2 * len(fields),
                     *chain.from_iterable(fields.items())]
    db.register_script(KEEP)(keys=key_list, args=args)


def _dump(db, venue: str) -> dict:
    out = {}
    for key in db.scan_iter(match=f"*{{{venue}}}*"):
        kind = db.type(key).decode()
        value = db.hgetall(key) if kind == "hash" else db.get(key)
        out[key.decode().replace("{" + venue + "}", "{venue}")] = (kind, value, db.ttl(key))
    return out


@pytest.mark.parametrize("cache_s", [30.0, 2.5, 0.0])
@pytest.mark.single_node
def test_plain_commands_store_what_the_keep_script_stored(db, cache_s):
    locator = Locator(db, models=None, rssi=RssiStore(db), cache_s=cache_s)
    done = _done()
    started = time.monotonic()
    _by_script(db, locator, "before", done)
    pipe = PackedPipeline(db)
    locator._queue_keep(pipe, "now", done, NOW)
    pipe.execute()
    before, now = _dump(db, "before"), _dump(db, "now")
    apart = math.ceil(time.monotonic() - started) + 1  # TTLs count down in real time: the writes and dumps' span
    assert len(before) >= 30 and before.keys() == now.keys()
    kept = [key for key, (kind, _, _) in now.items() if kind == "string" and key.split(":")[2] == "kept"]
    assert len(kept) == (0 if cache_s == 0 else sum(1 for _, _, newest in done if newest is not None))
    for key, (kind, value, ttl) in before.items():
        assert _as_kept(key, *now[key][:2]) == _as_kept(key, kind, value), key
        assert ttl > 0 and abs(now[key][2] - ttl) <= apart, key
