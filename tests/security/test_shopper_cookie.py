"""Who may change the `mp_c` cookie (portal/shopper.py): a link's `c` token is a bearer secret anyone may
have been sent, so it never replaces a browser's own shopper of the same venue (session fixation: the
sender would read what the browser does from then on); the page it opens is still that token's (a texted
ticket link shows the ticket); only the keep link (a one-time code and a tapped button) moves the cookie
to another shopper."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from lightapps.coupons.store import CouponStore
from portal.shopper import Shopper, cookie_name, new_shopper, token_store


def mint(app, who: Shopper) -> str:
    with app.app_context():
        return token_store(app).mint(who)


def cookie_shopper(app, client) -> Shopper | None:
    cookie = client.get_cookie(cookie_name("demo"))
    with app.app_context():
        return token_store(app).resolve(cookie.value) if cookie else None


@pytest.fixture
def coupon(svc, demo):
    return CouponStore(svc.db).create("demo", "kopi", {
        "title_en": "Fixed", "stock": 20, "valid_from": time.time() - 60, "valid_until": time.time() + 3600})


@pytest.fixture
def victim(app, demo):
    """A real browser that kept its own shopper (the mall home, the PWA's start page, sets the cookie)."""
    browser = app.test_client()
    assert browser.get("/v/demo/").status_code == 200
    own = cookie_shopper(app, browser)
    assert own is not None and own.venue == "demo"
    return browser, own


def claim_with_cookie_only(browser, coupon) -> str:
    """The coupon page opened later with no `c` (the cookie only), its claim form sent: the claim's code."""
    page = browser.get("/v/demo/zone/kopi/coupons").get_data(as_text=True)
    token = re.search(r'name="c" value="([^"]+)"', page).group(1)
    resp = browser.post(f"/v/demo/zone/kopi/coupons/{coupon.id}/claim", data={"c": token})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    return re.search(r"/mine/([A-Z0-9]+)", resp.headers["Location"]).group(1)


@pytest.mark.parametrize("path", ["/v/demo/", "/v/demo/me", "/v/demo/queue/foodcourt"])
def test_a_link_with_someone_elses_token_never_replaces_the_cookie(app, victim, coupon, path):
    browser, own = victim
    attacker = new_shopper("demo")
    link = mint(app, attacker)  # the attacker's own token, as a texted link would carry it
    assert browser.get(f"{path}?c={link}").status_code == 200  # a page that keeps its shopper in the cookie
    assert cookie_shopper(app, browser).client == own.client
    code = claim_with_cookie_only(browser, coupon)
    theirs = app.test_client().get(f"/v/demo/coupons/mine?c={link}").get_data(as_text=True)
    assert code not in theirs  # the victim's later claim is the victim's, not the sender's
    mine = browser.get("/v/demo/coupons/mine").get_data(as_text=True)
    assert code in mine


def test_the_shoppers_own_texted_link_opens_their_things_in_a_browser_with_another_cookie(app, svc, victim):
    """The ticket was got in the sign-in sheet (no cookies) and texted; the phone's browser kept an older
    shopper. The link shows what it was sent for, and its page's links keep that token; the cookie stays."""
    browser, own = victim
    sheet = new_shopper("demo")
    coupons = CouponStore(svc.db)
    coupon = coupons.create("demo", "kopi", {"title_en": "Texted", "stock": 5, "valid_from": time.time() - 60,
                                             "valid_until": time.time() + 3600})
    code = coupons.claim("demo", "kopi", coupon.id, sheet.client).code
    link = mint(app, sheet)  # what the notify worker puts in the message
    page = browser.get(f"/v/demo/coupons/mine/{code}?c={link}")
    assert page.status_code == 200 and code in page.get_data(as_text=True)
    home = browser.get(f"/v/demo/?c={link}").get_data(as_text=True)
    assert f'href="/v/demo/me?c={link}"' in home  # the tab goes on as the link's shopper
    assert cookie_shopper(app, browser).client == own.client


def test_the_keep_link_still_moves_the_cookie_to_its_shopper(app, victim):
    browser, own = victim
    kept = new_shopper("demo")
    page = app.test_client().get(f"/v/demo/me?c={mint(app, kept)}").get_data(as_text=True)
    code = parse_qs(urlsplit(re.search(r'id="keep-link" href="([^"]+)"', page).group(1).replace("&amp;", "&"))
                    .query)["k"][0]
    assert browser.post("/v/demo/keep", data={"k": code}).status_code == 303
    assert cookie_shopper(app, browser).client == kept.client != own.client


def test_a_new_token_of_the_cookies_own_shopper_refreshes_the_cookie(app, victim):
    browser, own = victim
    fresh = mint(app, own)  # e.g. a message's link for this same shopper
    browser.get(f"/v/demo/?c={fresh}")
    assert browser.get_cookie(cookie_name("demo")).value == fresh


def test_a_token_of_another_venue_leaves_this_venues_cookie_shopper(app, victim):
    browser, own = victim
    elsewhere = mint(app, new_shopper("other-mall"))
    page = browser.get(f"/v/demo/?c={elsewhere}").get_data(as_text=True)
    assert cookie_shopper(app, browser).client == own.client
    token = browser.get_cookie(cookie_name("demo")).value
    assert f'href="/v/demo/me?c={token}"' in page  # the page is the cookie's shopper, not a new one
