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
measured (the sum of their tests' setup + call + teardown, in seconds, from `--junitxml` of one run of the whole
suite on the shared 2-core machine, 2026-12-05 at load ~3.5-4: every file of 8 s or more); any other file is
estimated from its number of tests, a browser test costing about as much as twelve plain ones (the same run's
averages). A stale or missing entry only makes the end of a run less even, never a test fail. Re-measure with
`--junitxml` and update the table when a file's cost changes a lot."""

from __future__ import annotations

from collections.abc import Iterable

PLAIN_TEST_COST = 0.25
BROWSER_TEST_COST = 3.0

MEASURED_COST = {
    "tests/security/test_route_fuzz.py": 76,
    "tests/sim/test_landing_smoke.py": 33,
    "tests/operator/test_operator_open_mall_browser.py": 26,
    "tests/test_serve.py": 24,
    "tests/tracking/test_bench_tracking.py": 24,
    "tests/operator/test_live_jobs.py": 23,
    "tests/maps/test_maps_cli.py": 23,
    "tests/faults/test_faults_gunicorn.py": 22,
    "tests/events/test_insights_shown.py": 22,
    "tests/hub/test_hub_browser.py": 20,
    "tests/payments/test_store_stalls.py": 19,
    "tests/operator/test_operator_versions.py": 17,
    "tests/cluster/test_cluster_port_race.py": 14,
    "tests/a11y/test_phone_browser.py": 14,
    "tests/test_cli_no_demo_seed.py": 13,
    "tests/operator/test_operator_setup.py": 13,
    "tests/operator/test_operator_browser.py": 12,
    "tests/test_deploy_units.py": 12,
    "tests/owner/test_owner_pwa.py": 11,
    "tests/test_tracking.py": 11,
    "tests/maps/test_maps_quality.py": 10,
    "lightapps/queue/tests/test_queue_browser.py": 10,
    "tests/sim/test_quality_live.py": 10,
    "tests/cluster/test_cluster_failover.py": 10,
    "tests/a11y/test_first_screen.py": 10,
    "tests/test_architecture.py": 3,
    "tests/owner/test_owner_media.py": 9,
    "tests/maps/test_maps_setup_drafts.py": 9,
    "tests/positioning_tests/test_batch_offsets_tuning.py": 9,
    "tests/operator/test_operator_errors_i18n.py": 8,
    "tests/cluster/test_cluster_startup.py": 8,
    "tests/owner/test_owner_i18n.py": 8,
    "tests/ingest/test_ingest_bad_input.py": 8,
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
