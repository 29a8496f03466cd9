"""The tracker's batch path gives exactly what the one-phone rules gave: positioning/readings.py (a batch of
phones' readings as arrays) against the one-phone Python they replaced (kept below, verbatim, as the
reference), the batch parse against the one-phone parse, and the Locator's batch (`locate_many`) against
its one-phone path (`locate`) on the real store."""

from __future__ import annotations

import math
import time
from statistics import median

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from portal.ingest.observation import Observation
from portal.ingest.store import RssiKeys, RssiStore
from portal.tracking.positions import TrackKeys
from positioning.coldstart import strongest_associated
from positioning.readings import Readings, _sort_by, _sort_readings, settled_vectors, without_stale
from positioning.recency import _median_of_sorted
from positioning.vectors import MISSING_DBM

from .numba_probe import numba_loaded

NOW = 1_800_000_000.0


# ---- the one-phone rules as they were (positioning/recency.py before the batch path) ------------------

def _usable(readings, known, now):
    latest = now + 1.0
    return {ap: [(item[0], item[1]) for item in items if item[0] <= latest and item[1] == item[1]]
            for ap, items in readings.items() if ap in known}


def reference_recency(readings, ap_ids, *, now, half_life_s=6.0, min_weight=0.125, missing=MISSING_DBM):
    index = {ap: i for i, ap in enumerate(ap_ids)}
    vector = np.full(len(ap_ids), missing, dtype=float)
    usable = _usable(readings, index, now)
    newest = max((ts for items in usable.values() for ts, _ in items), default=None)
    decay = math.log(2) / half_life_s
    heard = 0
    for ap, items in usable.items():
        if not items:
            continue
        pairs = sorted((float(rssi), math.exp((ts - newest) * decay) if ts < newest else 1.0) for ts, rssi in items)
        total = sum(w for _, w in pairs)
        if total < min_weight:
            continue
        vector[index[ap]] = max(_median_of_sorted(pairs, total), missing)
        heard += 1
    if heard == 0:
        raise ValueError("no known AP hears this client recently")
    return vector, heard


def reference_settled(readings, ap_ids, *, now, half_life_s=6.0, recent_s=8.0, spans_s=(20.0, 40.0, 60.0),
                      max_change_db=4.0, min_shared=3, strongest=4, missing=MISSING_DBM):
    vector, heard = reference_recency(readings, ap_ids, now=now, half_life_s=half_life_s, missing=missing)
    usable = _usable(readings, set(ap_ids), now)
    newest = max((ts for items in usable.values() for ts, _ in items), default=now)
    recent = {ap: [r for ts, r in items if newest - ts <= recent_s] for ap, items in usable.items()}
    recent_median = {ap: median(values) for ap, values in recent.items() if values}
    chosen, span_used = None, 0.0
    start = recent_s
    for span in sorted(spans_s):
        older = {ap: [r for ts, r in items if start < newest - ts <= span] for ap, items in usable.items()}
        start = span
        shared = sorted((ap for ap in recent_median if older[ap]), key=lambda ap: -recent_median[ap])[:strongest]
        if len(shared) < min_shared:
            break
        change = math.sqrt(sum((recent_median[ap] - median(older[ap])) ** 2 for ap in shared) / len(shared))
        if change > max_change_db:
            break
        chosen, span_used = span, span
    if chosen is None:
        return vector, heard, 0.0
    index = {ap: i for i, ap in enumerate(ap_ids)}
    settled = np.full(len(ap_ids), missing, dtype=float)
    for ap, items in usable.items():
        values = [r for ts, r in items if newest - ts <= chosen]
        if values:
            settled[index[ap]] = max(float(median(values)), missing)
    return settled, int((settled > missing).sum()), span_used


# ---- simulated phones: ties, whole-dB and half-dB readings, stillness and walks, odd data -----------------

AP_IDS = [f"ap{i:02d}" for i in range(20)]


