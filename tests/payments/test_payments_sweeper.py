"""The payments sweeper (`python -m portal sweep`, started by `serve`): every venue's payment duties each minute
without a cron line: the service's sweep, and with it each light app's sweeper (a lapsed number's paid
pre-order refunded, tests/payments/test_preorder_lapse.py). Real store; nothing waited for."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
import redis

from core.settings import PROJECT_ROOT
from fingerprints.demo_mall import build_demo_mall
from portal.leases import VenueLeases
from portal.payments.worker import LEASE_S, PaymentsSweeper, sweeper_leases
from tests.portal_command import run_portal


@pytest.fixture
def two_malls(svc, demo) -> list[str]:
    """The demo mall and a second one on the same store (a coarse survey: only the venue list matters)."""
    svc.venues.put_map(build_demo_mall("second", survey_step_m=40.0, scans=1))
    return sorted(svc.venues.venue_ids())


def recording(svc) -> list[str]:
    """The venues an app's sweeper is run for, in order (a sweeper as the light apps add theirs)."""
    swept: list[str] = []
    svc.payments.add_sweeper(lambda venue: swept.append(venue) or 0)
    return swept


def test_a_round_runs_every_venues_payment_duties(svc, two_malls):
    swept = recording(svc)
    assert PaymentsSweeper(svc.payments, svc.venues).round() == (0, 0)
    assert sorted(swept) == two_malls == ["demo", "second"]


def test_a_venue_whose_store_fails_does_not_stop_the_others(svc, two_malls, monkeypatch):
    venues = two_malls
    swept = recording(svc)
    sweep = svc.payments.sweep

    def failing_first(venue: str, limit: int = 200) -> int:
        if venue == venues[0]:
            raise redis.ConnectionError("its shard is down")
        return sweep(venue, limit)

    monkeypatch.setattr(svc.payments, "sweep", failing_first)
    assert PaymentsSweeper(svc.payments, svc.venues).round() == (0, 1)
    assert swept == venues[1:]


def test_a_bug_in_one_apps_duty_or_one_venues_sweep_stops_nothing(svc, two_malls, monkeypatch, caplog):
    """A duty that meets a record it cannot read (a KeyError) is logged; the other duties and venues are swept,
    and a sweep that fails outright for one venue fails that venue alone: the process goes on."""
    svc.payments.add_sweeper(lambda venue: {}["no such field"])
    swept = recording(svc)
    assert PaymentsSweeper(svc.payments, svc.venues).round() == (0, 0)
    assert swept == two_malls and "payment sweeper" in caplog.text
    sweep = svc.payments.sweep
    monkeypatch.setattr(svc.payments, "sweep", lambda venue, limit=200: sweep(venue, limit) if venue != "demo"
                        else {}["bad"])
    swept.clear()
    assert PaymentsSweeper(svc.payments, svc.venues).round() == (0, 1)
    assert swept == ["second"]


def test_sweepers_divide_the_venues_by_lease_apart_from_the_trackers(svc, two_malls):
    """Two sweeper processes sweep each venue once a round between them; their leases are not the trackers'."""
    venues = two_malls
    tracker = VenueLeases(svc.db, owner="tracker-1")
    assert sorted(tracker.assign(venues)) == venues  # a tracker holding every venue takes none from a sweeper
    first, second = (PaymentsSweeper(svc.payments, svc.venues, VenueLeases(svc.db, kind="paysweep", owner=name,
                                                                           ttl_s=LEASE_S))
                     for name in ("sweeper-1", "sweeper-2"))
    swept = recording(svc)
    first.round()
    assert sorted(swept) == venues  # alone, it sweeps them all
    for _ in range(2):  # the second one comes: the first gives back what is over its share, the second takes it
        second.round()
        first.round()
    swept.clear()
    first.round()
    second.round()
    assert sorted(swept) == venues and first.leases.held and second.leases.held
    assert sweeper_leases(svc.db).kind == "paysweep"


def test_run_stops_when_told_and_gives_its_venues_back(svc, demo):
    leases = VenueLeases(svc.db, kind="paysweep", owner="sweeper-run", ttl_s=LEASE_S)
    swept, stop = recording(svc), threading.Event()
    sweeper = PaymentsSweeper(svc.payments, svc.venues, leases)
    svc.payments.add_sweeper(lambda venue: stop.set() or 0)  # stop once the first venue has been swept
    thread = threading.Thread(target=sweeper.run, args=(stop,), daemon=True)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive() and swept and not leases.held


def test_the_command_sweeps_every_venue_once(settings, svc, demo):
    done = run_portal(settings, "sweep", "--once")
    assert done.returncode == 0, done.stderr
    assert "expired orders handled, 0 venues failed" in done.stdout


def test_the_command_needs_a_store(settings):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {"DATA_DIR": str(settings.data_dir)}
    done = subprocess.run([sys.executable, "-m", "portal", "sweep", "--once"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "REDIS_URL is not set" in done.stderr
