"""A venue that does not exist gets no landing: no token, no event, nothing stored, and a page that says why
(portal/captive/landing.py VenueCheck). OS probes never name a venue, so the VENUE setting's venue is theirs;
when it names no venue (a new mall's VENUE left at its default `demo`), the store's only venue is used, and
with several (or none) the probe gets the "not set up" page instead of a redirect to a 404."""

from __future__ import annotations

import logging
from urllib.parse import urlparse

import pytest

from fingerprints.model import Floor, VenueMap
from portal.events.log import write_deferred_events

PHONE = "02:00:5e:00:53:77"
# Probes as each OS sends them: none names a venue.
PROBES = [("connectivitycheck.gstatic.com", "/generate_204"), ("captive.apple.com", "/hotspot-detect.html"),
          ("www.msftconnecttest.com", "/connecttest.txt")]


def open_venue(svc, venue: str) -> None:
    svc.venues.put_map(VenueMap(id=venue, name=venue.title(), name_zh=venue, floors=[Floor(0, "G", 50, 30)]))


def stored_keys(db) -> set[bytes]:
    """Every key of the store, once the landing events queued in this process are written."""
    write_deferred_events()
    return set(db.scan_iter(count=1000))


def assert_page_not_redirect(resp, status: int, *needles: str) -> str:
    assert resp.status_code == status and "Location" not in resp.headers
    assert "no-store" in resp.headers["Cache-Control"]
    page = resp.get_data(as_text=True)
    assert resp.mimetype == "text/html" and all(needle in page for needle in needles), page
    return page


def test_a_new_malls_probes_land_in_its_only_venue_when_venue_is_left_at_its_default(app, client, svc, caplog):
    open_venue(svc, "harbour")
    assert svc.settings.default_venue == "demo" and not svc.venues.exists("demo")
    with caplog.at_level(logging.WARNING, logger="portal.captive.landing"):
        for host, path in PROBES:
            resp = client.get(path, headers={"Host": host}, environ_base={"REMOTE_ADDR": "10.0.0.77"})
            assert resp.status_code == 302, resp.get_data(as_text=True)
            assert urlparse(resp.headers["Location"]).path == "/v/harbour/"
    warnings = [r for r in caplog.records if "VENUE=demo" in r.getMessage()]
    assert len(warnings) == 1 and "harbour" in warnings[0].getMessage()  # a configuration warning, once
    assert urlparse(client.get("/").headers["Location"]).path == "/v/harbour/"  # the error pages' "Mall home"


def test_with_several_venues_and_none_the_default_the_portal_says_it_is_not_set_up(app, client, svc, db):
    open_venue(svc, "harbour")
    open_venue(svc, "quay")
    before = stored_keys(db)
    for host, path in PROBES:
        resp = client.get(f"{path}?client_mac={PHONE}", headers={"Host": host})
        assert_page_not_redirect(resp, 503, "VENUE")
    assert_page_not_redirect(client.get(f"/portal?mac={PHONE}"), 503, "VENUE")  # a gateway's redirect naming none
    assert_page_not_redirect(client.get("/"), 503, "VENUE")
    assert client.get("/capport/api").status_code == 404  # as for an unknown venue: the OS uses its probes
    zh = client.get("/generate_204", headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 503 and 'lang="zh-CN"' in zh.get_data(as_text=True)  # in the phone's language
    assert stored_keys(db) == before


@pytest.mark.parametrize("path", ["/generate_204", "/hotspot-detect.html", "/portal", "/guest/s/default/"])
def test_a_venue_named_that_does_not_exist_gets_a_404_page_and_nothing_is_stored(client, demo, db, path):
    """The reviewers' reproduction: anonymous probes and gateway redirects naming made-up venues left an event
    stream (no TTL) and token records (30 days) per venue, which no retention run ever visits."""
    before = stored_keys(db)
    for venue in ("nosuchmall", "nvqxkzpwab"):
        resp = client.get(f"{path}?venue={venue}&client_mac={PHONE}&mac={PHONE}&id={PHONE}",
                          environ_base={"REMOTE_ADDR": "10.33.0.1"})
        assert_page_not_redirect(resp, 404, venue)
        assert client.get(f"/v/{venue}/").status_code == 404  # the landing page itself hands nothing out either
    assert stored_keys(db) == before
    assert not list(db.scan_iter(match="mp:{nosuchmall}:*"))


def test_a_known_venue_is_asked_once_and_never_through_the_registry(client, demo, svc, monkeypatch):
    """The probe stays one round trip: a venue found is remembered by the process (asked once, at its own
    slot); the `{_global}` registry is never read on the probe's path (its shard hanging would stall every
    mall); a venue not found is asked each time."""
    asked = []
    real_exists = svc.venues.exists
    monkeypatch.setattr(svc.venues, "exists", lambda venue: asked.append(venue) or real_exists(venue))
    monkeypatch.setattr(svc.venues, "venue_ids", lambda: pytest.fail("the registry read on the probe's path"))
    for query in ("", "?venue=demo", "", "?venue=demo"):
        assert client.get(f"/generate_204{query}").status_code == 302
    assert asked.count("demo") <= 1
    for _ in range(2):
        assert client.get("/generate_204?venue=nosuchmall").status_code == 404
    assert asked.count("nosuchmall") == 2  # never remembered: a venue made since is found at once
