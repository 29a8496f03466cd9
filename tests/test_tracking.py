"""The tracker (portal/tracking/tracker.py) and the kept position (portal/tracking/positions.py): phones are positioned
as their readings arrive, once per new set of readings, and counted in footfall without opening
the portal; a store error puts the work back; `python -m portal track --once` does a round by hand."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest
import redis

from core.settings import PROJECT_ROOT
from portal.ingest.store import RssiKeys
from portal.tracking import Tracker
from portal.tracking.models import build_venue_model
from portal.tracking.positions import KeptPosition, TrackKeys
from tests.portal_command import run_portal
from tests.test_slice import post_phone_at

PHONES = ["02:00:5e:00:54:01", "02:00:5e:00:54:02", "02:00:5e:00:54:03"]


def kept_zone(db, client: str, venue: str = "demo") -> str | None:
    """The zone of the client's kept position (None: none kept, or none of its zone)."""
    kept = KeptPosition.decode(db.get(TrackKeys(venue).last_position(client)))
    return kept.position.zone if kept else None


@pytest.fixture
def heard(client, demo, svc, demo_map):
    """Three phones heard in the cinema, the food court and the garage; nobody probed yet."""
    for phone, spot in zip(PHONES, [(1, 20, 30), (1, 65, 30), (0, 20, 30)], strict=True):
        post_phone_at(client, demo, demo_map, *spot, phone=phone)
    return [svc.hasher.client_id(p) for p in PHONES]


def tracker(svc, batch=200, batches_per_step=4) -> Tracker:
    return Tracker(svc.db, svc.venues, svc.locator, batch=batch, batches_per_step=batches_per_step)


def test_ingest_marks_the_phones_it_hears(svc, heard):
    assert {m.decode() for m in svc.db.smembers(RssiKeys("demo").new_readings())} == set(heard)


def test_tracker_positions_each_heard_phone_once(svc, heard):
    t = tracker(svc, batch=2, batches_per_step=1)
    assert t.step("demo") == 2 and t.pending("demo") == 1
    assert t.step("demo") == 1 and t.pending("demo") == 0
    assert t.step("demo") == 0
    for client in heard:
        assert kept_zone(svc.db, client)


def test_a_step_reads_the_next_batch_while_it_positions_a_full_one(svc, heard):
    """After a full batch the next is taken (into the other lane) and read in the reads thread; both lanes are gone
    once the step is done, and every phone is positioned once."""
    t = tracker(svc, batch=2, batches_per_step=2)
    try:
        assert t.step("demo") == 3 and t.pending("demo") == 0
        assert t._reads is not None  # the second batch was read there
        keys = RssiKeys("demo")
        assert not svc.db.exists(keys.being_positioned(), keys.being_positioned(lane=1))
        for client in heard:
            assert kept_zone(svc.db, client)
        assert t.step("demo") == 0
    finally:
        t.close()


def test_a_step_stops_after_its_batches(svc, heard):
    t = tracker(svc, batch=1, batches_per_step=2)  # the venues a tracker serves take turns
    try:
        assert t.step("demo") == 2 and t.pending("demo") == 1
        assert t.step("demo") == 1 and t.pending("demo") == 0
    finally:
        t.close()


def test_a_step_shares_its_batches_between_the_venues_buckets(client, demo, svc, demo_map, monkeypatch):
    """4 batches a step over 4 buckets: one from each (a venue spread over many buckets would otherwise hold its
    tracker far longer a step than one with a single bucket, and the tracker's leases are renewed once a round)."""
    from core import storage

    monkeypatch.setitem(storage._bucket_counts, "demo", 4)
    for i in range(8):
        post_phone_at(client, demo, demo_map, 1, 20 + 5 * i, 30, phone=f"02:00:5e:00:77:{i:02x}")
    keys = RssiKeys("demo")
    waiting = [svc.db.scard(keys.new_readings(b)) for b in keys.buckets()]
    assert sum(waiting) == 8 and max(waiting) > 1
    t = tracker(svc, batch=1, batches_per_step=4)
    assert t.step("demo") == sum(1 for n in waiting if n) and t.pending("demo") > 0
    assert t._reads is None  # one batch a bucket: nothing read ahead
    assert t.drain("demo") + sum(1 for n in waiting if n) == 8


