"""The store layer on a real 3-primary Valkey Cluster: maps, the venue registry, the ingest stream,
the probe's one-round-trip script, a slot that moves, and the shopper walk end to end."""

from __future__ import annotations

import contextlib
import copy
import time
from datetime import UTC, datetime
from urllib.parse import urlparse

import pytest
import redis

from core.storage import HotScript, is_cluster, phone_buckets, set_phone_buckets
from fingerprints.model import VenueMap
from fingerprints.store import VenueStore
from portal.captive.config import PortalConfigStore, VenueTimeZones
from portal.captive.sessions import SessionKeys, SessionStore
from portal.captive.views import captive_services
from portal.events.log import EventLog
from portal.ingest.observation import Batch
from portal.ingest.store import RssiKeys, RssiStore
from portal.shopper import Shopper, token_store
from portal.tracking import Tracker, TrackKeys
from portal.tracking.footfall import FootfallStore
from tests.cluster.conftest import venues_on_each_primary
from tests.test_slice import expected_landing_path, post_phone_at

AP1, AP2 = "f0:9f:c2:1a:00:01", "f0:9f:c2:1a:00:02"


def small_map(venue: str) -> VenueMap:
    return VenueMap(id=venue, name=venue.title(), name_zh=venue, floors=[])


def batch_of(clients: int, now: float) -> Batch:
    batch = Batch()
    for c in range(clients):
        batch.add(f"phone{c}", AP1, -50.0 - c % 30, now - 1, associated=True)
        batch.add(f"phone{c}", AP2, -70.0, now - 2)
    return batch


def move_slot(db, key: str) -> str:
    """Hand `key`'s (empty) slot to another primary, as a resharding would; returns the new owner's name."""
    slot = db.keyslot(key)
    owner = db.nodes_manager.get_node_from_slot(slot)
    target = next(n for n in db.get_primaries() if n.name != owner.name)
    target_id = db.get_redis_connection(target).execute_command("CLUSTER", "MYID").decode()
    for node in [target, owner, *db.get_nodes()]:
        with contextlib.suppress(redis.ResponseError):  # a replica refuses: it learns through the bus
            db.get_redis_connection(node).execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
    return target.name


def test_connect_builds_a_cluster_client_and_venues_spread(db):
    assert is_cluster(db)
    venues = venues_on_each_primary(db)
    owners = {db.nodes_manager.get_node_from_slot(db.keyslot("{" + v + "}")).name for v in venues}
    assert len(owners) == 3


def test_maps_on_three_primaries_with_versions_pruned(db):
    venues = VenueStore(db, versions_kept=2)
    ids = venues_on_each_primary(db)
    for venue in ids:
        for _ in range(3):
            venues.put_map(small_map(venue))
    other = VenueStore(db)  # another process: its registry copy comes from the store
    assert other.venue_ids() == ids
    for venue in ids:
        assert venues.exists(venue) and venues.current_version(venue) == 3
        assert venues.versions(venue) == [2, 3]  # v1 pruned, the live one kept
        assert venues.get_map(venue, 1) is None and venues.get_map(venue).version == 3
    venues.set_current(ids[0], 2)  # a rollback, then a change: the old live version may go now
    venues.put_map(small_map(ids[0]))
    assert venues.versions(ids[0]) == [3, 4] and venues.current_version(ids[0]) == 4
    assert not venues.exists("nowhere")


def test_registry_copy_survives_its_shard_being_unreachable(db, monkeypatch):
    venues = VenueStore(db)
    ids = venues_on_each_primary(db)
    for venue in ids:
        venues.put_map(small_map(venue))
    assert venues.venue_ids() == ids
    monkeypatch.setattr(VenueStore, "REGISTRY_RECHECK_S", 0.0)

    def down(*args, **kwargs):
        raise redis.ConnectionError("shard down")

    monkeypatch.setattr(db, "get", down)
    assert venues.venue_ids() == ids  # the copy read before, not an error for every venue


