"""The quality page's live estimate is computed in the background (portal/operator/live_jobs.py): the page shows
how far it has got and refreshes itself; the result is kept in the store, where every web worker finds it; one
worker computes it at a time; a map that cannot be estimated keeps its reason. The computation here is held back
by an event the test releases (no timing), on a small estimate of the demo mall (the real live_estimate)."""

from __future__ import annotations

import dataclasses
import html
import threading
import time

import pytest

from core.memo import BoundedMemo
from fingerprints.quality import (
    PHONES_COUNTED_NARROW,
    PHONES_UNKNOWN,
    TRANSIT_KINDS,
    CannotEstimate,
    LiveAssumptions,
    LiveEstimate,
)
from portal import create_app
from portal.operator import live_jobs, quality
from portal.operator.live_jobs import EstimateKeys, decode, encode
from portal.tracking.estimate import live_estimate
from portal.tracking.phone_mix import PhoneMixStore, venue_phones

V = "/console/ops/demo"
WAIT_S = 300.0  # a generous bound for the released computation: only a stalled machine reaches it


# The small estimates Held returns, as the store keeps them (`encode`), by map and assumptions: the same computation
# (~0.6 s of CPU) was made again in five tests; each call gets its own decoded copy, as a worker reading the store.
SMALL_ESTIMATES: dict[tuple, str] = {}


def small_estimate_copy(venue_map, assumptions) -> LiveEstimate:
    key = (venue_map.id, venue_map.version, repr(assumptions))  # every test's map is the demo snapshot's
    if key not in SMALL_ESTIMATES:
        SMALL_ESTIMATES[key] = encode(live_estimate(venue_map, assumptions, max_points=6))
    return decode(SMALL_ESTIMATES[key])


