"""A shopper POST the `mp_c` cookie alone identifies must come from the portal's own pages
(portal/shopper.py, _cookie_may_decide): SameSite=Lax keeps the cookie off another site's POSTs, but not off
those of another host of the same site (offers.mall.example), so the browser's Sec-Fetch-Site (else its Origin)
must say same-origin. A form that carries its own `c` token works from anywhere, as before: the token is the
secret another page lacks."""

from __future__ import annotations

import pytest

from portal.shopper import Shopper, cookie_name, new_shopper, token_store

BASE = "https://portal.mall.example"
SIBLING = {"Origin": "https://offers.mall.example", "Sec-Fetch-Site": "same-site"}
OLD_BROWSER_SIBLING = {"Origin": "https://offers.mall.example"}  # no Sec-Fetch-* headers (iOS CNA, old browsers)
OWN_PAGE = {"Origin": BASE, "Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def browser(app, demo):
    """A real browser that kept its shopper in the cookie (the mall home sets it)."""
    client = app.test_client()
    assert client.get("/v/demo/", base_url=BASE).status_code == 200
    return client


def kept(app, browser) -> Shopper:
    cookie = browser.get_cookie(cookie_name("demo"), domain="portal.mall.example")
    with app.app_context():
        shopper = token_store(app).resolve(cookie.value)
    assert shopper is not None
    return shopper


def token_of(app, shopper: Shopper) -> str:
    with app.app_context():
        return token_store(app).mint(shopper)


@pytest.mark.parametrize("headers", [SIBLING, OLD_BROWSER_SIBLING, {"Sec-Fetch-Site": "cross-site"}])
def test_a_cookie_only_privacy_choice_from_another_page_is_refused(app, svc, browser, headers):
    shopper = kept(app, browser)
    resp = browser.post("/v/demo/privacy", data={"marketing": "on"}, base_url=BASE, headers=headers)
    assert resp.status_code == 403
    assert svc.consent.get("demo", shopper.client) is None


def test_a_cookie_only_erase_from_another_page_is_refused(app, svc, browser):
    shopper = kept(app, browser)
    svc.consent.record("demo", shopper.client, location=True, marketing=False)
    resp = browser.post("/v/demo/my-data/erase", data={"confirm": "1"}, base_url=BASE, headers=SIBLING)
    assert resp.status_code == 403
    assert svc.consent.get("demo", shopper.client) is not None  # nothing erased
    assert kept(app, browser) == shopper  # the cookie still opens its shopper


def test_a_handed_out_token_does_not_let_another_page_use_the_cookie(app, svc, browser):
    """A new shopper's token (any page hands one out) gives way to the cookie's shopper: still the cookie's call."""
    shopper = kept(app, browser)
    with app.app_context():
        handout = token_store(app).mint(new_shopper("demo"), handout=True)
    resp = browser.post("/v/demo/privacy", data={"marketing": "on", "c": handout}, base_url=BASE, headers=SIBLING)
    assert resp.status_code == 403
    assert svc.consent.get("demo", shopper.client) is None


@pytest.mark.parametrize("headers", [OWN_PAGE, {"Sec-Fetch-Site": "none"}, {"Origin": BASE}, {}])
def test_the_portals_own_pages_still_post_with_the_cookie(app, svc, browser, headers):
    shopper = kept(app, browser)
    resp = browser.post("/v/demo/privacy", data={"marketing": "on"}, base_url=BASE, headers=headers)
    assert resp.status_code == 303
    assert svc.consent.get("demo", shopper.client).marketing


def test_a_cookie_only_erase_from_the_portal_itself_works(app, svc, browser):
    shopper = kept(app, browser)
    svc.consent.record("demo", shopper.client, location=True, marketing=False)
    resp = browser.post("/v/demo/my-data/erase", data={"confirm": "1"}, base_url=BASE, headers=OWN_PAGE)
    assert resp.status_code == 200
    assert svc.consent.get("demo", shopper.client) is None


def test_a_form_with_its_own_token_works_from_anywhere(app, svc, browser):
    shopper = kept(app, browser)
    resp = browser.post("/v/demo/privacy", data={"marketing": "on", "c": token_of(app, shopper)},
                        base_url=BASE, headers=SIBLING)
    assert resp.status_code == 303
    assert svc.consent.get("demo", shopper.client).marketing


@pytest.mark.parametrize(("method", "path"), [("POST", "/v/demo/no-such-page"), ("POST", "/v/demo/"),
                                              ("PUT", "/v/demo/privacy")])
def test_a_refused_change_is_a_clear_4xx_never_a_500(app, browser, method, path):
    """The origin check answers before routing's own 404/405 is rendered (the error page looks up the shopper
    too: refusing there was a 500)."""
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: an exception would be a 500 page
    try:
        resp = browser.open(path, method=method, headers=SIBLING, data={"x": "1"}, base_url=BASE)
    finally:
        app.config["PROPAGATE_EXCEPTIONS"] = None
    assert resp.status_code in (403, 404, 405)
