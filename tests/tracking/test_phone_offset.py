"""Phone-to-phone differences: a phone's RSSI offset against the survey phone is estimated from its own
reports, remembered in its motion state for the visit, and taken off its next vector before the search."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from fingerprints.simulator import RadioSimulator
from portal.ingest.observation import Observation
from portal.tracking.locator import kept_answers, kept_position, no_flip_flop, position_of
from portal.tracking.models import build_venue_model
from portal.tracking.positions import KeptPosition, Position, TrackKeys
from positioning import phone_offset
from positioning.vectors import MISSING_DBM

REPORT_EVERY_S = 3
REPORTS = 8


@pytest.fixture(scope="module")
def demo_model(demo_map):
    return build_venue_model(demo_map)


def stand(model, sim, floor, x, y, offset_db, rng):
    """A phone standing at (x, y) for REPORTS reports; (its state, the last position)."""
    readings: dict[str, list] = {}
    state, position = None, None
    for i in range(REPORTS):
        now = float(i * REPORT_EVERY_S)
        for ap, rssi in sim.measure(floor, x, y, rng, phone_offset_db=offset_db).items():
            readings.setdefault(ap, []).append((now, rssi, False))
        new_state, position = position_of(model, readings, state, now)
        state = json.loads(json.dumps(new_state)) if new_state is not None else state  # through the store
    return state, position


def recorded_locates(model, monkeypatch) -> list[dict]:
    """Every call of the model's positioner's locate from now on (its keyword arguments), passed on to it."""
    calls: list[dict] = []
    locate = model.positioner.locate

    def recording(x, partial=False, silent=None, search_db=None, within=None):
        calls.append({"partial": partial, "silent": silent, "search_db": search_db, "within": within})
        return locate(x, partial=partial, silent=silent, search_db=search_db, within=within)

    monkeypatch.setattr(model.positioner, "locate", recording)
    return calls


def centres(venue_map, n=12):
    zones = [z for z in venue_map.zones if z.kind != "corridor"][:n]
    return [(z.id, z.floor, *np.mean(np.asarray(z.polygon, dtype=float), axis=0)) for z in zones]


def test_a_phone_10_db_louder_lands_as_well_as_a_matched_one_after_a_few_reports(demo_map, demo_model):
    sim = RadioSimulator(demo_map)
    results = {}
    for offset in (0.0, 10.0):
        rng = np.random.default_rng(5)
        hits, errors, remembered = 0, [], []
        for zone, floor, x, y in centres(demo_map):
            state, position = stand(demo_model, sim, floor, x, y, offset, rng)
            hits += position.zone == zone and position.floor == floor
            errors.append(float(np.hypot(position.x - x, position.y - y)))
            remembered.append(phone_offset.remembered(state)[0])
        results[offset] = (hits, float(np.mean(errors)), float(np.median(remembered)))
    (matched_hits, matched_error, matched_offset), (loud_hits, loud_error, loud_offset) = results[0.0], results[10.0]
    assert abs(matched_offset) < 2.0 and 8.0 <= loud_offset <= 12.0  # learnt from the reports
    assert loud_hits >= matched_hits - 1 and loud_error <= matched_error + 1.0, results


def test_the_remembered_offset_is_a_running_mean_bounded_and_robust_to_bad_state():
    state: dict = {}
    for observed in (12.0, 8.0, 10.0):
        state.update(phone_offset.updated(state, 0.0, observed))
    assert phone_offset.remembered(state) == (pytest.approx(10.0), 3)
    state.update(phone_offset.updated(state, 10.0, 1.0))  # searched with 10 dB off, still 1 dB loud: 11 seen
    assert phone_offset.remembered(state)[0] == pytest.approx(10.25)
    for _ in range(50):
        state.update(phone_offset.updated(state, 0.0, 90.0))  # absurd estimates are clipped
    assert phone_offset.remembered(state)[0] <= phone_offset.MAX_OFFSET_DB
    assert phone_offset.remembered(state)[1] == phone_offset.MEMORY
    for bad in (None, {}, {"offset_db": "x", "offset_n": 2}, {"offset_db": float("nan"), "offset_n": 2},
                {"offset_db": 5.0, "offset_n": 0}):
        assert phone_offset.remembered(bad) == (0.0, 0)


def test_taking_the_offset_off_keeps_heard_aps_heard_and_unheard_ones_unheard():
    vector = np.array([-40.0, -98.0, MISSING_DBM])
    assert phone_offset.without_offset(vector, 0.5) is vector  # under a dB: left alone
    shifted = phone_offset.without_offset(vector, 10.0)
    assert shifted.tolist() == [-50.0, MISSING_DBM + 1.0, MISSING_DBM]
    assert phone_offset.without_offset(vector, -50.0)[0] == 0.0  # clipped at 0 dBm


def test_the_offset_rides_in_the_phones_state_key(svc, demo, demo_map):
    """Through the Locator and the store: the tracker's per-phone key (the venue's hash tag, a TTL)."""
    sim, rng = RadioSimulator(demo_map), np.random.default_rng(3)
    zone = centres(demo_map, 1)[0]
    client, start = "c-offset", time.time() - 4 * REPORT_EVERY_S
    for i in range(4):
        now = start + i * REPORT_EVERY_S
        heard = sim.measure(zone[1], zone[2], zone[3], rng, phone_offset_db=10.0)
        svc.locator.rssi.write("demo", [Observation(client, ap, rssi, now) for ap, rssi in heard.items()], now)
        assert svc.locator.locate("demo", client, now=now) is not None
    key = TrackKeys("demo").track(client)
    assert "{demo}" in key and svc.db.ttl(key) > 0
    assert phone_offset.remembered(json.loads(svc.db.get(key)))[0] > 5.0


def test_a_partial_or_ap_position_is_positioned_again_when_the_gateway_names_the_ap():
    def kept(source):
        return Position(1, 5.0, 5.0, "cinema", 0.9, 0.8, source=source)

    assert kept_answers(kept("readings"), "aa:bb:cc:dd:ee:ff")
    assert not kept_answers(kept("partial"), "aa:bb:cc:dd:ee:ff")
    assert not kept_answers(kept("ap"), "aa:bb:cc:dd:ee:ff")
    assert kept_answers(kept("partial"), None) and kept_answers(kept("ap"), None)


def test_kept_position_is_the_one_rule_fresh_and_answering():
    def kept(source, at=100.0):
        return KeptPosition(Position(1, 5.0, 5.0, "cinema", 0.9, 0.8, source=source), b"n1", at)

    ap = "aa:bb:cc:dd:ee:ff"
    assert kept_position(kept("readings"), b"n1", 110.0, 30.0, ap) == kept("readings").position
    assert kept_position(kept("readings"), b"n2", 110.0, 30.0) is None  # a newer reading since
    assert kept_position(kept("readings"), None, 110.0, 30.0) is None
    assert kept_position(kept("readings"), b"n1", 130.0, 30.0) is None  # too old
    assert kept_position(kept("readings", at=120.0), b"n1", 110.0, 30.0) is None  # from the future
    assert kept_position(kept("partial"), b"n1", 110.0, 30.0, ap) is None  # the AP may place it better
    assert kept_position(kept("ap"), b"n1", 110.0, 30.0) == kept("ap").position
    assert kept_position(None, b"n1", 110.0, 30.0) is None


def test_the_current_zone_holds_on_a_border_but_not_once_pruned():
    posterior = {"a": 0.45, "b": 0.5, "~1": 0.05}
    assert no_flip_flop(posterior, "a", "b", 0.5) == ("a", 0.45)
    assert no_flip_flop({"a": 0.3, "b": 0.7}, "a", "b", 0.7) == ("b", 0.7)
    # the mass spread thin (best 0.08) and the current zone pruned from the posterior: the best, no KeyError
    assert no_flip_flop({"b": 0.08, "c": 0.07}, "a", "b", 0.08) == ("b", 0.08)
    assert no_flip_flop(posterior, None, "b", 0.5) == ("b", 0.5)


def test_a_partial_match_steps_afresh_from_all_its_readings(demo_map, demo_model):
    """While a phone is heard too briefly for every AP to have reported (a partial match), each new match
    holds all the earlier readings with more APs: it places the phone as if no earlier partial step had
    been taken, rather than smoothed towards where the first two or three APs had put it."""
    sim, rng = RadioSimulator(demo_map), np.random.default_rng(8)
    (_, floor, x, y), (_, _, far_x, far_y) = centres(demo_map)[0], centres(demo_map)[-1]
    early = sorted(sim.measure(floor, far_x, far_y, rng).items(), key=lambda kv: -kv[1])[:3]  # misleading APs
    readings = {ap: [(1.0, rssi, False)] for ap, rssi in early}
    first_state, first = position_of(demo_model, readings, None, 1.0)
    assert first.source == "partial"
    for ap, rssi in sim.measure(floor, x, y, rng).items():  # a second later: the phone's own spot, many APs
        readings.setdefault(ap, []).append((2.0, rssi, False))
    stepped = position_of(demo_model, readings, json.loads(json.dumps(first_state)), 2.0)[1]
    # afresh: the same state (its remembered offset, its zone), but as old as a phone the filter forgets
    afresh = position_of(demo_model, readings, {**json.loads(json.dumps(first_state)), "ts": -1e9}, 2.0)[1]
    assert stepped.source == "partial" and (stepped.floor, stepped.x, stepped.y) == (afresh.floor, afresh.x, afresh.y)
    assert np.hypot(first.x - stepped.x, first.y - stepped.y) > 5.0  # the first step was elsewhere


def test_the_offset_search_reaches_less_far_once_the_phones_offset_is_known(demo_map, demo_model, monkeypatch):
    """The positioner's offset search (±10 dB) is for a phone whose offset is not known yet; once its state
    remembers one over KNOWN_AFTER full matches, its vectors are searched KNOWN_SEARCH_DB either side of that
    offset, which could otherwise find a far place reading alike 10 dB off. Partial matches do not count."""
    calls = recorded_locates(demo_model, monkeypatch)
    sim, rng = RadioSimulator(demo_map), np.random.default_rng(4)
    _, floor, x, y = centres(demo_map, 1)[0]
    readings = {ap: [(0.0, rssi, False)] for ap, rssi in sim.measure(floor, x, y, rng).items()}
    state = None
    for i in range(phone_offset.KNOWN_AFTER + 1):  # heard 30 s: full matches
        state, _ = position_of(demo_model, readings, json.loads(json.dumps(state)) if state else None, 30.0 + 2 * i)
    full_reach = demo_model.positioner.offset_search_db
    assert [c["search_db"] for c in calls] == [full_reach] * phone_offset.KNOWN_AFTER + [phone_offset.KNOWN_SEARCH_DB]
    assert demo_model.positioner.offset_search_db > phone_offset.KNOWN_SEARCH_DB
    # a venue whose tuning turned the search off (or narrower) keeps it so for a known phone too
    monkeypatch.setattr(demo_model.positioner, "offset_search_db", 0.0)
    position_of(demo_model, readings, json.loads(json.dumps(state)), 40.0)
    assert calls[-1]["search_db"] == 0.0
    assert phone_offset.search_reach(state, 3.0) == 3.0 and phone_offset.search_reach(None, 3.0) == 3.0


def test_only_full_matches_make_an_offset_known_and_the_first_drops_the_partial_ones():
    state: dict = {}
    for observed in (12.0, 8.0, 6.0, 9.0):  # partial matches: rough
        state.update(phone_offset.updated(state, 0.0, observed, full=False))
    assert phone_offset.remembered(state) == (pytest.approx(8.75), 4) and not phone_offset.known(state)
    state.update(phone_offset.updated(state, 0.0, 2.0))  # the first full match starts afresh
    assert phone_offset.remembered(state) == (pytest.approx(2.0), 1) and phone_offset.full_matches(state) == 1
    for _ in range(phone_offset.KNOWN_AFTER - 1):
        assert phone_offset.search_reach(state, 10.0) == 10.0
        state.update(phone_offset.updated(state, 2.0, 0.0))
    assert phone_offset.known(state) and phone_offset.search_reach(state, 10.0) == phone_offset.KNOWN_SEARCH_DB
    for bad in ({"offset_db": "x", "offset_n": 9, "offset_full": 9}, {"offset_db": 1.0, "offset_n": 2,
                                                                      "offset_full": "many"},
                {"offset_db": 1.0, "offset_n": 2, "offset_full": float("inf")}):
        assert not phone_offset.known(bad)  # a bad state knows nothing


def test_a_phone_heard_briefly_is_matched_where_its_ap_is_strong(demo_map, demo_model, monkeypatch):
    """A partial match (a phone heard for a few seconds) of a phone whose AP is known (the gateway names it, or
    its readings' association flag) searches the reference points where that AP is among the strongest
    (WKNNPositioner.strong_rows); a full match, or a phone whose AP is not known, searches them all."""
    calls = recorded_locates(demo_model, monkeypatch)
    sim, rng = RadioSimulator(demo_map), np.random.default_rng(5)
    _, floor, x, y = centres(demo_map, 1)[0]
    heard = sorted(sim.measure(floor, x, y, rng).items(), key=lambda kv: -kv[1])
    ap = heard[0][0]
    strong = demo_model.positioner.strong_rows(demo_model.ap_columns[ap])
    readings = {b: [(10.0, rssi, False)] for b, rssi in heard[:4]}
    _, told = position_of(demo_model, readings, None, 11.0, associated_ap=ap)  # the gateway names its AP
    flagged = {**readings, ap: [(10.0, heard[0][1], True)]}
    _, flagged_position = position_of(demo_model, flagged, None, 11.0)  # its readings say which AP it joined
    _, unknown = position_of(demo_model, readings, None, 11.0)
    _, full = position_of(demo_model, {b: [(0.0, rssi, False)] for b, rssi in heard}, None, 30.0, associated_ap=ap)
    assert told.source == flagged_position.source == unknown.source == "partial" and full.source == "readings"
    bounds = [c["within"] for c in calls]
    assert [None if b is None else b.tolist() for b in bounds] == [strong.tolist(), strong.tolist(), None, None]
    assert demo_model.zones.zone_at(floor, told.x, told.y) is not None
    # a partial match is searched KNOWN_SEARCH_DB either side (the positioner does so only when it is bound near
    # its AP), a full match of a phone whose offset is not known yet as far as the model's own reach
    reach = demo_model.positioner.offset_search_db
    assert reach > phone_offset.KNOWN_SEARCH_DB
    assert [c["search_db"] for c in calls] == [phone_offset.KNOWN_SEARCH_DB] * 3 + [reach]
    assert phone_offset.search_reach(None, 3.0, partial=True) == 3.0  # never widened


def test_evaluate_remembers_a_phones_offset_as_the_locator_does(demo_map, demo_model, monkeypatch):
    """`phone_offset.locate_remembering` (evaluate's live path) fed the vectors the locator weighed for a phone,
    in order, searches what the locator searched: the same offsets taken off, the same estimates (full matches:
    the phone heard long enough from its first report on)."""
    from portal.tracking import locator

    sim, rng = RadioSimulator(demo_map), np.random.default_rng(11)
    raw, searched = [], []
    applied, locate = phone_offset.applied, demo_model.positioner.locate

    def recording_applied(vector, state):
        raw.append(np.array(vector, dtype=float))
        return applied(vector, state)

    def recording_locate(x, **kwargs):
        assert not kwargs.get("partial")
        searched.append(locate(x, **kwargs))
        return searched[-1]

    monkeypatch.setattr(locator.phone_offset, "applied", recording_applied)
    monkeypatch.setattr(demo_model.positioner, "locate", recording_locate)
    readings: dict[str, list] = {}
    state = None
    for i, (_zone, floor, x, y) in enumerate(centres(demo_map, 6) * 2):
        now = locator.PARTIAL_UNTIL_S + 1.0 + i * REPORT_EVERY_S
        for ap, rssi in sim.measure(floor, x, y, rng, phone_offset_db=-9.0).items():
            readings[ap] = [(0.0, rssi, False), (now, rssi, False)]  # heard since 0: never a partial match
        new_state, _position = position_of(demo_model, readings, state, now)
        state = json.loads(json.dumps(new_state))  # through the store
    monkeypatch.undo()
    remembered = phone_offset.locate_remembering(demo_model.positioner, np.vstack(raw), np.zeros(len(raw), dtype=int))
    assert len(raw) == len(searched) == 12 and phone_offset.remembered(state)[0] < -5.0
    for ours, theirs in zip(remembered, searched, strict=True):
        assert ours.neighbours == theirs.neighbours and np.isclose(ours.offset_db, theirs.offset_db)
        assert np.allclose([ours.x, ours.y], [theirs.x, theirs.y])
