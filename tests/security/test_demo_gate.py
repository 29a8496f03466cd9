"""/demo and the radio simulator read and plant any phone's readings: only with DEMO=1 and only on a venue
marked as a demo venue (issue 14)."""

from __future__ import annotations

import pytest

from core.settings import PROJECT_ROOT, Settings
from portal import create_app
from portal.demo import DemoKeys

DEMO_URLS = ("/demo", "/demo?phone=02:00:5e:00:53:01&x=10&y=10&floor=0", "/demo/plan/0.svg")


@pytest.fixture
def production(settings, demo):
    return create_app(settings.with_(demo=False)).test_client()


@pytest.mark.parametrize("url", DEMO_URLS)
def test_demo_is_off_without_demo_mode(production, url):
    assert production.get(url).status_code == 404


def test_simulator_is_off_without_demo_mode(production, svc):
    before = set(svc.db.scan_iter("*rssi*"))
    resp = production.post("/demo/spot", data={"floor": "0", "x": "10", "y": "10", "phone": "02:00:5e:00:53:77"})
    assert resp.status_code == 404
    assert set(svc.db.scan_iter("*rssi*")) == before


def test_demo_needs_a_venue_marked_as_demo(client, svc, demo):
    assert client.get("/demo").status_code == 200
    svc.db.delete(DemoKeys("demo").marker())  # a real venue under the same name
    assert client.get("/demo").status_code == 404
    assert client.post("/demo/spot", data={"floor": "0", "x": "10", "y": "10"}).status_code == 404


def test_demo_mode_is_a_setting_off_by_default():
    shared = {"REDIS_URL": "redis://x", "SECRET_KEY": "k" * 32, "MAC_HASH_KEY": "m" * 32,
              "VAPID_PRIVATE_KEY": "9oThs_7PIsNxf1-CJUHyzgVJlgcNYMt6qFczlzOtA6I", "PHONE_KEY": "p" * 32}
    assert Settings.from_env(shared).demo is False
    assert Settings.from_env({**shared, "DEMO": "1"}).demo
    with pytest.raises(ValueError):
        Settings.from_env({**shared, "DEMO": "maybe"})


def test_make_run_turns_demo_mode_on():
    run = (PROJECT_ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "DEMO=" in run and "portal serve" in run
