"""Verifying a kept page (a lookup's answer, a fee page's plate) never writes back one that went in between:
expired, or erased with the shopper's data. Written back with KEEPTTL it had no expiry, and kept the shopper's
client id and plate hash for ever."""

from __future__ import annotations

import pytest

from lightapps.parking.store import FindResult, ParkingKeys, ParkingStore

VENUE = "demo"


def _gone_after_read(db, key: str):
    """db.get answers, then the key goes (its expiry, or an erasure) before the caller writes."""
    real_get = db.get

    def get_then_gone(name):
        value = real_get(name)
        if name == key:
            db.delete(key)
        return value

    return real_get, get_then_gone


@pytest.mark.parametrize("page", ["result", "fee_session"])
def test_a_page_gone_between_read_and_write_stays_gone(db, page):
    store = ParkingStore(db)
    if page == "result":
        page_id = store.save_result(VENUE, "shopper-v", "garage", FindResult("exact", [], plate_hash="ab" * 8))
        verify = store.verify_result
    else:
        page_id = store.save_fee_session(VENUE, "shopper-v", "garage", "cd" * 16, 1_700_000_000_000)
        verify = store.verify_fee_session
    key = getattr(ParkingKeys(VENUE), page)(page_id)
    real_get, db.get = _gone_after_read(db, key)
    try:
        verify(VENUE, page_id)
    finally:
        db.get = real_get
    assert db.ttl(key) == -2  # not there, rather than there for ever (-1)


def test_verifying_keeps_the_page_and_its_expiry(db):
    store = ParkingStore(db)
    result_id = store.save_result(VENUE, "shopper-v", "garage", FindResult("exact", [], plate_hash="ab" * 8))
    store.verify_result(VENUE, result_id)
    assert store.load_result(VENUE, "shopper-v", result_id)[1].verified
    assert db.ttl(ParkingKeys(VENUE).result(result_id)) > 0
