"""UniFi's external portal names the controller's site in its path (/guest/s/<site>/); the grant uses the venue's
`unifi_site`: a venue's mismatches are warned about at the first and then every 10 minutes at most, naming the
sites most named (made-up paths can neither flood the log nor hide the real site), with nothing about the phone."""

from __future__ import annotations

import time
from urllib.parse import urlencode, urlparse

import pytest

from portal.captive import views
from portal.captive.unifi import SiteMismatches
from tests.captive.test_captive_gateways import configure

PHONE, AP = "70:8a:09:65:4d:ec", "44:d9:e7:0a:80:43"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def warned(monkeypatch, clock) -> SiteMismatches:
    """A process's record of its own, fresh for each test, on a clock the test moves."""
    sites = SiteMismatches(clock=clock)
    monkeypatch.setattr(views, "UNIFI_SITES", sites)
    return sites


def land(client, site: str, **params) -> None:
    query = {"ap": AP, "id": PHONE, "t": int(time.time()), "url": "http://example.org/", "ssid": "Mall Guest",
             **params}
    resp = client.get(f"/guest/s/{site}/?" + urlencode(query), environ_base={"REMOTE_ADDR": "192.168.1.23"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]


def mismatches(caplog) -> list:
    return [r for r in caplog.records if "name sites in their path" in r.getMessage()]


def test_a_venues_site_mismatches_are_warned_about_at_once_then_every_ten_minutes(client, demo, warned, clock,
                                                                                   caplog):
    caplog.set_level("INFO")
    configure(client, unifi_site="mall1")
    land(client, "default")  # the first: at once
    land(client, "default")
    land(client, "mall1")  # the venue's own: nothing, and not counted
    land(client, "lobby2")
    assert len(mismatches(caplog)) == 1
    clock.now += 600
    land(client, "default")  # ten minutes on: the sites named since the last line, most named first
    records = mismatches(caplog)
    assert [r.levelname for r in records] == ["WARNING", "WARNING"]
    assert "'default' x1" in records[0].getMessage() and "'mall1'" in records[0].getMessage()
    assert "'default' x2, 'lobby2' x1" in records[1].getMessage() and "demo" in records[1].getMessage()
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


def test_made_up_sites_neither_flood_the_log_nor_hide_the_real_one(caplog):
    """The path is anyone's to write: its site is quoted (no line breaks into the log) and cut short; a flood of
    made-up sites gives one line per ten minutes, and the site the venue's own redirects name (one in a few of the
    mismatching redirects) is still the one the next line names first."""
    caplog.set_level("INFO")
    clock = Clock()
    sites = SiteMismatches(clock=clock)
    sites.note("demo", "evil\nFAKE LINE" + "x" * 100, "default")
    for n in range(3000):  # made-up sites, each once, with the real site every fourth redirect
        sites.note("demo", f"made-up-{n}", "default")
        if n % 4 == 0:
            sites.note("demo", "mall1", "default")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "\n" not in lines[0] and "x" * 65 not in lines[0]
    clock.now += 600
    sites.note("demo", "mall1", "default")
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and ": 'mall1' x" in lines[1]
    assert all(len(counts) <= 16 for counts in sites._counts.values())


# ---- the path's site names the venue (a controller's external portal setting takes an address only) ---------


def test_a_unifi_redirect_lands_in_the_venue_whose_site_its_path_names(client, svc, demo_map, demo):
    """Two malls on one portal, each its own UniFi site: the controller builds /guest/s/<site>/?… itself (no
    `?venue=` can be added), so the site is what tells the malls apart."""
    from portal.captive.views import captive_services

    other = demo_map.copy()
    other.id = "mallb"
    svc.venues.put_map(other)
    with client.application.app_context():
        captive_services().config.set("mallb", {"unifi_site": "mallb"})
    query = urlencode({"ap": AP, "id": PHONE, "t": int(time.time()), "url": "http://example.org/"})
    to_b = client.get(f"/guest/s/mallb/?{query}", environ_base={"REMOTE_ADDR": "192.168.1.23"})
    assert to_b.status_code == 302 and urlparse(to_b.headers["Location"]).path == "/v/mallb/"
    to_demo = client.get(f"/guest/s/default/?{query}", environ_base={"REMOTE_ADDR": "192.168.1.23"})
    assert urlparse(to_demo.headers["Location"]).path == "/v/demo/"
    named = client.get(f"/guest/s/mallb/?{query}&venue=demo", environ_base={"REMOTE_ADDR": "192.168.1.23"})
    assert urlparse(named.headers["Location"]).path == "/v/demo/"  # a `venue` the URL names wins


def test_a_site_two_venues_name_or_none_names_no_venue_and_a_failed_read_keeps_the_last_answer(clock):
    from portal.captive.unifi import SiteVenues

    sites = {"a": "north", "b": "south", "c": "south", "d": ""}  # d sets none: it names no site, not "default"
    fail = []

    def site_of(venue: str) -> str:
        if fail:
            raise ConnectionError("store down")
        return sites[venue]

    venues = SiteVenues(lambda: sorted(sites), site_of, every_s=60, clock=clock)
    assert venues.venue_for("north") == "a"
    assert venues.venue_for("south") is None and venues.venue_for("nowhere") is None  # two venues, none
    assert venues.venue_for("") is None
    sites["a"] = "east"
    assert venues.venue_for("north") == "a"  # read again only after every_s
    clock.now += 60
    assert venues.venue_for("east") == "a" and venues.venue_for("north") is None
    fail.append(True)
    clock.now += 60
    assert venues.venue_for("east") == "a"  # the store down: the last answer stands
