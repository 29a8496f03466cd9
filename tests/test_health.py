"""/healthz and /readyz (portal/health.py): liveness without the store, readiness by the store's PING, the background
workers' heartbeats reported (a stale one makes the host unready only with ?strict=1), GET and HEAD only, and nothing
counted or stored. Statuses are asserted, never timings."""

from __future__ import annotations

import socket

import pytest

from portal import health
from portal.leases import VenueLeases, default_owner
from portal.payments.worker import sweeper_leases
from portal.tools.net import free_port


@pytest.fixture(autouse=True)
def every_check_afresh(monkeypatch):
    """These tests change the store or the heartbeats between two calls: no reuse of the last check (its own test
    below puts it back)."""
    monkeypatch.setattr(health, "READY_CACHE_S", 0.0)


@pytest.fixture
def store_gone(svc):
    """The app's store connection pointed at a closed port (tests/faults/test_faults_breaker_views.py's way)."""
    pool = svc.db.connection_pool
    real_port = pool.connection_kwargs["port"]
    pool.reset()
    pool.connection_kwargs.update(port=free_port())
    yield pool
    pool.reset()
    pool.connection_kwargs.update(port=real_port)


@pytest.fixture
def store_silent(svc):
    """The app's store connection pointed at a port that takes connections and never answers (a hung store)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    pool = svc.db.connection_pool
    real_port = pool.connection_kwargs["port"]
    pool.reset()
    pool.connection_kwargs.update(port=server.getsockname()[1])
    yield pool
    pool.reset()
    pool.connection_kwargs.update(port=real_port)
    server.close()


def worker_leases(svc) -> dict[str, VenueLeases]:
    """Each worker's registry as its entry point (portal/__main__.py) makes it."""
    return {"tracker": VenueLeases(svc.db, ttl_s=svc.settings.tracker_lease_s),
            "notify": VenueLeases(svc.db, kind="notify"),
            "payments": sweeper_leases(svc.db)}


def killed(svc, registry: VenueLeases) -> None:
    """The heartbeat a worker killed an hour ago left in its registry (scored by the store's clock, as workers do)."""
    seconds, micros = svc.db.time()
    svc.db.zadd(registry.members_key, {"killed-host:7": seconds + micros / 1e6 - 3600})


