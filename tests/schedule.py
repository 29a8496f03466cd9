"""The order `make test` hands test files to its two xdist workers: the most expensive first.

`pytest -n 2 --dist loadfile` gives each worker whole files, one at a time as it runs out. By default
xdist orders the files by their number of tests, so a file with one long test (the `make run` restart, the
landing bench, a whole browser walk) came last, and one worker ran it alone while the other sat idle: in a
measured run (2026-11-30) one worker finished 20% of the run before the other. Handing out the longest
files first (longest-processing-time-first scheduling) leaves only short files for the end, so both workers
finish within about one short file of each other. `make test` passes `--no-loadscope-reorder` so that xdist
keeps this order.

Costs are estimates, used only to order files (never to time or fail anything): the files below were
measured (the sum of their tests' setup + call + teardown, in seconds, in one run of the whole suite on the
shared 2-core machine at load ~12, so about three times the idle figures); any other file is estimated from
its number of tests, a browser test costing about as much as twelve plain ones. A stale or missing entry
only makes the end of a run less even, never a test fail. Re-measure with `--durations=0` and update the
table when a file's cost changes a lot."""

from __future__ import annotations

from collections.abc import Iterable

PLAIN_TEST_COST = 1.3
BROWSER_TEST_COST = 16.0

MEASURED_COST = {
    "tests/maps/test_maps_setup_drafts.py": 197,
    "tests/faults/test_faults_gunicorn.py": 167,
    "tests/test_serve.py": 161,
    "tests/sim/test_landing_smoke.py": 120,
    "tests/operator/test_operator_open_mall_browser.py": 112,
    "tests/security/test_xss_browser.py": 88,
    "tests/security/test_route_fuzz.py": 130,  # 47 s on an idle machine (2026-12-01), scaled as the rest
    "tests/maps/test_maps_cli.py": 73,
    "tests/test_cli_no_demo_seed.py": 50,
    "tests/operator/test_operator_versions.py": 71,
    "tests/a11y/test_phone_browser.py": 62,
    "tests/cluster/test_cluster_two_hosts.py": 54,
    "tests/hub/test_pages.py": 51,
    "tests/sim/test_quality_live.py": 51,
    "tests/operator/test_operator_browser.py": 48,
    "tests/test_tracking.py": 47,
    "tests/test_architecture.py": 45,
    "tests/maps/test_maps_quality.py": 45,
    "tests/ingest/test_ingest_properties.py": 44,
    "tests/captive/test_deploy.py": 37,
    "tests/sim/test_mallgen.py": 16,
    "tests/cluster/test_cluster_failover.py": 16,
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
