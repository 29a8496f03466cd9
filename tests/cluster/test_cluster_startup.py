"""A process starts without the cluster, and finds it through any node REDIS_URL lists.

redis-py's RedisCluster reads the slot map in its constructor, from its startup nodes, and raises
RedisClusterException (no redis.RedisError: no 503, no fail-open) when none answers. So a worker could
not start while the store was down, nor once the node REDIS_URL named had died, even after its replica
was promoted. Now REDIS_URL may list several nodes (core.settings.redis_nodes), and the store
(core.storage.ClusterStore) connects at its first command: an unreachable cluster is then a store
error like any other (STORE_ERRORS)."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import urlparse

import pytest
import redis
from redis.cluster import CommandsParser, NodesManager, RedisCluster, key_slot

from core.settings import Settings
from core.storage import ClusterStore, StoreUnavailable, connect, is_cluster, slot_pool
from core.store_health import STORE_ERRORS
from portal import create_app
from portal.demo import simulated_reports
from portal.seed import ensure_demo_mall
from portal.tools.net import free_port
from portal.tools.valkey_cluster import start_local_cluster

PHONE = "02:00:5e:00:53:61"


def closed_ports(count: int = 2) -> str:
    return ",".join(f"127.0.0.1:{free_port()}" for _ in range(count))


def live_node(settings) -> str:
    """host:port of the session cluster's node named in its REDIS_URL."""
    return urlparse(settings.redis_url).netloc


# ---- the lazy client ------------------------------------------------------------------------------

def test_the_store_is_made_without_any_node(settings):
    db = connect(settings.with_(redis_url=f"redis://{closed_ports()}/0"))
    assert is_cluster(db) and isinstance(db, RedisCluster)
    # Made without a node: what a worker does as it starts (scripts' SHAs, key slots).
    assert db.keyslot("{demo}x") == key_slot(b"{demo}x")
    assert len(db.register_script("return 1").sha) == 40
    for call in (lambda: db.get("{demo}x"), db.ping, lambda: db.pipeline(transaction=True),
                 lambda: slot_pool(db, "{demo}x"), lambda: db.nodes_manager):
        with pytest.raises(StoreUnavailable) as caught:
            call()
        assert isinstance(caught.value, STORE_ERRORS) and isinstance(caught.value, redis.ConnectionError)
        assert "cannot be connected" in str(caught.value)
    db.close()  # closing a never-connected client connects to nothing


def test_any_listed_node_gives_the_slot_map(settings):
    """Dead nodes listed first (in either order: redis-py shuffles them) do not stop the client."""
    live = live_node(settings)
    for url in (f"redis://{closed_ports()},{live}", f"redis://{live},{closed_ports()}/0"):
        db = connect(settings.with_(redis_url=url))
        db.set("{demo}startup", "1")
        assert db.get("{demo}startup") == b"1"
        with db.pipeline(transaction=True) as pipe:
            assert pipe.incr("{demo}n").incr("{demo}n").execute() == [1, 2]
        db.delete("{demo}startup", "{demo}n")


def test_the_urls_options_reach_every_listed_node(settings):
    """The URL's options (here decode_responses) are every node's, the first listed one dead or not;
    the encoder made before connecting is the one RedisCluster makes."""
    db = connect(settings.with_(redis_url=f"redis://{closed_ports(1)},{live_node(settings)}/0?decode_responses=True"))
    early = db.encoder
    db.set("{demo}opt", "x")
    assert db.get("{demo}opt") == "x"
    assert db.encoder is not early  # RedisCluster.__init__ made its own: the same settings
    fields = ("encoding", "encoding_errors", "decode_responses")
    assert [getattr(db.encoder, f) for f in fields] == [getattr(early, f) for f in fields]
    assert early.decode_responses  # as redis-py reads it from the URL ("True")
    db.delete("{demo}opt")