class Held:
    """A live estimate that reports 3 of 10 visits, then waits for `release` (and counts its calls)."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.release, self.reported, self.calls, self.fail = threading.Event(), threading.Event(), 0, fail

    def __call__(self, venue_map, assumptions=None, progress=None):
        self.calls += 1
        self.assumptions = assumptions
        progress(3, 10)
        self.reported.set()
        self.release.wait(WAIT_S)
        if self.fail is not None:
            raise self.fail
        return small_estimate_copy(venue_map, assumptions)


@pytest.fixture
def held(app, monkeypatch):
    """This app's estimates computed by a Held function, the page waiting for none of it, no copy kept from
    another test (the process keeps decoded estimates and drawn figures per map version)."""
    monkeypatch.setattr(live_jobs, "ESTIMATES", BoundedMemo(16))
    monkeypatch.setattr(quality, "figures", BoundedMemo(96))  # nor a figure drawn by another test
    estimates = app.extensions["live_estimates"]
    compute = Held()
    monkeypatch.setattr(estimates, "compute", compute)
    monkeypatch.setattr(estimates, "wait_s", 0.0)
    return compute


def page(client) -> str:
    return html.unescape(client.get(V + "/quality?floor=all").get_data(as_text=True))


def test_the_page_shows_progress_then_the_figures(client, ops, held, svc):
    body = page(client)  # starts it
    assert 'id="live-computing"' in body and 'id="live-figures"' not in body
    assert held.reported.wait(WAIT_S)
    body = page(client)
    assert 'id="live-computing"' in body and "3 of 10 simulated visits" in body
    assert 'id="auto-refresh"' in body and 'id="live-figures"' not in body
    assert 'id="zone-hit-rate"' in body  # the survey's own figures do not wait for it
    assert held.calls == 1
    page(client)  # a refresh while it runs starts nothing more
    assert held.calls == 1
    held.release.set()
    venue_map = svc.venues.get_map("demo")
    estimate = client.application.extensions["live_estimates"].get(venue_map, wait_s=WAIT_S)
    assert estimate.n_points == 6
    body = page(client)
    assert 'id="live-figures"' in body and 'id="live-computing"' not in body and 'id="auto-refresh"' not in body
    assert svc.db.exists(EstimateKeys("demo").result(venue_map.version))
    assert not svc.db.exists(EstimateKeys("demo").lease(venue_map.version))


def test_another_worker_waits_for_the_first_and_then_reads_its_result(client, ops, held, svc, settings,
                                                                       monkeypatch):
    """Two web workers (two apps on one store): while one computes, the other shows its progress and computes
    nothing; then it reads the result from the store."""
    page(client)
    assert held.reported.wait(WAIT_S)
    other = create_app(settings.with_(quality_wait_s=0.0)).extensions["live_estimates"]
    never = Held()
    monkeypatch.setattr(other, "compute", never)
    venue_map = svc.venues.get_map("demo")
    assert other.get(venue_map) == live_jobs.Computing(3, 10)
    held.release.set()
    mine = client.application.extensions["live_estimates"].get(venue_map, wait_s=WAIT_S)
    monkeypatch.setattr(live_jobs, "ESTIMATES", BoundedMemo(16))  # the other process has no copy of its own
    assert dataclasses.asdict(other.get(venue_map)) == dataclasses.asdict(mine)
    assert never.calls == 0


def test_a_map_that_cannot_be_estimated_keeps_its_reason(client, ops, held, svc):
    held.fail = CannotEstimate("venue demo has no surveyed dwell zone")
    held.release.set()
    venue_map = svc.venues.get_map("demo")
    with pytest.raises(CannotEstimate, match="no surveyed dwell zone"):
        client.application.extensions["live_estimates"].get(venue_map, wait_s=WAIT_S)
    body = page(client)
    assert 'id="live-error"' in body and "no surveyed dwell zone" in body
    assert 'id="zone-hit-rate"' in body  # the survey's own report stays
    assert held.calls == 1  # the reason is kept: not computed again


def test_a_failing_computation_says_so_and_is_not_retried_for_a_while(client, ops, held, svc, caplog, settings,
                                                                      monkeypatch):
    """A bug (any other exception, a ValueError included) is logged and kept as failed for FAILED_S, in the
    store: the page says so at once (no spinning), no worker computes it again meanwhile, the figure is a 503."""
    held.fail = ValueError("shapes (3,) and (4,) not aligned")
    held.release.set()
    venue_map = svc.venues.get_map("demo")
    estimates = client.application.extensions["live_estimates"]
    failed = estimates.get(venue_map, wait_s=WAIT_S)
    assert isinstance(failed, live_jobs.Failed) and 0 < failed.retry_in_s <= live_jobs.FAILED_S
    assert "live estimate of venue demo" in caplog.text
    body = page(client)
    assert 'id="live-failed"' in body and 'id="auto-refresh"' not in body and 'id="live-computing"' not in body
    other = create_app(settings.with_(quality_wait_s=0.0)).extensions["live_estimates"]
    monkeypatch.setattr(other, "compute", Held())
    assert isinstance(other.get(venue_map), live_jobs.Failed) and other.compute.calls == 0
    resp = client.get(V + "/quality/0/live-heatmap.png")
    assert resp.status_code == 503 and int(resp.headers["Retry-After"]) > 0
    assert held.calls == 1


def test_an_unreadable_or_older_stored_estimate_is_computed_anew(client, ops, held, svc):
    """What another release stored under the same key (other fields) or a damaged value is no 500: dropped,
    and computed again."""
    venue_map = svc.venues.get_map("demo")
    result = EstimateKeys("demo").result(venue_map.version)
    for stored in ('{"estimate": {"venue": "demo", "a_field_of_another_release": 1}}', '{"estimate": {"ven'):
        svc.db.set(result, stored)
        body = page(client)
        assert 'id="live-computing"' in body
        assert held.calls == 1  # one computation for both: the second page found it under way
    held.release.set()
    assert client.application.extensions["live_estimates"].get(venue_map, wait_s=WAIT_S).n_points == 6


def test_the_stored_estimates_key_follows_its_format(svc):
    """A release that changes the estimate's fields or ESTIMATOR_REVISION reads and writes other keys."""
    key = EstimateKeys("demo").result(3)
    assert key.startswith("mp:{demo}:live-estimate:r") and key.endswith(":3")
    before = live_jobs.ESTIMATOR_REVISION
    try:
        live_jobs.ESTIMATOR_REVISION = before + 1
        assert EstimateKeys("demo").result(3) != key
    finally:
        live_jobs.ESTIMATOR_REVISION = before


