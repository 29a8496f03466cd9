"""One owner of a venue's time zone (portal/captive/config.py VenueTimeZones, Services.time_zones): a stored name
this host's zone database lacks (written by a host with newer tzdata, or by an older release) is the TIME_ZONE
setting's zone everywhere, logged once per venue; never a 500 on one page and another clock on the next."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from flask import g, url_for

from lightapps.queue.store import QueueStore
from portal.apps import registry
from portal.apps.locale import read_venue_locale
from portal.apps.views import STORES
from portal.captive.config import PortalConfigKeys, VenueTimeZones

SETTING = "Pacific/Kiritimati"  # UTC+14: neither the demo's Asia/Shanghai, nor DEFAULT_TIME_ZONE, nor this host's UTC
UNLOADABLE = "America/Nowhere_Newer"  # a zone some newer tzdata might add; no host has it today
# 12:00 UTC: 2026-06-02 02:00 at the setting's zone, still 2026-06-01 (20:00) in Asia/Shanghai
NOON_UTC = datetime(2026, 6, 1, 12, tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def settings(settings):
    return dataclasses.replace(settings, time_zone=SETTING)


@pytest.fixture
def unloadable(svc, demo):
    svc.db.hset(PortalConfigKeys("demo").config(), "time_zone", UNLOADABLE)  # as a newer host's set() wrote it
    return "demo"


def landing_urls(app, svc, venue: str) -> dict[str, str]:
    """app name -> its landing page on one of the demo zones that run it."""
    urls = {}
    with app.test_request_context():
        for zone, (name, _) in svc.zone_apps.all(venue).items():
            if name not in urls and (light_app := registry.get(name)) is not None:
                urls[name] = url_for(light_app.landing_endpoint, venue=venue, zone=zone)
    return urls


def test_every_light_app_landing_page_answers_in_the_setting_zone(app, client, svc, unloadable, caplog):
    urls = landing_urls(app, svc, unloadable)
    assert {"cinema", "queue", "activities", "coupons", "parking", "membership"} <= set(urls)
    answers, clocks = {}, {}
    with caplog.at_level(logging.WARNING, logger="portal.captive.config"):
        for name, url in urls.items():
            with client:  # the request's `g` kept until the block ends: the clock the page was drawn on
                answers[name] = client.get(url).status_code
                clocks[name] = g.get("venue_locales", {}).get(unloadable)
    assert answers == dict.fromkeys(urls, 200)
    drawn = {name: clock.time_zone for name, clock in clocks.items() if clock is not None}
    assert {"cinema", "queue", "activities", "coupons"} <= set(drawn)
    assert drawn == dict.fromkeys(drawn, ZoneInfo(SETTING))
    assert [r.args[:2] for r in caplog.records if r.name == "portal.captive.config"] == [(unloadable, UNLOADABLE)]


def test_moments_the_tracker_and_the_pages_read_the_same_zone(svc, unloadable):
    zones = {"pages": read_venue_locale(svc, unloadable).time_zone, "tracker": svc.footfall.tz_of(unloadable),
             "moments": svc.moments.time_zone(unloadable), "services": svc.time_zones(unloadable)}
    assert zones == dict.fromkeys(zones, ZoneInfo(SETTING))


def test_the_queue_day_rolls_at_the_setting_zone(app, svc, unloadable):
    store = app.extensions[STORES]["queue"]  # as the platform built it; used here outside any request
    assert store.take(unloadable, "jade", "A", 2, "c-late", now=NOON_UTC).ok
    assert store.my_ticket(unloadable, "jade", "c-late", now=NOON_UTC)["day"] == "20260602"
    assert store.day_end(unloadable, "20260602") == datetime(2026, 6, 3, tzinfo=ZoneInfo(SETTING)).timestamp()
    assert QueueStore.from_services(svc).day_end(unloadable, "20260602") == store.day_end(unloadable, "20260602")


def test_an_unloadable_name_is_logged_once_per_venue_and_name(db, caplog):
    zones = VenueTimeZones(db, SETTING)
    db.hset(PortalConfigKeys("v1").config(), "time_zone", UNLOADABLE)
    with caplog.at_level(logging.WARNING, logger="portal.captive.config"):
        found = {zones.read("v1"), zones("v1"), zones.read("v1"), zones.zone_named("v1", UNLOADABLE)}
        db.hset(PortalConfigKeys("v1").config(), "time_zone", "../../etc/passwd")
        found.add(zones.read("v1"))
        found.add(zones.read("v1"))
    assert found == {ZoneInfo(SETTING)}
    assert [r.args[:2] for r in caplog.records] == [("v1", UNLOADABLE), ("v1", "../../etc/passwd")]
    assert zones.zone_named("v1", "") == ZoneInfo(SETTING) and zones.zone_named("v1", "Europe/Madrid").key == \
        "Europe/Madrid"


def test_the_operator_sees_the_setting_zone_and_the_name_to_fix(client, ops, unloadable):
    page = client.get(f"/console/ops/{unloadable}/time-zone")
    assert page.status_code == 200 and SETTING in page.get_data(as_text=True)
    checklist = client.get(f"/console/ops/{unloadable}/checklist")
    assert checklist.status_code == 200
    step = checklist.get_data(as_text=True).split('<li id="step-time_zone"', 1)[1].split("</li>", 1)[0]
    assert not step.startswith(' class="done"') and UNLOADABLE in step
