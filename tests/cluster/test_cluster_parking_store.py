"""The parking store on the local cluster: each of its store methods (Lua scripts, transactions) once,
and the races that prove counts and the rate limit atomic (tests.cluster.store_paths says why not every
test)."""

from lightapps.parking.store import FindResult
from tests.cluster.store_paths import rerun

rerun(globals(), "lightapps.parking.tests.test_parking_store",
      "test_counts_never_drift_under_200_threads",
      "test_exact_lookup_gives_the_bay", "test_occupancy_counts_follow_events",
      "test_no_plate_text_outside_the_plate_hash")


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