def test_the_figure_answers_503_while_the_estimate_is_computed(client, ops, held, svc, monkeypatch):
    monkeypatch.setattr(quality, "FIGURE_WAIT_S", 0.0)
    resp = client.get(V + "/quality/0/live-heatmap.png")
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "10"
    held.release.set()
    client.application.extensions["live_estimates"].get(svc.venues.get_map("demo"), wait_s=WAIT_S)
    resp = client.get(V + "/quality/0/live-heatmap.png")
    assert resp.status_code == 200 and resp.mimetype == "image/png"


def count_phones(db, offsets) -> None:
    """Phones the tracker came to know, as it counts them (today's histogram)."""
    pipe = db.pipeline(transaction=False)
    PhoneMixStore.queue_counts(pipe, "demo", offsets, time.time())
    pipe.execute()


def test_the_estimate_takes_the_phones_the_tracker_counted(client, ops, held, svc):
    """Enough of the venue's phones counted: the estimate is made with them (their mean and spread, whole dB),
    kept apart from the one with the assumed phones, and the page says how many phones it rests on."""
    count_phones(svc.db, [-9.0, -7.0, -6.0, -5.0, -3.0] * 8)  # 40 phones, mean -6, spread 2.0
    held.release.set()
    page(client)
    venue_map = svc.venues.get_map("demo")
    assumptions = venue_phones(svc.db, "demo", time.time())[0]
    estimate = client.application.extensions["live_estimates"].get(venue_map, WAIT_S, assumptions)
    assert (held.assumptions.phone_mean_db, held.assumptions.phone_spread_db) == (-6.0, 2.0)
    assert held.assumptions.phones_measured == 40 and estimate.assumptions == held.assumptions
    assert PHONES_UNKNOWN not in estimate.cannot_know and PHONES_COUNTED_NARROW in estimate.cannot_know
    assert svc.db.exists(EstimateKeys("demo").result(venue_map.version, live_jobs.basis(assumptions)))
    assert not svc.db.exists(EstimateKeys("demo").result(venue_map.version))
    body = page(client)
    assert 'id="live-figures"' in body and "measured on the 40 of this venue's phones" in body
    assert "-6 dB on average, spread 2 dB" in body and "40 are counted in the last 7 days now" in body
    assert held.calls == 1  # the same phones: the kept estimate
    # its figure is drawn anew when the phones move: the browser may not keep it for the map version
    live_png = client.get(f"{V}/quality/0/live-heatmap.png?v={venue_map.version}")
    plan_png = client.get(f"{V}/quality/0/heatmap.png?v={venue_map.version}")
    assert live_png.status_code == plan_png.status_code == 200
    assert "no-cache" in live_png.headers["Cache-Control"] and "max-age=86400" in plan_png.headers["Cache-Control"]
    count_phones(svc.db, [-9.0] * 40)  # the mix moves to N(-7.5, 2.0): rounded -8 (a new estimate)
    assert live_jobs.basis(venue_phones(svc.db, "demo", time.time())[0]) != live_jobs.basis(assumptions)


def test_too_few_counted_phones_leave_the_assumed_ones(client, ops, held, svc):
    count_phones(svc.db, [-6.0] * 5)
    held.release.set()
    page(client)
    venue_map = svc.venues.get_map("demo")
    client.application.extensions["live_estimates"].get(venue_map, WAIT_S, venue_phones(svc.db, "demo", time.time())[0])
    assert held.assumptions == LiveAssumptions()
    body = page(client)
    assert 'id="live-figures"' in body and "until the tracker has come to know 30 of this venue's phones" in body
    assert "(5 so far in the last 7 days)" in body