def test_positions_read_ahead_are_the_ones_read_in_turn(client, demo, svc, demo_map):
    """Six phones, a batch of two: read ahead (three batches a step) or one batch at a time, the same motion states
    and kept positions."""
    spots = [(1, 20, 30), (1, 65, 30), (0, 20, 30), (1, 40, 20), (0, 60, 40), (1, 30, 45)]
    phones = [f"02:00:5e:00:66:{i:02x}" for i in range(len(spots))]
    now = time.time()
    for phone, spot in zip(phones, spots, strict=True):
        post_phone_at(client, demo, demo_map, *spot, phone=phone)
    clients = [svc.hasher.client_id(p) for p in phones]
    keys = TrackKeys("demo")

    def positioned(batches_per_step: int) -> list:
        svc.db.sadd(RssiKeys("demo").new_readings(), *clients)
        svc.db.delete(*keys.tracks(clients), *keys.last_positions(clients))
        t = tracker(svc, batch=2, batches_per_step=batches_per_step)
        try:
            assert t.drain("demo", now) == len(clients)
        finally:
            t.close()
        return [(svc.db.get(track), svc.db.get(kept))
                for track, kept in zip(keys.tracks(clients), keys.last_positions(clients), strict=True)]

    in_turn = positioned(1)
    assert all(track and kept for track, kept in in_turn)
    assert positioned(3) == in_turn


def test_a_batch_is_positioned_with_the_model_it_was_prepared_with(svc, heard):
    """A batch is read and prepared (its vectors made over the model's APs) ahead, in the reads thread; a model
    swapped in meanwhile (a new map version, APs masked as silent) positions the batches read after it, not that one:
    its vectors have the first model's columns."""
    batch = svc.locator.read_many("demo", heard)
    model = svc.models.get("demo")
    assert batch.model is model and len(batch.prepared) == len(heard)
    fewer = build_venue_model(model.venue, masked=frozenset(model.ap_ids[:3]))
    svc.models.install("demo", fewer)
    done, writes = svc.locator.position_batch(batch)
    writes.execute()
    assert done == len(heard)
    for client in heard:
        assert kept_zone(svc.db, client)
    assert svc.locator.read_many("demo", heard).model is fewer


def test_tracked_phones_count_in_footfall_without_opening_the_portal(svc, heard):
    tracker(svc).drain("demo")
    assert svc.footfall.report("demo", svc.footfall.today("demo")).visitors == len(heard)


def test_kept_position_is_reused_until_a_newer_reading(client, demo, svc, demo_map, heard):
    client_id = heard[0]
    first = svc.locator.locate("demo", client_id)
    state = svc.db.get(TrackKeys("demo").track(client_id))
    assert svc.locator.locate("demo", client_id) == first
    assert svc.db.get(TrackKeys("demo").track(client_id)) == state  # the smoother did not step again
    post_phone_at(client, demo, demo_map, 1, 20, 30, phone=PHONES[0])
    svc.locator.locate("demo", client_id)
    assert svc.db.get(TrackKeys("demo").track(client_id)) != state


def test_position_cache_zero_positions_every_time(svc, heard, monkeypatch):
    monkeypatch.setattr(svc.locator, "cache_s", 0)
    svc.locator.locate("demo", heard[0])
    state = svc.db.get(TrackKeys("demo").track(heard[0]))
    svc.locator.locate("demo", heard[0])
    assert svc.db.get(TrackKeys("demo").track(heard[0])) != state
    assert not svc.db.exists(TrackKeys("demo").last_position(heard[0]))