def phones(rng: np.random.Generator, n: int) -> list[dict[str, list[tuple[float, float, bool]]]]:
    out = []
    for _ in range(n):
        readings: dict[str, list[tuple[float, float, bool]]] = {}
        walked = rng.random() < 0.4  # readings change along the minute
        grid = rng.random() < 0.5  # every AP reports at the same instants (ties in age and weight)
        for ap in rng.choice(AP_IDS + ["unknown1", "unknown2"], size=int(rng.integers(0, 14)), replace=False):
            level = float(rng.integers(-95, -40))
            items = []
            for _ in range(int(rng.integers(1, 30))):
                age = float(rng.integers(0, 12) * 6) if grid else round(float(rng.uniform(0, 70)), 3)
                noise = float(rng.integers(-4, 5)) / (2 if rng.random() < 0.3 else 1)  # whole and half dB
                rssi = level + (age / 6 if walked else 0) + noise
                if rng.random() < 0.02:
                    rssi = float("nan")
                ts = NOW - age + (3.0 if rng.random() < 0.02 else 0.0)  # now and then one from the future
                items.append((ts, rssi, bool(rng.random() < 0.03)))
            readings[str(ap)] = items
        out.append(readings)
    return out


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("seed", [1, 2])
def test_batch_vectors_are_the_one_phone_rules_bit_for_bit(seed, compiled):
    """In numpy (a web worker's one phone) and compiled (positioning/readings_kernel.py: the tracker's batch)."""
    batch = phones(np.random.default_rng(seed), 150)
    readings = Readings.from_mappings(batch)
    for now in (NOW, NOW - 20.0):
        settled = settled_vectors(readings, AP_IDS, now=now, compiled=compiled)
        recency = settled_vectors(readings, AP_IDS, now=now, spans_s=(), compiled=compiled)
        for i, one in enumerate(batch):
            try:
                want = reference_settled(one, AP_IDS, now=now)
            except ValueError:
                assert settled.heard[i] == 0 and recency.heard[i] == 0
                continue
            assert np.array_equal(settled.vectors[i], want[0]) and settled.heard[i] == want[1]
            assert settled.span[i] == want[2]
            want_recency = reference_recency(one, AP_IDS, now=now)
            assert np.array_equal(recency.vectors[i], want_recency[0]) and recency.heard[i] == want_recency[1]
    assert readings.latest_associated() == [strongest_associated(one) for one in batch]
    oldest = readings.oldest(default=NOW).tolist()
    assert oldest == [min((t for items in one.values() for t, *_ in items), default=NOW) for one in batch]


@pytest.mark.parametrize("compiled", [False, True])
def test_a_batch_that_hears_nothing(compiled):
    for batch in ([{}], [{"unknown1": [(NOW, -60.0)]}, {}]):
        found = settled_vectors(Readings.from_mappings(batch), AP_IDS, now=NOW, compiled=compiled)
        assert found.heard.tolist() == [0] * len(batch) and (found.vectors == MISSING_DBM).all()
        assert found.vectors.shape == (len(batch), len(AP_IDS))
    nothing_known = settled_vectors(Readings.from_mappings([{"x": [(NOW, -60.0)]}]), [], now=NOW, compiled=compiled)
    assert nothing_known.vectors.shape == (1, 0) and nothing_known.heard.tolist() == [0]


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([(), (20.0,), (20.0, 40.0, 60.0), (60.0, 10.0)]),
       st.integers(0, 5), st.integers(0, 6), st.sampled_from([0.0, 0.125, 2.0]))
def test_the_compiled_weighing_is_numpys(seed, spans, min_shared, strongest, min_weight):
    """settled_vectors' two ways give the same arrays for any rule parameters (spans given in any order, none
    shared needed, none of the strongest taken, every group below the weight), ties and NaN included."""
    readings = Readings.from_mappings(phones(np.random.default_rng(seed), 30))
    rule = {"now": NOW, "spans_s": spans, "min_shared": min_shared, "strongest": strongest, "min_weight": min_weight}
    a, b = settled_vectors(readings, AP_IDS, **rule), settled_vectors(readings, AP_IDS, compiled=True, **rule)
    assert _same_vectors(a, b)