def test_an_unreachable_registry_is_asked_again_only_after_the_recheck_time(db, monkeypatch, caplog):
    """A tracker asks for the venues every 0.2 s: during an outage the registry is tried (and the outage logged)
    once per REGISTRY_RECHECK_S, not on every call."""
    venues = VenueStore(db)
    venues.put_map(small_map("solo"))
    clock = [1000.0]
    monkeypatch.setattr("fingerprints.store.time.monotonic", lambda: clock[0])
    assert venues.venue_ids() == ["solo"]
    asked = []

    def down(*args, **kwargs):
        asked.append(1)
        raise redis.ConnectionError("shard down")

    monkeypatch.setattr(db, "get", down)
    for _ in range(20):  # twice the recheck time of a tracker's calls, 0.2 s apart
        clock[0] += VenueStore.REGISTRY_RECHECK_S / 10
        assert venues.venue_ids() == ["solo"]
    assert len(asked) == 2 and caplog.text.count("venue registry unavailable") == 2


@pytest.mark.parametrize("stream", [True, False])
def test_ingest_on_three_primaries(db, stream, monkeypatch):
    monkeypatch.setattr(RssiStore, "use_stream", stream)
    unused = "_send_pipeline" if stream else "_send_packed"
    monkeypatch.setattr(RssiStore, unused, lambda *a: pytest.fail(f"{unused} used"))  # the path under test only
    store = RssiStore(db, window_s=60)
    now = time.time()
    for venue in venues_on_each_primary(db):
        extra = [("HINCRBY", RssiKeys(venue).key("health", "test"), "req", 1)]
        assert store.write_batch(venue, batch_of(50, now), now, extra) == 100
        readings = store.readings(venue, "phone7", now)
        assert set(readings) == {AP1, AP2} and readings[AP1][0][1] == -57.0
        assert db.scard(RssiKeys(venue).new_readings()) == 50
        assert db.hget(RssiKeys(venue).key("health", "test"), "req") == b"1"
        assert store.associated(venue, "phone3", now) is True


def test_ingest_stream_and_probe_script_follow_a_moved_slot(db):
    store = RssiStore(db, window_s=60)
    venue = venues_on_each_primary(db)[0]
    now = time.time()
    script = HotScript(db, "return redis.call('ZCARD', KEYS[1])")
    store.write_batch(venue, batch_of(5, now), now)
    key = RssiKeys(venue).readings("phone1")
    assert script([key]) == 2
    db.flushdb()  # an empty slot moves by decree; the client still has the old slot map
    new_owner = move_slot(db, key)
    store.write_batch(venue, batch_of(5, now), now)
    assert db.nodes_manager.get_node_from_slot(db.keyslot(key)).name == new_owner
    assert store.readings(venue, "phone1", now)[AP2] == [(round(now - 2, 3), -70.0)]
    assert script([key]) == 2


def test_footfall_report_and_record_through_a_cluster_pipeline(db):
    venue = venues_on_each_primary(db)[1]
    PortalConfigStore(db).set(venue, {"time_zone": "Asia/Shanghai"})
    footfall = FootfallStore(db, tz_of=VenueTimeZones(db, "UTC"))  # the venue's zone, read from its slot
    now = datetime(2026, 3, 14, 23, 30, tzinfo=UTC).timestamp()  # 07:30 on the 15th in Shanghai
    pipe = db.pipeline(transaction=False)
    footfall.record(venue, "phone1", "cinema", 1, 10.0, 10.0, now, pipe=pipe)
    pipe.execute()
    footfall.record(venue, "phone2", "cinema", 1, 12.0, 10.0, now)
    assert footfall.close_idle(venue, now + 86400) == 2  # a day later: into the 15th's dwell (its days' keys, one slot)
    report = footfall.report(venue, "2026-03-15")
    assert report.visitors == 2 and report.zones["cinema"].visitors == 2 and report.visitors_by_hour[7] == 2
    assert report.zones["cinema"].visits == 2 and report.zones["cinema"].dwell_by_hour[7] == 0


def test_watch_transaction_on_one_slot(db):
    """put_map's WATCH/MULTI/EXEC is retried when another writer changed the venue meanwhile."""
    venues = VenueStore(db)
    venue = venues_on_each_primary(db)[2]
    venues.put_map(small_map(venue))
    real = db.pipeline

    def racing_pipeline(*args, **kwargs):
        pipe = real(*args, **kwargs)
        if not getattr(racing_pipeline, "done", False):
            racing_pipeline.done = True
            db.set(f"mp:{{{venue}}}:map:current", 1)  # not the version put_map read: its EXEC fails
        return pipe

    db.pipeline = racing_pipeline
    try:
        assert venues.put_map(small_map(venue)) == 2
    finally:
        db.pipeline = real
    assert venues.versions(venue) == [1, 2]