def test_store_error_puts_the_phones_back(svc, heard, monkeypatch):
    def store_down(*args, **kwargs):
        raise redis.ConnectionError("store went away")

    for step in ("read_many", "position_batch"):  # the batch's reads fail, or positioning it
        with monkeypatch.context() as patched:
            patched.setattr(svc.locator, step, store_down)
            with pytest.raises(redis.ConnectionError):
                tracker(svc).step("demo")
        assert tracker(svc).pending("demo") == len(heard)
        assert not svc.db.exists(RssiKeys("demo").being_positioned())


def test_store_error_puts_the_batch_read_ahead_back_too(svc, heard, monkeypatch):
    """The first batch fails (positioning it; or its writes, sent in the reads thread
    while the next batch is positioned, the store back after them) while the next one is read: the step raises, both
    go back to the marked phones, and no lane is left."""
    def store_down(*args, **kwargs):
        raise redis.ConnectionError("store went away")

    first_pipeline = svc.locator._pipeline

    def first_writes_fail():  # the store's client of either kind (PackedPipeline, a cluster's pipeline)
        patched.setattr(svc.locator, "_pipeline", first_pipeline)  # once
        pipe = first_pipeline()
        pipe.execute = store_down
        return pipe

    keys = RssiKeys("demo")
    for owner, step, fault in ((svc.locator, "position_batch", store_down), (svc.locator, "_pipeline",
                                                                              first_writes_fail)):
        t = tracker(svc, batch=2, batches_per_step=2)
        with monkeypatch.context() as patched:
            patched.setattr(owner, step, fault)
            try:
                with pytest.raises(redis.ConnectionError):
                    t.step("demo")
            finally:
                t.close()
        assert t.pending("demo") == len(heard)  # the second batch's writes wait for the first's: not made
        assert not svc.db.exists(keys.being_positioned(), keys.being_positioned(lane=1))
        tracker(svc).drain("demo")
        svc.db.sadd(keys.new_readings(), *heard)
    assert tracker(svc).drain("demo") == len(heard)  # and all of them are positioned once the store is back


def test_a_failure_other_than_the_stores_in_the_reads_thread_loses_no_phone(svc, heard, monkeypatch):
    """The batch read ahead fails on something other than the store (a bug, a model that cannot be built): the step
    raises it once the batch before is positioned and written, and that batch's phones, left in their lane, are
    put back by the next step's take and positioned then."""
    reads = []
    read_many = svc.locator.read_many

    def second_read_fails(*args, **kwargs):
        reads.append(threading.current_thread().name)
        if len(reads) == 2:
            raise RuntimeError("not the store")
        return read_many(*args, **kwargs)

    keys = RssiKeys("demo")
    t = tracker(svc, batch=2, batches_per_step=2)
    with monkeypatch.context() as patched:
        patched.setattr(svc.locator, "read_many", second_read_fails)
        try:
            with pytest.raises(RuntimeError, match="not the store"):
                t.step("demo")
        finally:
            t.close()
    assert reads[1].startswith("tracker-reads")  # it failed in the reads thread
    positioned = [client for client in heard if kept_zone(svc.db, client)]
    assert len(positioned) == 2 and not svc.db.exists(keys.being_positioned())  # the first batch, written
    assert svc.db.scard(keys.being_positioned(lane=1)) == 1  # the other waits in its lane
    assert tracker(svc).drain("demo") == 1
    assert all(kept_zone(svc.db, client) for client in heard)
    assert not svc.db.exists(keys.being_positioned(), keys.being_positioned(lane=1))


