"""A phone's hot state is listed once (portal/tracking/locator.py `forget_phone_state`): the demo's teleport
(/demo/spot) and the privacy erasure (mydata.forget_phone) forget the same keys of it: its readings and those timed
ahead, its motion state, its kept position and the kept position as versions before 2026-12-05 kept it."""

from __future__ import annotations

from portal.events.mydata import forget_phone
from portal.ingest.store import RssiKeys
from portal.tracking.positions import TrackKeys

MAC = "02:00:5e:00:53:42"
OLD = b"old-ap|-50|1"


def plant(db, client: str) -> None:
    """One of each kind of the phone's hot state, as earlier reports and positions left it."""
    rssi, track = RssiKeys("demo"), TrackKeys("demo")
    db.zadd(rssi.readings(client), {OLD: 1})
    db.zadd(rssi.ahead(client), {OLD: 9e9})
    db.set(track.track(client), b'{"planted": 1}')
    db.set(track.last_position(client), b'{"planted": 1}')
    db.hset(track.former_last_position(client), "planted", "1")


def keys_of(db, client: str) -> list[str]:
    return sorted(key.decode() for key in db.scan_iter(f"*{client}*", count=1000))


def still_planted(db, client: str) -> list[str]:
    """The planted keys that still hold what `plant` wrote."""
    rssi, track = RssiKeys("demo"), TrackKeys("demo")
    held = {rssi.readings(client): db.zscore(rssi.readings(client), OLD) is not None,
            rssi.ahead(client): db.zscore(rssi.ahead(client), OLD) is not None,
            track.track(client): db.get(track.track(client)) == b'{"planted": 1}',
            track.last_position(client): db.get(track.last_position(client)) == b'{"planted": 1}',
            track.former_last_position(client): db.hexists(track.former_last_position(client), "planted")}
    return sorted(key for key, kept in held.items() if kept)


def test_the_demo_teleport_and_the_erasure_forget_the_same_phone_keys(client, svc, demo):
    phone = svc.hasher.client_id(MAC)
    plant(svc.db, phone)
    assert len(keys_of(svc.db, phone)) == 5
    resp = client.post("/demo/spot", data={"floor": "0", "x": "10", "y": "10", "phone": MAC})
    assert resp.status_code == 303
    assert still_planted(svc.db, phone) == []
    assert keys_of(svc.db, phone) == [RssiKeys("demo").readings(phone)]  # the spot's own new readings, only

    plant(svc.db, phone)
    assert forget_phone(svc.db, "demo", phone) == 5
    assert still_planted(svc.db, phone) == [] and keys_of(svc.db, phone) == []