@pytest.fixture
def app(settings, db):
    """Here the app spreads the demo mall's phones over 8 buckets (PHONE_BUCKETS=demo=8): the walk below
    runs on the spread layout; the failover and two-host tests walk the one-bucket layout."""
    from portal import create_app

    yield create_app(settings.with_(phone_buckets=(("demo", 8),)))
    set_phone_buckets({})  # stores made without an app (the next tests') use one bucket


def test_shopper_walk_on_the_cluster(app, client, demo, svc, demo_map):
    """Reports in -> the tracker positions the phone -> the probe sends it to its zone's app -> the
    app's page answers; a second phone elsewhere is positioned by its probe itself; one mall's phones
    lie on several primaries; a granted session is found by the probe; and the `{_global}` registry is
    off the request path: with it gone, a venue's ingest and probes work (one test: the demo mall is
    loaded once)."""
    phone = "02:00:5e:00:53:c1"
    assert is_cluster(svc.db) and phone_buckets("demo") == 8
    post_phone_at(client, demo, demo_map, 1, 20, 30, phone=phone)
    tracker = Tracker(svc.db, svc.venues, svc.locator)
    assert tracker.drain("demo") == 1
    resp = client.get(f"/generate_204?client_mac={phone}")
    assert resp.status_code == 302
    landing = urlparse(resp.headers["Location"])
    assert landing.path == expected_landing_path(app, svc, "cinema")
    page = client.get(f"{landing.path}?{landing.query}")
    assert page.status_code == 200
    other = "02:00:5e:00:53:c2"
    post_phone_at(client, demo, demo_map, 0, 20, 30, phone=other)  # the garage; not tracked yet
    resp = client.get(f"/generate_204?client_mac={other}")
    assert urlparse(resp.headers["Location"]).path == expected_landing_path(app, svc, "garage")

    # One mall, several primaries: its phones' readings, kept positions and sessions lie in 8 slots.
    db, now = svc.db, time.time()
    tracker.drain("demo")  # the garage phone
    svc.rssi.write_batch("demo", batch_of(64, now), now)
    primaries = {db.nodes_manager.get_node_from_slot(db.keyslot(RssiKeys("demo").readings(f"phone{c}"))).name
                 for c in range(64)}
    assert len(primaries) == 3
    assert all(svc.rssi.readings("demo", f"phone{c}", now) for c in range(64))
    # 16 batches a step: 2 a bucket, each bucket's second read while its first is positioned
    ahead = Tracker(svc.db, svc.venues, svc.locator, batch=2, batches_per_step=16)
    keys = RssiKeys("demo")
    try:
        assert ahead.pending("demo") == 64 and ahead.drain("demo") == 64
        assert ahead._reads is not None  # a batch was read ahead
    finally:
        ahead.close()
    assert not any(db.exists(keys.being_positioned(b), keys.being_positioned(b, lane=1)) for b in keys.buckets())
    assert all(db.exists(TrackKeys("demo").last_position(f"phone{c}")) for c in range(64))
    client_id = svc.hasher.client_id(phone)
    assert TrackKeys("demo").last_position(client_id).startswith("mp:{demo:")
    assert db.exists(TrackKeys("demo").last_position(client_id))
    with app.app_context():
        captive_services().sessions.grant("demo", client_id, 600, "direct")
    assert db.exists(SessionKeys("demo").session(client_id))
    assert client.get(f"/generate_204?client_mac={phone}").status_code == 204  # online: the session found

    db.delete("mp:{_global}:venues", "mp:{_global}:venues:version")
    third = "02:00:5e:00:53:c3"
    post_phone_at(client, demo, demo_map, 1, 20, 30, phone=third)
    resp = client.get(f"/generate_204?client_mac={third}")
    assert urlparse(resp.headers["Location"]).path == expected_landing_path(app, svc, "cinema")
    assert client.get("/v/demo/").status_code == 200