@pytest.mark.parametrize("fails", [NodesManager, CommandsParser])
def test_a_failed_first_connect_is_tried_again(settings, monkeypatch, fails):
    """Pins what ClusterStore relies on: RedisCluster.__init__ runs again on the same object after it
    failed, at the slot map (NodesManager) or after it (CommandsParser: a half-made client is dropped)."""
    real = fails.initialize
    calls = []
    this_thread = threading.get_ident()

    def once(self, *args, **kwargs):
        if threading.get_ident() != this_thread:  # another test's client left running (a slot refresh)
            return real(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == 1:
            raise (redis.exceptions.RedisClusterException("Redis Cluster cannot be connected")
                   if fails is NodesManager else redis.ConnectionError("gone"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(fails, "initialize", once)
    db = connect(settings)
    with pytest.raises(redis.ConnectionError):
        db.set("{demo}again", "1")
    assert set(vars(db)) == set(ClusterStore._OWN)  # nothing of the failed try kept
    db.set("{demo}again", "1")
    assert db.get("{demo}again") == b"1" and len(calls) >= 2
    db.delete("{demo}again")


def test_redis_cluster_sets_only_instance_attributes(settings):
    """Pins what ClusterStore.__getattr__ relies on: every attribute RedisCluster.__init__ sets is an
    instance attribute no class attribute shadows, so before the first connect each one is missing."""
    db = connect(settings)
    db.ping()
    made = set(vars(db)) - ClusterStore._OWN
    assert {"nodes_manager", "commands_parser", "retry"} <= made
    assert not [name for name in made if hasattr(ClusterStore, name)]


def test_threads_share_one_connect(settings, monkeypatch):
    runs = []
    real = RedisCluster.__init__

    def counted(self, *args, **kwargs):
        if self is db:  # not another test's client connecting in a thread it left running
            runs.append(1)
        time.sleep(0.05)  # the others arrive meanwhile
        return real(self, *args, **kwargs)

    monkeypatch.setattr(RedisCluster, "__init__", counted)
    db = connect(settings)
    errors = []

    def use(i):
        try:
            db.set(f"{{demo}}t{i}", i)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=use, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == [] and len(runs) == 1
    db.delete(*(f"{{demo}}t{i}" for i in range(8)))


# ---- a worker that starts while the cluster is unreachable ---------------------------------------

def test_the_app_starts_without_the_cluster_probes_fail_open_and_ingest_answers_503(settings):
    app = create_app(settings.with_(redis_url=f"redis://{closed_ports()}/0", store_timeout_s=1.0))
    svc = app.extensions["mallportal"]
    assert is_cluster(svc.db)
    client = app.test_client()
    for path in ("/generate_204?client_mac=02:00:5e:00:53:51", "/hotspot-detect.html"):
        resp = client.get(path)
        assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path == "/offline"
    body = {"ap": "f0:9f:c2:1a:00:01", "observations": [{"client": PHONE, "rssi": -61, "ts": time.time()}]}
    resp = client.post("/api/v1/venues/demo/reports", data=json.dumps(body), content_type="application/json",
                       headers={"Authorization": "Bearer some-token"})
    assert resp.status_code == 503 and int(resp.headers["Retry-After"]) > 0
    thread = svc.warm_up_in_background()  # gives up quietly
    thread.join(timeout=60)
    assert not thread.is_alive()


# ---- the node REDIS_URL names dies; its replica is promoted; a new process starts ----------------

@pytest.fixture(scope="module")
def fragile_cluster(tmp_path_factory):
    """Its own cluster (3 primaries, a replica each): this test kills one of its primaries."""
    cluster = start_local_cluster(tmp_path_factory.mktemp("startup-cluster"))
    yield cluster
    cluster.stop()


@pytest.mark.slow
def test_a_new_process_starts_after_the_named_node_failed_over(fragile_cluster, demo_map, tmp_path):
    named = fragile_cluster.url  # the node a one-node REDIS_URL names
    victim = next(n for n in fragile_cluster.alive() if n.port == urlparse(named).port)
    tag = next(f"{{v{i}}}" for i in range(1000) if fragile_cluster.primary_of(f"{{v{i}}}") is victim)
    key = f"{tag}k"
    other = next(n for n in fragile_cluster.alive() if n is not victim)
    listed = f"{named},127.0.0.1:{other.port}"
    base = Settings(redis_url=named, redis_cluster=True, secret_key="s" * 32, mac_hash_key="m" * 32,
                    data_dir=tmp_path, load_demo=False, testing=True)
    connect(base).set(key, "before")

    fragile_cluster.kill(victim)
    deadline = time.monotonic() + 60
    while _primary_or_none(fragile_cluster, tag) in (None, victim):  # the replica is promoted...
        assert time.monotonic() < deadline, "the replica was not promoted"
        time.sleep(0.1)
    fragile_cluster.wait_ok(timeout=60)  # ...and every live node serves every slot again

    # One node named, and it is dead: the process still starts, and its store calls fail as store errors.
    alone = create_app(base)
    resp = alone.test_client().get(f"/generate_204?client_mac={PHONE}")
    assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path == "/offline"
    with pytest.raises(StoreUnavailable):
        alone.extensions["mallportal"].db.get(key)

    # Both nodes listed: a new client reads the slot map from the live one, the promoted replica included.
    db = connect(base.with_(redis_url=listed))
    assert db.get(key) == b"before"
    db.set(key, "after")
    assert db.get(key) == b"after"

    # ...and so does a new app: it loads a venue, takes readings, answers probes.
    app = create_app(base.with_(redis_url=listed))
    svc = app.extensions["mallportal"]
    with app.app_context():
        ensure_demo_mall(svc, "demo", demo_map)
    token = (tmp_path / "secrets" / "demo_api_token").read_text()
    body = simulated_reports(demo_map, 1, 20, 30, PHONE, time.time())
    client = app.test_client()
    resp = client.post("/api/v1/venues/demo/reports", data=json.dumps(body), content_type="application/json",
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 202
    assert client.get(f"/generate_204?client_mac={PHONE}").status_code == 302


def _primary_or_none(cluster, tag: str):
    try:
        return cluster.primary_of(tag)
    except (LookupError, redis.RedisError):
        return None  # no live node claims the slot yet
