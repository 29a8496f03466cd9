"""UniFi's external portal names the controller's site in its path (/guest/s/<site>/); the grant uses the venue's
`unifi_site`: a mismatch is warned about once per (venue, site) pair per process, with nothing about the phone."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest

from portal.captive import views
from portal.captive.unifi import SiteMismatches
from tests.captive.test_captive_gateways import configure

PHONE, AP = "70:8a:09:65:4d:ec", "44:d9:e7:0a:80:43"


@pytest.fixture
def warned(monkeypatch) -> SiteMismatches:
    """A process's record of its own, fresh for each test."""
    sites = SiteMismatches()
    monkeypatch.setattr(views, "UNIFI_SITES", sites)
    return sites


def land(client, site: str, **params) -> None:
    query = {"ap": AP, "id": PHONE, "t": int(time.time()), "url": "http://example.org/", "ssid": "Mall Guest",
             **params}
    resp = client.get(f"/guest/s/{site}/?" + urlencode(query), environ_base={"REMOTE_ADDR": "192.168.1.23"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]


def mismatches(caplog) -> list:
    return [r for r in caplog.records if "names site" in r.getMessage()]


def test_a_site_mismatch_is_warned_about_once_per_venue_and_site(client, demo, warned, caplog):
    caplog.set_level("INFO")
    configure(client, unifi_site="mall1")
    land(client, "default")
    land(client, "default")  # the same pair again: not again
    land(client, "mall1")  # the venue's own: nothing
    land(client, "lobby2")
    records = mismatches(caplog)
    assert [r.levelname for r in records] == ["WARNING", "WARNING"]
    assert "'default'" in records[0].getMessage() and "'mall1'" in records[0].getMessage()
    assert "'lobby2'" in records[1].getMessage() and "demo" in records[1].getMessage()
    assert PHONE not in caplog.text.lower() and AP not in caplog.text.lower() and "192.168.1.23" not in caplog.text


def test_the_default_site_matches_the_default_setting(client, demo, warned, caplog):
    caplog.set_level("INFO")
    land(client, "default")
    assert mismatches(caplog) == []


def test_only_a_unifi_redirect_is_checked(client, demo, warned, caplog):
    """Another gateway's parameters on that path (no `id`/`ap`/`t`): no UniFi site to compare."""
    caplog.set_level("INFO")
    resp = client.get("/guest/s/elsewhere/?" + urlencode({"client_mac": PHONE}))
    assert resp.status_code == 302 and mismatches(caplog) == []


def test_a_made_up_site_is_quoted_and_the_warnings_stop_at_the_limit(caplog):
    """The path is anyone's to write: its site is quoted (no line breaks into the log), cut short, and a flood of
    made-up sites warns about MAX_SITE_WARNINGS pairs at most, then says it stops."""
    caplog.set_level("INFO")
    sites = SiteMismatches(limit=3)
    sites.note("demo", "evil\nFAKE LINE" + "x" * 100, "default")
    for n in range(5):
        sites.note("demo", f"site{n}", "default")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4 and "\n" not in lines[0] and "x" * 65 not in lines[0]
    assert "no more until the process restarts" in lines[-1]