def _same_vectors(a, b) -> bool:
    return np.array_equal(a.vectors, b.vectors) and np.array_equal(a.heard, b.heard) and np.array_equal(a.span, b.span)


@pytest.mark.parametrize("compiled", [False, True])
def test_readings_exactly_at_a_spans_edge(compiled):
    """A reading exactly `recent_s` old is recent, one exactly a span's length old is in that span and not the next:
    phones whose minute holds readings at 0, 8, 20, 40 and 60 s (and a step in level just past an edge), in both
    ways, as the one-phone rule."""
    batch = []
    for step_after in (8.0, 20.0, 40.0, 60.0, None):
        phone = {}
        for i, level in enumerate((-50.0, -55.0, -60.0, -65.0, -70.0)):
            items = [(NOW - age, level + (9.0 if step_after is not None and age > step_after else 0.0))
                     for age in (0.0, 4.0, 8.0, 8.001, 14.0, 20.0, 20.001, 30.0, 40.0, 40.001, 50.0, 60.0)]
            phone[AP_IDS[i]] = items
        batch.append(phone)
    # readings exactly 8 s old are recent only: counted among the older 8-20 s as well, they would make it still
    batch.append({AP_IDS[i]: [(NOW, -50.0 - i), (NOW - 8, -50.0 - i), (NOW - 8, -40.0 - i), (NOW - 15, -50.0 - i),
                              (NOW - 20, -70.0), (NOW - 30, -50.0 - i)] for i in range(4)})
    found = settled_vectors(Readings.from_mappings(batch), AP_IDS, now=NOW, compiled=compiled)
    for i, one in enumerate(batch):
        want = reference_settled(one, AP_IDS, now=NOW)
        assert np.array_equal(found.vectors[i], want[0]) and found.heard[i] == want[1] and found.span[i] == want[2]
    # still up to the step in level (8 s: not for 20; a step past 60 s is outside every span); the last: not still
    assert found.span.tolist() == [0.0, 20.0, 40.0, 60.0, 60.0, 0.0]


def test_an_infinite_reading_weighs_alike_in_both_ways():
    """Readings of +-inf dBm (no feed sends one: ingest refuses them) make a recent median NaN; the compiled path
    ranks it after every number, as numpy's lexsort does, so both still agree."""
    one = {"ap00": [(NOW, np.inf), (NOW - 1, -np.inf), (NOW - 15, -60.0)]}
    one |= {AP_IDS[i]: [(NOW, -50.0 - i), (NOW - 15, -50.0 - i)] for i in range(1, 5)}
    readings = Readings.from_mappings([one])
    with np.errstate(invalid="ignore"):
        a, b = settled_vectors(readings, AP_IDS, now=NOW), settled_vectors(readings, AP_IDS, now=NOW, compiled=True)
    assert _same_vectors(a, b) and b.span[0] == 20.0


def test_a_negative_strongest_is_refused():
    with pytest.raises(ValueError, match="strongest"):
        settled_vectors(Readings.from_mappings([{}]), AP_IDS, now=NOW, strongest=-1)


def test_weighing_one_phone_never_loads_numba_and_the_compiled_batch_does():
    """A web worker weighs a probe's phone in numpy (it never imports numba); the tracker's batch compiles."""
    setup = ("from positioning.readings import Readings, settled_vectors, without_stale\n"
             "one = Readings.from_mappings([{'a': [(100.0, -60.0), (101.0, -61.0)], 'b': [(100.5, -70.0)]}])")
    assert numba_loaded(setup, "settled_vectors(without_stale(one, {'a': 110.0}, 1), ['a', 'b'], now=102.0)",
                        "settled_vectors(without_stale(one, {'a': 110.0}, 1, compiled=True), ['a', 'b'], now=102.0,"
                        " compiled=True)") == [False, True]


