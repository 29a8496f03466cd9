"""The parking store on the local cluster: each of its store methods (Lua scripts, transactions) once,
and the races that prove counts and the rate limit atomic (tests.cluster.store_paths says why not every
test)."""

import time

from lightapps.parking.store import Event, FindResult
from tests.cluster.store_paths import rerun

rerun(globals(), "lightapps.parking.tests.test_parking_store",
      "test_counts_never_drift_under_200_threads",
      "test_exact_lookup_gives_the_bay", "test_occupancy_counts_follow_events",
      "test_no_plate_text_outside_the_plate_hash", "test_an_exit_left_owed_becomes_a_debt_until_paid")


def test_result_pages_and_the_lookup_log(store):  # noqa: F811 (the `store` fixture brought in by rerun)
    result_id = store.save_result("demo", "shopper-1", "garage", FindResult("none", []))
    assert store.load_result("demo", "shopper-1", result_id)[0] == "garage"
    assert store.load_result("demo", "shopper-2", result_id) is None
    assert store.last_result_id("demo", "shopper-1") == result_id
    store.verify_result("demo", result_id)
    assert store.load_result("demo", "shopper-1", result_id)[1].verified
    store.log_lookup("demo", "garage", "shopper-1", "ab" * 16, "exact", 0)
    assert [entry["kind"] for entry in store.lookups("demo")] == ["exact"]


def test_shopper_export_and_erasure(store):  # noqa: F811 (the `store` fixture brought in by rerun)
    store.log_lookup("demo", "garage", "shopper-9", "cd" * 16, "none", 0)
    store.save_result("demo", "shopper-9", "garage", FindResult("none", []))
    assert store.export_shopper("demo", "shopper-9")["lookups"][0]["kind"] == "none"
    assert store.forget_shopper("demo", "shopper-9") >= 2
    assert store.export_shopper("demo", "shopper-9") == {}


def test_a_stay_paid_then_an_exit_settled_once(store):  # noqa: F811 (the `store` fixture brought in by rerun)
    """The fee's store methods (stay, credit, exit, settlement: one Lua script each on the venue's slot)."""
    digest, entered = "ef" * 16, time.time() - 3600
    store.apply_events("demo", [Event("entry", int(entered * 1000), plate_hash=digest)])
    stay = store.stay("demo", digest)
    assert stay is not None and stay.status == "in"
    paid_until = int((time.time() + 900) * 1000)
    assert store.credit("demo", digest, stay.entry_ms, "MP0001", 1000, paid_until) == "ok"
    assert store.credit("demo", digest, stay.entry_ms, "MP0001", 1000, paid_until) == "dup"
    store.apply_events("demo", [Event("exit", int(time.time() * 1000), plate_hash=digest)])
    exited = store.stay("demo", digest)
    assert exited.status == "exited"
    assert store.settle_exit("demo", exited, "owed", 2000) is True
    assert store.settle_exit("demo", exited, "owed", 2000) is False  # decided once
    assert [stay_id for stay_id, _ in store.owed("demo")] == [exited.id]
    session = store.save_fee_session("demo", "shopper-1", "garage", digest, stay.entry_ms)
    store.verify_fee_session("demo", session)
    assert store.load_fee_session("demo", "shopper-1", session)["verified"] is True
    assert store.load_fee_session("demo", "shopper-2", session) is None
    store.set_autopay("demo", digest, "shopper-1")
    assert store.autopay_client("demo", digest) == "shopper-1"
