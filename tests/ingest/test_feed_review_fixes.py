"""Feed review fixes: an AP that reports without readings is alive (every format that names its reporting AP);
an OpenWrt event's own `bssid` names its AP; a streamed (chunked) body over the limit is a 413, not a truncated
body; refused Meraki secrets and Mist signatures count as the source's rejections on the health view."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import io
import json
import time
import urllib.parse

import pytest
from flask.testing import EnvironBuilder
from werkzeug.wrappers import Request

from portal.ingest.health import IngestHealth
from portal.ingest.mist import MistStore
from portal.ingest.store import RssiKeys, ap_times
from portal.tracking.models import silent_aps

MIST_SECRET = "mist-webhook-secret"
AP9, AP10 = "f0:9f:c2:1a:00:09", "f0:9f:c2:1a:00:0a"
HEALTH_JSON = ("/console/ops/demo/health", {"Accept": "application/json"})


@pytest.fixture
def mist(feeds, svc):
    MistStore(svc.db, svc.settings.secret_key).configure("demo", "north", MIST_SECRET)
    return feeds


def mist_headers(raw: bytes, secret: str = MIST_SECRET) -> dict:
    return {"X-Mist-Signature-v2": hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()}


def last_seen(db) -> dict[str, float]:
    return ap_times(db.hgetall(RssiKeys("demo").ap_last_seen()))


# ---- an AP that reports without readings is alive ---------------------------------------------


def empty_report(feeds, fmt: str, ap: str):
    """(URL, raw body, headers, expected answer) of a valid report from `ap` that holds no reading."""
    now = time.time()
    token = {"Authorization": f"Bearer {feeds.token}"}
    if fmt == "native":  # the AP of the batch that hears nobody, beside one that hears a phone
        body = {"reports": [{"ap": ap, "observations": []},
                            {"ap": feeds.AP1, "observations": [{"client": feeds.PHONE, "rssi": -50, "ts": now}]}]}
        return "/api/v1/venues/demo/reports", body, token, {"accepted": 1}
    if fmt == "openwrt":  # hostapd's other notifications only: every event ignored
        body = {"bssid": ap, "events": [{"disassoc": {"address": feeds.PHONE}}]}
        return "/api/v1/venues/demo/openwrt", body, token, {"accepted": 0, "ignored": 1}
    if fmt == "meraki_v2":
        body = feeds.v2(ap=ap)
        body["data"]["observations"] = []
        return "/api/v1/venues/demo/meraki/main", body, {}, {"accepted": 0}
    if fmt == "find3":  # a scanner that heard no phone (Bluetooth only)
        body = feeds.passive(device=ap, wifi={})
        return ("/api/v1/venues/demo/find3/passive", body, token,
                {"success": True, "message": "accepted 0 readings", "accepted": 0})
    assert fmt == "mist"  # an event of the AP without packets
    body = {"topic": "wifi-unconn-raw", "events": [{"ap_id": ap.replace(":", "-"), "client_id": feeds.PHONE,
                                                    "packets": []}]}
    raw = json.dumps(body).encode()
    return "/api/v1/venues/demo/mist/north", raw, mist_headers(raw), {"accepted": 0, "ignored": 1}


@pytest.mark.parametrize("fmt", ["native", "openwrt", "meraki_v2", "find3", "mist"])
def test_a_report_without_readings_marks_its_ap_alive(mist, db, svc, fmt):
    feeds = mist
    now = time.time()
    keys = RssiKeys("demo")
    db.hset(keys.ap_last_seen(), mapping={feeds.AP1: now - 10, feeds.AP2: now - 3600})  # a live feed; AP2 quiet
    map_aps = svc.venues.get_map("demo").ap_ids()
    assert feeds.AP2 in map_aps and feeds.AP2 in silent_aps(last_seen(db), map_aps, now, 300)  # masked so far

    url, body, headers, expected = empty_report(feeds, fmt, feeds.AP2)
    before = time.time()
    raw = body if isinstance(body, bytes) else json.dumps(body)
    resp = feeds.client.post(url, data=raw, headers=headers, content_type="application/json")
    assert resp.status_code in (200, 202) and resp.get_json() == expected

    seen = last_seen(db)
    assert seen[feeds.AP2] >= before  # its report's receipt time: it moved
    after = time.time()
    assert feeds.AP2 not in silent_aps(seen, map_aps, after, 300)  # no longer masked out of the model
    snap = IngestHealth(db).snapshot("demo", after, svc.venues.get_map("demo"), 300)
    assert feeds.AP2 not in snap["silent_aps"]
    assert {a["bssid"]: a for a in snap["aps"]}[feeds.AP2]["age_s"] < 3600


def test_the_health_page_shows_a_quiet_ap_alive_and_unmasked(client, console, feeds, db):
    now = time.time()
    db.hset(RssiKeys("demo").ap_last_seen(), mapping={feeds.AP1: now - 10, feeds.AP2: now - 3600})
    before = time.time()
    assert feeds.native({"ap": feeds.AP2, "observations": []}).get_json() == {"accepted": 0}
    console.login("ops")
    data = client.get(HEALTH_JSON[0], headers=HEALTH_JSON[1]).get_json()
    ap = {a["bssid"]: a for a in data["aps"]}[feeds.AP2]
    assert ap["last_seen"] >= before and not ap["silent"]
    assert feeds.AP2 not in data["silent_aps"] and feeds.AP2 not in data["masked_aps"]


def test_the_feed_start_is_kept_from_the_first_report(feeds, db):
    """When the venue's feed began (an AP never heard since is as silent as the feed is old): set by the first
    accepted report, readings or not, and never moved by later ones."""
    since = RssiKeys("demo").feed_since()
    assert feeds.native({"ap": feeds.AP2, "observations": ["bad"]}).status_code == 422
    assert db.get(since) is None  # a refused report starts nothing
    before = time.time()
    assert feeds.native({"ap": feeds.AP2, "observations": []}).get_json() == {"accepted": 0}
    first = float(db.get(since))
    assert before <= first <= time.time()
    feeds.native({"ap": feeds.AP1, "observations": [{"client": feeds.PHONE, "rssi": -60, "ts": time.time()}]})
    assert float(db.get(since)) == first


def test_a_rejected_report_marks_no_ap(feeds, db):
    old = time.time() - 3600
    db.hset(RssiKeys("demo").ap_last_seen(), feeds.AP2, old)
    resp = feeds.native({"reports": [{"ap": feeds.AP2, "observations": []}, {"ap": "not-a-bssid", "observations": []}]})
    assert resp.status_code == 422 and resp.get_json()["field"] == "reports[1].ap"
    resp = feeds.openwrt({"bssid": feeds.AP3, "events": [{"disassoc": {}}, {"bssid": "bad", "disassoc": {}}]})
    assert resp.status_code == 422
    assert last_seen(db) == {feeds.AP2: old}


# ---- OpenWrt: an event's own bssid ---------------------------------------------------------------


def test_an_openwrt_events_own_bssid_names_its_ap(feeds, db):
    phone3 = "02:00:5e:00:53:bb"
    ts = round(time.time() - 5, 3)
    body = {"bssid": feeds.AP1, "events": [
        {"bssid": AP9, "probe": {"address": feeds.PHONE, "signal": -60, "freq": 2437}},  # ubus subscribe's line
        {"type": "probe", "bssid": AP10, "address": feeds.PHONE2, "signal": -61, "freq": 5180, "ts": ts},
        {"type": "assoc", "address": phone3, "signal": -62},  # none: the batch's AP
        {"bssid": AP10, "ts": ts, "auth": {"address": phone3, "signal": -63}},
    ]}
    resp = feeds.openwrt(body)
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 4}
    assert set(feeds.readings(feeds.PHONE)) == {AP9}
    assert feeds.readings(feeds.PHONE2) == {AP10: [(ts, -61.0)]}
    assert {ap: [r for _, r in rs] for ap, rs in feeds.readings(phone3).items()} == {feeds.AP1: [-62.0],
                                                                                     AP10: [-63.0]}
    assert feeds.readings(phone3)[AP10][0][0] == ts  # the `ts` beside the ubus line still applies
    assert set(last_seen(db)) == {feeds.AP1, AP9, AP10}


@pytest.mark.parametrize(("event", "field"), [
    ({"bssid": "f0:9f:c2:1a:00", "probe": {"address": "02:00:5e:00:53:aa", "signal": -60}}, "events[1].bssid"),
    ({"type": "probe", "bssid": "nope", "address": "02:00:5e:00:53:aa", "signal": -60}, "events[1].bssid"),
    ({"type": "probe", "bssid": None, "address": "02:00:5e:00:53:aa", "signal": -60}, "events[1].bssid"),
    ({"bssid": 7, "disassoc": {"address": "02:00:5e:00:53:aa"}}, "events[1].bssid"),  # even on an ignored one
], ids=["ubus-line", "flat", "null", "ignored-event"])
def test_a_malformed_event_bssid_is_a_422(feeds, event, field):
    good = {"type": "probe", "address": feeds.PHONE2, "signal": -61}
    resp = feeds.openwrt({"bssid": feeds.AP1, "events": [good, event]})
    assert resp.status_code == 422 and resp.get_json()["field"] == field
    assert feeds.nothing_stored()


# ---- a body over the limit is a 413, streamed or not -----------------------------------------------

LIMIT = 20_000
FORMATS = ["native", "openwrt", "find3", "meraki", "mist"]


@pytest.fixture
def small(mist, settings):
    """An app whose every body limit is LIMIT bytes, on the suite's store (the demo venue, Meraki network
    `main` and Mist webhook `north` configured)."""
    from portal import create_app

    app = create_app(settings.with_(max_report_bytes=LIMIT, max_meraki_bytes=LIMIT, max_mist_bytes=LIMIT))
    assert app.config["MAX_CONTENT_LENGTH"] == LIMIT
    return app.test_client()


def padded(feeds, fmt: str, size: int):
    """(URL, body of exactly `size` bytes: a valid report then spaces, headers, success status)."""
    now = time.time()
    token = {"Authorization": f"Bearer {feeds.token}"}
    if fmt == "native":
        url, body, headers = "/api/v1/venues/demo/reports", {"ap": feeds.AP1, "observations": [
            {"client": feeds.PHONE, "rssi": -61, "ts": now}]}, token
    elif fmt == "openwrt":
        url, body, headers = "/api/v1/venues/demo/openwrt", feeds.event(), token
    elif fmt == "find3":
        url, body, headers = "/api/v1/venues/demo/find3/passive", feeds.passive(), token
    elif fmt == "meraki":
        url, body, headers = "/api/v1/venues/demo/meraki/main", feeds.v2(), {}
    else:
        url, headers = "/api/v1/venues/demo/mist/north", {}
        body = {"topic": "wifi-unconn-raw", "events": [{"ap_id": feeds.AP1, "client_id": feeds.PHONE,
                                                        "packets": [{"band": "5GHz", "rssi": -70}]}]}
    raw = json.dumps(body).encode()
    raw += b" " * (size - len(raw))
    assert len(raw) == size
    if fmt == "mist":
        headers = mist_headers(raw)  # signed over the whole body, as Mist does
    return url, raw, headers, 200 if fmt == "mist" else 202


def send(client, url, raw, headers, chunked):
    if not chunked:
        return client.post(url, data=raw, headers=headers, content_type="application/json")
    # A streamed body: no Content-Length (Werkzeug's test client always sets one, so it is taken out of the
    # environ), and the server says it ends the stream for the app (gunicorn always sets
    # wsgi.input_terminated; Werkzeug's own server does for a chunked body).
    builder = EnvironBuilder(client.application, url, method="POST", input_stream=io.BytesIO(raw),
                             content_type="application/json", headers={**headers, "Transfer-Encoding": "chunked"})
    environ = builder.get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    resp = client.open(Request(environ))
    assert "CONTENT_LENGTH" not in resp.request.environ
    return resp


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_body_one_byte_over_the_limit_is_413(small, mist, fmt, chunked):
    url, raw, headers, _ = padded(mist, fmt, LIMIT + 1)
    resp = send(small, url, raw, headers, chunked)
    assert resp.status_code == 413, resp.get_json()  # not a truncated (still valid) body, nor a Mist 403
    assert resp.get_json()["field"] == "$" and str(LIMIT) in resp.get_json()["error"]
    assert mist.nothing_stored()


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_body_at_the_limit_is_read_whole(small, mist, fmt, chunked):
    url, raw, headers, status = padded(mist, fmt, LIMIT)
    resp = send(small, url, raw, headers, chunked)
    assert resp.status_code == status and resp.get_json()["accepted"] >= 1, resp.get_json()


def test_a_chunked_report_padded_past_the_default_limit_is_413(feeds, app):
    """The reproduction: a small valid report followed by 2 MB of spaces, sent chunked."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    url, raw, headers, _ = padded(feeds, "native", limit + 2_000_000)
    resp = send(feeds.client, url, raw, headers, chunked=True)
    assert resp.status_code == 413 and resp.get_json()["field"] == "$"
    assert feeds.nothing_stored()


