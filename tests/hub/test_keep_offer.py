"""The sign-in sheet's keep offer by "Continue to the internet" (templates/_continue.html, portal/hub/offer.py):
Android's sheet closes by itself once Continue gets the phone online, and the page after it may never show, so
every shopper page with the Continue button offers the keep link first while she holds anything; once a page."""

from dataclasses import replace

import redis

from lightapps.queue.store import QueueStore
from portal.apps import registry
from portal.apps.mine import holds_anything

ANDROID = {"User-Agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A; wv) AppleWebKit/537.36 (KHTML, like "
                         "Gecko) Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36"}
CHROME = {"User-Agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                        "Chrome/126.0.6478.71 Mobile Safari/537.36"}


def _footer(page: str) -> str:
    return page[page.index('<footer class="continue">'):]


def test_continue_offers_the_keep_link_first_once_she_holds_something(app, svc, shopper):
    who, token = shopper
    sheet, home = app.test_client(use_cookies=False), f"/v/demo/?c={token}&lang=en"
    empty = sheet.get(home, headers=ANDROID).get_data(as_text=True)
    # "Become a member" and "Find my car" are on her Me too, but nothing of hers to lose
    assert 'id="continue-internet"' in empty and 'id="keep-offer"' not in empty
    assert QueueStore(svc.db).take("demo", "foodcourt", "A", 2, who.client).ok
    footer = _footer(sheet.get(home, headers=ANDROID).get_data(as_text=True))
    assert 'id="keep-offer"' in footer and "/v/demo/keep?k=" in footer and "lang=en" in footer
    assert footer.index('id="keep-link"') < footer.index('id="continue-internet"')  # before she taps it
    browser = app.test_client(use_cookies=False).get(home, headers=CHROME).get_data(as_text=True)
    assert 'id="continue-internet"' in browser and 'id="keep-offer"' not in browser  # a real browser keeps her


def test_a_page_with_its_own_keep_offer_gets_no_second_one(app, svc, shopper):
    """Me's keep section (as an app page's offer) is the page's one offer: Continue adds none."""
    who, token = shopper
    assert QueueStore(svc.db).take("demo", "foodcourt", "A", 2, who.client).ok
    me = app.test_client(use_cookies=False).get(f"/v/demo/me?c={token}&lang=en", headers=ANDROID)
    page = me.get_data(as_text=True)
    assert page.count('id="keep-link"') == 1 and 'id="keep-offer"' not in _footer(page)


def test_a_failing_store_ends_the_asking_with_nothing_offered(app, svc, shopper, monkeypatch):
    """The venue's apps share its slot: after one app's store fails, the page (perhaps the store's own 503 page)
    waits on no other app's, and offers nothing rather than fail."""
    who, _token = shopper
    assert QueueStore(svc.db).take("demo", "foodcourt", "A", 2, who.client).ok
    apps = registry.all_apps()
    with app.test_request_context():
        assert holds_anything(apps, "demo", who)

    def down(venue, shopper):
        raise redis.ConnectionError("the store is down")

    first = apps[0].name  # asked before the queue
    monkeypatch.setitem(registry._PARTS, first, replace(registry.parts(first), mine=down))
    with app.test_request_context():
        assert not holds_anything(apps, "demo", who)
