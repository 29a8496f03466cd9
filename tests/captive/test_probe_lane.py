"""The probe lane (portal/captive/lane.py) and what it reads in one round trip: a tracked phone is
answered from its kept position, a phone with newer readings is positioned again, the zone's app and
the grant are always read fresh, and the lane's own failure modes (a store restarted, dropped connections)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import pytest
import redis

from portal.apps.zone_apps import ZoneAppKeys, ZoneAppStore
from portal.captive.common import captive_services_of
from portal.captive.lane import MEMO_QUERY_CHARS, ProbeLane
from portal.captive.views import captive_services
from portal.shopper import token_store
from portal.tracking import Tracker
from tests.test_slice import expected_landing_path, post_phone_at

PHONE = "02:00:5e:00:53:40"
CINEMA = (1, 20, 30)


@pytest.fixture
def tracked(app, client, demo, svc, demo_map):
    """PHONE heard in the cinema and positioned by the tracker, as `make run` does on arrival."""
    post_phone_at(client, demo, demo_map, *CINEMA, phone=PHONE)
    assert Tracker(svc.db, svc.venues, svc.locator).drain("demo") == 1
    return expected_landing_path(app, svc, "cinema")


class CountingLocate:
    """Wraps the real Locator.locate to count calls (the store and the model stay real)."""

    def __init__(self, locator) -> None:
        self.real, self.calls = locator.locate, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.real(*args, **kwargs)


def probe(client, mac=PHONE, **kw):
    return client.get(f"/generate_204?client_mac={mac}", **kw)


def test_tracked_phone_is_answered_without_positioning(client, svc, tracked, monkeypatch):
    counting = CountingLocate(svc.locator)
    monkeypatch.setattr(svc.locator, "locate", counting)
    for _ in range(3):  # an OS sends several probes on joining
        resp = probe(client)
        assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path == tracked
    assert counting.calls == 0


def test_newer_readings_make_the_probe_position_again(client, svc, demo, demo_map, tracked, monkeypatch):
    counting = CountingLocate(svc.locator)
    monkeypatch.setattr(svc.locator, "locate", counting)
    post_phone_at(client, demo, demo_map, 0, 20, 30, phone=PHONE)  # heard again (the tracker is not running)
    assert probe(client).status_code == 302
    assert counting.calls == 1
    probe(client)  # and that position is kept in turn
    assert counting.calls == 1


def test_kept_position_expires_after_position_cache_s(app, svc, tracked):
    state = captive_services_of(app).landing.probe_state
    client_id = svc.hasher.client_id(PHONE)
    assert state.read("demo", client_id).position is not None
    later = time.time() + svc.settings.position_cache_s + 1
    assert state.read("demo", client_id, now=later).position is None


def test_zone_app_change_applies_to_the_next_probe(app, client, svc, tracked):
    svc.zone_apps.set("demo", "cinema", "coupons", {})
    assert urlparse(probe(client).headers["Location"]).path == expected_landing_path(app, svc, "cinema")
    assert expected_landing_path(app, svc, "cinema") != tracked


def test_zone_app_change_by_another_process_applies_to_the_next_probe(app, client, svc, tracked):
    """The probe takes the apps from its process's copy of the table, checked against the table's version
    read with the phone's keys: another process's change is seen at once, not after the copy's age."""
    assert urlparse(probe(client).headers["Location"]).path == tracked  # this process now holds a copy
    ZoneAppStore(svc.db).set("demo", "cinema", "coupons", {})  # another process's store
    assert urlparse(probe(client).headers["Location"]).path == expected_landing_path(app, svc, "cinema") != tracked


def test_the_zone_app_copy_is_read_again_only_when_its_version_moves(db, monkeypatch):
    store, table_reads = ZoneAppStore(db), []
    store.set("demo", "cinema", "cinema", {})
    real_pipeline = db.pipeline
    monkeypatch.setattr(db, "pipeline", lambda *a, **kw: table_reads.append(1) or real_pipeline(*a, **kw))
    version = db.get(ZoneAppKeys("demo").version())
    assert all(ZoneAppStore.app_of(store.from_copy("demo", "cinema", version)) == "cinema" for _ in range(5))
    assert len(table_reads) == 1  # the probes' version matched the copy's: read once
    ZoneAppStore(db).set("demo", "cinema", "coupons", {})  # another process (its own pipeline: counted)
    moved = db.get(ZoneAppKeys("demo").version())
    assert moved != version and ZoneAppStore.app_of(store.from_copy("demo", "cinema", moved)) == "coupons"
    assert len(table_reads) == 3


