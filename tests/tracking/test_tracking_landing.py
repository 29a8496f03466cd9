"""Where a phone lands, through the real store and the real probe lane: the kept position by field
name, cold start from the associated AP (the gateway's parameter or the AP's association event),
replaced once readings arrive, the group page when small zones cannot be told apart, and APs silent in
the live reports masked out of the model (listed for the operator with the APs the map lacks)."""

from __future__ import annotations

import json
import math
import time
from urllib.parse import urlparse

import numpy as np
import pytest

from core.memo import BoundedMemo
from fingerprints import training
from fingerprints.falloff import ApFalloff
from portal.demo import simulated_reports
from portal.ingest.store import RssiKeys
from portal.tracking import KeptPosition, ModelCache, Position, TrackKeys
from portal.tracking.locator import silent_columns
from portal.tracking.models import build_venue_model, silent_aps
from portal.tracking.positions import landing_zone
from positioning.vectors import MISSING_DBM
from tests.test_slice import expected_landing_path, post_phone_at

PHONE = "02:00:5e:00:55:01"


def landed(client, query: str) -> str:
    resp = client.get(f"/generate_204?client_mac={PHONE}&{query}")
    assert resp.status_code == 302
    return urlparse(resp.headers["Location"]).path


def unambiguous_ap(svc) -> tuple[str, str]:
    """An AP of the demo mall whose coverage lands on one zone, and that zone."""
    model = svc.models.get("demo")
    for ap in model.ap_ids:
        coarse = model.coverage.estimate(ap)
        zone, share = max(coarse.places.items(), key=lambda kv: kv[1])
        if share >= 0.8 and not zone.startswith("~"):
            return ap, zone
    raise AssertionError("no AP of the demo mall covers one zone")


def test_kept_position_round_trips_through_the_store(svc, demo):
    position = Position(1, 50.0, 20.0, "foodcourt", 0.9, 0.8, group="foodcourt", group_confidence=0.95)
    odd = Position(-2, 0.1 + 0.2, -1e-300, None, 1 / 3, 0.0, source="ap")  # every double as it was, no zone
    key = TrackKeys("demo").last_position("someone")
    for kept_position, newest in ((position, b"newest"), (odd, b"\xe9\xff|-67|1800000000.125|a")):
        svc.db.set(key, KeptPosition(kept_position, newest, 100.0).encode(), ex=30)
        kept = KeptPosition.decode(svc.db.get(key))
        assert kept.position == kept_position and kept.newest == newest and kept.at == 100.0
    assert 0 < svc.db.ttl(key) <= 30
    assert kept.is_fresh(newest, 110.0, 30.0) and not kept.is_fresh(b"other", 110.0, 30.0)
    assert not kept.is_fresh(newest, 140.0, 30.0)


def test_a_kept_position_that_is_not_a_number_reads_back_as_nan():
    """JSON has no NaN or infinity: orjson writes null, read back as NaN (the same landing: no zone sure enough)."""
    unsure = Position(1, 5.0, 2.0, "z", 0.9, math.nan, group="g", group_confidence=math.inf)
    kept = KeptPosition.decode(KeptPosition(unsure, b"n", 1.0).encode())
    assert math.isnan(kept.position.zone_confidence) and math.isnan(kept.position.group_confidence)
    assert landing_zone(kept.position) is None and kept.position.x == 5.0
    numpy_made = Position(np.int64(2), np.float64(1.5), np.float32(2.5), "z", np.float64(0.75), 0.5)
    assert KeptPosition.decode(KeptPosition(numpy_made, b"n", 1.0).encode()).position == Position(2, 1.5, 2.5, "z",
                                                                                                   0.75, 0.5)


