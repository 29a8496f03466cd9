"""`make run` (LOAD_DEMO=1, the default) on a new mall's store: found by an onboarding pass. With VENUE set to the
new mall's id, as README "Open a new mall" step 8 says, the start loaded the demo mall INTO that venue while it
had no map yet (after step 1 made only its operator), or marked it a demo venue and seeded demo data into its
apps once it had one, and put the demo venues and their accounts beside it. A store holding a mall of its own
now gets no demo at all (a warning in the log); a demo store still gets its demo."""

from __future__ import annotations

import logging
from dataclasses import replace

from fingerprints.model import Floor, VenueMap
from portal.auth import AccountStore
from portal.demo import is_demo_venue
from portal.seed import ensure_demo_venues, malls_of_their_own


def starting(svc, venue: str):
    """The services `make run` starts with: LOAD_DEMO on, VENUE = venue (the Galleria too)."""
    return replace(svc, settings=svc.settings.with_(load_demo=True, load_demo_galleria=True, default_venue=venue))


def test_a_new_malls_venue_gets_no_demo_before_or_after_its_map(app, svc, caplog):
    AccountStore(svc.db).create("harbour-ops", "harbour-pass-1", "operator", "harbour")  # step 1, no map yet
    assert malls_of_their_own(starting(svc, "harbour")) == ["harbour"]
    with app.app_context(), caplog.at_level(logging.WARNING, logger="portal.seed"):
        assert ensure_demo_venues(starting(svc, "harbour")) is False
    assert not svc.venues.exists("harbour") and not is_demo_venue(svc.db, "harbour")
    assert not svc.venues.exists("galleria") and not svc.venues.exists("demo")
    assert "this store holds a mall of its own (harbour)" in caplog.text
    assert [a.username for a in AccountStore(svc.db).all()] == ["harbour-ops"]  # no demo account beside it
    svc.venues.put_map(VenueMap(id="harbour", name="Harbour", name_zh="海港", floors=[Floor(0, "L0", 60.0, 30.0)]))
    with app.app_context():
        ensure_demo_venues(starting(svc, "harbour"))
    assert svc.venues.current_version("harbour") == 1 and not is_demo_venue(svc.db, "harbour")


def test_a_map_without_an_account_is_a_mall_of_its_own_too(app, svc):
    svc.venues.put_map(VenueMap(id="harbour", name="Harbour", name_zh="海港", floors=[Floor(0, "L0", 60.0, 30.0)]))
    assert malls_of_their_own(starting(svc, "harbour")) == ["harbour"]


def test_the_demo_store_still_gets_its_demo(app, svc, demo):
    """The demo's venues are marked and their accounts are the demo's: nothing of its own, the demo loads."""
    assert malls_of_their_own(starting(svc, "demo")) == []
    with app.app_context():
        assert ensure_demo_venues(replace(starting(svc, "demo"), settings=starting(svc, "demo").settings.with_(
            load_demo_galleria=False))) is True
    assert svc.venues.current_version("demo") and is_demo_venue(svc.db, "demo")
