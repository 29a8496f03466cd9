"""The tracker's batch writes of its listeners store what one call per position stored: footfall's
`record_many` against `record` per position, presence's `record_many` against `record`, on the real store
(the same positions in venue "one" one at a time and in venue "many" a batch at a time, then every key
compared: values, and a TTL wherever there was one)."""

from __future__ import annotations

import numpy as np

from portal.events import PresenceTracker
from portal.events.log import EventKeys
from portal.tracking.footfall import FootfallStore

T0 = 1_800_000_000.0


def batches(seed: int) -> list[tuple[float, list[tuple[str, str | None, int | None, float | None, float | None]]]]:
    """Batches of positions at one time each: phones coming and going, changing zones, in no zone, silent
    past the footfall gap and the presence leave time, without a floor, twice in one batch."""
    rng = np.random.default_rng(seed)
    out, now = [], T0
    for _ in range(12):
        now += float(rng.choice([5.0, 30.0, 700.0, 1300.0]))
        batch = []
        for c in rng.choice(40, size=int(rng.integers(1, 25)), replace=True).tolist():
            zone = [None, "kopi", "books", "atrium"][int(rng.integers(4))]
            floor = None if rng.random() < 0.1 else int(rng.integers(0, 2))
            batch.append((f"c{c}", zone, floor, float(rng.uniform(0, 80)), float(rng.uniform(0, 40))))
        out.append((now, batch))
    # then a crowd at once: visitor counts past the size where a HyperLogLog goes from sparse to dense
    out.append((now + 10, [(f"d{c}", "kopi" if c % 3 else None, 0, float(c % 80), 3.0) for c in range(1500)]))
    return out


def _dump(db, tag: str) -> dict:
    out = {}
    for key in db.scan_iter(match=f"*{{{tag}}}*"):
        kind = db.type(key).decode()
        value = {"hash": db.hgetall, "zset": lambda k: db.zrange(k, 0, -1, withscores=True),
                 "string": db.get, "set": db.smembers}.get(kind, lambda k: None)(key)
        if kind == "stream":  # event ids are times of writing: the events, in order
            value = [fields for _id, fields in db.xrange(key)]
        out[key.decode().replace("{" + tag + "}", "{venue}")] = (kind, value, db.ttl(key) > 0)
    return out


def test_footfall_and_presence_batches_store_what_one_call_per_position_stored(db):
    footfall = FootfallStore(db, gap_s=600.0, close_per_call=2)
    presence = PresenceTracker(db, leave_after_s=1200.0, close_per_call=2)
    for now, batch in batches(5):
        for client, zone, floor, x, y in batch:
            footfall.record("one", client, zone, floor, x, y, now)
            presence.record("one", client, zone, now)
        pipe = db.pipeline(transaction=False)
        footfall.record_many("many", batch, now, pipe=pipe)
        presence.record_many("many", [(client, zone) for client, zone, *_ in batch], now, pipe=pipe)
        pipe.execute()
    assert footfall.close_idle("one", now + 5000) == footfall.close_idle("many", now + 5000) > 0
    assert presence.sweep("one", now + 5000) == presence.sweep("many", now + 5000) > 0
    one, many = _dump(db, "one"), _dump(db, "many")
    assert len(one) > 10 and one == many
    assert one[EventKeys("venue").stream()][1]  # events were written
