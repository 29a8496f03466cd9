"""The app's one store breaker covers every view (issue 14): store failures in any view count toward
opening it; while it is open, views that need the store answer 503 + Retry-After at once, without
waiting for the store (a stalled store would otherwise hold a worker thread per request for the whole
store timeout, and probes queue behind them); the captive portal still fails open; once the store
answers the background probe, the views work again. Driven step by step: no timers raced."""

from __future__ import annotations

import json
import time
from urllib.parse import urlparse

import pytest

from portal.shopper import ShopperTokenStore, cookie_name, new_shopper
from portal.tools.net import free_port

REPORT = {"ap": "f0:9f:c2:1a:00:01", "observations": [{"client": "02:00:5e:00:56:01", "rssi": -61, "ts": 0}]}


@pytest.fixture(autouse=True)
def breaker_stepped_by_hand(svc, monkeypatch):
    """No background prober: the tests run its step (probe_once) themselves, so no timer is raced."""
    monkeypatch.setattr(svc.breaker, "_on_open", None)


@pytest.fixture
def store_gone(app, svc, demo):
    """The app built on the live store, which then goes away (a closed port); put back at the end."""
    pool = svc.db.connection_pool
    real_port = pool.connection_kwargs["port"]
    pool.reset()
    pool.connection_kwargs.update(port=free_port())
    pool.real_port = real_port
    yield pool
    pool.reset()
    pool.connection_kwargs.update(port=real_port)


def post_report(client, token: str):
    body = {**REPORT, "observations": [{**REPORT["observations"][0], "ts": time.time()}]}
    return client.post("/api/v1/venues/demo/reports", data=json.dumps(body), content_type="application/json",
                       headers={"Authorization": f"Bearer {token}"})