def test_demo_map_versions_copy_between_venues(db, demo_map):
    """A full-size map on each primary (the demo mall, renamed): written and read back whole."""
    venues = VenueStore(db)
    for venue in venues_on_each_primary(db):
        venue_map = copy.deepcopy(demo_map)
        venue_map.id = venue
        assert venues.put_map(venue_map) == 1
        assert len(venues.get_map(venue).samples) == len(demo_map.samples)


def test_live_validation_walk_on_the_cluster(db):
    """Every LiveWalks call (its transaction, its Lua scripts, its pipelines) on one venue's slot."""
    from portal.maps.validation import LiveWalks

    walks = LiveWalks(db)
    venues = venues_on_each_primary(db)
    for venue in venues:
        wid = walks.start(venue, "c" * 24, [(1, 2.0, 3.0), (1, 5.0, 3.0)], "ops", 3, "north")
        assert walks.mark(venue, wid, {"point": 0}) == 1
        assert walks.finish(venue, wid) and not walks.finish(venue, wid)
        with pytest.raises(ValueError):
            walks.mark(venue, wid, {"point": 1})
        got = walks.get(venue, wid)
        assert got["marks"] == [{"point": 0}] and got["finished"] and got["route"][1] == (1, 5.0, 3.0)
        assert [w["id"] for w in walks.recent(venue)] == [wid]


def test_shopper_tokens_minted_and_revoked_on_the_cluster(app, demo):
    """The erase path's compare-and-delete script names every key it touches, all in the venue's slot."""
    with app.app_context():
        store = token_store()
        shopper = Shopper(venue="demo", client="s-" + "ab" * 12)
        tokens = [store.mint(shopper) for _ in range(3)]
        assert all(store.resolve(t) is not None for t in tokens)
        assert store.revoke("demo", shopper.client) == 3
        assert all(store.resolve(t) is None for t in tokens)
        assert store.revoke("demo", shopper.client) == 0


def test_session_revoked_with_its_address_on_the_cluster(db):
    """The session lies in the phone's bucket, its address entry in the venue's slot: revoke touches each
    with its own script."""
    sessions = SessionStore(db)
    sessions.grant("demo", "phone-1", 600, "direct", ip="10.0.0.1")
    assert sessions.named_at("demo", "10.0.0.1") == "phone-1"
    sessions.revoke("demo", "phone-1")
    assert sessions.get("demo", "phone-1") is None and sessions.named_at("demo", "10.0.0.1") is None


def test_event_consumer_groups_on_the_cluster(db):
    """The moments engine's group: read, claim, ack and the pruning of gone consumers, one stream key each."""
    events = EventLog(db)
    events.ensure_group("demo", "moments", start="0")
    events.emit("demo", "landing", device="d-1", zone="cinema")
    read = events.read_group("demo", "moments", "engine-a", claim_idle_ms=0)
    assert len(read) == 1
    assert len(events.read_group("demo", "moments", "engine-b", claim_idle_ms=0)) == 1  # a's, claimed
    events.ack("demo", "moments", [e.id for e in read])
    assert events.prune_consumers("demo", "moments", idle_ms=0, keep="engine-b") == 1  # a: nothing pending


def test_moments_fire_counts_the_people_behind_a_rule_on_the_cluster(svc):
    """The firing script's keys (the rule's people among them) share the venue's slot; fired_people reads
    them in one pipeline."""
    from portal.events.moments import Rule

    rule = Rule(id="r1", name="hello", trigger="zone_enter", action="offer", zone="kopi", cap_per_day=10,
                cooldown_s=0, message_en="hi", owner="kopi")
    svc.moments.save("demo", rule)
    svc.moments.ensure("demo", start="0")
    svc.consent.record("demo", "s-1", location=True, marketing=True)
    svc.events.emit("demo", "landing", at=time.time(), device="d1", shopper="s-1", zone="atrium")
    for i in range(3):
        svc.events.emit("demo", "zone_enter", at=time.time() + i, device="d1", zone="kopi")
    svc.moments.tick("demo")
    assert svc.moments.fired("demo") == {"r1": 3}
    assert svc.moments.fired_people("demo", ["r1", "never"]) == {"r1": 1, "never": 0}