def test_grant_applies_to_the_next_probe(app, client, svc, tracked):
    with app.app_context():
        captive_services().sessions.grant("demo", svc.hasher.client_id(PHONE), 600, "direct")
    resp = probe(client)
    assert resp.status_code == 204 and resp.data == b""


def test_token_in_the_landing_url_is_the_phones(app, client, svc, tracked):
    token = parse_qs(urlparse(probe(client).headers["Location"]).query)["c"][0]
    with app.app_context():
        shopper = token_store().resolve(token)
    # The token is a new shopper's, on the phone the probe named (a MAC anyone can write: not verified).
    assert shopper.venue == "demo" and shopper.phone == svc.hasher.client_id(PHONE) and not shopper.phone_verified
    assert shopper.client != svc.hasher.client_id(PHONE)


def test_phone_known_by_ip_only(app, client, svc, tracked):
    """A probe without gateway parameters (our DNS answered it): the client comes from the IP table."""
    with app.app_context():
        captive_services().sessions.remember_ip("demo", "10.0.0.7", svc.hasher.client_id(PHONE))
    resp = client.get("/generate_204", environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert urlparse(resp.headers["Location"]).path == tracked


def test_head_probe_gets_headers_only(client, tracked):
    resp = client.head(f"/hotspot-detect.html?client_mac={PHONE}", headers={"Host": "captive.apple.com"})
    assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path == tracked
    assert resp.data == b""


def test_probe_paths_take_only_get(client, demo):
    resp = client.post("/generate_204", data={"x": "1"})
    assert resp.status_code == 405 and resp.headers["Allow"] == "GET, HEAD"
    assert resp.get_json() == {"error": "probes are GET requests", "field": None}


def test_store_restarted_without_its_script_cache_still_answers(client, svc, tracked):
    probe(client)
    svc.db.script_flush()  # a store restarted without its script cache
    resp = probe(client)
    assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path == tracked


def test_dropped_connection_fails_open_then_recovers(client, svc, tracked):
    probe(client)
    for info in svc.db.client_list():  # drop every connection the store has open but ours
        if int(info["id"]) != svc.db.client_id():
            svc.db.client_kill_filter(_id=info["id"])
    first = probe(client)
    assert first.status_code == 302  # the offline page (fail open) or, after a reconnect, the landing
    assert urlparse(first.headers["Location"]).path in ("/offline", tracked)
    assert urlparse(probe(client).headers["Location"]).path == tracked


def test_unknown_mac_param_is_ignored_not_an_error(client, demo):
    resp = client.get("/generate_204?client_mac=not-a-mac")
    assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path == "/v/demo/"


def test_store_error_mid_probe_is_logged(app, client, tracked, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise redis.ConnectionError("store went away")

    monkeypatch.setattr(captive_services_of(app).landing.probe_state, "read", broken)
    resp = probe(client)
    assert urlparse(resp.headers["Location"]).path == "/offline"
    assert "failing open: store went away" in caplog.text


def _lane(app) -> ProbeLane:
    wsgi = app.wsgi_app
    while not isinstance(wsgi, ProbeLane):  # under the query guard (and ProxyFix when PROXY_HOPS is set)
        wsgi = wsgi.wsgi_app if hasattr(wsgi, "wsgi_app") else wsgi.app
    return wsgi


def test_a_repeated_probe_reuses_its_parsed_query_but_gets_a_new_token(app, client, tracked):
    """What a query says is memoised per lane (a phone's probes repeat it); the token is minted per probe."""
    lane = _lane(app)
    lane._memo_params.cache_clear()
    tokens = {parse_qs(urlparse(probe(client).headers["Location"]).query)["c"][0] for _ in range(3)}
    assert len(tokens) == 3
    assert lane._memo_params.cache_info().currsize == 1 and lane._memo_params.cache_info().hits == 2


def test_a_long_query_is_read_each_time_not_kept(app, client, tracked):
    """Only a probe's short query is memoised: a gateway's long redirect would hold kilobytes per entry."""
    lane = _lane(app)
    lane._memo_params.cache_clear()
    padding = "x" * MEMO_QUERY_CHARS
    resp = client.get(f"/generate_204?client_mac={PHONE}&fas={padding}")
    assert urlparse(resp.headers["Location"]).path == tracked  # the phone still found in it
    assert lane._memo_params.cache_info().currsize == 0
