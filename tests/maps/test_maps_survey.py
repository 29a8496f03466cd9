"""Surveys: averaging a device's readings, and a survey session end to end on the real store (readings
posted into the RSSI store as the APs would, finish -> a new map version with one more sample)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from fingerprints.simulator import RadioSimulator
from fingerprints.survey import SurveyKeys, SurveyStore, average_fingerprint
from portal.ingest.observation import Observation

PHONE = "02:00:5e:00:53:01"
PHONE2 = "02:00:5e:00:53:02"


def test_average_fingerprint():
    t = 1_700_000_000.0
    readings = {
        "aa:aa:aa:aa:aa:01": [(t + i, -50.0 - (i % 2) * 2) for i in range(10)],  # every scan
        "aa:aa:aa:aa:aa:02": [(t + i, -80.0) for i in range(0, 10, 2)],  # half the scans: kept
        "aa:aa:aa:aa:aa:03": [(t + 1, -90.0), (t + 5, -92.0)],  # 2 of 10: dropped
    }
    rssi, spread, n = average_fingerprint(readings)
    assert n == 10
    assert rssi == {"aa:aa:aa:aa:aa:01": -51.0, "aa:aa:aa:aa:aa:02": -80.0}
    assert spread["aa:aa:aa:aa:aa:01"] == pytest.approx(1.0) and spread["aa:aa:aa:aa:aa:02"] == 0.0


def test_average_fingerprint_refuses_too_little_or_bad_data():
    with pytest.raises(ValueError, match="only 2 scan"):
        average_fingerprint({"aa:aa:aa:aa:aa:01": [(1.0, -50.0), (2.0, -51.0)]})
    with pytest.raises(ValueError, match="only 0 scan"):
        average_fingerprint({})
    with pytest.raises(ValueError, match="dBm"):
        average_fingerprint({"aa:aa:aa:aa:aa:01": [(1.0, 40.0), (2.0, -51.0), (3.0, -51.0)]})
    with pytest.raises(ValueError, match="pair"):
        average_fingerprint({"aa:aa:aa:aa:aa:01": [(1.0,), (2.0, -51.0), (3.0, -51.0)]})


@pytest.fixture
def survey(svc, demo):
    return SurveyStore(svc.db, svc.venues, svc.rssi, svc.hasher)


def play_device(svc, venue_map, client: str, floor: int, x: float, y: float, start: float, seconds: int,
                seed: int = 3) -> None:
    """The radio simulator plays the survey device: one scan a second, written as the APs report it."""
    sim = RadioSimulator(venue_map)
    rng = np.random.default_rng(seed)
    obs = [Observation(client=client, ap=ap, rssi=rssi, ts=start + k + 0.5)
           for k in range(seconds) for ap, rssi in sim.measure(floor, x, y, rng).items()]
    svc.rssi.write("demo", obs, now=start + seconds)


def test_survey_session_end_to_end(svc, survey, db):
    venue_map = svc.venues.get_map("demo")
    before_version, before_n = svc.venues.current_version("demo"), len(venue_map.samples)
    client = survey.register_device("demo", PHONE, "operator phone")
    assert client == svc.hasher.client_id(PHONE) and PHONE not in str(db.hgetall(SurveyKeys("demo").devices()))
    assert survey.devices("demo") == {client: "operator phone"}
    now = time.time() - 20
    point = survey.start("demo", client, 1, 30.0, 20.0, now=now)
    assert point.duration_s == 15 and survey.pending("demo", client) == point
    play_device(svc, venue_map, client, 1, 30.0, 20.0, now, 15)
    status = survey.status("demo", client, now=now + 10)
    assert status["seconds_left"] == pytest.approx(5) and status["aps_heard"] >= 10 and status["scans"] == 10
    with pytest.raises(ValueError, match="still collecting"):
        survey.finish("demo", client, now=now + 10)
    sample, version = survey.finish("demo", client, now=now + 16)
    assert version == before_version + 1 == svc.venues.current_version("demo")
    after = svc.venues.get_map("demo")
    assert len(after.samples) == before_n + 1 and after.samples[-1] == sample
    assert (sample.floor, sample.x, sample.y, sample.zone, sample.n) == (1, 30.0, 20.0, "cinema", 15)
    expected = RadioSimulator(venue_map).mean_rssi(1, 30.0, 20.0)
    strong = [ap for ap, v in sample.rssi.items() if v > -80]
    assert strong and all(abs(sample.rssi[ap] - expected[ap]) < 3 for ap in strong)
    assert all(0 <= v < 6 for v in sample.spread.values())
    assert survey.pending("demo", client) is None
    assert survey.recent("demo")[0]["version"] == version
    progress = survey.progress("demo")
    assert progress[1]["points"] == sum(s.floor == 1 for s in after.samples)
    assert progress[1]["surveyed_recently"] == 1 and progress[0]["surveyed_recently"] == 0
    with pytest.raises(ValueError, match="no survey point in progress"):
        survey.finish("demo", client, now=now + 17)


def test_a_failed_survey_stores_nothing(svc, survey):
    version = svc.venues.current_version("demo")
    client = survey.register_device("demo", PHONE)
    now = time.time() - 20
    survey.start("demo", client, 0, 10.0, 10.0, duration_s=5, now=now)
    play_device(svc, svc.venues.get_map("demo"), client, 0, 10.0, 10.0, now, 2)  # the device went quiet
    with pytest.raises(ValueError, match="only 2 scan"):
        survey.finish("demo", client, now=now + 6)
    assert svc.venues.current_version("demo") == version
    assert survey.pending("demo", client) is not None  # the operator can retry the point


def test_bad_survey_input(svc, survey):
    stranger = svc.hasher.client_id(PHONE2)
    with pytest.raises(ValueError, match="not registered"):
        survey.start("demo", stranger, 0, 10, 10)
    client = survey.register_device("demo", PHONE)
    with pytest.raises(ValueError, match="no floor 5"):
        survey.start("demo", client, 5, 10, 10)
    with pytest.raises(ValueError, match="off the plan"):
        survey.start("demo", client, 0, 130, 10)
    with pytest.raises(ValueError, match="off the plan"):
        survey.start("demo", client, 0, float("nan"), 10)
    with pytest.raises(ValueError, match="duration"):
        survey.start("demo", client, 0, 10, 10, duration_s=1)
    with pytest.raises(ValueError, match="numbers"):
        survey.start("demo", client, 0, "left", 10)
    with pytest.raises(ValueError, match="MAC"):
        survey.register_device("demo", "not-a-mac")
    with pytest.raises(ValueError, match="unknown venue"):
        survey.register_device("nowhere", PHONE)
    assert survey.pending("demo", client) is None
    assert survey.remove_device("demo", client) and survey.devices("demo") == {}


def test_two_operators_finishing_together_lose_no_sample(svc, survey):
    """Each finish reads the map, appends and writes a new version: the lock keeps both samples."""
    venue_map = svc.venues.get_map("demo")
    before = len(venue_map.samples)
    now = time.time() - 20
    clients = []
    for k, (mac, x) in enumerate(((PHONE, 20.0), (PHONE2, 60.0))):
        client = survey.register_device("demo", mac)
        survey.start("demo", client, 0, x, 30.0, now=now)
        play_device(svc, venue_map, client, 0, x, 30.0, now, 15, seed=k)
        clients.append(client)
    barrier = threading.Barrier(2)
    errors = []

    def finish(client):
        store = SurveyStore(type(svc.db).from_url(svc.settings.redis_url), svc.venues.__class__(
            type(svc.db).from_url(svc.settings.redis_url)), svc.rssi, svc.hasher)
        barrier.wait()
        try:
            store.finish("demo", client, now=now + 16)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=finish, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    after = svc.venues.get_map("demo")
    assert len(after.samples) == before + 2
    assert {(s.x, s.y) for s in after.samples[-2:]} == {(20.0, 30.0), (60.0, 30.0)}