def test_a_failed_step_waits_for_the_batch_befores_writes(svc, heard, monkeypatch):
    """The second batch's positioning fails while the first batch's writes are still being sent in the reads thread:
    the step raises only once they are done (`Tracker._abandon`), so nothing of this step runs beside the next step's
    takes; the failed batch waits in its lane for the next take. Two batches a step: no third is read ahead, whose
    read (queued behind the writes in the reads thread) would be waited for anyway."""
    writes_started, release = threading.Event(), threading.Event()
    written: list[bool] = []
    make_pipeline, position_batch = svc.locator._pipeline, svc.locator.position_batch
    positioned: list[int] = []

    def held_pipeline():  # the first batch's writes wait until the test lets them go
        pipe = make_pipeline()
        execute = pipe.execute

        def held_execute(*args, **kwargs):
            writes_started.set()
            assert release.wait(60)
            result = execute(*args, **kwargs)
            written.append(True)
            return result

        pipe.execute = held_execute
        return pipe

    def second_batch_fails(batch):
        positioned.append(len(batch.clients))
        if len(positioned) == 2:
            raise RuntimeError("not the store")
        return position_batch(batch)

    monkeypatch.setattr(svc.locator, "_pipeline", held_pipeline)
    monkeypatch.setattr(svc.locator, "position_batch", second_batch_fails)
    t = tracker(svc, batch=1, batches_per_step=2)
    raised: list[tuple[BaseException, list[bool]]] = []

    def step() -> None:
        try:
            t.step("demo")
        except RuntimeError as exc:
            raised.append((exc, list(written)))  # what was written when the step gave up

    stepping = threading.Thread(target=step)
    stepping.start()
    try:
        assert writes_started.wait(60)
        stepping.join(0.5)  # with the writes held the step must not return, however fast the machine
        assert stepping.is_alive() and not raised
    finally:
        release.set()
        stepping.join(60)
        t.close()
    assert len(raised) == 1 and raised[0][1] == [True]  # it gave up after the first batch's writes
    keys = RssiKeys("demo")
    assert sum(1 for client in heard if kept_zone(svc.db, client)) == 1
    assert t.pending("demo") == 1 and svc.db.scard(keys.being_positioned(lane=1)) == 1  # not taken; failed: its lane
    monkeypatch.undo()
    assert tracker(svc).drain("demo") == 2 and all(kept_zone(svc.db, client) for client in heard)


def test_a_batch_lane_goes_only_after_its_writes(svc):
    """A take may have a phone again once its batch's lane is gone: by then its motion state must be written."""
    keys = RssiKeys("demo")
    lane = keys.being_positioned()
    svc.db.sadd(lane, "phone")
    lane_during_writes = []

    class Writes:
        def execute(self):
            lane_during_writes.append(svc.db.exists(lane))

    tracker(svc)._write(Writes(), keys.new_readings(), lane, ["phone"])
    assert lane_during_writes == [1] and not svc.db.exists(lane)

def test_one_phones_failure_does_not_stop_the_others(svc, heard, caplog):
    # A reading no parser can read (written around the ingest path) fails that phone alone.
    svc.db.zadd(RssiKeys("demo").readings(heard[1]), {b"ap|not-a-number|" + str(time.time()).encode(): time.time()})
    assert tracker(svc).drain("demo") == len(heard)
    assert "positioning a client of venue demo failed" in caplog.text
    assert svc.db.exists(TrackKeys("demo").last_position(heard[0]))
    assert svc.db.exists(TrackKeys("demo").last_position(heard[2]))


def test_tracker_runs_until_stopped(svc, heard):
    import threading

    stop = threading.Event()
    thread = threading.Thread(target=tracker(svc).run, args=(stop,), kwargs={"idle_s": 0.05}, daemon=True)
    thread.start()
    # Until every phone heard has its position kept: the readings leave `pending` when a round takes them, before
    # it has positioned them (and a first round may compile numba's kernels), so waiting for `pending` alone left
    # the round's end to the join below.
    # Each phone counted once its position is seen: a kept position lapses (POSITION_CACHE_S), so waiting to see all of
    # them at one moment would be a hidden deadline of its own.
    deadline, positioned = time.monotonic() + 120, set()
    while positioned != set(heard):
        assert thread.is_alive(), "the tracker stopped by itself"
        assert time.monotonic() < deadline, "the running tracker never positioned the phones heard"
        positioned |= {client for client in heard if svc.db.exists(TrackKeys("demo").last_position(client))}
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=60)  # one idle wait (0.05 s) or the end of a round: generous for a busy machine
    assert not thread.is_alive() and tracker(svc).pending("demo") == 0