@pytest.mark.parametrize("raw", [None, b"", b"not json", b"[]", b'{"zone": "x"}', b'{"floor": "one"}',
                                 KeptPosition(Position(1, 5.0, 2.0, "z", 0.9, 0.8), b"n", 1.0).encode()
                                 .replace(b'"zone":"z"', b'"zone":7'),
                                 KeptPosition(Position(1, 5.0, 2.0, "z", 0.9, 0.8), b"n", 1.0).encode()
                                 .replace(b'"newest":"n"', b'"newest":"\\u20ac"'),
                                 KeptPosition(Position(1, 5.0, 2.0, "z", 0.9, 0.8), b"n", 1.0).encode()
                                 .replace(b'"floor":1', b'"floor":true'),
                                 KeptPosition(Position(1, 5.0, 2.0, "z", 0.9, 0.8), b"n", 1.0).encode()
                                 .replace(b'"x":5.0', b'"x":"5"')])
def test_a_kept_position_not_of_this_form_is_positioned_anew(raw):
    """Nothing kept, a partial or foreign value, a zone that is not a name, a newest reading no feed writes, a floor
    or a coordinate of another type: None."""
    assert KeptPosition.decode(raw) is None


@pytest.mark.parametrize("param", ["node_mac", "ap_mac", "ap", "called", "apmac"])
def test_first_probe_lands_on_the_zone_of_the_ap_the_gateway_names(app, client, demo, svc, param):
    ap, zone = unambiguous_ap(svc)
    raw = ap.replace(":", "-").upper() if param == "called" else ap  # CoovaChilli's form
    assert landed(client, f"{param}={raw}") == expected_landing_path(app, svc, zone)


def test_without_the_ap_or_with_a_bad_one_the_phone_goes_home(client, demo, svc):
    assert landed(client, "") == "/v/demo/"
    assert landed(client, "node_mac=not-a-mac") == "/v/demo/"
    assert landed(client, "node_mac=00:11:22:33:44:55") == "/v/demo/"  # not an AP of the map


def test_an_association_event_places_the_phone_before_its_reports(app, client, demo, svc):
    ap, zone = unambiguous_ap(svc)
    body = {"ap": ap, "observations": [{"client": PHONE, "rssi": -48, "ts": time.time(), "associated": True}]}
    resp = client.post("/api/v1/venues/demo/reports", data=json.dumps(body), content_type="application/json",
                       headers={"Authorization": f"Bearer {demo}"})
    assert resp.status_code == 202
    assert landed(client, "") == expected_landing_path(app, svc, zone)
    position = svc.locator.locate("demo", svc.hasher.client_id(PHONE))
    assert position.source == "ap" and position.zone == zone


def test_readings_replace_the_coarse_position(app, client, demo, svc, demo_map):
    ap, _ = unambiguous_ap(svc)
    client_id = svc.hasher.client_id(PHONE)
    assert svc.locator.locate("demo", client_id, associated_ap=ap).source == "ap"
    post_phone_at(client, demo, demo_map, 1, 20, 30, phone=PHONE)
    position = svc.locator.locate("demo", client_id, associated_ap=ap)
    assert position.source == "partial" and position.zone == "cinema"  # heard for a moment: a partial match
    assert landed(client, f"node_mac={ap}") == expected_landing_path(app, svc, "cinema")


def test_a_kept_partial_position_is_replaced_when_the_probe_names_the_ap(app, client, demo, svc, demo_map):
    """The probe lane applies the kept-position rule the tracker, the quality report and the bench share
    (`locator.kept_position`): a position from a partial match answers a probe without an AP, not one
    whose gateway names the AP (the phone is positioned anew with it)."""
    ap, _ = unambiguous_ap(svc)
    post_phone_at(client, demo, demo_map, 1, 20, 30, phone=PHONE)
    client_id = svc.hasher.client_id(PHONE)
    newest = svc.db.zrange(RssiKeys("demo").readings(client_id), -1, -1)[0]
    stale_guess = Position(1, 65.0, 30.0, "foodcourt", 0.9, 0.9, source="partial")
    svc.db.set(TrackKeys("demo").last_position(client_id), KeptPosition(stale_guess, newest, time.time()).encode())
    assert landed(client, "") == expected_landing_path(app, svc, "foodcourt")
    assert landed(client, f"node_mac={ap}") == expected_landing_path(app, svc, "cinema")


