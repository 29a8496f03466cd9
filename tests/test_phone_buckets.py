"""Where one phone's hot keys lie (core/storage.py): `{venue}` while a venue has one bucket (the
default: the layout every single-node store had), else one of `{venue:b}`, the same for all of a
phone's keys; PHONE_BUCKETS sets the counts."""

from __future__ import annotations

import pytest

from core.settings import Settings
from core.storage import phone_bucket, phone_buckets, set_phone_buckets
from portal.captive.sessions import SessionKeys
from portal.ingest.store import RssiKeys
from portal.tracking.positions import TrackKeys


@pytest.fixture
def spread():
    set_phone_buckets({"bigmall": 8})
    yield
    set_phone_buckets({})


def test_one_bucket_keeps_every_key_under_the_venue_tag():
    assert phone_buckets("demo") == 1 and list(RssiKeys("demo").buckets()) == [0]
    assert RssiKeys("demo").readings("c1") == "mp:{demo}:rssi:c1"
    assert RssiKeys("demo").new_readings() == "mp:{demo}:heard:new"
    assert TrackKeys("demo").last_position("c1") == "mp:{demo}:kept:c1"
    assert SessionKeys("demo").session("c1") == "mp:{demo}:session:c1"


def test_a_spread_venue_puts_each_phones_keys_in_its_bucket(spread):
    tags = set()
    for client in (f"client{i}" for i in range(200)):
        bucket = phone_bucket("bigmall", client)
        tag = "{bigmall:" + str(bucket) + "}"
        keys = [RssiKeys("bigmall").readings(client), TrackKeys("bigmall").track(client),
                TrackKeys("bigmall").last_position(client), SessionKeys("bigmall").session(client)]
        assert all(key.startswith(f"mp:{tag}:") for key in keys)
        assert RssiKeys("bigmall").new_readings(bucket).startswith(f"mp:{tag}:")
        tags.add(tag)
    assert len(tags) == 8
    assert RssiKeys("bigmall").ap_last_seen().startswith("mp:{bigmall}:")  # venue-level state stays
    assert SessionKeys("bigmall").client_ip("10.0.0.1").startswith("mp:{bigmall}:")
    assert RssiKeys("demo").readings("c1") == "mp:{demo}:rssi:c1"  # other venues keep one bucket


def test_phone_buckets_setting():
    read = Settings.from_env
    base = {"SECRET_KEY": "s" * 32, "MAC_HASH_KEY": "m" * 32}
    assert read(base).phone_buckets == ()
    assert read({**base, "PHONE_BUCKETS": "16"}).phone_buckets == (("*", 16),)
    assert read({**base, "PHONE_BUCKETS": "4, bigmall=32"}).phone_buckets == (("*", 4), ("bigmall", 32))
    for bad in ("0", "mall=x", "mall=2000"):
        with pytest.raises(ValueError, match="PHONE_BUCKETS"):
            read({**base, "PHONE_BUCKETS": bad})
    with pytest.raises(ValueError):
        set_phone_buckets({"mall": 0})
