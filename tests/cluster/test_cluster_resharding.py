"""A slot being migrated (a resharding: `valkey-cli --cluster reshard` marks it IMPORTING on the target and
MIGRATING on its owner, MIGRATEs its keys, then hands it over with SETSLOT NODE) is followed where its
owner sends each call (ASK): the probe's reads, the hot scripts, the ingest stream, a venue's scans; and
a venue's privacy centre scans its own slot's primary only, so another primary that hangs stops nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
import redis
from redis.cluster import RedisCluster

from core.storage import HotReads, HotScript, scan_slot
from portal.captive.views import captive_services
from portal.ingest.observation import Batch
from portal.ingest.store import RssiKeys, RssiStore
from portal.shopper import Shopper, shopper_token
from portal.tracking import Tracker, TrackKeys
from tests.cluster.test_cluster_store import AP1, AP2, batch_of
from tests.test_slice import expected_landing_path, post_phone_at

TAG = "{resharding-test}"


def node_id(client: redis.Redis) -> str:
    return client.execute_command("CLUSTER", "MYID").decode()


@contextlib.contextmanager
def migrating(db, key: str, moved: list[str] | None = None, to: str | None = None) -> Iterator[tuple[str, str]]:
    """`key`'s slot halfway through a resharding: IMPORTING on another primary (`to`, by name, or any),
    MIGRATING on its owner, the keys `moved` (None: every key of the slot) MIGRATEd, the handover not yet
    done (where a resharding that is under way, or stopped, leaves it). Yields (owner, target) names; then
    finishes the resharding: the rest of the keys moved, the slot handed over."""
    slot = db.keyslot(key)
    owner_node = db.nodes_manager.get_node_from_slot(slot)
    target_node = next(n for n in db.get_primaries() if n.name != owner_node.name and to in (None, n.name))
    owner, target = db.get_redis_connection(owner_node), db.get_redis_connection(target_node)
    target_id = node_id(target)
    target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", node_id(owner))
    owner.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)

    def move(keys: list) -> None:
        if keys:
            owner.execute_command("MIGRATE", target_node.host, target_node.port, "", 0, 5000, "KEYS", *keys)

    try:
        move(owner.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100_000) if moved is None else moved)
        yield owner_node.name, target_node.name
    finally:
        move(owner.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100_000))
        for node in [target_node, owner_node, *db.get_primaries()]:  # as valkey-cli does: the target first
            with contextlib.suppress(redis.ResponseError):
                db.get_redis_connection(node).execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)


def holder(db, key: str) -> str:
    """The primary that has `key` now (not the one the slot map names; SCAN: a node redirects a key's command)."""
    return next(n.name for n in db.get_primaries() if list(db.get_redis_connection(n).scan_iter(match=key)))


def test_hot_reads_and_scripts_follow_a_slot_being_migrated(db):
    here, gone = f"mp:{TAG}:here", f"mp:{TAG}:gone"
    db.set(here, "1")
    db.set(gone, "2")
    reads = HotReads(db)
    incr = HotScript(db, "return redis.call('INCR', KEYS[1])")
    with migrating(db, here, moved=[gone]) as (owner, target):
        assert holder(db, here) == owner and holder(db, gone) == target
        # Each read where its key is: the owner's replies and the target's, in order.
        assert reads((("GET", here), ("GET", gone), ("GET", f"mp:{TAG}:none"))) == [b"1", b"2", None]
        assert incr([gone]) == 3  # ASKING, then the script (loaded on the target first)
        assert incr([here]) == 2  # still on the owner
        assert incr([f"mp:{TAG}:new"]) == 1  # a key nowhere yet: made on the target
        assert holder(db, f"mp:{TAG}:new") == target
    assert reads((("GET", here), ("GET", gone))) == [b"2", b"3"]  # handed over: MOVED, followed


def test_a_script_whose_slot_is_handed_over_during_the_pause_follows_it(db, monkeypatch):
    """TRYAGAIN, then, in the pause before the second try, the resharding tool hands the slot over: the
    second try's MOVED is followed too (it reached the request as an error)."""
    here, gone = f"mp:{TAG}:here", f"mp:{TAG}:gone"
    db.set(here, "1")
    db.set(gone, "2")
    both = HotScript(db, "return {redis.call('INCR', KEYS[1]), redis.call('INCR', KEYS[2])}")
    with contextlib.ExitStack() as resharding:
        resharding.enter_context(migrating(db, here, moved=[gone]))
        monkeypatch.setattr("core.storage.time.sleep", lambda _s: resharding.close())  # handed over meanwhile
        assert both([here, gone]) == [2, 3]


def test_a_script_the_migration_cannot_serve_yet_is_refused_without_rereading_the_slot_map(db, monkeypatch):
    """A script naming a moved key and one still on the owner: TRYAGAIN until the slot is handed over.
    Tried once more after a pause, then refused (the caller fails open); the slot map is right as it is."""
    here, gone = f"mp:{TAG}:here", f"mp:{TAG}:gone"
    db.set(here, "1")
    db.set(gone, "2")
    both = HotScript(db, "return redis.call('MGET', KEYS[1], KEYS[2])")
    with migrating(db, here, moved=[gone]):
        monkeypatch.setattr("core.storage.refresh_slots", lambda *a, **k: pytest.fail("slot map read again"))
        with pytest.raises(redis.exceptions.TryAgainError):
            both([here, gone])
        monkeypatch.undo()
    assert both([here, gone]) == [b"1", b"2"]


def test_redis_py_follows_an_ask_to_a_primary_its_slot_map_does_not_list(db):
    """A new primary a resharding fills holds no slot until its first is handed over, so no slot map lists
    it; redis-py looked the ASK's node up in its map and failed with an AttributeError (ClusterStore)."""
    key = f"mp:{TAG}:moving"
    db.set(key, "v")
    with migrating(db, key) as (_owner, target):
        del db.nodes_manager.nodes_cache[target]  # as if it held no slot when the map was read
        assert db.get(key) == b"v"
        pipe = db.pipeline(transaction=False)
        pipe.get(key)
        pipe.set(f"mp:{TAG}:new", "n")
        assert pipe.execute() == [b"v", True]
        host, _, port = target.rpartition(":")
        assert list(redis.Redis(host=host, port=int(port)).scan_iter(match=f"mp:{TAG}:new")) != []


@pytest.mark.parametrize("moved", ["some", "all"])
def test_ingest_stream_during_a_slot_migration(db, moved):
    """Some keys moved: the stream's writes on those are refused unseen (replies are off), so the check must
    see the migration although the owner has the other keys. All moved: the owner refuses every write."""
    store = RssiStore(db, window_s=60)
    venue, now = "resharding", time.time()
    keys = RssiKeys(venue)
    store.write_batch(venue, batch_of(5, now - 5), now - 5)
    with migrating(db, keys.key(""), moved=[keys.readings("phone1")] if moved == "some" else None):
        extra = [("HINCRBY", keys.key("health", "test"), "req", 1)]
        assert store.write_batch(venue, batch_of(5, now), now, extra) == 10
        for c in range(5):  # each phone's two readings of each batch, wherever its key is
            assert len(store.readings(venue, f"phone{c}", now)[AP1]) == 2
        assert db.scard(keys.new_readings()) == 5 and int(db.hget(keys.key("health", "test"), "req")) >= 1
    assert store.readings(venue, "phone1", now)[AP2][-1] == (round(now - 2, 3), -70.0)


def test_a_slots_scan_finds_its_keys_on_both_sides_of_a_migration_and_after_a_move(db):
    names = [f"mp:{TAG}:k{i}" for i in range(6)]
    for name in names:
        db.set(name, 1)
    db.set("mp:{elsewhere}:k0", 1)
    with migrating(db, names[0], moved=names[:3]):
        assert sorted(k.decode() for k in scan_slot(db, f"mp:{TAG}:k*")) == names
    # Handed over behind a client's back (its slot map still names the old owner): found at the new one.
    db.nodes_manager.initialize()
    slot = db.keyslot(names[0])
    behind = db.nodes_manager.get_node_from_slot(slot)
    stale = RedisCluster(host=behind.host, port=behind.port)  # reads the slot map now
    try:
        with migrating(db, names[0]):
            pass
        assert stale.nodes_manager.get_node_from_slot(slot).name == behind.name
        assert sorted(k.decode() for k in scan_slot(stale, f"mp:{TAG}:k*")) == names
    finally:
        stale.close()


@pytest.mark.parametrize("pattern", ["mp:*", "mp:{}:x*", "mp:{mall*}:x", "mp:{a\\*b}:*"])
def test_a_slots_scan_needs_a_literal_hash_tag(db, pattern):
    with pytest.raises(ValueError, match="hash tag"):
        scan_slot(db, pattern)


def test_shoppers_and_feeds_during_their_venues_slot_migration(app, client, demo, svc, demo_map,
                                                                demo_slot_returns):
    """The demo mall's slot halfway through a resharding, every key moved: a granted phone's probe answers
    204, a positioned phone's probe sends it to its zone's page, a report is stored (202) and readable, and
    the tracker positions the phone from it once the slot is handed over."""
    granted, placed = "02:00:5e:00:53:d1", "02:00:5e:00:53:d2"
    for phone in (granted, placed):
        post_phone_at(client, demo, demo_map, 1, 20, 30, phone=phone)
    tracker = Tracker(svc.db, svc.venues, svc.locator)
    assert tracker.drain("demo") == 2
    with app.app_context():
        captive_services().sessions.grant("demo", svc.hasher.client_id(granted), 600, "direct")
    cinema = expected_landing_path(app, svc, "cinema")
    # A serving process has its copy of the zones' apps (a MULTI/EXEC reads it: redis-py's cluster
    # transaction does not follow ASK, and a migrating slot cannot serve one naming keys not all there).
    assert urlparse(client.get(f"/generate_204?client_mac={placed}").headers["Location"]).path == cinema
    with migrating(svc.db, "{demo}"):
        assert client.get(f"/generate_204?client_mac={granted}").status_code == 204
        resp = client.get(f"/generate_204?client_mac={placed}")
        assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path == cinema
        late = "02:00:5e:00:53:d3"
        post_phone_at(client, demo, demo_map, 1, 20, 30, phone=late)  # asserts 202
        assert svc.rssi.readings("demo", svc.hasher.client_id(late), time.time())
    assert tracker.drain("demo") == 1
    assert svc.db.exists(TrackKeys("demo").last_position(svc.hasher.client_id(late)))


@pytest.fixture
def demo_slot_returns(db):
    """The demo mall's slot moved back to its primary after the test: other tests' checks may count on it
    (redis-py 8's KEYS asks only its default node: lightapps/games/tests counts vouchers so)."""
    slot = db.keyslot("{demo}")
    home = db.nodes_manager.get_node_from_slot(slot).name
    yield
    db.nodes_manager.initialize()
    if db.nodes_manager.get_node_from_slot(slot).name != home:
        with migrating(db, "{demo}", to=home):
            pass


def test_privacy_centre_answers_while_another_primary_hangs(app, client, demo, svc, settings, valkey_cluster):
    """RedisCluster.scan_iter asks every primary: one that hangs held every venue's export and erasure."""
    if urlparse(settings.redis_url).port not in {node.port for node in valkey_cluster.nodes}:
        pytest.skip("the suite's cluster is not the local one: none of its primaries can be stopped here")
    owner = svc.db.nodes_manager.get_node_from_slot(svc.db.keyslot("{demo}"))
    victim = next(node for node in valkey_cluster.alive() if node.port != owner.port)
    with app.app_context():
        token = shopper_token(Shopper("demo", "s-hang", phone="dev-hang", phone_verified=True))
    os.kill(victim.process.pid, signal.SIGSTOP)
    try:
        resp = client.get(f"/v/demo/my-data/export.json?c={token}")
    finally:
        os.kill(victim.process.pid, signal.SIGCONT)
        valkey_cluster.wait_ok(timeout=30)
    assert resp.status_code == 200 and "apps" in resp.get_json()


@pytest.mark.parametrize("moved", ["none", "some", "all"])
def test_a_reading_timed_ahead_during_a_slot_migration_is_stored_not_refused(db, moved):
    """The once-only check of a reading timed ahead (AHEAD_SCRIPT, two keys) is refused while a migration has
    them on different sides or one missing (TRYAGAIN): the reading goes in as a plain write at now, never a
    503 for every batch of a feed whose clock runs a second fast."""
    store = RssiStore(db, window_s=60)
    venue, now = "resharding", time.time()
    keys = RssiKeys(venue)
    store.write_batch(venue, batch_of(2, now - 5), now - 5)
    moved_keys = {"none": [], "some": [keys.readings("phone1")], "all": None}[moved]
    with migrating(db, keys.key(""), moved=moved_keys):
        ahead = Batch()
        ahead.add("phone1", AP2, -70.0, round(now + 2, 3))
        ahead.add("phone0", AP2, -71.0, round(now - 1, 3))
        assert store.write_batch(venue, ahead, now) == 2
        assert store.readings(venue, "phone1", now + 1)[AP2][-1] == (round(now, 3), -70.0)
    db.nodes_manager.initialize()
