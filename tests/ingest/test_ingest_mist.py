"""Juniper Mist webhooks (`/api/v1/venues/<venue>/mist/<webhook>`): the raw RSSI topics as Mist documents them
(tmunzer/mistapi-go doc/models/webhook-wifi-unconn-raw.md), signed with X-Mist-Signature-v2 (HMAC-SHA256 of
the raw body) or X-Mist-Signature (HMAC-SHA1); other topics accepted and ignored; bad input a clear 4xx that
stores nothing; the secret kept sealed; `flask mist-config`."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from portal.ingest.mist import MistStore
from tests.ingest.conftest import MIST_SECRET

SECRET = MIST_SECRET
URL = "/api/v1/venues/demo/mist/north"


def _dashed(mac: str) -> str:
    return mac.replace(":", "-")


def unconn_raw(ap, clients_rssi):
    """The documented wifi-unconn-raw example, with our AP and clients."""
    return {"topic": "wifi-unconn-raw", "events": [{
        "ap_id": _dashed(ap), "ap_loc": [36.03303862386182, 43.57022468463291, 2.75], "client_id": _dashed(client),
        "connected_site": False, "mapid": "bd42f0c3-2e6a-4f8a-ac2d-d34e268c1418",
        "orgid": "9c3e516c-397d-11e6-ae35-0242ac110008", "packets": [{"band": "5GHz", "rssi": rssi}],
        "siteid": "27ea2f07-6fe6-4eab-be1b-b8e3ce083d67", "map_id": "00001148-0000-0000-0000-000000000000",
    } for client, rssi in clients_rssi]}


def post(client, body, secret=SECRET, url=URL, v1=False, headers=None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    if headers is None:
        digest = hmac.new(secret.encode(), raw, hashlib.sha1 if v1 else hashlib.sha256).hexdigest()
        headers = {"X-Mist-Signature" if v1 else "X-Mist-Signature-v2": digest}
    return client.post(url, data=raw, headers=headers, content_type="application/json")


def _associated(feeds, mac):
    return feeds.svc.rssi.associated("demo", feeds.svc.hasher.client_id(mac), time.time())


def test_documented_unconnected_example_is_stored_as_probe_readings(mist):
    resp = post(mist.client, unconn_raw(mist.AP1, [(mist.PHONE, -92), (mist.PHONE2, -94.333336)]))
    assert resp.status_code == 200 and resp.get_json() == {"accepted": 2}
    [(_, rssi)] = mist.readings(mist.PHONE)[mist.AP1]
    assert rssi == -92 and _associated(mist, mist.PHONE) is False
    assert mist.readings(mist.PHONE2)[mist.AP1][0][1] == pytest.approx(-94.333336)


def test_connected_clients_one_reading_per_event_from_its_packets(mist):
    body = {"topic": "wifi-conn-raw", "events": [{
        "ap_id": mist.AP2.replace(":", ""), "client_id": mist.PHONE.upper(), "connected_site": True,
        "packets": [{"band": "24", "rssi": -61}, {"band": "5", "rssi": -70}, {"band": "5", "rssi": -66}]}]}
    assert post(mist.client, body).get_json() == {"accepted": 1}
    [(_, rssi)] = mist.readings(mist.PHONE)[mist.AP2]
    assert rssi == -66 and _associated(mist, mist.PHONE) is True  # the median packet


def test_the_sha1_signature_is_taken_when_v2_is_not_sent(mist):
    assert post(mist.client, unconn_raw(mist.AP1, [(mist.PHONE, -70)]), v1=True).status_code == 200


@pytest.mark.parametrize("how", ["none", "wrong secret", "v2 of another body", "garbage"])
def test_unsigned_or_wrongly_signed_posts_are_refused_and_store_nothing(mist, how):
    body = unconn_raw(mist.AP1, [(mist.PHONE, -70)])
    if how == "none":
        resp = post(mist.client, body, headers={})
    elif how == "wrong secret":
        resp = post(mist.client, body, secret="another-secret")
    elif how == "v2 of another body":
        other = hmac.new(SECRET.encode(), b"{}", hashlib.sha256).hexdigest()
        resp = post(mist.client, body, headers={"X-Mist-Signature-v2": other})
    else:
        resp = post(mist.client, body, headers={"X-Mist-Signature-v2": "not hex \u00e9"})
    assert resp.status_code == 403 and resp.get_json()["field"] == "X-Mist-Signature-v2"
    assert mist.nothing_stored()


def test_a_webhook_belongs_to_its_venue(mist, other_venue, svc):
    MistStore(svc.db, svc.settings.secret_key).configure("other", "north", "other-venue-secret")
    body = unconn_raw(mist.AP1, [(mist.PHONE, -70)])
    assert post(mist.client, body, secret="other-venue-secret").status_code == 403  # demo's webhook
    assert post(mist.client, body, url="/api/v1/venues/demo/mist/south").status_code == 404
    assert post(mist.client, body, url="/api/v1/venues/nowhere/mist/north").status_code == 404
    assert post(mist.client, body, url="/api/v1/venues/demo/mist/Bad Name").status_code == 404
    assert mist.nothing_stored()


def test_other_topics_are_accepted_and_ignored(mist):
    body = {"topic": "location", "events": [{"mac": "xxxxxxxxxxxx", "map_id": "m", "rssi": -89.00001, "site_id": "s",
                                             "timestamp": 1749106728, "type": "wifi", "x": 66.36, "y": 41.91}]}
    resp = post(mist.client, body)
    assert resp.status_code == 200 and resp.get_json() == {"accepted": 0, "ignored": 1}
    assert mist.nothing_stored()


@pytest.mark.parametrize("mutate, field", [
    (lambda b: b["events"][0].update(client_id="not a mac"), "events[0].client_id"),
    (lambda b: b["events"][0].update(packets={"rssi": -50}), "events[0].packets"),
    (lambda b: b["events"][0].update(packets="-50"), "events[0].packets"),
    (lambda b: b["events"][0]["packets"][0].update(rssi=244), "events[0].packets[0].rssi"),
    (lambda b: b["events"][0]["packets"][0].update(rssi="-50"), "events[0].packets[0].rssi"),
    (lambda b: b["events"][0].update(ap_id=7), "events[0].ap_id"),
    (lambda b: b["events"][0]["packets"].append(None), "events[0].packets[1]"),
    (lambda b: b.update(events="many"), "events"),
    (lambda b: b.update(topic=5), "topic"),
    (lambda b: b.pop("events"), "events"),
])
def test_bad_events_name_the_field_and_store_nothing(mist, mutate, field):
    body = unconn_raw(mist.AP1, [(mist.PHONE2, -70), (mist.PHONE, -71)])
    body["events"].reverse()  # the bad event is not the first read: the good one before it is not kept
    mutate(body)
    resp = post(mist.client, body)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["field"] == field
    assert mist.nothing_stored()


def test_not_json_and_too_large_bodies(mist, settings):
    from portal import create_app

    assert post(mist.client, b"{not json").status_code == 400
    assert post(mist.client, b"null").status_code == 400
    small = create_app(settings.with_(max_mist_bytes=1000)).test_client()  # MAX_MIST_BYTES
    resp = post(small, b"[" + b"1," * 1000 + b"1]")
    assert resp.status_code == 413 and resp.get_json()["field"] == "$"
    assert mist.nothing_stored()


def test_events_without_packets_are_ignored(mist):
    body = unconn_raw(mist.AP1, [(mist.PHONE, -70), (mist.PHONE2, -75)])
    body["events"][0]["packets"] = []
    del body["events"][1]["packets"]  # optional in Mist's schema
    assert post(mist.client, body).get_json() == {"accepted": 0, "ignored": 2}


def test_the_same_client_and_ap_in_one_message_is_one_reading_of_all_its_packets(mist):
    """Mist gathers a few seconds of events into one message: five events of one phone at one AP are one
    reading, the median of all their packets (not the first event's alone)."""
    body = unconn_raw(mist.AP1, [(mist.PHONE, rssi) for rssi in (-50, -60, -90, -91, -92)])
    assert post(mist.client, body).get_json() == {"accepted": 1}
    assert mist.readings(mist.PHONE)[mist.AP1][0][1] == -90


def test_both_signatures_as_mist_sends_them(mist):
    raw = json.dumps(unconn_raw(mist.AP1, [(mist.PHONE, -70)])).encode()
    both = {"X-Mist-Signature-v2": hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest(),
            "X-Mist-Signature": hmac.new(SECRET.encode(), raw, hashlib.sha1).hexdigest()}
    assert post(mist.client, raw, headers=both).status_code == 200
    wrong_v2 = {**both, "X-Mist-Signature-v2": "0" * 64}  # v2 is there, so v2 decides
    resp = post(mist.client, raw, headers=wrong_v2)
    assert resp.status_code == 403 and resp.get_json()["field"] == "X-Mist-Signature-v2"
    resp = post(mist.client, raw, headers={"X-Mist-Signature": "0" * 40})
    assert resp.status_code == 403 and resp.get_json()["field"] == "X-Mist-Signature"


def test_the_webhook_never_shows_its_secret(mist, svc):
    assert SECRET not in repr(MistStore(svc.db, svc.settings.secret_key).get("demo", "north"))


def test_the_secret_is_kept_sealed_and_the_raw_macs_never_stored(mist, svc):
    post(mist.client, unconn_raw(mist.AP1, [(mist.PHONE, -70)]))
    dump = b""
    for key in svc.db.scan_iter():
        kind = svc.db.type(key)
        dump += key + (svc.db.get(key) or b"" if kind == b"string" else b"")
        if kind == b"zset":
            dump += b"".join(svc.db.zrange(key, 0, -1))
    assert SECRET.encode() not in dump
    assert not any(v.encode() in dump.lower() for v in (mist.PHONE, _dashed(mist.PHONE), mist.PHONE.replace(":", "")))
    other_key = MistStore(svc.db, "another install's SECRET_KEY")
    assert other_key.get("demo", "north") is None  # sealed under this install's key


def _cli(app, *args):
    return app.test_cli_runner().invoke(args=["mist-config", *args])


def test_mist_config_command(app, demo, svc, client):
    result = _cli(app, "demo", "south")
    assert result.exit_code == 0, result.output
    assert "/api/v1/venues/demo/mist/south" in result.output
    secret = result.output.split("secret:")[1].strip()
    assert len(secret) >= 24
    body = unconn_raw("f0:9f:c2:1a:00:01", [("02:00:5e:00:53:aa", -70)])
    assert post(client, body, secret=secret, url="/api/v1/venues/demo/mist/south").status_code == 200
    assert _cli(app, "demo", "south", "--secret", "chosen-secret-1").exit_code == 0
    assert MistStore(svc.db, svc.settings.secret_key).get("demo", "south").secret == b"chosen-secret-1"
    assert _cli(app, "demo", "south", "--remove").output.strip() == "removed"
    assert _cli(app, "nowhere", "south").exit_code != 0
    assert _cli(app, "demo", "Bad Name").exit_code != 0
    assert _cli(app, "demo", "south", "--secret", "short").exit_code != 0


def test_the_health_page_lists_the_webhooks(mist, client, console):
    console.login("ops")
    page = client.get("/console/ops/demo/health").get_data(as_text=True)
    assert 'id="mist-webhooks"' in page and "/api/v1/venues/demo/mist/north" in page
    assert "sealed under another SECRET_KEY" not in page
    MistStore(mist.db, "another install's SECRET_KEY").configure("demo", "south", "sealed-elsewhere")
    page = client.get("/console/ops/demo/health").get_data(as_text=True)
    assert "/api/v1/venues/demo/mist/south" in page and "sealed under another SECRET_KEY" in page