def test_healthz_answers_ok_uncached(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.data == b"ok\n" and resp.mimetype == "text/plain"
    assert "no-store" in resp.headers["Cache-Control"]


@pytest.mark.single_node
def test_healthz_answers_without_asking_the_store(client, svc, store_gone, monkeypatch):
    def no_store(*args, **kwargs):
        raise AssertionError("/healthz asked the store")

    monkeypatch.setattr(store_gone, "get_connection", no_store)
    assert client.get("/healthz").status_code == 200


def test_readyz_is_ready_and_reports_each_worker_kind(client):
    resp = client.get("/readyz")
    assert resp.status_code == 200 and "no-store" in resp.headers["Cache-Control"]
    body = resp.get_json()
    assert body["ready"] is True and body["store"] == "ok" and body["problems"] == []
    assert body["workers"] == {kind: {"state": "absent", "age_s": None, "live": 0}
                               for kind in ("tracker", "notify", "payments")}


def test_readyz_reports_fresh_and_stale_heartbeats_without_names(client, svc):
    leases = worker_leases(svc)
    leases["tracker"].live_workers()
    VenueLeases(svc.db, owner="other-host:1", ttl_s=svc.settings.tracker_lease_s).live_workers()
    killed(svc, leases["payments"])
    resp = client.get("/readyz")
    workers = resp.get_json()["workers"]
    assert resp.status_code == 200  # a stale or absent worker does not take a web host out of rotation
    assert workers["tracker"]["state"] == "fresh" and workers["tracker"]["live"] == 2
    assert workers["notify"] == {"state": "absent", "age_s": None, "live": 0}
    assert workers["payments"]["state"] == "stale" and workers["payments"]["live"] == 0
    assert workers["payments"]["age_s"] >= 3000
    assert default_owner().encode() not in resp.data and b"other-host" not in resp.data and b"killed" not in resp.data


def test_readyz_strict_wants_every_worker_kind_fresh(client, svc):
    leases = worker_leases(svc)
    leases["tracker"].live_workers()
    killed(svc, leases["payments"])
    resp = client.get("/readyz?strict=1")
    assert resp.status_code == 503
    assert resp.get_json()["problems"] == ["notify: absent", "payments: stale"]
    for registry in leases.values():
        registry.live_workers()
    resp = client.get("/readyz?strict=1")
    assert resp.status_code == 200 and resp.get_json()["ready"] is True


@pytest.mark.single_node
def test_readyz_is_503_while_the_store_is_down(client, store_gone):
    resp = client.get("/readyz")
    assert resp.status_code == 503 and "no-store" in resp.headers["Cache-Control"]
    body = resp.get_json()
    assert body["ready"] is False and body["problems"] == ["store: unreachable"]
    assert {beat["state"] for beat in body["workers"].values()} == {"unknown"}
    assert client.get("/healthz").status_code == 200


@pytest.mark.single_node
def test_readyz_is_503_when_the_store_does_not_answer_in_time(app, client, store_silent):
    app.wsgi_app.timeout_s = 0.2  # the lane's STORE_TIMEOUT_S, short: the test waits on it (nothing is timed)
    resp = client.get("/readyz")
    assert resp.status_code == 503 and resp.get_json()["problems"] == ["store: timeout"]


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_only_get_and_head(client, path):
    head = client.head(path)
    assert head.status_code == 200 and head.data == b""
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        resp = client.open(path, method=method)
        assert resp.status_code == 405 and resp.headers["Allow"] == "GET, HEAD", method


@pytest.mark.single_node
def test_checks_store_nothing_and_count_no_landing(client, db):
    before = sorted(db.keys("*"))
    for path in ("/healthz", "/readyz", "/readyz?strict=1"):
        client.get(path, headers={"Host": "connectivitycheck.gstatic.com"})  # a probe's host: no probe answer
    assert sorted(db.keys("*")) == before


def test_a_load_balancers_host_name_is_not_taken_for_a_hijacked_request(settings, db):
    from portal import create_app  # the suite's app has no PORTAL_URL, so no host is foreign to it

    client = create_app(settings.with_(portal_url="https://portal.mall.example")).test_client()
    # hijacked, the probe lane answers it (with no venue in this store: "not set up")
    assert client.get("/", headers={"Host": "web-3.lb.internal"}).status_code == 503
    for path in ("/healthz", "/readyz"):
        assert client.get(path, headers={"Host": "web-3.lb.internal"}).status_code == 200, path


def test_a_flood_of_readiness_checks_asks_the_store_once_a_second(client, svc, monkeypatch):
    """Anyone may call /readyz: a process reuses its last check for READY_CACHE_S, so a flood costs the store at most
    one ping a second per process. The reuse's own clock is pinned here."""
    monkeypatch.setattr(health, "READY_CACHE_S", 1.0)
    monkeypatch.setattr(health, "_clock", lambda: 1000.0)
    pings = []
    real_ping = svc.db.ping
    monkeypatch.setattr(svc.db, "ping", lambda *a, **k: pings.append(1) or real_ping(*a, **k))
    assert all(client.get("/readyz").status_code == 200 for _ in range(20))
    assert len(pings) == 1
    monkeypatch.setattr(health, "_clock", lambda: 1001.5)  # past READY_CACHE_S: checked again
    assert client.get("/readyz").status_code == 200 and len(pings) == 2



def test_requests_during_a_slow_check_take_its_answer(app, client, svc, monkeypatch):
    """A slow store must not hold every thread in a check of its own: one check at a time, and the requests that
    came meanwhile answer from it (the reuse's clock pinned: no timing in the assertion)."""
    import threading
    import time

    monkeypatch.setattr(health, "READY_CACHE_S", 1.0)
    monkeypatch.setattr(health, "_clock", lambda: 2000.0)
    pings, real_ping = [], svc.db.ping

    def slow_ping(*args, **kwargs):
        pings.append(1)
        time.sleep(0.2)  # a store slow to answer; the assertion counts pings, not time
        return real_ping(*args, **kwargs)

    monkeypatch.setattr(svc.db, "ping", slow_ping)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(app.test_client().get("/readyz").status_code))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [200] * 8 and len(pings) == 1