@pytest.mark.single_node
def test_views_open_the_breaker_then_answer_503_without_the_store(client, svc, demo, store_gone, monkeypatch):
    breaker = svc.breaker
    for _ in range(breaker.failures_to_open):
        resp = post_report(client, demo)
        assert resp.status_code == 503 and int(resp.headers["Retry-After"]) > 0
    assert breaker.is_open

    touched: list[str] = []

    def no_store(*args, **kwargs):
        touched.append("store")  # also where a caller swallows the error (UniFi's site lookup keeps its last answer)
        raise AssertionError("a view touched the store while the breaker was open")

    monkeypatch.setattr(store_gone, "get_connection", no_store)
    resp = post_report(client, demo)
    assert resp.status_code == 503 and "error" in resp.get_json()
    page = client.get("/v/demo/", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 503 and page.mimetype == "text/html" and "Retry-After" in page.headers
    assert "服务暂时繁忙" in page.get_data(as_text=True)  # the shopper's language
    probe = client.get("/hotspot-detect.html")  # the captive portal fails open, also without the store
    assert probe.status_code == 302 and urlparse(probe.headers["Location"]).path == "/offline"
    capport = client.get("/capport/api?venue=demo")
    # not "captive: true" (phones already online would show a portal): a 503, so the OS falls back to its probes
    assert capport.status_code == 503 and "captive" not in json.loads(capport.data)
    assert int(capport.headers["Retry-After"]) > 0 and "no-store" in capport.headers["Cache-Control"]
    assert client.get("/static/portal.css").status_code == 200  # static files never ask the breaker
    unifi = client.get("/guest/s/default/?ap=44:d9:e7:0a:80:43&id=70:8a:09:65:4d:ec&t=1"
                       "&url=http%3A%2F%2Fexample.org%2F")
    assert unifi.status_code == 200 and b"continue-internet" in unifi.data  # the fail-open page, its site unread
    assert touched == []


@pytest.mark.parametrize("path", ["/v/demo/", "/v/demo/me", "/v/demo/queue/foodcourt", "/v/demo/zone/kopi/coupons"])
@pytest.mark.single_node
def test_a_shoppers_503_page_asks_nothing_of_the_store(app, client, svc, demo, store_gone, monkeypatch, path):
    """A real shopper's page carries a token (and a cookie). While the breaker is open, neither a light app's
    zone loader (its zone config) nor the 503 page (the header's links, the privacy notice, offers, Continue, a
    light app's form token: each starts by looking the token up; the consent and the offers of the anonymous
    shopper a light app's page makes for its forms) may ask the store: on a stalled store each ask waited out
    the store's timeout, holding a worker thread for seconds per shopper request."""
    token = app.extensions["shopper_tokens"].mint(new_shopper("demo"), handout=True)  # sealed: nothing stored
    for _ in range(svc.breaker.failures_to_open):
        post_report(client, demo)
    assert svc.breaker.is_open
    asked: list[str] = []

    def resolve(self, given):
        asked.append(f"token {given}")
        raise AssertionError("the 503 page looked a shopper token up in the store")

    def config_for(*args, **kwargs):
        asked.append(f"zone config {args}")
        raise AssertionError("a zone's config was read with the breaker open")

    def shopper_data(*args, **kwargs):
        asked.append(f"shopper data {args}")
        raise AssertionError("the 503 page read a shopper's consent or offers")

    monkeypatch.setattr(ShopperTokenStore, "resolve", resolve)
    monkeypatch.setattr(svc.zone_apps, "config_for", config_for)
    monkeypatch.setattr(svc.consent, "get", shopper_data)
    monkeypatch.setattr(svc.moments, "offers_for", shopper_data)
    client.set_cookie(cookie_name("demo"), token)
    resp = client.get(f"{path}?c={token}", headers={"Accept-Language": "zh-CN"})
    assert resp.status_code == 503 and "Retry-After" in resp.headers
    assert "服务暂时繁忙" in resp.get_data(as_text=True)
    assert asked == []


@pytest.mark.single_node
def test_views_work_again_once_the_store_answers(client, svc, demo, store_gone):
    for _ in range(svc.breaker.failures_to_open):
        post_report(client, demo)
    assert svc.breaker.is_open
    store_gone.reset()
    store_gone.connection_kwargs.update(port=store_gone.real_port)
    assert svc.breaker.probe_once()  # the background prober's step, run here
    assert post_report(client, demo).status_code == 202
    assert client.get("/v/demo/").status_code == 200


def test_a_script_error_is_no_outage(client, svc, demo, monkeypatch):
    """Only connection errors and timeouts count toward "the store is down": a wrong type or a script
    error (still a 503 for that request) leaves the breaker closed."""
    import redis

    def wrong_type(*args, **kwargs):
        raise redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")

    monkeypatch.setattr(svc.tokens, "source_for", wrong_type)
    for _ in range(svc.breaker.failures_to_open + 1):
        assert post_report(client, demo).status_code == 503
    assert not svc.breaker.is_open


@pytest.mark.single_node
def test_a_failed_ingest_write_is_503_with_retry_after_and_counts(client, svc, demo, monkeypatch):
    """Ingest answers a failed write itself (503, "retry later"): with Retry-After, and counted as a
    store failure like any other."""
    import redis

    def refused(*args, **kwargs):
        raise redis.ConnectionError("Connection refused")

    monkeypatch.setattr(svc.rssi, "write_batch", refused)
    for _ in range(svc.breaker.failures_to_open):
        resp = post_report(client, demo)
        assert resp.status_code == 503 and int(resp.headers["Retry-After"]) > 0
    assert svc.breaker.is_open


def test_on_a_cluster_the_views_never_ask_the_breaker(client, svc, demo, monkeypatch):
    """One shard down must not stop the venues on the others: on a cluster the views answer by their own
    calls, whatever the (process-wide) breaker says."""
    from dataclasses import replace

    monkeypatch.setattr(svc, "settings", replace(svc.settings, redis_cluster=True))
    for _ in range(svc.breaker.failures_to_open):
        svc.breaker.record_failure(None)
    assert svc.breaker.is_open
    assert post_report(client, demo).status_code == 202


@pytest.mark.single_node
def test_a_store_fault_is_logged_with_the_route_not_the_paths_secrets(client, demo, store_gone, caplog):
    """The error line names the route as the access log does: a coupon's code in the path is not written."""
    resp = client.get("/v/demo/coupons/mine/SECRETCODE7")
    assert resp.status_code == 503
    assert "store unavailable on GET /v/demo/coupons/mine/<code>" in caplog.text
    assert "SECRETCODE7" not in caplog.text
