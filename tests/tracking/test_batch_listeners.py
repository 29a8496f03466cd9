"""The tracker's batch writes of its listeners store what one call per position stored: footfall's
`record_many` against `record` per position, presence's `record_many` against `record`, on the real store
(the same positions in venue "one" one at a time and in venue "many" a batch at a time, then every key
compared: values, and a TTL wherever there was one); and both against the scripts as they were before they
batched their hash and sorted-set writes (tests/tracking/reference_listener_scripts.py), one call per position,
the reference given each phone as today's script counts it (salted)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import pytest

from portal.events import PresenceTracker
from portal.events.log import EventKeys
from portal.events.privacy import PrivacyKeys
from portal.tracking import footfall as footfall_module
from portal.tracking.footfall import FootfallStore
from tests.tracking.reference_listener_scripts import PRESENCE, RECORD

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


def _one_and_many(db, one: tuple, many: tuple, seed: int, staff_at: int | None = None,
                  one_id: Callable[[str], str] = str) -> tuple[dict, dict]:
    """`batches(seed)` recorded in venue "one" a call per position by `one` (a footfall store and a presence
    tracker) and in venue "many" a batch a call by `many`, the stale visits closed after; both venues' keys.
    `staff_at`: before that batch a phone (c3) is put on both venues' staff list. `one_id`: the id venue "one"'s
    footfall store is given for a phone (its staff list has that too); the keys read back name the phone again."""
    for i, (now, batch) in enumerate(batches(seed)):
        if i == staff_at:
            for venue in ("one", "many"):
                db.sadd(PrivacyKeys(venue).staff(), "c3")
            db.sadd(PrivacyKeys("one").staff(), one_id("c3"))
        for client, zone, floor, x, y in batch:
            one[0].record("one", one_id(client), zone, floor, x, y, now)
            one[1].record("one", client, zone, now)
        pipe = db.pipeline(transaction=False)
        many[0].record_many("many", batch, now, pipe=pipe)
        many[1].record_many("many", [(client, zone) for client, zone, *_ in batch], now, pipe=pipe)
        pipe.execute()
    assert one[0].close_idle("one", now + 5000) == many[0].close_idle("many", now + 5000) > 0
    assert one[1].sweep("one", now + 5000) == many[1].sweep("many", now + 5000) > 0
    phones = {one_id(c).encode(): c.encode() for _, batch in batches(seed) for c, *_ in batch}
    return _renamed(_dump(db, "one"), phones), _dump(db, "many")


def _renamed(value, names: dict[bytes, bytes]):
    """`value` (a dump, or any part of one) with every string that is a key of `names` replaced by its value."""
    if isinstance(value, bytes):
        return names.get(value, value)
    if isinstance(value, dict):
        return {_renamed(k, names): _renamed(v, names) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return type(value)(_renamed(v, names) for v in value)
    return value


def reference_footfall(db, **kwargs) -> FootfallStore:
    """A footfall store that runs the script before the batched writes and the salted visitor counts
    (reference_listener_scripts.RECORD: the counts' members are the ids it is given), called with the layout it
    reads: without the day's salt, its changed mark and the salt's candidate."""
    store = FootfallStore(db, **kwargs)
    store._record = db.register_script(RECORD)

    def call_before_salt(*args, **kw):
        index, argv = FootfallStore._call(store, *args, **kw)
        return dict(list(index.items())[:-2]), argv[:-1]

    store._call = call_before_salt
    return store


def test_footfall_and_presence_batches_store_what_one_call_per_position_stored(db, monkeypatch):
    monkeypatch.setattr(footfall_module, "new_salt", lambda: "one-salt-for-both-venues")  # one HLL member per id
    footfall = FootfallStore(db, gap_s=600.0, close_per_call=2)
    presence = PresenceTracker(db, leave_after_s=1200.0, close_per_call=2)
    one, many = _one_and_many(db, (footfall, presence), (footfall, presence), seed=5)
    assert len(one) > 10 and one == many
    assert one[EventKeys("venue").stream()][1]  # events were written


@pytest.mark.parametrize("close_per_call", [2, 20])
def test_batches_store_what_the_scripts_before_batching_their_writes_stored(db, close_per_call, monkeypatch):
    """Today's `record_many` against the scripts before their hash and sorted-set writes were kept to the end of
    the call (one HSET, ZADD, ... a batch) and the look for stale visits skipped once one came back short, one
    call per position: a read that misses a change not yet written, or a look skipped that would have found a
    stale visit, stores something else. With 2 a call some looks come back full (more stale than they close);
    with 20 the first look drains them. A staff phone listed midway has its open visit dropped."""
    footfall = FootfallStore(db, gap_s=600.0, close_per_call=close_per_call)
    presence = PresenceTracker(db, leave_after_s=1200.0, close_per_call=close_per_call)
    before = reference_footfall(db, gap_s=600.0, close_per_call=close_per_call)
    # The reference predates the salted visitor counts: it is given each phone as today's script counts it,
    # sha1(the day's salt .. id), so its counts hold what today's do (its open visits are named back to the ids)
    salt = "one-salt-for-the-day"
    monkeypatch.setattr(footfall_module, "new_salt", lambda: salt)

    def member(client: str) -> str:
        return hashlib.sha1((salt + client).encode()).hexdigest()

    presence_before = PresenceTracker(db, leave_after_s=1200.0, close_per_call=close_per_call)
    presence_before._script = db.register_script(PRESENCE)
    one, many = _one_and_many(db, (before, presence_before), (footfall, presence), seed=7, staff_at=6, one_id=member)
    salts = {k: v for k, v in many.items() if ":ff:salt:" in k}
    assert salts and set(salts.values()) == {("string", salt.encode(), True)}  # one day, its salt kept a while
    assert not any(":ff:salt-changed:" in k for k in many)  # the day began salted: its counts are exact
    assert len(one) > 10 and one == {k: v for k, v in many.items() if k not in salts}


def test_a_phone_stale_as_soon_as_seen_is_closed_by_the_next_look(db):
    """Presence keeps a sighting at its time rounded to the millisecond, so with a leave time under half a
    millisecond a phone kept at `at` can be stale at once: the batch looks again for the next phone (as one call
    per phone would) instead of skipping the looks after the first one came back short."""
    presence = PresenceTracker(db, leave_after_s=0.0001, close_per_call=20)
    before = PresenceTracker(db, leave_after_s=0.0001, close_per_call=20)
    before._script = db.register_script(PRESENCE)
    for k, phones in enumerate([["a", "b", "c"], ["b", "d", "a"]]):
        now = T0 + k + 0.0004
        for phone in phones:
            before.record("one", phone, "kopi", now)
        presence.record_many("many", [(phone, "kopi") for phone in phones], now)
    one, many = _dump(db, "one"), _dump(db, "many")
    assert one == many
    assert [f[b"k"] for f in one[EventKeys("venue").stream()][1]].count(b"leave") >= 3
