"""The reading store's write path: the protocol stream and the plain pipeline store the same thing;
big batches are chunked; a refused write is an error, not silent loss; connections stay usable."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from portal.ingest.observation import Batch, Observation
from portal.ingest.store import RssiKeys, RssiStore


def random_batch(n_clients=50, n_aps=8, now=None, seed=3):
    rnd = random.Random(seed)
    now = now or time.time()
    batch = Batch()
    for c in range(n_clients):
        client = f"{rnd.getrandbits(96):024x}"
        for a in rnd.sample(range(40), n_aps):
            batch.add(client, f"f0:9f:c2:00:00:{a:02x}", rnd.choice([-40, -67.5, -90]),
                      round(now - rnd.random() * 10, 3), rnd.choice([None, True, False]))
        if c == 0:
            batch.add(client, "f0:9f:c2:00:00:ff", -50, now - 120)  # outside the window: trimmed
    return batch


def dump(db, venue="demo"):
    keys = RssiKeys(venue)
    out = {k: db.zrange(k, 0, -1, withscores=True) for k in db.scan_iter(match=keys.readings("*"))}
    out["ap"] = db.hgetall(keys.ap_last_seen())
    out["ap_reach"] = db.hgetall(keys.ap_reach())
    out["feed_since"] = db.get(keys.feed_since())
    return out


def test_the_feed_run_starts_once_and_ends_after_a_gap(db):
    """`feed_since`: set by the first report, kept by later ones, and gone `feed_gap_s` after the last one (the
    key's TTL, renewed by every report), so the next report starts a new run."""
    store, keys, now = RssiStore(db, feed_gap_s=300), RssiKeys("demo"), time.time()
    batch = Batch()
    batch.add("c1", "ap:1", -60, now - 1)
    store.write_batch("demo", batch, now)
    assert float(db.get(keys.feed_since())) == now and 0 < db.ttl(keys.feed_since()) <= 300
    db.expire(keys.feed_since(), 10)
    later = Batch()
    later.add("c1", "ap:2", -61, now)
    store.write_batch("demo", later, now + 5)
    assert float(db.get(keys.feed_since())) == now and db.ttl(keys.feed_since()) > 10  # renewed, not moved
    db.delete(keys.feed_since())  # as when it expires
    back = Batch()
    back.add("c1", "ap:2", -61, now + 899)
    store.write_batch("demo", back, now + 900)
    assert float(db.get(keys.feed_since())) == now + 900


def test_each_ap_keeps_how_far_its_last_report_reached(db):
    """ap_reach: per AP the newest reading of its last report (not the receipt time, `now`)."""
    store, keys, now = RssiStore(db), RssiKeys("demo"), time.time()
    batch = Batch()
    for client, ap, ts in (("c1", "ap:1", now - 9), ("c2", "ap:1", now - 4), ("c1", "ap:2", now - 7)):
        batch.add(client, ap, -60, ts)
    store.write_batch("demo", batch, now)
    assert {k.decode(): float(v) for k, v in db.hgetall(keys.ap_reach()).items()} == {"ap:1": now - 4, "ap:2": now - 7}
    assert {float(v) for v in db.hgetall(keys.ap_last_seen()).values()} == {now}


def test_stream_and_pipeline_store_the_same(db):
    now = time.time()
    batch = random_batch(now=now)
    store = RssiStore(db)
    assert store.write_batch("demo", batch, now) == len(batch)
    fast = dump(db)
    ttls = {db.ttl(k) for k in fast if k not in ("ap", "ap_reach", "feed_since")}
    db.flushdb()
    store.use_stream = False
    store.write_batch("demo", batch, now)
    assert dump(db) == fast
    assert {db.ttl(k) for k in fast if k not in ("ap", "ap_reach", "feed_since")} == ttls == {120}
    assert len(fast) == 53 and fast["feed_since"] == repr(now).encode()  # 50 clients, two AP hashes, the feed


def test_window_trim_and_flags(db):
    now = time.time()
    store = RssiStore(db)
    client = "c" * 24
    store.write("demo", [Observation(client, "f0:9f:c2:00:00:01", -70, now - 100),
                         Observation(client, "f0:9f:c2:00:00:01", -60, now, True),
                         Observation(client, "f0:9f:c2:00:00:02", -65.5, now - 1, False)], now)
    assert db.zcard(RssiKeys("demo").readings(client)) == 2  # the old one is trimmed at write
    assert store.readings("demo", client, now) == {"f0:9f:c2:00:00:01": [(round(now, 3), -60.0)],
                                                   "f0:9f:c2:00:00:02": [(round(now - 1, 3), -65.5)]}
    assert store.associated("demo", client, now) is True
    assert store.associated("demo", "d" * 24, now) is None


def test_big_batches_are_sent_in_chunks(db, monkeypatch):
    monkeypatch.setattr(RssiStore, "CHUNK", 7)
    now = time.time()
    batch = random_batch(n_clients=20, now=now)
    store = RssiStore(db)
    extra = [("HSET", "mp:{demo}:test", "k", "v")]
    assert store.write_batch("demo", batch, now, extra) == len(batch)
    chunked = dump(db)
    assert db.hget("mp:{demo}:test", "k") == b"v"
    db.flushdb()
    monkeypatch.setattr(RssiStore, "CHUNK", 10_000)
    store.write_batch("demo", batch, now)
    assert dump(db) == chunked


def test_connections_are_left_replying(db):
    store = RssiStore(db)
    for _ in range(5):
        store.write_batch("demo", random_batch(n_clients=3), time.time())
    # every pooled connection answers ordinary commands normally afterwards
    assert db.ping() is True and db.set("x", 1) is True and db.get("x") == b"1"


@pytest.mark.single_node
def test_refused_writes_raise(db, redis_url):
    admin = redis.Redis.from_url(redis_url)
    store = RssiStore(redis.Redis.from_url(redis_url))
    admin.set("filler", "x" * 100_000)
    old = admin.config_get("maxmemory")["maxmemory"]
    admin.config_set("maxmemory", 1)
    try:
        with pytest.raises(redis.ResponseError, match="maxmemory"):
            store.write_batch("demo", random_batch(n_clients=3), time.time())
    finally:
        admin.config_set("maxmemory", old)
    # and the connection pool still works afterwards
    assert store.write_batch("demo", random_batch(n_clients=3), time.time()) > 0


@pytest.mark.single_node
def test_refused_write_is_a_503(feeds, redis_url):
    admin = redis.Redis.from_url(redis_url)
    admin.set("filler", "x" * 100_000)
    old = admin.config_get("maxmemory")["maxmemory"]
    admin.config_set("maxmemory", 1)
    try:
        resp = feeds.openwrt(feeds.event())
    finally:
        admin.config_set("maxmemory", old)
    assert resp.status_code == 503 and "retry" in resp.get_json()["error"]


def test_non_ascii_venue_takes_the_pipeline(db):
    now = time.time()
    store = RssiStore(db)
    store.write("商场", [Observation("c" * 24, "f0:9f:c2:00:00:01", -70, now)], now)
    assert store.readings("商场", "c" * 24, now) == {"f0:9f:c2:00:00:01": [(round(now, 3), -70.0)]}


def test_many_threads_write_concurrently(db, redis_url):
    """200 writers on separate connections: every reading lands, none twice, none lost."""
    now = time.time()
    store = RssiStore(redis.Redis.from_url(redis_url, max_connections=256))
    barrier = threading.Barrier(200)

    def writer(i):
        batch = Batch()
        for c in range(5):
            batch.add(f"{c:024x}", f"f0:9f:c2:00:{i // 256:02x}:{i % 256:02x}", -60, now)
        barrier.wait()
        return store.write_batch("demo", batch, now)

    with ThreadPoolExecutor(200) as pool:
        assert sum(pool.map(writer, range(200))) == 1000
    for c in range(5):
        assert db.zcard(RssiKeys("demo").readings(f"{c:024x}")) == 200
    assert db.hlen(RssiKeys("demo").ap_last_seen()) == 200


# ---- the tracker's batch parse: pyarrow's CSV reader reads the numbers as `float` does ------------------

def _float_bits(values) -> list[int]:
    import struct

    return [struct.unpack("<q", struct.pack("<d", v))[0] for v in values]


def test_batch_parse_reads_every_number_as_float_does():
    """The same doubles, bit for bit, for the ways the readings are written and for hard cases of rounding."""
    import numpy as np

    from portal.ingest.store import _read_members

    rng = random.Random(7)
    texts = [b"-67", b"-67.5", b"-0", b"0", b"-100", b"5.", b".5", b"-.5", b"1e5", b"-1.5E-3", b"inf", b"-inf",
             b"9007199254740993", b"0.1", b"2.2250738585072011e-308", b"1.7976931348623157e308", b"4.9e-324",
             b"1733000000.0005", b"0.30000000000000004", b"123456789012345678901234567890"]
    for _ in range(3000):
        value = rng.uniform(-1, 1) * 10 ** rng.randint(-30, 30)
        texts += [repr(value).encode(), b"%g" % value, b"%.3f" % (1.7e9 + rng.random() * 1e8),
                  b"%.17g" % value, b"%d" % rng.randint(-130, 0), b"%.1f" % rng.uniform(-130, 0)]
    read = _read_members([b"ap%d|%s|%s" % (i % 7, t, t) for i, t in enumerate(texts)])
    assert read is not None
    want = _float_bits([float(t) for t in texts])
    assert _float_bits(read[2].tolist()) == want and _float_bits(read[3].tolist()) == want
    assert read[1] == [f"ap{i}" for i in range(7)] and read[0].tolist() == [i % 7 for i in range(len(texts))]
    assert np.isnan(_read_members([b"ap|nan|1"])[2][0])


@pytest.mark.parametrize("members", [
    [b"ap|-60|1.5|a|extra"], [b"ap|-60"], [b""], [b"ap|-60|1\rap|-50|2"], [b"ap|1_000|2"], [b"ap| -60 |2"],
    [b"ap|-60|2|x"], [b"ap|0x10|2"], [b"ap|-60|"], [b"ap|NA|2"], [b"ap|-60|1\nap|-50|2", b""],
    [b"ap|-60|1\rap|-50|2", b""],
])
def test_batch_parse_of_odd_members_is_the_field_by_field_parse(members):
    """What pyarrow does not read as `float` would, the field-by-field parse reads (or refuses) as before."""
    import numpy as np

    from portal.ingest.store import _read_members, _split_members

    members = [*members, b"ap2|-70|3.25|a", b"ap2|-71|3.5|p"]
    try:
        want = _split_members(members)
    except ValueError:
        assert _read_members(members) is None
        with pytest.raises(ValueError):
            RssiStore.parse_batch([members])
        return
    got = RssiStore.parse_batch([members[:1], members[1:]])
    assert got.phone.tolist() == [0] + [1] * (len(members) - 1)
    assert got.aps == want[1] and np.array_equal(got.ap, want[0])
    assert _float_bits(got.rssi.tolist()) == _float_bits(want[2].tolist())
    assert _float_bits(got.ts.tolist()) == _float_bits(want[3].tolist())
    assert got.associated.tolist() == [m.split(b"|")[3:4] == [b"a"] for m in members]


def test_a_phone_heard_by_many_aps_keeps_its_readings_compact(db):
    """12 APs reporting a phone every 2 s fill its 60 s window with 360 readings: the store's Valkey is started
    with `SERVER_SETTINGS` (core/storage.py), so the readings stay one listpack (~40 B a reading) instead of
    Valkey's skiplist above 128 entries (~105 B a reading: a busy mall's hot state 2.5 times the docs' sizing)."""
    store, keys, now = RssiStore(db), RssiKeys("demo"), time.time()
    batch = Batch()
    for step in range(30):
        for ap in range(12):
            batch.add("c-many-aps", f"f0:9f:c2:00:01:{ap:02x}", -60 - ap, round(now - 59 + step * 2, 3))
    store.write_batch("demo", batch, now)
    readings = keys.readings("c-many-aps")
    assert db.zcard(readings) == 360
    assert db.object("encoding", readings) == b"listpack"