def _post_chunked_live(live_server, url_path: str, raw: bytes, token: str) -> tuple[int, dict]:
    """POST over real HTTP to gunicorn with Transfer-Encoding: chunked (http.client sends no Content-Length
    for an iterable body with encode_chunked)."""
    parts = urllib.parse.urlsplit(live_server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        chunks = (raw[i:i + 65536] for i in range(0, len(raw), 65536))
        conn.request("POST", url_path, body=chunks, encode_chunked=True,
                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                              "Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_gunicorn_chunked_body_over_the_limit_is_413(live_server):
    token = (live_server.settings.data_dir / "secrets" / "demo_api_token").read_text()
    limit = live_server.settings.max_report_bytes
    # an AP outside the map and a phone of its own: nothing the other live tests look at
    report = json.dumps({"ap": "f0:9f:c2:bb:00:01", "observations": [
        {"client": "02:00:5e:00:bb:c1", "rssi": -61, "ts": time.time()}]}).encode()
    url = "/api/v1/venues/demo/reports"
    # read whole when streamed at the limit ...
    assert _post_chunked_live(live_server, url, report + b" " * (limit - len(report)), token) == (202, {"accepted": 1})
    # ... refused one byte over it (before: cut short at the limit and taken)
    status, body = _post_chunked_live(live_server, url, report + b" " * (limit + 1 - len(report)), token)
    assert status == 413 and body["field"] == "$"


# ---- refused secrets and signatures count as rejections --------------------------------------------


def test_refused_meraki_secrets_and_mist_signatures_count_as_rejections(mist, db, svc, client, console):
    feeds = mist
    for _ in range(3):
        assert feeds.meraki(feeds.v2(secret="wrong")).status_code == 403
        raw = json.dumps({"topic": "wifi-unconn-raw", "events": []}).encode()
        resp = feeds.client.post("/api/v1/venues/demo/mist/north", data=raw, headers=mist_headers(raw, "not-it!!"),
                                 content_type="application/json")
        assert resp.status_code == 403
    snap = IngestHealth(db).snapshot("demo", time.time(), svc.venues.get_map("demo"), 300)
    by_source = {s["source"]: s for s in snap["sources"]}
    assert by_source["meraki:main"]["rejected_per_s"] == pytest.approx(3 / 60, abs=1e-3)
    assert by_source["mist:north"]["rejected_per_s"] == pytest.approx(3 / 60, abs=1e-3)
    assert by_source["meraki:main"]["reports_per_s"] == 0 and by_source["mist:north"]["reports_per_s"] == 0
    assert snap["totals"]["rejected_per_s"] == pytest.approx(6 / 60, abs=1e-3)
    console.login("ops")  # the operator's page shows them
    page = client.get(HEALTH_JSON[0], headers=HEALTH_JSON[1]).get_json()
    assert {s["source"]: s["rejected_per_s"] > 0 for s in page["sources"]} == {"meraki:main": True, "mist:north": True}
    html = client.get(HEALTH_JSON[0])
    assert html.status_code == 200 and "mist:north" in html.get_data(as_text=True)


def test_a_meraki_body_that_is_not_json_counts_as_a_rejection(feeds, db, svc):
    assert feeds.meraki(b'{"secret": "supersecret", not json').status_code == 400  # no secret: 403 unparsed
    by_source = {s.source: s for s in IngestHealth(db).sources("demo", time.time())}
    assert by_source["meraki:main"].rejected_per_s == pytest.approx(1 / 60, abs=1e-3)


def test_unknown_networks_and_webhooks_add_no_health_keys(mist, db):
    feeds = mist
    raw = json.dumps({"topic": "wifi-unconn-raw", "events": []}).encode()
    for i in range(5):
        assert feeds.meraki(feeds.v2(secret="wrong"), network=f"net{i}").status_code == 404
        assert feeds.meraki(feeds.v2(secret="wrong"), venue=f"nowhere{i}").status_code == 404
        for url in (f"/api/v1/venues/demo/mist/hook{i}", f"/api/v1/venues/nowhere{i}/mist/north"):
            resp = feeds.client.post(url, data=raw, headers=mist_headers(raw), content_type="application/json")
            assert resp.status_code == 404
    assert IngestHealth(db).sources("demo", time.time()) == []
    assert [k for k in db.scan_iter(match="*ingest*")] == []
    assert [k for k in db.scan_iter(match="*nowhere*")] == []