def test_silent_columns_are_the_aps_that_reported_since_without_the_phone(svc, demo):
    model = svc.models.get("demo")
    a, b, c = model.ap_ids[:3]
    vector = np.full(len(model.ap_ids), MISSING_DBM)
    vector[model.ap_columns[a]] = -60.0  # `a` hears the phone
    reported = {a: 105.0, b: 104.0, c: 99.0, "aa:bb:cc:dd:ee:ff": 106.0}  # c: before it; the last: not the map's
    assert silent_columns(model, vector, 100.0, reported).tolist() == [model.ap_columns[b]]
    assert silent_columns(model, vector, 100.0, {}) is None and silent_columns(model, vector, 100.0, None) is None


def test_a_phone_heard_briefly_is_matched_with_the_aps_that_reported_without_it(client, demo, svc, demo_map,
                                                                              monkeypatch):
    """The probe's locate reads how far each AP's last report reached (the ingest's `ap_reach`, same round
    trip): an AP whose report reached the phone's first reading or later and did not hold it did not hear it."""
    body = simulated_reports(demo_map, 1, 20, 30, PHONE, time.time())
    held_back = body["reports"].pop()  # this AP heard the phone, but reports only later, and without it
    for report in (body, {"ap": held_back["ap"], "observations": [
            {"client": "02:00:5e:00:55:99", "rssi": -70, "ts": time.time()}]}):
        resp = client.post("/api/v1/venues/demo/reports", data=json.dumps(report), content_type="application/json",
                           headers={"Authorization": f"Bearer {demo}"})
        assert resp.status_code == 202
    model = svc.models.get("demo")
    client_id = svc.hasher.client_id(PHONE)
    heard = {m.decode().split("|")[0] for m in svc.db.zrange(RssiKeys("demo").readings(client_id), 0, -1)}
    other = held_back["ap"]
    seen = []
    real_locate = model.positioner.locate
    monkeypatch.setattr(model.positioner, "locate", lambda x, partial=False, silent=None, search_db=None, within=None:
                        seen.append((partial, None if silent is None else set(silent.tolist())))
                        or real_locate(x, partial, silent, search_db, within))
    assert svc.locator.locate("demo", client_id).source == "partial"
    assert seen == [(True, {model.ap_columns[ap] for ap in model.ap_ids if ap not in heard
                            and ap in {k.decode() for k in svc.db.hkeys(RssiKeys("demo").ap_reach())}})]
    assert model.ap_columns[other] in seen[0][1]


def test_an_ap_whose_reports_pass_the_phone_by_is_left_out_of_its_vector(client, demo, svc, monkeypatch):
    """An AP that heard the phone once, then reported again (another phone) past five moments at which
    other APs heard it (STALE_AFTER_MISSES), no longer hears it: its reading is not in the vector the positioner
    gets."""
    model = svc.models.get("demo")
    gone, *near = model.ap_ids[:4]
    now = time.time()
    phone = [{"ap": gone, "observations": [{"client": PHONE, "rssi": -55, "ts": now - 12}]}] + [
        {"ap": ap, "observations": [{"client": PHONE, "rssi": -60, "ts": now - 12 + s} for s in range(0, 12, 2)]}
        for ap in near]
    later = {"ap": gone, "observations": [{"client": "02:00:5e:00:55:99", "rssi": -70, "ts": now - 1}]}
    for body in ({"reports": phone}, later):
        resp = client.post("/api/v1/venues/demo/reports", data=json.dumps(body), content_type="application/json",
                           headers={"Authorization": f"Bearer {demo}"})
        assert resp.status_code == 202
    vectors = []
    real_locate = model.positioner.locate
    monkeypatch.setattr(model.positioner, "locate", lambda x, partial=False, silent=None, search_db=None, within=None:
                        vectors.append(x.copy()) or real_locate(x, partial, silent, search_db, within))
    svc.locator.locate("demo", svc.hasher.client_id(PHONE))
    assert len(vectors) == 1 and vectors[0][model.ap_columns[gone]] == MISSING_DBM
    assert all(vectors[0][model.ap_columns[ap]] > MISSING_DBM for ap in near)


