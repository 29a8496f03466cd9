"""A reading timed ahead of now (a source's clock running fast, within MAX_CLOCK_SKEW_S) is stored as heard now,
and the same reading sent again (a vendor's retry after a timeout) is not stored again, though "now" differs on
every post: the store de-duplicates it on the time its source gave (RssiKeys.ahead, AHEAD_SCRIPT)."""

from __future__ import annotations

import time

import pytest

from core.storage import phone_bucket, set_phone_buckets
from portal.ingest.observation import Batch
from portal.ingest.store import RssiKeys, RssiStore

KEYS = RssiKeys("demo")


def ahead_batch(now: float, lead: float = 100.0) -> Batch:
    """Phone "c1" heard ahead of `now` by AP 1 (and by AP 2, probe requests only), "c2" heard in time."""
    batch = Batch()
    batch.add("c1", "ap:1", -61, round(now + lead, 3))
    batch.add("c1", "ap:2", -75, round(now + lead + 0.5, 3), False)
    batch.add("c2", "ap:1", -70, round(now - 5, 3))
    return batch


@pytest.fixture(params=[1, 4], ids=["one-bucket", "four-buckets"])
def buckets(request):
    set_phone_buckets({"demo": request.param})
    yield request.param
    set_phone_buckets({})


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "pipeline"])
@pytest.mark.usefixtures("buckets")
def test_a_reading_ahead_is_stored_once_at_its_first_arrival(db, stream):
    store, first = RssiStore(db, window_s=60), time.time()
    store.use_stream = stream
    sent = ahead_batch(first)
    for resend in range(3):  # the same readings, each post a little later (a feed retrying)
        assert store.write_batch("demo", ahead_batch(first), first + resend * 1.1) == 3
    stored = db.zrange(KEYS.readings("c1"), 0, -1, withscores=True)
    assert stored == [(f"ap:1|-61|{first:.3f}".encode(), round(first, 3)),
                      (f"ap:2|-75|{first:.3f}|p".encode(), round(first, 3))]
    assert db.zrange(KEYS.readings("c2"), 0, -1) == [f"ap:1|-70|{sent.tss[2]:.3f}".encode()]
    # heard by now at the latest: never newer than the receipt, in the AP's reach too
    assert float(db.hget(KEYS.ap_reach(), "ap:1")) == first + 2.2
    assert 0 < db.ttl(KEYS.readings("c1")) <= 120  # the trim, EXPIRE and mark for the tracker as for any reading
    assert db.sismember(KEYS.new_readings(phone_bucket("demo", "c1")), "c1")


def test_the_record_lasts_until_the_readings_own_time_comes(db):
    store, now = RssiStore(db, window_s=60), time.time()
    store.write_batch("demo", ahead_batch(now, lead=30), now)
    assert db.zcard(KEYS.ahead("c1")) == 2 and 0 < db.ttl(KEYS.ahead("c1")) <= 32
    later = Batch()
    later.add("c1", "ap:3", -80, now + 50 + 10)  # 50 s later: the first two readings' time has come
    store.write_batch("demo", later, now + 50)
    assert db.zrange(KEYS.ahead("c1"), 0, -1) == [f"ap:3|-80|{now + 60:.3f}".encode()]
    assert not db.exists(KEYS.ahead("c2"))  # a reading in time leaves no record


def test_a_new_reading_ahead_is_stored_beside_the_resent_one(db):
    store, now = RssiStore(db, window_s=60), time.time()
    store.write_batch("demo", ahead_batch(now), now)
    batch = ahead_batch(now)
    batch.add("c1", "ap:1", -63, round(now + 101, 3))  # the next reading of the same AP: a new one
    store.write_batch("demo", batch, now + 1)
    assert sorted(db.zrange(KEYS.readings("c1"), 0, -1)) == [
        f"ap:1|-61|{now:.3f}".encode(), f"ap:1|-63|{now + 1:.3f}".encode(), f"ap:2|-75|{now:.3f}|p".encode()]


@pytest.mark.parametrize("fmt", ["native", "openwrt", "find3", "meraki"])
def test_a_feed_resending_a_reading_from_the_future_stores_it_once(feeds, svc, fmt):
    ahead = round(time.time() + 100, 3)  # the source's clock 100 s fast (inside MAX_CLOCK_SKEW_S, 300 s)
    if fmt == "native":
        body = {"ap": feeds.AP1, "observations": [{"client": feeds.PHONE, "rssi": -61, "ts": ahead},
                                                  {"client": feeds.PHONE2, "rssi": -70, "ts": time.time() - 5}]}
        post = feeds.native
    elif fmt == "openwrt":
        body, post = feeds.event(ts=ahead), feeds.openwrt
    elif fmt == "find3":
        body, post = feeds.passive(t=int(ahead * 1000), wifi={feeds.PHONE: -61}), feeds.find3
    else:
        body, post = feeds.v2(ts=int(ahead), client=feeds.PHONE), feeds.meraki
    first = post(body)
    time.sleep(0.05)  # a later "now": without the de-duplication, another member
    again = post(body)
    assert first.status_code == again.status_code == 202 and first.get_json() == again.get_json()
    client = svc.hasher.client_id(feeds.PHONE)
    assert svc.db.zcard(RssiKeys("demo").readings(client)) == 1
    [[(ts, _rssi)]] = feeds.readings(feeds.PHONE).values()
    assert ts < ahead - 90  # stored as heard on arrival, not at the source's time
