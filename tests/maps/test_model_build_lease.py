"""A model build is not left saying "building" by a process that is gone (portal/maps/builds.py).

The reviewer's case: a map change from the CLI started the rebuild in a daemon thread of the CLI process,
which exited at once; the record said "building" for up to STALE_BUILD_S (600 s) and the checklist never
restarted it. Now an exiting process waits for its builds, a building record holds a lease its process renews
every few seconds, and the checklist restarts a build whose lease ran out (one process claims it)."""

from __future__ import annotations

import html
import threading
import time

import pytest

from core.settings import PROJECT_ROOT
from portal.maps import builds
from portal.maps.builds import BuildKeys, BuildLeases, model_state, needs_rebuild, wait_for_model
from tests.portal_command import run_portal

V = "/console/ops/demo"


def model_step(client) -> str:
    page = html.unescape(client.get(V + "/checklist").get_data(as_text=True))
    return page.split('<li id="step-model"', 1)[1].split("</li>", 1)[0]


def held_build(release: threading.Event, real):
    """`build_venue_model` that waits for `release` first (the test sees the build running), and fails the build if the
    test never sets it (rather than handing back False as the model)."""

    def build(venue_map):
        assert release.wait(120), "the test never released the build"
        return real(venue_map)

    return build


def test_needs_rebuild_goes_by_the_lease():
    now = 1_000_000.0
    lost = {"version": 5, "state": "building", "started": now - 96, "lease": now - 1}
    alive = {**lost, "started": now - 900, "lease": now + 5}
    assert needs_rebuild(lost, 5, now) and needs_rebuild(lost, 6, now)  # the reviewer's record: 96 s old
    assert not needs_rebuild(alive, 5, now) and not needs_rebuild(alive, 6, now)  # a long build, still renewed
    unleased = {"version": 5, "state": "building", "started": now - 96}  # written before leases: its age rules
    assert not needs_rebuild(unleased, 5, now) and needs_rebuild({**unleased, "started": now - 601}, 5, now)
    assert not needs_rebuild({"version": 5, "state": "ready"}, 5, now)
    assert needs_rebuild({"version": 4, "state": "ready"}, 5, now) and needs_rebuild({}, 5, now)


def test_the_checklist_restarts_a_build_whose_process_is_gone(client, ops, svc, monkeypatch):
    # The restarted fit waits for the test to have seen it building (a quick fit showed "ready" already).
    release = threading.Event()
    real = builds.build_venue_model
    monkeypatch.setattr(builds, "build_venue_model", held_build(release, real))
    current = svc.venues.current_version("demo")
    started = time.time() - 96
    svc.db.hset(BuildKeys("demo").model_state(), mapping={
        "version": current, "state": "building", "step": "loading map", "progress": 0.1, "started": started,
        "lease": started + builds.LEASE_S})
    try:
        step = model_step(client)
    finally:
        release.set()  # the fit goes on
    assert f"Model of map v{current}: building" in step and "not built" not in step
    state = wait_for_model("demo", current, svc.db)
    assert state["state"] == "ready" and state["started"] > started and "lease" not in state
    step = model_step(client)
    assert 'class="done"' in step and f"Model of map v{current}: ready." in step


def test_the_checklist_leaves_a_live_build_alone(client, ops, svc):
    current = svc.venues.current_version("demo")
    started = time.time() - 900  # a long fit on a campus map, its lease renewed
    svc.db.hset(BuildKeys("demo").model_state(), mapping={
        "version": current, "state": "building", "step": "fitting", "progress": 0.4, "started": started,
        "lease": time.time() + builds.LEASE_S})
    step = model_step(client)
    assert "building (fitting, 40%)" in step and 'class="todo"' in step
    state = model_state("demo", svc.db)
    assert state["started"] == started and state["progress"] == pytest.approx(0.4)  # not restarted
    assert 'id="auto-refresh"' in client.get(V + "/checklist").get_data(as_text=True)  # shows it done by itself


def test_one_of_many_claims_a_lost_build(db):
    now = time.time()
    db.hset(BuildKeys("claimed").model_state(), mapping={"version": 3, "state": "building", "started": now - 60,
                                                         "lease": now - 1})
    leases, won, go = BuildLeases(db), [], threading.Barrier(24)

    def claim() -> None:
        go.wait()
        won.append(leases.claim("claimed", 3, time.time()))

    threads = [threading.Thread(target=claim) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert won.count(True) == 1
    state = model_state("claimed", db)
    assert state["state"] == "building" and state["lease"] > now and state["started"] > now - 1


def test_the_lease_is_renewed_while_a_long_fit_runs(app, svc, demo, monkeypatch):
    """While the fit runs, its process moves the lease on (never claimable); no wall-clock window is raced: the
    fit waits until the test has seen the lease renewed twice (a long lease, a short heartbeat)."""
    monkeypatch.setattr(builds, "HEARTBEAT_S", 0.05)
    release = threading.Event()
    real = builds.build_venue_model
    monkeypatch.setattr(builds, "build_venue_model", held_build(release, real))
    current = svc.venues.current_version("demo")
    assert builds.start_rebuild(app, "demo", current)
    seen: list[float] = []
    deadline = time.monotonic() + 120
    try:
        while len(set(seen)) < 3 and time.monotonic() < deadline:
            lease = model_state("demo", svc.db).get("lease")
            if lease is not None and (not seen or lease > seen[-1]):
                seen.append(lease)
            assert not BuildLeases(svc.db).claim("demo", current, time.time())
            time.sleep(0.02)
    finally:
        release.set()  # the fit goes on (the `app` fixture waits for the build at the test's end)
    assert len(set(seen)) >= 3  # renewed at least twice while fitting
    state = wait_for_model("demo", current, svc.db)
    assert state["state"] == "ready" and "lease" not in state


@pytest.mark.slow
def test_a_cli_change_leaves_the_model_built(svc, demo, settings, tmp_path):
    """`python -m portal flask map-rollback`: the command's process builds the model before it exits."""
    first = svc.venues.current_version("demo")
    svc.venues.put_map(svc.venues.get_map("demo", for_update=True))  # a bare put: no build here
    done = run_portal(settings, "flask", "map-rollback", "demo", str(first), timeout=300, DATA_DIR=str(tmp_path),
                      LOAD_DEMO="0", DEMO="0", PYTHONPATH=str(PROJECT_ROOT))
    assert done.returncode == 0, done.stderr[-2000:]
    state = model_state("demo", svc.db)
    assert state["version"] == first and state["state"] == "ready", state
    assert f"demo: positioning model of map v{first} ready" in done.stderr