def test_batch_parse_is_the_one_phone_parse():
    assert RssiStore.parse_batch([[], []]).n_phones == 2
    batch = phones(np.random.default_rng(4), 100)
    raws = [[f"{ap}|{rssi:g}|{ts:.3f}{'|a' if assoc else ('|p' if ts % 2 < 1 else '')}".encode()
             for ap, items in one.items() for ts, rssi, assoc in items] for one in batch]
    parsed = RssiStore.parse_batch(raws)
    one_by_one = Readings.from_mappings([RssiStore.parse_flagged(raw) for raw in raws])
    a, b = settled_vectors(parsed, AP_IDS, now=NOW), settled_vectors(one_by_one, AP_IDS, now=NOW)
    assert np.array_equal(a.vectors, b.vectors) and np.array_equal(a.heard, b.heard) and np.array_equal(a.span, b.span)
    assert parsed.latest_associated() == one_by_one.latest_associated()
    assert parsed.oldest(default=NOW).tolist() == one_by_one.oldest(default=NOW).tolist()


def test_locator_batch_positions_as_one_at_a_time(svc, demo, demo_map):
    """The same phones, the same readings and time: the tracker's batch writes what `locate` computes, on
    the first readings (no motion state yet) and on the next ones (the motion filter steps from a state)."""
    from fingerprints.simulator import RadioSimulator

    rng, sim, now = np.random.default_rng(9), RadioSimulator(demo_map, seed=3), time.time() - 20
    clients = [svc.hasher.client_id(f"02:00:5e:10:00:{i:02x}") for i in range(40)]
    keys = TrackKeys("demo")

    def hear(at: float) -> None:
        observations = []
        for i, client in enumerate(clients):
            spot = demo_map.samples[int(rng.integers(len(demo_map.samples)))]
            brief = i % 10 == 0  # heard for 3 s only: matched on the APs it has, one at a time even in the batch
            for k in range(6):
                for ap, rssi in sim.measure(spot.floor, spot.x, spot.y, rng).items():
                    observations.append(Observation(client, ap, rssi, at - 3 if brief else at - 53 + 10 * k))
        svc.rssi.write("demo", observations, at)

    def kept(states: list) -> list:
        """What each phone has kept (its position, its motion state, both with a TTL); then back to `states`."""
        out = []
        for c, state in zip(clients, states, strict=True):
            out.append((svc.db.get(keys.last_position(c)), svc.db.get(keys.track(c)),
                        0 < svc.db.ttl(keys.last_position(c)) <= 30, 0 < svc.db.ttl(keys.track(c)) <= 300))
            svc.db.delete(keys.last_position(c), keys.track(c))
            if state is not None:
                svc.db.set(keys.track(c), state, ex=300)
        return out

    states = [None] * len(clients)
    for at in (now, now + 10):
        hear(at)
        assert svc.locator.locate_many("demo", clients, now=at) == len(clients)
        batch = kept(states)
        for client in clients:
            assert svc.locator.locate("demo", client, now=at) is not None
        assert kept(states) == batch and all(all(b[2:]) and b[1] for b in batch)
        states = [b[1] for b in batch]
        for c, state in zip(clients, states, strict=True):
            svc.db.set(keys.track(c), state, ex=300)
    assert all(svc.db.exists(RssiKeys("demo").readings(c)) for c in clients)
    # The batch's reads go on a pooled connection of their own: one the server closed meanwhile is replaced
    svc.db.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    hear(now + 20)
    assert svc.locator.locate_many("demo", clients, now=now + 20) == len(clients)


# ---- without_stale: readings of an AP that no longer hears the phone -----------------------------------