def test_only_the_venues_operator_sees_the_progress(client, console, held, demo):
    console.login("cinema")  # a zone owner
    assert client.get(V + "/quality?floor=all").status_code in (302, 403)
    assert held.calls == 0


def test_an_estimate_survives_the_store_as_json(demo_map):
    estimate = live_estimate(demo_map, max_points=6)
    assert dataclasses.asdict(decode(encode(estimate))) == dataclasses.asdict(estimate)


# -- the computation in a child process (live_jobs.in_a_process): module-level functions, as the child imports them


def small_estimate(venue_map, assumptions=None, progress=None):
    return live_estimate(venue_map, assumptions, max_points=6, progress=progress)


def says_it_cannot(venue_map, assumptions=None, progress=None):
    raise CannotEstimate(f"venue {venue_map.id} has no surveyed dwell zone")


def breaks(venue_map, assumptions=None, progress=None):
    progress(1, 2)
    raise ValueError("shapes (3,) and (4,) not aligned")


def dies(venue_map, assumptions=None, progress=None):
    import os

    progress(1, 2)
    os._exit(3)  # killed mid-way (out of memory, a signal): no outcome sent


def test_the_child_process_takes_the_assumptions_and_returns_the_same_estimate_and_its_progress(demo_map):
    """One child (each spawn is ~1.5 s of CPU, its imports): the assumptions it is given reach the computation, and
    the estimate and each visit's progress come back as this process computes them. The default assumptions (None)
    go through a child in test_the_app_computes_its_estimates_in_a_child_process."""
    measured = LiveAssumptions(phone_mean_db=-6.0, phone_spread_db=5.0, phones_measured=40)
    reports: list[tuple[int, int]] = []
    estimate = live_jobs.in_a_process(small_estimate)(demo_map, assumptions=measured,
                                                      progress=lambda done, total: reports.append((done, total)))
    assert estimate.assumptions == measured and PHONES_UNKNOWN not in estimate.cannot_know
    assert PHONES_COUNTED_NARROW in estimate.cannot_know  # counted phones read narrower than they are
    assert dataclasses.asdict(estimate) | {"seconds": 0} == dataclasses.asdict(
        small_estimate(demo_map, assumptions=measured)) | {"seconds": 0}
    assert reports == [(done, 6) for done in range(1, 7)]


def test_the_child_process_passes_on_a_reason_a_failure_and_its_own_death(demo_map):
    with pytest.raises(CannotEstimate, match="venue demo has no surveyed dwell zone"):
        live_jobs.in_a_process(says_it_cannot)(demo_map)
    with pytest.raises(RuntimeError, match=r"(?s)failed:.*ValueError: shapes \(3,\) and \(4,\) not aligned"):
        live_jobs.in_a_process(breaks)(demo_map, progress=lambda done, total: None)
    with pytest.raises(RuntimeError, match=r"ended without a result \(exit code 3\)"):
        live_jobs.in_a_process(dies)(demo_map, progress=lambda done, total: None)


def test_the_app_computes_its_estimates_in_a_child_process(app, svc, demo, monkeypatch):
    """The app's LiveEstimates runs quality._live_estimate through in_a_process (the page's path), so the
    worker's interpreter is free while it runs; the estimate arrives through the child."""
    estimates = app.extensions["live_estimates"]
    assert estimates.compute.__wrapped__ is quality._live_estimate
    demo_map = svc.venues.get_map("demo")
    # two of its dwell zones (and the transit ones): the page's default of 4 visits per dwell zone makes 8, not 32
    # (~1.2 s of the child's CPU, not ~2.75 s); what crosses the child is the same
    dwell = [z for z in demo_map.zones if z.kind not in TRANSIT_KINDS]
    venue_map = dataclasses.replace(demo_map, version=987654,
                                    zones=[z for z in demo_map.zones if z.kind in TRANSIT_KINDS] + dwell[:2])
    monkeypatch.setattr(live_jobs, "ESTIMATES", BoundedMemo(16))
    estimate = estimates.get(venue_map, wait_s=WAIT_S)
    assert estimate.venue == "demo" and estimate.n_points > 0