def test_a_phone_between_small_zones_lands_on_their_group(app, client, demo, svc, demo_map):
    post_phone_at(client, demo, demo_map, 1, 100, 30, phone=PHONE)
    client_id = svc.hasher.client_id(PHONE)
    newest = svc.db.zrange(RssiKeys("demo").readings(client_id), -1, -1)[0]
    unsure = Position(1, 100.0, 30.0, "jade", 0.9, 0.4, group="foodcourt", group_confidence=0.85)
    svc.db.set(TrackKeys("demo").last_position(client_id), KeptPosition(unsure, newest, time.time()).encode())
    assert landed(client, "") == expected_landing_path(app, svc, "foodcourt")
    lost = Position(1, 100.0, 30.0, "jade", 0.9, 0.4, group="foodcourt", group_confidence=0.45)
    svc.db.set(TrackKeys("demo").last_position(client_id), KeptPosition(lost, newest, time.time()).encode())
    assert landed(client, "") == "/v/demo/"


def test_silent_aps_are_masked_only_while_the_feed_is_alive():
    aps = ["a", "b", "c", "d"]
    now = 10_000.0
    assert silent_aps({"a": now, "b": now - 1000}, aps, now, 300) == {"b"}
    assert silent_aps({"a": now - 1000, "b": now - 1000}, aps, now, 300) == frozenset()  # the feed is down
    assert silent_aps({}, aps, now, 300) == frozenset()
    assert silent_aps({"a": now, "b": now - 999, "c": now - 999, "d": now - 999}, aps, now, 300) == frozenset()


def test_aps_never_heard_are_masked_once_the_feed_has_run_as_long():
    aps = ["a", "b", "c", "d"]
    now = 10_000.0
    heard = {"a": now, "b": now - 10, "c": now - 5}
    assert silent_aps(heard, aps, now, 300) == frozenset()  # no feed start recorded: "d" kept
    assert silent_aps(heard, aps, now, 300, feed_since=now - 100) == frozenset()  # the feed is young
    assert silent_aps(heard, aps, now, 300, feed_since=now - 301) == {"d"}
    assert silent_aps({"a": now - 400}, aps, now, 300, feed_since=now - 3600) == frozenset()  # the feed is down
    assert silent_aps({"a": now}, aps, now, 300, feed_since=now - 3600) == frozenset()  # 3 of 4: part wired


def test_a_partly_wired_feed_keeps_its_never_heard_aps_out_when_one_more_ap_fails():
    """Never-heard APs and APs that stopped are capped each on their own: a second AP failing in a venue with
    4 of 10 APs never wired leaves out 6, not none."""
    aps = [f"a{i}" for i in range(10)]
    now, since = 10_000.0, 10_000.0 - 3600
    wired = {ap: now for ap in aps[4:]}
    assert silent_aps(wired, aps, now, 300, feed_since=since) == set(aps[:4])
    one = {**wired, "a4": now - 400}
    assert silent_aps(one, aps, now, 300, feed_since=since) == set(aps[:5])
    two = {**one, "a5": now - 400}
    assert silent_aps(two, aps, now, 300, feed_since=since) == set(aps[:6])


def test_only_the_maps_own_aps_say_the_feed_is_alive():
    """An unknown BSSID reporting (a misconfigured AP) is no live feed for the map: with every map AP stopped or
    never heard, nothing is left out (the two caps together would otherwise take every AP and leave no model)."""
    aps = ["a", "b", "c", "d"]
    now = 10_000.0
    seen = {"a": now - 400, "b": now - 400, "00:18:0a:13:dd:b0": now}
    assert silent_aps(seen, aps, now, 300, feed_since=now - 3600) == frozenset()
    assert silent_aps({**seen, "c": now}, aps, now, 300, feed_since=now - 3600) == {"a", "b", "d"}


def test_after_a_feed_outage_silence_counts_from_the_feeds_return():
    """An AP heard before an outage has been silent only since the feed came back (its new run)."""
    aps = ["a", "b", "c", "d"]
    now = 10_000.0
    back = {"a": now, "b": now - 2, "c": now - 3600, "d": now - 3600}  # c and d: last heard before the outage
    assert silent_aps(back, aps, now, 300, feed_since=now - 60) == frozenset()
    assert silent_aps(back, aps, now, 300) == {"c", "d"}  # what the rule did without the feed's run
    assert silent_aps(back, aps, now + 400, 300, feed_since=now - 60) == frozenset()  # the feed is down by then
    later = {"a": now + 400, "b": now + 399, "c": now - 3600, "d": now - 3600}
    assert silent_aps(later, aps, now + 400, 300, feed_since=now - 60) == {"c", "d"}