def _reference_stale(phone: dict, reach: dict, misses: int) -> set:
    """The rule one phone at a time: the APs whose reach passes `misses` of the phone's reading moments
    (whole seconds at which two APs or more heard it) after their own last reading of it."""
    heard_by: dict[int, set] = {}
    for ap, items in phone.items():
        for item in items:
            heard_by.setdefault(math.floor(item[0]), set()).add(ap)
    moments = sorted(t for t, aps in heard_by.items() if len(aps) >= 2)
    stale = set()
    for ap, items in phone.items():
        last = math.floor(max(item[0] for item in items))
        if ap in reach and sum(1 for t in moments if last < t <= math.floor(reach[ap])) >= misses:
            stale.add(ap)
    return stale


def test_an_ap_whose_reports_pass_the_phone_by_loses_its_readings():
    walked_past = {"a": [(NOW, -60.0)], "b": [(NOW + t, -70.0) for t in range(6)],
                   "c": [(NOW + t, -80.0) for t in range(6)]}
    kept = without_stale(Readings.from_mappings([walked_past]), {"a": NOW + 5, "b": NOW + 5, "c": NOW + 9}, 3)
    assert sorted(kept.aps[i] for i in set(kept.ap.tolist())) == ["b", "c"]  # a missed 5 moments; c none after
    assert without_stale(Readings.from_mappings([walked_past]), {"a": NOW + 2}, 3).phone.size == 13  # a missed 2
    assert without_stale(Readings.from_mappings([walked_past]), {}, 3).phone.size == 13


def test_frames_only_the_phones_own_ap_hears_do_not_make_the_others_stale():
    """An associated phone's data frames reach its own AP every second; the other APs, on other channels, hear it
    at its probe sweeps (here every 10 s) and report other phones meanwhile. Their readings stand: the moments
    only the phone's AP heard say nothing of what they should have heard. A sweep they missed does count."""
    own = {"own": [(NOW + t, -50.0) for t in range(20)]}
    sweeps = {ap: [(NOW + t + 0.1, -70.0) for t in (0, 10)] for ap in ("n1", "n2", "n3")}
    reach = {"own": NOW + 19, "n1": NOW + 19.5, "n2": NOW + 19.5, "n3": NOW + 19.5}
    kept = without_stale(Readings.from_mappings([{**own, **sweeps}]), reach, 3)
    assert kept.phone.size == 26
    more_sweeps = {ap: [(NOW + t + 0.1, -70.0) for t in (0, 10, 12, 14, 16)] for ap in ("n2", "n3")}
    kept = without_stale(Readings.from_mappings([{**own, "n1": sweeps["n1"], **more_sweeps}]), reach, 3)
    assert sorted(kept.aps[i] for i in set(kept.ap.tolist())) == ["n2", "n3", "own"]  # n1 missed three sweeps


def test_aps_timing_one_sweep_apart_are_not_stale():
    """A reviewer's case: AP x hears the phone first, three other APs a tenth or two of a second later (each on
    its own channel; a relay stamps arrival), and x's next report (another phone) comes 0.3 s after: one sweep,
    one moment, so x keeps its readings. The same lag over whole seconds is three missed moments."""
    t = math.floor(NOW) + 0.05
    sweep = {"x": [(t, -48.0), (t + 0.01, -49.0)], "y": [(t + 0.10, -60.0)], "z": [(t + 0.15, -62.0)],
             "w": [(t + 0.212, -70.0)]}
    kept = without_stale(Readings.from_mappings([sweep]), {"x": t + 0.3}, 3)
    assert kept.phone.size == 5
    later = {"x": [(t, -48.0)], "y": [(t + k, -60.0) for k in (1, 2, 3)], "z": [(t + k, -62.0) for k in (1, 2, 3)]}
    kept = without_stale(Readings.from_mappings([later]), {"x": t + 3.5}, 3)
    assert sorted(kept.aps[i] for i in set(kept.ap.tolist())) == ["y", "z"]


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_without_stale_matches_the_one_phone_rule_over_a_batch(seed, compiled):
    rng = np.random.default_rng(seed)
    aps = [f"ap{i}" for i in range(12)]
    phones = []
    for _ in range(40):
        phone = {}
        for ap in rng.choice(aps, size=int(rng.integers(0, 8)), replace=False):
            times = np.sort(rng.choice(120, size=int(rng.integers(1, 6)), replace=False)) / 2  # half seconds
            phone[str(ap)] = [(NOW + float(t), -60.0) for t in times]
        phones.append(phone)
    reach = {ap: NOW + float(rng.integers(-10, 140)) / 2 for ap in aps[:10]}  # two APs never reported
    misses = int(rng.integers(1, 4))
    kept = without_stale(Readings.from_mappings(phones), reach, misses, compiled=compiled)
    for i, phone in enumerate(phones):
        left = {kept.aps[a] for a in kept.ap[kept.phone == i].tolist()}
        assert left == set(phone) - _reference_stale(phone, reach, misses)


