"""The order `make test` hands test files to its xdist workers (three on the two cores, `-n 3`): the most
expensive first.

`pytest -n 3 --dist loadfile` gives each worker whole files, one at a time as it runs out. By default
xdist orders the files by their number of tests, so a file with one long test (the `make run` restart, the
landing bench, a whole browser walk) came last, and one worker ran it alone while the other sat idle: in a
measured run (2026-11-30) one worker finished 20% of the run before the other. Handing out the longest
files first (longest-processing-time-first scheduling) leaves only short files for the end, so the workers
finish within about one short file of each other. `make test` passes `--no-loadscope-reorder` so that xdist
keeps this order.

Costs are estimates, used only to order files (never to time or fail anything): the files below were
measured (the sum of their tests' setup + call + teardown, in seconds, from `--junitxml` of one `-n 3` run of the
whole suite on the shared 2-core machine, 2026-12-07 17:36-17:47 UTC, a slow spell: every file of 8 s or more; the
table of 2026-12-05 had left out files grown since, such as the command-line tests, 44 s, estimated at 5); any
other file is estimated from its number of tests, a browser test costing about as much as twelve plain ones (the
2026-12-05 run's averages). A stale or missing entry only makes the end of a run less even, never a test fail.
Re-measure with `--junitxml` and update the table when a file's cost changes a lot."""

from __future__ import annotations

from collections.abc import Iterable

PLAIN_TEST_COST = 0.25
BROWSER_TEST_COST = 3.0

MEASURED_COST = {
    "tests/security/test_route_fuzz.py": 123,
    "tests/test_page_round_trips.py": 12,  # new on 2026-12-07: 9-12 s alone (its three roles' walks)
    "tests/sim/test_landing_smoke.py": 54,
    "tests/test_portal_command_line.py": 44,
    "tests/positioning_tests/test_batch_offsets_tuning.py": 36,
    "tests/test_serve.py": 34,
    "tests/owner/test_owner_media.py": 33,
    "tests/hub/test_hub_browser.py": 33,
    "tests/maps/test_maps_cli.py": 31,
    "tests/sim/test_quality_live.py": 30,
    "tests/operator/test_live_jobs.py": 30,
    "tests/operator/test_operator_setup.py": 28,
    "tests/test_deploy_units.py": 25,
    "tests/a11y/test_console_phone.py": 23,
    "tests/operator/test_operator_open_mall_browser.py": 23,
    "tests/maps/test_maps_quality.py": 23,
    "tests/a11y/test_phone_browser.py": 19,
    "tests/faults/test_faults_gunicorn.py": 18,
    "tests/cluster/test_cluster_port_race.py": 18,
    "tests/operator/test_operator_browser.py": 18,
    "tests/positioning_tests/test_bench_positioning.py": 17,
    "tests/ingest/test_ingest_bad_input.py": 17,
    "tests/payments/test_store_stalls.py": 17,
    "tests/cluster/test_cluster_hung_shard_views.py": 16,
    "tests/faults/test_faults_fixed_endpoint_failover.py": 16,
    "tests/positioning_tests/test_batch_readings.py": 16,
    "tests/positioning_tests/test_blend.py": 15,
    "tests/operator/test_quality_live_browser.py": 15,
    "tests/tracking/test_footfall_matches_insights.py": 15,
    "tests/cluster/test_cluster_failover.py": 15,
    "tests/ingest/test_ingest_properties.py": 14,
    "tests/cluster/test_cluster_replica_confirm.py": 14,
    "tests/tracking/test_bench_tracking.py": 14,
    "tests/test_tracking.py": 14,
    "tests/test_cli_no_demo_seed.py": 14,
    "lightapps/queue/tests/test_queue_browser.py": 13,
    "tests/operator/test_operator_versions.py": 13,
    "tests/operator/test_operator_validation.py": 12,
    "tests/sim/test_landing_replay.py": 12,
    "tests/captive/test_deploy.py": 12,
    "tests/operator/test_quality_review.py": 12,
    "lightapps/coupons/tests/test_coupons_browser.py": 11,
    "tests/cluster/test_cluster_startup.py": 11,
    "tests/a11y/test_first_screen.py": 11,
    "tests/owner/test_owner_i18n.py": 10,
    "tests/maps/test_checklist_language.py": 10,
    "tests/positioning_tests/test_vectors_datasets_cli.py": 10,
    "tests/test_deploy_reload.py": 10,
    "tests/captive/test_other_gateways.py": 9,
    "tests/owner/test_owner_pwa.py": 9,
    "tests/owner/test_owner_browser.py": 9,
    "tests/payments/test_cinema_pay_browser.py": 8,
    "tests/captive/test_captive_sessions_capport.py": 8,
    "lightapps/cinema/tests/test_cinema_browser.py": 8,
    "tests/operator/test_zone_release_paths.py": 8,
    "tests/cluster/test_cluster_breaker_per_venue.py": 8,
}


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def estimated_costs(items: Iterable) -> dict[str, float]:
    """File -> estimated cost: measured where known, else from its tests (browser tests count more)."""
    estimates: dict[str, float] = {}
    for item in items:
        path = file_of(item.nodeid)
        cost = BROWSER_TEST_COST if item.get_closest_marker("browser") else PLAIN_TEST_COST
        estimates[path] = estimates.get(path, 0.0) + cost
    return {path: float(MEASURED_COST.get(path, estimate)) for path, estimate in estimates.items()}


def longest_files_first(items: list) -> None:
    """Reorder `items` in place: whole files, most expensive first, each file's tests together and in
    their order (a stable sort); files of equal cost keep their collection order."""
    costs = estimated_costs(items)
    first_seen: dict[str, int] = {}
    for position, item in enumerate(items):
        first_seen.setdefault(file_of(item.nodeid), position)
    items.sort(key=lambda item: (-costs[file_of(item.nodeid)], first_seen[file_of(item.nodeid)]))
