"""The URL a provider is given to send the shopper back carries no shopper token (`c` opens Me, the export,
erasure: the provider is a third party): the paying browser's own cookie says who comes back, and a browser
without it sees only whether the order is paid. The 303 to WeChat Pay H5 sends the portal's origin as
Referer (WeChat refuses a checkout without one), never the page's path."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests

from portal.apps.views import STORES
from tests.payments.test_parking_fee import fee_session, garage, page, shopper  # noqa: F401 - fixture

VENUE, CLIENT = "demo", "anon-return-url"


def new_order(pay):
    return pay.create(VENUE, merchant="kopi", shopper=CLIENT, amount=1500, purpose="return-test", ref="b",
                      description="Return test", idem=f"return:{time.time_ns()}", return_url="http://return.example/x")


def start(app, pay, token_for, method: str):
    """(test client, token, order, the 303 to the provider) after pressing Pay with `method`."""
    order, client = new_order(pay), app.test_client()
    c = token_for(app, VENUE, CLIENT)
    went = client.post(f"/v/{VENUE}/pay/{order.id}/start", data={"c": c, "method": method})
    assert went.status_code == 303 and urlsplit(went.headers["Location"]).hostname not in ("localhost", None)
    return client, c, order, went


def back_url(location: str) -> str:
    """The portal URL inside the provider's: WeChat H5's redirect_url, Alipay's return_url."""
    query = parse_qs(urlsplit(location).query)
    return (query.get("redirect_url") or query["return_url"])[0]


@pytest.mark.parametrize("method", ["wechat:h5", "alipay:wap"])
def test_the_provider_gets_no_shopper_token(pay_mall, pay, token_for, method):
    app, _map = pay_mall
    _client, c, order, went = start(app, pay, token_for, method)
    location = went.headers["Location"]
    assert c not in unquote(unquote(location)) and "c=" not in urlsplit(back_url(location)).query
    assert urlsplit(back_url(location)).path == f"/v/{VENUE}/pay/{order.id}/back"


def test_the_paying_browser_comes_back_through_its_cookie(pay_mall, pay, token_for, sandbox):
    app, _map = pay_mall
    client, c, order, went = start(app, pay, token_for, "wechat:h5")
    assert requests.post(f"{sandbox[1]}/sandbox/pay/wechat/{order.id}/approve", timeout=30).status_code == 200
    back = client.get(back_url(went.headers["Location"]))  # the test client kept the cookie Pay set
    assert back.status_code == 303 and f"/v/{VENUE}/pay/{order.id}?" in back.headers["Location"]
    paid = client.get(back.headers["Location"])
    assert paid.status_code == 303 and paid.headers["Location"] == f"http://return.example/x?c={c}"


def test_a_browser_without_the_cookie_sees_the_status_only(pay_mall, pay, token_for, sandbox):
    app, _map = pay_mall
    _client, c, order, went = start(app, pay, token_for, "alipay:wap")
    url = back_url(went.headers["Location"])
    waiting = app.test_client().get(url)  # a captive sheet (no cookie), or the provider itself
    html = waiting.get_data(as_text=True)
    assert waiting.status_code == 200 and 'id="waiting"' in html and 'id="way-on"' in html
    assert "Return test" not in html and "¥15.00" not in html and "c=" not in html and c not in html
    assert "Set-Cookie" not in waiting.headers
    assert pay.store.settle(VENUE, order.id, 1500, "txn-return", "alipay") == "paid"
    paid = app.test_client().get(url).get_data(as_text=True)
    assert 'id="paid"' in paid and "return.example" not in paid


def test_another_shoppers_cookie_sees_the_status_only(pay_mall, pay, token_for):
    app, _map = pay_mall
    _client, _c, order, went = start(app, pay, token_for, "wechat:h5")
    other = app.test_client()
    other.set_cookie("mp_c", token_for(app, VENUE, "anon-someone-else"))
    html = other.get(back_url(went.headers["Location"])).get_data(as_text=True)
    assert 'id="waiting"' in html and "Return test" not in html


def test_the_wechat_h5_redirect_sends_the_origin_only_as_referer(pay_mall, pay, token_for):
    app, _map = pay_mall
    _client, _c, _order, went = start(app, pay, token_for, "wechat:h5")
    assert went.headers["Referrer-Policy"] == "strict-origin"


def test_the_autopay_sign_up_gives_the_provider_no_token(garage, sandbox):  # noqa: F811 - the fixture
    app, client, _token, _store, entered = garage
    app.extensions[STORES]["membership"].bind(VENUE, "+8613800138009", "anon-return-member")
    c = shopper(app, "anon-return-member")
    location = fee_session(app, client, c, entered)
    path, _q, query = location.partition("?")
    assert 'id="autopay-start"' in page(client, location)
    went = client.post(f"{path}/autopay?{query}", data={"c": c})
    assert went.status_code == 303 and went.headers["Location"].startswith(sandbox[1])
    assert c not in unquote(unquote(went.headers["Location"]))


def test_paying_from_a_link_while_the_cookie_holds_another_shopper_comes_back_to_the_order(
        pay_mall, pay, token_for, sandbox):
    """A message's link opened in a browser that kept shopper A: the page is B's, the cookie stays A's, and
    the return from the provider still finds B (a cookie for that return path only, `remember_for_return`)."""
    app, _ = pay_mall
    order = new_order(pay)
    browser = app.test_client()
    browser.set_cookie("mp_c", token_for(app, "demo", "anon-A"))
    c = token_for(app, "demo", order.shopper)
    went = browser.post(f"/v/demo/pay/{order.id}/start", data={"c": c, "method": "wechat:h5"})
    assert went.status_code == 303 and c not in unquote(went.headers["Location"])
    assert requests.post(f"{sandbox[1]}/sandbox/pay/wechat/{order.id}/approve", timeout=30).status_code == 200
    back = browser.get(back_url(went.headers["Location"]))
    assert back.status_code == 303 and urlsplit(back.headers["Location"]).path == f"/v/demo/pay/{order.id}"


@pytest.mark.parametrize("cookie_is_member", [False, True])
def test_autopay_signed_from_a_link_while_the_cookie_holds_another_shopper(garage, sandbox,  # noqa: F811
                                                                           cookie_is_member):
    app, client, _token, store, entered = garage
    members = app.extensions[STORES]["membership"]
    members.bind("demo", "+8613800138011", "anon-member-b")
    if cookie_is_member:
        members.bind("demo", "+8613800138012", "anon-member-a")
    client.set_cookie("mp_c", shopper(app, "anon-member-a"))
    c = shopper(app, "anon-member-b")
    location = fee_session(app, client, c, entered)
    path, _q, query = location.partition("?")
    assert 'id="autopay-start"' in page(client, location)
    went = client.post(f"{path}/autopay?{query}", data={"c": c})
    sign_page = requests.get(went.headers["Location"], allow_redirects=False, timeout=30)
    agreement_no = sign_page.headers["Location"].rsplit("/", 1)[1]
    approved = requests.post(f"{sandbox[1]}/sandbox/agreement/alipay/{agreement_no}/approve",
                             allow_redirects=False, timeout=30)
    back = urlsplit(approved.headers["Location"])
    resp = client.get(f"{back.path}?{back.query}")
    agreements = app.extensions["light_app_capabilities"]["agreements"]
    assert resp.status_code == 303 and agreements.agreement("demo", "anon-member-b") is not None
    assert agreements.agreement("demo", "anon-member-a") is None