def test_the_live_model_leaves_out_an_ap_that_never_reported(client, console, demo, svc, db):
    model = svc.models.get("demo")
    now = time.time()
    never = model.ap_ids[0]
    keys = RssiKeys("demo")
    db.hset(keys.ap_last_seen(), mapping=dict.fromkeys(model.ap_ids[1:], now))
    db.set(keys.feed_since(), repr(now - 100))
    assert ModelCache(svc.venues, db=db, silent_after_s=300).get("demo").masked == frozenset()  # not yet
    db.set(keys.feed_since(), repr(now - 3600))
    masked = ModelCache(svc.venues, db=db, silent_after_s=300).get("demo")
    assert masked.masked == {never} and never not in masked.ap_ids
    svc.models.recheck_s = 0
    console.login("ops")
    health = client.get("/console/ops/demo/health", headers={"Accept": "application/json"}).get_json()
    assert health["masked_aps"] == [never] and never in health["silent_aps"]


def test_the_live_model_leaves_silent_aps_out_without_a_resurvey(client, console, demo, svc, db):
    model = svc.models.get("demo")
    now = time.time()
    gone, unknown = model.ap_ids[0], "00:18:0a:13:dd:b0"
    db.hset(RssiKeys("demo").ap_last_seen(), mapping={**{ap: now for ap in model.ap_ids[1:6]}, gone: now - 3600})
    db.zadd(RssiKeys("demo").unknown_aps(), {unknown: now})  # heard, not in the map
    cache = ModelCache(svc.venues, db=db, silent_after_s=300)
    masked = cache.get("demo")
    assert masked.masked == {gone} and gone not in masked.ap_ids and len(masked.ap_ids) == len(model.ap_ids) - 1
    assert ModelCache(svc.venues).get("demo").masked == frozenset()  # without live data: the whole map
    svc.models.recheck_s = 0
    console.login("ops")
    health = client.get("/console/ops/demo/health", headers={"Accept": "application/json"}).get_json()
    assert health["masked_aps"] == [gone] and health["unknown_aps"] == [unknown]


def test_a_rebuild_for_silent_aps_reuses_the_versions_fall_off(demo, svc, db, monkeypatch, unshared_model_builds):
    """The fall-off an offset is measured against is fitted once per map version, on every AP: when APs fall
    silent the model is rebuilt on the spot (under the cache's lock), with the fit's columns of the APs kept."""
    fits = []
    real_fit = ApFalloff.fit.__func__
    monkeypatch.setattr(ApFalloff, "fit", classmethod(lambda cls, *a: fits.append(1) or real_fit(cls, *a)))
    monkeypatch.setattr(training, "_FALLOFFS", BoundedMemo(size=8))  # no fit kept by an earlier test
    cache = ModelCache(svc.venues, db=db, silent_after_s=300, recheck_s=0)
    whole = cache.get("demo")
    assert len(fits) == 1 and whole.falloff is not None and whole.falloff.coef.shape[0] == len(whole.ap_ids)
    now = time.time()
    gone = whole.ap_ids[0]
    db.hset(RssiKeys("demo").ap_last_seen(), mapping={**{ap: now for ap in whole.ap_ids[1:6]}, gone: now - 3600})
    masked = cache.get("demo")
    assert masked.masked == {gone} and len(fits) == 1 and masked.falloff is whole.falloff
    fresh = build_venue_model(masked.venue, masked.masked)  # the same survey: the process's fit, the same model
    assert len(fits) == 1 and fresh.falloff is whole.falloff
    assert masked.positioner.offset_dbm_ is not masked.positioner.row_dbm_  # offsets against the estimates too
    assert masked.positioner.offset_dbm_.size > masked.positioner.row_dbm_.size
    assert np.array_equal(fresh.positioner.offset_dbm_, masked.positioner.offset_dbm_)
