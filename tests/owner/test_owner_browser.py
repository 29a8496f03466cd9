"""The owner console in a real Chromium against the real server: sign in, edit the zone's config (a
bad value first), see the preview follow, sign out. The zone's assignment is restored afterwards (the
live server is shared by the whole session)."""

from __future__ import annotations

import pytest

from lightapps.activities.store import ActivityKeys, ActivityStore
from portal.apps.zone_apps import ZoneAppKeys
from tests.browsers import console_sign_in

pytestmark = pytest.mark.browser


def _shoppers_holdings(db) -> list[str]:
    """The atrium's activities' keys that make its app `in_use` (sign-ups, deposits, sales being paid: written by
    the session's other browser tests on this shared server), which would refuse the switch this test makes."""
    keys = ActivityKeys("demo")
    return [key for item in ActivityStore(db).for_zone("demo", "atrium")
            for key in (keys.who(item.id), keys.deposits(item.id), keys.pending_expiry(item.id))]


@pytest.fixture
def atrium_restored(live_server):
    db = live_server.db()
    key = ZoneAppKeys("demo").assignments()
    original = db.hget(key, "atrium")
    held = {k: (max(db.pttl(k), 0), db.dump(k)) for k in _shoppers_holdings(db) if db.exists(k)}
    if held:
        db.delete(*held)  # put back after, as they were
    yield
    for k, (ttl_ms, value) in held.items():
        db.restore(k, ttl_ms, value, replace=True)
    if original is None:
        db.hdel(key, "atrium")
    else:
        db.hset(key, "atrium", original)
    db.set(ZoneAppKeys("demo").version(), "restored-by-test")  # written outside the store: every copy reads it again


def test_owner_edits_the_zone_and_previews_it(live_server, page, atrium_restored):
    base = live_server.url
    console_sign_in(page, base, "events")
    page.wait_for_url(base + "/console/owner/demo/")
    assert page.locator("#zones li").count() == 1
    page.click("#zones a")
    page.wait_for_url("**/zone/atrium")

    # pick the directory app (a GET form: works without JavaScript) and give it a bad value first
    page.check("input[name=app][value=directory]")
    page.click("#pick-app button")
    assert page.get_attribute("#cfg-welcome_en", "maxlength") == "200"  # the browser limits typing...
    page.eval_on_selector("#cfg-welcome_en", "el => { el.value = 'x'.repeat(201); }")  # ...a script need not
    page.click("#save")
    assert "at most 200 characters" in page.inner_text("#cfg-welcome_en-error")

    page.fill("#cfg-welcome_en", "Meet us at the fountain")
    page.fill("#cfg-welcome_zh", "喷泉旁见")
    page.click("#save")
    page.wait_for_url("**/zone/atrium")
    assert "Mall directory" in page.inner_text("#current-app")

    frame = page.frame_locator("#preview")
    assert "Meet us at the fountain" in frame.locator("main").inner_text()

    page.goto(base + "/console/owner/demo/zone/atrium?lang=zh")
    assert "喷泉旁见" in page.frame_locator("#preview").locator("main").inner_text()

    forbidden = page.goto(base + "/console/owner/demo/zone/garage")
    assert forbidden.status == 403 and "您不管理这个区域" in page.content()  # the language chosen above stays

    page.goto(base + "/console/owner/demo/zone/atrium")
    page.click(".console-foot button")
    page.wait_for_url("**/console/login")


def test_console_fits_a_phone(live_server, iphone_page, atrium_restored):
    console_sign_in(iphone_page, live_server.url, "events")
    iphone_page.goto(live_server.url + "/console/owner/demo/zone/atrium")
    overflow = iphone_page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
