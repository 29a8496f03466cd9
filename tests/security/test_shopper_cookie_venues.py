"""One shopper cookie per venue (portal/shopper.py): a browser that visits two malls of one deployment keeps a
shopper in each, and the rules of who may change a cookie hold per venue. A browser from the release with one
`mp_c` cookie for every venue keeps its shopper: the old cookie counts as the cookie of the venue its token names,
and is moved to that venue's cookie on the next response."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from lightapps.coupons.store import CouponStore
from portal.shopper import LEGACY_COOKIE, PREVIEW_CLIENT_PREFIX, Shopper, cookie_name, new_shopper, token_store

OWN = {"Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def north(svc, demo_map, demo):
    other = demo_map.copy()
    other.id = "north"
    svc.venues.put_map(other)
    return "north"


@pytest.fixture
def coupon(svc, demo):
    return CouponStore(svc.db).create("demo", "kopi", {
        "title_en": "Fixed", "stock": 20, "valid_from": time.time() - 60, "valid_until": time.time() + 3600})


def mint(app, who: Shopper) -> str:
    with app.app_context():
        return token_store(app).mint(who)


def kept(app, browser, venue: str) -> Shopper | None:
    cookie = browser.get_cookie(cookie_name(venue))
    with app.app_context():
        return token_store(app).resolve(cookie.value) if cookie else None


def claim(browser, coupon) -> str:
    page = browser.get("/v/demo/zone/kopi/coupons").get_data(as_text=True)
    token = re.search(r'name="c" value="([^"]+)"', page).group(1)
    resp = browser.post(f"/v/demo/zone/kopi/coupons/{coupon.id}/claim", data={"c": token}, headers=OWN)
    assert resp.status_code == 303
    return re.search(r"/mine/([A-Z0-9]+)", resp.headers["Location"]).group(1)


def test_cookie_names_are_valid_for_every_venue_id():
    assert cookie_name("demo") == "mp_c_demo"
    assert re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", cookie_name("A-" + "z_9" * 20))  # an RFC 6265 token


def test_visiting_a_second_mall_keeps_the_first_malls_shopper(app, north, coupon):
    browser = app.test_client()
    assert browser.get("/v/demo/").status_code == 200
    code = claim(browser, coupon)
    assert browser.get("/v/north/").status_code == 200
    assert kept(app, browser, "north").venue == "north"
    assert kept(app, browser, "demo").venue == "demo"
    assert code in browser.get("/v/demo/coupons/mine").get_data(as_text=True)
    assert browser.get("/v/north/me").status_code == 200  # each mall's own shopper, both ways
    assert code in browser.get("/v/demo/coupons/mine").get_data(as_text=True)


def test_an_old_cookie_is_its_venues_and_is_moved(app, north, coupon):
    browser = app.test_client()
    assert browser.get("/v/demo/").status_code == 200
    code, own = claim(browser, coupon), kept(app, browser, "demo")
    old = browser.get_cookie(cookie_name("demo")).value
    browser.delete_cookie(cookie_name("demo"))
    browser.set_cookie(LEGACY_COOKIE, old)  # what the release before kept
    assert browser.get("/v/north/").status_code == 200  # another mall's page moves it, and keeps its own
    assert browser.get_cookie(LEGACY_COOKIE) is None
    assert browser.get_cookie(cookie_name("demo")).value == old
    assert kept(app, browser, "north").client != own.client
    assert code in browser.get("/v/demo/coupons/mine").get_data(as_text=True)


def test_an_old_cookie_opens_its_shopper_on_its_own_venues_page(app, north, coupon):
    browser = app.test_client()
    assert browser.get("/v/demo/").status_code == 200
    code, old = claim(browser, coupon), browser.get_cookie(cookie_name("demo")).value
    browser.delete_cookie(cookie_name("demo"))
    browser.set_cookie(LEGACY_COOKIE, old)
    assert code in browser.get("/v/demo/coupons/mine").get_data(as_text=True)
    assert browser.get_cookie(LEGACY_COOKIE) is None and browser.get_cookie(cookie_name("demo")).value == old
    assert browser.get_cookie(cookie_name("north")) is None


def test_a_cookie_of_one_venue_holding_anothers_token_is_no_one(app, north):
    browser = app.test_client()
    demo_token = mint(app, new_shopper("demo"))
    browser.set_cookie(cookie_name("north"), demo_token)
    page = browser.get("/v/north/").get_data(as_text=True)
    assert demo_token not in page
    assert kept(app, browser, "north").venue == "north"


@pytest.fixture
def two_malls(app, north):
    """A browser that kept a shopper in each mall."""
    browser = app.test_client()
    assert browser.get("/v/demo/").status_code == 200 and browser.get("/v/north/").status_code == 200
    return browser, kept(app, browser, "demo"), kept(app, browser, "north")


@pytest.mark.parametrize("path", ["/v/demo/", "/v/north/", "/v/demo/me", "/v/north/me"])
def test_someone_elses_link_changes_no_venues_cookie(app, two_malls, path):
    browser, demo_own, north_own = two_malls
    for venue in ("demo", "north"):
        link = mint(app, new_shopper(venue))  # another shopper's token, as a texted link would carry it
        assert browser.get(f"{path}?c={link}").status_code == 200
        assert kept(app, browser, "demo").client == demo_own.client
        assert kept(app, browser, "north").client == north_own.client


def test_a_handed_out_token_gives_way_to_its_venues_cookie_only(app, svc, two_malls):
    browser, demo_own, north_own = two_malls
    with app.app_context():
        handout = token_store(app).mint(new_shopper("north"), handout=True)
    page = browser.get(f"/v/north/?c={handout}").get_data(as_text=True)
    token = browser.get_cookie(cookie_name("north")).value
    assert kept(app, browser, "north").client == north_own.client and f"c={token}" in page
    assert kept(app, browser, "demo").client == demo_own.client


def test_the_keep_link_moves_its_venues_cookie_only(app, two_malls):
    browser, demo_own, north_own = two_malls
    other = new_shopper("north")
    page = app.test_client().get(f"/v/north/me?c={mint(app, other)}").get_data(as_text=True)
    code = parse_qs(urlsplit(re.search(r'id="keep-link" href="([^"]+)"', page).group(1).replace("&amp;", "&"))
                    .query)["k"][0]
    assert browser.post("/v/north/keep", data={"k": code}, headers=OWN).status_code == 303
    assert kept(app, browser, "north").client == other.client
    assert kept(app, browser, "demo").client == demo_own.client


def test_an_old_cookie_of_a_preview_is_dropped_not_moved(app, demo):
    browser = app.test_client()
    preview = mint(app, Shopper("demo", PREVIEW_CLIENT_PREFIX + "kopi"))
    browser.set_cookie(LEGACY_COOKIE, preview)  # kept by a release before previews were kept out of the cookie
    assert browser.get("/v/demo/").status_code == 200
    assert browser.get_cookie(LEGACY_COOKIE) is None
    assert not kept(app, browser, "demo").client.startswith(PREVIEW_CLIENT_PREFIX)


def test_the_portal_root_opens_the_mall_of_the_only_kept_shopper(app, north):
    browser = app.test_client()
    assert browser.get("/v/north/").status_code == 200
    assert browser.get("/").headers["Location"].endswith("/v/north/")