def _reordered(readings: Readings, order: np.ndarray) -> Readings:
    return Readings(readings.phone[order], readings.ap[order], readings.aps, readings.ts[order], readings.rssi[order],
                    readings.associated[order], readings.n_phones)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["as grouped", "by time", "by time but one"]),
       st.integers(0, 5), st.integers(0, 3))
def test_the_compiled_staleness_is_numpys(seed, order, misses, min_aps):
    """without_stale's two ways leave the same readings: a phone's readings grouped by AP (the one-phone API's
    shape), by time (the tracker's windows), or by time but for one pair swapped; APs whose reach is not a number
    or unknown; readings a fraction of a second apart at one moment."""
    rng = np.random.default_rng(seed)
    aps = [f"ap{i}" for i in range(12)]
    batch = [{str(ap): [(NOW + float(t) / 2 + float(rng.random()) * 0.4, -60.0)
                        for t in rng.choice(120, size=int(rng.integers(1, 6)))]
              for ap in rng.choice(aps, size=int(rng.integers(0, 8)), replace=False)} for _ in range(25)]
    reach: dict[str, float] = {ap: NOW + float(rng.integers(-10, 140)) / 2 for ap in aps[:10]}
    reach["ap4"] = float("nan")
    readings = Readings.from_mappings(batch)
    if order != "as grouped":
        by_time = np.lexsort((readings.ts, readings.phone))
        if order == "by time but one" and by_time.size > 1 and readings.phone[by_time[0]] == readings.phone[by_time[1]]:
            by_time[[0, 1]] = by_time[[1, 0]]
        readings = _reordered(readings, by_time)
    a = without_stale(readings, reach, misses, min_aps=min_aps)
    b = without_stale(readings, reach, misses, min_aps=min_aps, compiled=True)
    for field in ("phone", "ap", "ts", "rssi", "associated"):
        assert np.array_equal(getattr(a, field), getattr(b, field))


def test_the_compiled_staleness_refuses_a_batch_out_of_phone_order():
    readings = Readings.from_mappings([{"a": [(NOW, -60.0)]}, {"a": [(NOW, -61.0)]}])
    with pytest.raises(ValueError, match="phone order"):
        without_stale(_reordered(readings, np.array([1, 0])), {"a": NOW + 9}, 1, compiled=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from([-70.0, -70.5, -0.0, 0.0, -71.0, -40.25]),
                          st.floats(0.0, 1.0, allow_nan=False)), max_size=40))
@example([(1, -0.0, 0.5), (1, 0.0, 0.5), (1, -0.0, 0.5), (0, -70.0, 1.0)])  # -0.0 and 0.0 tie, as in lexsort
def test_packed_sort_is_lexsort(rows):
    """settled_vectors' one-integer sort orders as np.lexsort does, ties in the order given."""
    key = np.asarray([r[0] for r in rows], dtype=np.int64)
    second = np.asarray([r[1] for r in rows], dtype=np.float64)
    third = np.asarray([r[2] for r in rows], dtype=np.float64)
    assert np.array_equal(_sort_by(key, second, third), np.lexsort((third, second, key)))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from([-70.0, -70.5, -0.0, 0.0, -71.0, -40.25]),
                          st.sampled_from([0.125, 0.25, 0.5, 0.5, 1.0])), max_size=40), st.booleans())
