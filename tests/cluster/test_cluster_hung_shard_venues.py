"""A hung shard (its primary stopped, SIGSTOP: connections open, nothing answered) holds up only its own venues:
- a console sign-in from a public address reads every venue's `client_networks` (portal/auth.py
  venue_guest_networks): a venue whose breaker is open is not asked, and the reads wait apart from the request's store
  budget, so the account's own reads still answer (before: two hung venues spent the budget, and the sign-in got 503);
- a tracker round leases and steps a hung venue once; its breaker opens on that timeout and the next rounds skip it
  without sending it anything (before: every round waited the timeout once per hung venue, past the 10 s lease); once
  the shard answers the ping again, the venue is leased and served again;
- a probe naming a made-up venue keeps no breaker (core/store_health.py VenueBreakers), one for a venue found does.
Sends to the hung node and status codes are counted; nothing is timed."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest
import redis

from fingerprints.model import Floor, VenueMap
from fingerprints.store import VenueStore
from portal import create_app
from portal.auth import AccountStore
from portal.leases import VenueLeases
from portal.tools.valkey_cluster import start_local_cluster
from portal.tracking import Tracker

PUBLIC = {"REMOTE_ADDR": "203.0.113.5"}  # a sign-in from the internet: every venue's guest networks are read
PREMISES = {"REMOTE_ADDR": "10.0.0.5"}  # one from the premises' own kind of address: none are read
PASSWORD = "Zq8#harbour-wind-42"


def a_map(venue: str) -> VenueMap:
    return VenueMap(id=venue, name=venue, name_zh=venue, floors=[Floor(0, "G", 50, 30)])


def venues_by_primary(cluster, count: int) -> dict[int, list[str]]:
    """primary port -> `count` venue ids whose slots it holds."""
    by_port: dict[int, list[str]] = {}
    for venue in (f"mall{i}" for i in range(1000)):
        found = by_port.setdefault(cluster.primary_of("{" + venue + "}").port, [])
        if len(found) < count:
            found.append(venue)
        if len(by_port) == len(cluster.alive()) and all(len(v) == count for v in by_port.values()):
            return by_port
    raise AssertionError("too few venues found on each primary")


@pytest.fixture(scope="module")
def shard(settings, tmp_path_factory):
    """(app, cluster, node to stop, its two venues, a live venue, sends to that node): the node holds neither the
    `{_global}` nor the `{_accounts}` slot; scripts loaded before (a load while it hangs waits on it too)."""
    cluster = start_local_cluster(tmp_path_factory.mktemp("cluster"), replicas=0)
    try:
        shared = {cluster.primary_of("{_global}").port, cluster.primary_of("{_accounts}").port}
        by_port = venues_by_primary(cluster, 2)
        port = next(p for p in by_port if p not in shared)
        live_port = next(p for p in by_port if p != port)
        node = next(n for n in cluster.alive() if n.port == port)
        # a 1.5 s store timeout and a 2 s request budget: two hung reads (1.45 s charged each) spend it
        app = create_app(settings.with_(redis_url=f"redis://127.0.0.1:{live_port}", store_timeout_s=1.5,
                                        store_request_budget_s=2.0, data_dir=tmp_path_factory.mktemp("var")))
        svc = app.extensions["mallportal"]
        app.extensions["captive"].breaker._wake_prober = None  # no prober races the count
        hung, live = by_port[port], by_port[live_port][0]
        for venue in (*hung, live):
            svc.venues.put_map(a_map(venue))
        AccountStore(svc.db).create("live-ops", PASSWORD, "operator", live)
        assert sign_in(app, PREMISES) == 303  # its scripts loaded; no guest networks read (nor kept in their memo)
        warm = Tracker(svc.db, svc.venues, svc.locator, leases=VenueLeases(svc.db, "tracker", owner="warm"))
        warm.round()
        warm.leases.release_all()
        sends: list[int] = []
        with pytest.MonkeyPatch.context() as patch:
            owner = next(c for c in redis.connection.Connection.__mro__ if "send_packed_command" in vars(c))
            real = owner.send_packed_command

            def counted(self, command, check_health=True):
                if getattr(self, "port", None) == port:
                    sends.append(1)
                return real(self, command, check_health)

            patch.setattr(owner, "send_packed_command", counted)
            yield app, node, hung, live, sends
    finally:
        cluster.stop()


@pytest.fixture
def hung(shard):
    app, node, hung, live, sends = shard
    os.kill(node.process.pid, signal.SIGSTOP)
    try:
        sends.clear()
        yield app, hung, live, sends
    finally:
        os.kill(node.process.pid, signal.SIGCONT)


def sign_in(app, environ: dict[str, str] = PUBLIC) -> int:
    client = app.test_client()
    page = client.get("/console/login", environ_base=environ).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post("/console/login", data={"username": "live-ops", "password": PASSWORD, "csrf_token": csrf},
                       environ_base=environ).status_code


def test_a_sign_in_is_not_held_up_by_a_hung_shards_venues(hung):
    app, hung_venues, _live, sends = hung
    assert sign_in(app) == 303  # their reads waited apart from the request's budget
    assert len(sends) <= 1  # the first one's wait spent what they may wait: the second was not sent
    breakers = app.extensions["captive"].breaker
    for venue in hung_venues:  # their probes failed: their breakers are open
        breakers.for_venue(venue).record_failure(redis.TimeoutError("Timeout reading"), at_once=True)
    sent = len(sends)
    assert sign_in(app) == 303
    assert len(sends) == sent  # not asked at all


def test_a_tracker_round_skips_the_hung_shards_venues_and_serves_them_again_once_back(shard, hung):
    app, hung_venues, live, sends = hung
    svc = app.extensions["mallportal"]
    tracker = Tracker(svc.db, svc.venues, svc.locator, leases=VenueLeases(svc.db, "tracker", owner="test"))
    tracker.breakers._wake_prober = None  # no prober races the count
    tracker.round()
    assert sorted(tracker.breakers.open_venues()) == sorted(hung_venues)  # one timeout each opened them
    assert tracker.leases.held == {live}
    sent = len(sends)
    assert sent <= len(hung_venues)  # one send a venue, none retried
    for _ in range(3):
        assert tracker.round() == (0, 0)  # skipped: not sent, not counted as failed
    assert len(sends) == sent and tracker.leases.held == {live}

    node = shard[1]
    os.kill(node.process.pid, signal.SIGCONT)  # the shard answers again (the fixture's SIGCONT is then a no-op)
    deadline = time.monotonic() + 60  # generous: only waits for the node to rejoin the cluster's view
    while not tracker.breakers.probe_once() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert tracker.breakers.open_venues() == []
    tracker.round()
    assert tracker.leases.held == {*hung_venues, live}
    tracker.leases.release_all()


def test_a_made_up_venue_keeps_no_breaker_and_a_venue_found_does(shard):
    app, _node, _hung, live, _sends = shard
    breakers = app.extensions["captive"].breaker
    client = app.test_client()
    assert client.get("/generate_204?venue=xmadeup").status_code == 404
    assert "xmadeup" not in breakers._breakers
    VenueStore(app.extensions["mallportal"].db).put_map(a_map("newmall"))  # not in this process's registry copy
    for venue in (live, "newmall"):
        assert client.get(f"/generate_204?venue={venue}").status_code == 302
        assert venue in breakers._breakers