def test_track_once_cli(settings, svc, heard):
    done = run_portal(settings, "track", "--once")
    assert done.returncode == 0, done.stderr
    assert "demo: positioning 3 phones with new readings" in done.stdout and "demo: 3 positioned" in done.stdout
    assert tracker(svc).pending("demo") == 0


def test_track_once_cli_finds_the_running_make_run_store(settings, svc, heard, tmp_path):
    """README: `python -m portal track --once` beside `make run`, in a shell without REDIS_URL: the tracker
    takes the store `serve` wrote down (DATA_DIR/valkey/running.url), as `python -m portal flask` does."""
    (tmp_path / "valkey").mkdir()
    (tmp_path / "valkey" / "running.url").write_text(settings.redis_url)  # what `serve` writes
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {
        "DATA_DIR": str(tmp_path), "SECRET_KEY": settings.secret_key, "MAC_HASH_KEY": settings.mac_hash_key}
    done = subprocess.run([sys.executable, "-m", "portal", "track", "--once"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "demo: 3 positioned" in done.stdout
    assert tracker(svc).pending("demo") == 0


def test_track_cli_needs_a_store(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"} | {"DATA_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "portal", "track"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "REDIS_URL is not set" in done.stderr


def test_positions_written_by_tracker_are_what_locate_returns(svc, heard):
    tracker(svc).drain("demo")
    kept = KeptPosition.decode(svc.db.get(TrackKeys("demo").last_position(heard[0])))
    assert kept.position == svc.locator.locate("demo", heard[0])


def test_gunicorn_workers_fit_the_models_before_taking_requests(app, svc, demo):
    """gunicorn.conf.py's post_worker_init hook, called as gunicorn calls it (with the worker, whose
    `wsgi` is the loaded app)."""
    import importlib.util
    from types import SimpleNamespace

    spec = importlib.util.spec_from_file_location("gunicorn_conf", PROJECT_ROOT / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    assert "demo" not in svc.models._models
    conf.post_worker_init(SimpleNamespace(wsgi=app))  # in the background (tests/faults/test_worker_start.py)
    for thread in threading.enumerate():
        if thread.name == "model-warm-up":
            thread.join(timeout=120)
    assert svc.models._models["demo"][1].version == svc.venues.current_version("demo")
    conf.post_worker_init(SimpleNamespace(wsgi=object()))  # another app (the bench's bare one): nothing to do


def test_a_phone_heard_only_by_an_ap_placed_after_the_survey_does_not_stop_the_batch(svc, heard):
    """An AP on the map that no fingerprint hears (installed after the survey) is a column nothing matches: a
    phone heard by it alone is placed as one heard by none, and the others of its batch are positioned."""
    from fingerprints.model import AccessPoint
    from portal.ingest.observation import Observation

    new_ap = "0c:8d:db:ff:ff:01"
    with svc.venues.edit("demo", "ap.place") as m:
        m.aps.append(AccessPoint(new_ap, 1, 40.0, 30.0))
    lone = svc.hasher.client_id("02:00:5e:00:54:09")
    now = time.time()
    svc.rssi.write("demo", [Observation(lone, new_ap, -50.0, now - 1), Observation(lone, new_ap, -52.0, now)], now)
    assert tracker(svc).drain("demo") == len(heard) + 1
    for client in heard:
        assert kept_zone(svc.db, client)
    assert not svc.db.exists(TrackKeys("demo").last_position(lone))
