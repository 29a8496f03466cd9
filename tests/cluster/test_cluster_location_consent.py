"""Location declined on a real 3-primary Valkey Cluster: the consent store's new paths (the answer with its phones'
markers, each in its phone's bucket, and the venue's untracked set; the check; the erasure), the probe's one
round trip with the marker, and the presence script reading the untracked set; with one phone bucket (one MULTI)
and with eight (the markers in a second, per-slot call)."""

from __future__ import annotations

import pytest

from core.storage import set_phone_buckets
from portal.captive.probe_state import ProbeStateStore
from portal.consent import KEEP_S, ConsentKeys, ConsentStore
from portal.events import PresenceTracker
from portal.events.log import EventKeys

T = 1_800_000_000.0
PHONES = [f"phone-{i}" for i in range(8)]


@pytest.fixture(params=[1, 8])
def buckets(request):
    set_phone_buckets({"v1": request.param})
    yield request.param
    set_phone_buckets({})  # the next tests' stores use one bucket


def test_declined_phones_on_the_cluster(db, buckets):
    store, keys = ConsentStore(db), ConsentKeys("v1")
    slots = {db.keyslot(keys.location_off(phone)) for phone in PHONES}
    assert (len(slots) == 1) if buckets == 1 else (len(slots) > 1)  # eight buckets: the markers in several slots
    store.record("v1", "s-1", location=False, marketing=False, phones=PHONES, now=T)
    assert all(db.exists(keys.location_off(phone)) for phone in PHONES)
    assert db.zrange(EventKeys("v1").untracked(), 0, -1, withscores=True) == [
        (phone.encode(), T + KEEP_S) for phone in PHONES]
    assert store.declines_location("v1", "s-other", PHONES[3]) and store.location_off_since("v1", PHONES[3]) == T
    # the probe's reads (one pipeline in the phone's slot) say so; nothing else is asked of them then
    assert ProbeStateStore(db, locator=None, zone_apps=None).read("v1", PHONES[5], T).declined
    # the presence script reads the set in the venue's slot: only the other phone is tracked
    PresenceTracker(db, staff=lambda venue, now: ()).record_many("v1", [(p, "kopi") for p in [*PHONES, "q"]], T + 1)
    assert db.hkeys(EventKeys("v1").presence()) == [b"q"]

    store.record("v1", "s-1", location=True, marketing=False, phones=PHONES[:4], now=T + 2)  # yes again
    assert not any(db.exists(keys.location_off(phone)) for phone in PHONES[:4])
    assert ProbeStateStore(db, locator=None, zone_apps=None).read("v1", PHONES[5], T).declined  # not its answer
    assert store.forget("v1", "s-1") == 1  # her answer; the phones stay out (erasure does not turn them back on)
    assert all(db.exists(keys.location_off(p)) for p in PHONES[4:])
