"""The quality page's live estimate through the real server (gunicorn, gthread workers) in a real Chromium: a
new map version's estimate is computed in a child process of the worker (portal/operator/live_jobs.py,
in_a_process) and its figures reach the page. The live server waits up to QUALITY_WAIT_S=600 for it."""

from __future__ import annotations

import pytest

from fingerprints.store import VenueStore
from portal.operator.live_jobs import EstimateKeys
from tests.browsers import console_sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def new_version(live_server):
    """The demo map stored again as a new version (so no worker has its estimate yet), rolled back after."""
    store = VenueStore(live_server.db())
    original = store.current_version("demo")
    version = store.put_map(store.get_map("demo"))
    yield version
    store.set_current("demo", original)


def test_the_live_estimate_is_computed_apart_and_shown(live_server, page, new_version):
    console_sign_in(page, live_server.url, "ops")
    page.goto(live_server.url + "/console/ops/demo/quality?floor=all", timeout=600_000)
    figures = page.locator("#live-figures")
    figures.wait_for(timeout=600_000)
    assert page.locator("#live-failed").count() == 0 and page.locator("#live-error").count() == 0
    assert "%" in figures.inner_text()
    assert live_server.db().exists(EstimateKeys("demo").result(new_version))
