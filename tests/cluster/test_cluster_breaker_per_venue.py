"""One shard down fails open only its own venues (core/store_health.py VenueBreakers): on a real local cluster
with venue A's primary killed (no replica), venue B's granted phone keeps getting its 204 and B's gateway entry
and CAPPORT API keep answering from the store, while A's probes fail open. Before, the app's one breaker opened
after three of A's failures and sent every venue's phones to /offline. Outcomes are counted: nothing is timed."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from fingerprints.model import Floor, VenueMap
from portal import create_app
from portal.captive.views import captive_services
from portal.tools.valkey_cluster import start_local_cluster

PHONE_A, PHONE_B = "02:00:5e:00:11:01", "02:00:5e:00:11:02"
IP_B = "10.0.0.7"
ROUNDS = 12


@pytest.fixture
def one_shard_down(settings, tmp_path):
    """An app on a cluster of its own (this test kills a primary): (app, dead venue, live venue), each venue
    with a map and a granted phone, A's primary killed."""
    cluster = start_local_cluster(tmp_path / "cluster", replicas=0)
    try:
        app = create_app(settings.with_(redis_url=cluster.url, data_dir=tmp_path / "var"))
        svc = app.extensions["mallportal"]
        cs = app.extensions["captive"]
        svc.breaker._on_open = None  # no prober races the count (the app's one breaker, before the fix)
        cs.breaker._wake_prober = None  # the venues' breakers, made from here on, wake no prober
        ids = [f"mall{i}" for i in range(100)]
        dead = ids[0]
        live = next(v for v in ids if cluster.primary_of("{" + v + "}").port != cluster.primary_of("{mall0}").port)
        with app.app_context():
            sessions = captive_services().sessions
            sessions.grant(dead, svc.hasher.client_id(PHONE_A), 3600, "direct")
            sessions.grant(live, svc.hasher.client_id(PHONE_B), 3600, "direct")
            sessions.remember_ip(live, IP_B, svc.hasher.client_id(PHONE_B))
        # CAPPORT answers 404 for a venue without a map; a breaker is kept only for a venue known to exist
        for venue in (dead, live):
            svc.venues.put_map(VenueMap(id=venue, name=venue, name_zh="活", floors=[Floor(0, "G", 50, 30)]))
        svc.venues.venue_ids()  # this process's registry copy, as a web worker's warm-up reads it
        cluster.kill(cluster.primary_of("{" + dead + "}"))
        yield app, dead, live
    finally:
        cluster.stop()


def answer(client, venue: str, phone: str) -> tuple[int, str]:
    resp = client.get(f"/generate_204?venue={venue}&client_mac={phone}")
    return resp.status_code, urlparse(resp.headers.get("Location", "")).path


def test_one_dead_shard_fails_open_only_its_own_venues(one_shard_down):
    app, dead, live = one_shard_down
    client = app.test_client()
    answers: dict[str, list[tuple[int, str]]] = {dead: [], live: []}
    for _ in range(ROUNDS):  # as one process answers both malls' phones: a burst of A's, then one of B's
        answers[dead] += [answer(client, dead, PHONE_A) for _ in range(3)]  # 3: what opens a breaker
        answers[live].append(answer(client, live, PHONE_B))
    assert answers[dead] == [(302, "/offline")] * 3 * ROUNDS
    assert answers[live] == [(204, "")] * ROUNDS

    breakers = app.extensions["captive"].breaker
    assert breakers.open_venues() == [dead]
    # Its recovery ping asks the dead venue's own slot (a node-wide PING would be answered by a live shard
    # and close it while the venue's shard is still down).
    assert breakers.for_venue(dead).probe_once() is False and breakers.open_venues() == [dead]


def test_the_live_venues_gateway_entry_and_capport_api_keep_answering(one_shard_down):
    app, dead, live = one_shard_down
    client = app.test_client()
    for _ in range(ROUNDS):
        assert answer(client, dead, PHONE_A) == (302, "/offline")
    entry = client.get(f"/portal?venue={live}&client_mac={PHONE_B}")
    assert entry.status_code == 302 and "offline" not in entry.headers["Location"]  # not the fail-open page
    capport = client.get(f"/capport/api?venue={live}", environ_base={"REMOTE_ADDR": IP_B})
    assert capport.status_code == 200 and capport.get_json(force=True)["captive"] is False


def test_a_script_new_to_the_cluster_runs_for_a_live_venue(one_shard_down):
    """A script's first call after a NOSCRIPT loads it: redis-py sends SCRIPT LOAD to every primary and failed
    at the dead one, so a live venue's first abuse-budget spend (any register_script) failed while another
    shard was down (core/storage.py ClusterStore.script_load: every primary that answers)."""
    app, _dead, live = one_shard_down
    db = app.extensions["mallportal"].db
    script = db.register_script("return redis.call('INCR', KEYS[1])")
    key = "mp:{" + live + "}:script-test"
    assert script(keys=[key]) == 1 and script(keys=[key]) == 2
