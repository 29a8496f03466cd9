"""Readings older than the window (a feed's late minute, a clock behind) are counted stale, not accepted, and
never leave a key behind: before, the write's check repeated the last reading after the trim, which put a
stale reading back under a key with no expiry (one leaked key per late request)."""

from __future__ import annotations

import time

from portal.ingest.observation import Batch
from portal.ingest.store import RssiKeys
from tests.test_ingest_native import AP, PHONE, post


def _keys_without_expiry(db) -> list[bytes]:
    return [k for k in db.scan_iter(match="mp:{demo}:rssi:*") if db.type(k) == b"zset" and db.ttl(k) == -1]


def test_a_reading_older_than_the_window_is_stale_and_stores_nothing(client, demo, svc, db):
    late = time.time() - svc.settings.rssi_window_s - 30  # within the clock-skew allowance: not an error
    resp = post(client, {"ap": AP, "observations": [{"client": PHONE, "rssi": -60, "ts": late}]}, demo)
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 0, "stale": 1}
    assert not db.exists(RssiKeys("demo").readings(svc.hasher.client_id(PHONE)))
    assert _keys_without_expiry(db) == []


def test_a_late_reading_beside_fresh_ones_is_dropped_and_the_key_still_expires(client, demo, svc, db):
    now = time.time()
    observations = [{"client": PHONE, "rssi": -60, "ts": now - 5}, {"client": PHONE, "rssi": -61, "ts": now - 95}]
    resp = post(client, {"ap": AP, "observations": observations}, demo)
    assert resp.get_json() == {"accepted": 1, "stale": 1}
    key = RssiKeys("demo").readings(svc.hasher.client_id(PHONE))
    assert db.zcard(key) == 1 and 0 < db.ttl(key) <= svc.rssi.ttl_s


def test_the_store_drops_what_is_out_of_the_window_whoever_writes(svc, db):
    """The simulator and the benches write through RssiStore too: the rule is the store's."""
    now = time.time()
    batch = Batch()
    batch.add("c1", AP, -60.0, now - svc.rssi.window_s - 1)
    assert svc.rssi.write_batch("demo", batch, now) == 0 and batch.stale == 1
    assert _keys_without_expiry(db) == [] and not db.exists(RssiKeys("demo").readings("c1"))