@example([(1, -0.0, 0.5), (1, 0.0, 0.25), (1, -0.0, 0.5), (0, -70.0, 1.0)], False)
@example([(1, -71.0, 0.5), (1, -70.0, 0.25), (0, -70.0, 0.5), (1, -71.0, 0.25)], True)  # whole dB: ranked by offset
@example([(1, -71.0, 0.5), (1, -70.5, 0.25), (0, -70.0, 0.5), (1, -71.0, 0.25)], True)  # not: by np.unique's ranks
def test_the_readings_sort_is_lexsort(rows, by_weight):
    """settled_vectors' sort (one float sort less where each (key, rssi) run is in weight order already, as a
    phone's readings by time are) orders as np.lexsort does, in either case, ties in the order given."""
    if by_weight:  # a tracker's batch: each phone's readings by time, so by weight within a phone
        rows = sorted(rows, key=lambda r: (r[0], r[2]))
    key = np.asarray([r[0] for r in rows], dtype=np.int64)
    rssi = np.asarray([r[1] for r in rows], dtype=np.float64)
    weight = np.asarray([r[2] for r in rows], dtype=np.float64)
    assert np.array_equal(_sort_readings(key, rssi, weight), np.lexsort((weight, rssi, key)))


def test_packed_sort_falls_back_where_the_ranks_do_not_fit():
    rng = np.random.default_rng(3)
    key = np.asarray([2**40, 0, 2**40, 5], dtype=np.int64)  # 2**40 x 4 x 4 ranks: still fits
    second, third = rng.normal(size=4), rng.random(4)
    assert np.array_equal(_sort_by(key, second, third), np.lexsort((third, second, key)))
    key = np.asarray([2**61, 0, 2**61, 5], dtype=np.int64)  # would overflow: lexsort itself
    assert np.array_equal(_sort_by(key, second, third), np.lexsort((third, second, key)))
    with_nan = np.asarray([np.nan, 1.0, np.nan, 0.0])
    assert np.array_equal(_sort_by(key % 7, with_nan, third), np.lexsort((third, with_nan, key % 7)))
    for k, second_, third_ in ((key, second, third), (key % 7, with_nan, third), (key % 7, second, with_nan)):
        assert np.array_equal(_sort_readings(k, second_, third_), np.lexsort((third_, second_, k)))


def test_a_batch_out_of_phone_order_is_refused():
    """The per-phone newest and oldest readings are taken over each phone's contiguous run."""
    readings = Readings.from_mappings([{"ap00": [(NOW, -60.0)]}, {"ap01": [(NOW, -70.0)]}])
    swapped = Readings(readings.phone[::-1].copy(), readings.ap, readings.aps, readings.ts, readings.rssi,
                       readings.associated, 2)
    with pytest.raises(ValueError, match="phone order"):
        settled_vectors(swapped, AP_IDS, now=NOW)
    with pytest.raises(ValueError, match="phone order"):
        swapped.oldest(default=NOW)


def test_first_heard_is_each_pairs_first_reading():
    rng = np.random.default_rng(11)
    phone = np.sort(rng.integers(0, 9, size=500))
    ap = rng.integers(0, 6, size=500)
    readings = Readings(phone, ap, [f"ap{i}" for i in range(6)], rng.random(500), rng.random(500),
                        np.zeros(500, dtype=bool), 9)
    pairs = list(zip(phone.tolist(), ap.tolist(), strict=True))
    assert readings.first_heard().tolist() == [pairs.index(pair) for pair in pairs]
