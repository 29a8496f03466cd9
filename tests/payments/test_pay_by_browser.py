"""The ways to pay each browser is offered, and what the payment page says beside them (portal/payments/service.py
`methods_for` / `notice_for`), over real user agents.

The WiFi sign-in sheet opens no app link and reaches the providers' sites only once the shopper is online: no way to
pay on this phone there, the keep link first (pay in her browser) and the codes for another phone. A mini program's
web-view refuses WeChat's pay sheet and blocks Alipay's pages: the codes and the page's link for her browser. Another
app's browser pays on the phone, with that link beside (the return may open elsewhere, without her cookie)."""

from __future__ import annotations

import re
import time

import pytest
import redis

from portal.hub.keep import KeepStore
from tests.user_agents import IN_APP_BROWSERS, OWN_BROWSERS, SIGN_IN_SHEETS

VENUE, CLIENT = "demo", "anon-by-browser"
UA = {**SIGN_IN_SHEETS, **IN_APP_BROWSERS, **OWN_BROWSERS}
EVERY_WAY = ["wechat-h5", "wechat-native", "alipay-wap", "alipay-qr"]
CODES = ["wechat-native", "alipay-qr"]

# browser -> (the buttons, in order; the notice shown: "" none, else the id of its line)
TABLE = {
    "ios-cna": (CODES, "notice-sign-in"),
    "android-sign-in": (CODES, "notice-sign-in"),
    "wechat-ios": (["wechat-jsapi", *CODES], ""),
    "wechat-android": (["wechat-jsapi", *CODES], ""),
    "wechat-mini-android": (CODES, "notice-miniprogram"),
    "alipay-ios": (["alipay-wap", *CODES], ""),
    "alipay-mini-android": (CODES, "notice-miniprogram"),
    "alipay-mini-ios": (CODES, "notice-miniprogram"),
    "douyin-ios": (EVERY_WAY, "notice-in-app"),
    "kuaishou-android": (EVERY_WAY, "notice-in-app"),
    "wecom-ios": (EVERY_WAY, "notice-in-app"),
    "safari": (EVERY_WAY, ""),
    "chrome-android": (EVERY_WAY, ""),
}
NOTICES = ("notice-sign-in", "notice-miniprogram", "notice-in-app", "notice-leave")


def new_order(pay):
    return pay.create(VENUE, merchant="kopi", shopper=CLIENT, amount=1500, purpose="by-browser", ref="r",
                      description="By browser", idem=f"by-browser:{time.time_ns()}",
                      return_url="http://return.example/x")


def buttons(html: str) -> list[str]:
    return re.findall(r'id="pay-([a-z]+-[a-z0-9]+)"', html)


def page_in(app, token: str, order, name: str) -> str:
    page = app.test_client().get(f"/v/{VENUE}/pay/{order.id}?c={token}&lang=en", headers={"User-Agent": UA[name]})
    assert page.status_code == 200
    return page.get_data(as_text=True)


@pytest.mark.parametrize("name", TABLE)
def test_each_browser_is_offered_what_pays_there_and_told_the_rest(pay_mall, pay, token_for, name):
    app, _map = pay_mall
    shown, notice = TABLE[name]
    token = token_for(app, VENUE, CLIENT)
    order = new_order(pay)
    html = page_in(app, token, order, name)
    assert buttons(html) == shown
    assert [n for n in NOTICES if f'id="{n}"' in html] == ([notice] if notice else [])
    link = re.search(r'id="open-link" readonly value="([^"]+)"', html)
    if notice in ("notice-miniprogram", "notice-in-app"):  # the page's own address, for her browser
        assert f"/v/{VENUE}/pay/{order.id}?" in link.group(1) and f"c={token}" in link.group(1)
    else:
        assert link is None
    if notice == "notice-sign-in":  # her own browser pays: the keep link leads, before the codes
        assert 'id="keep-offer"' in html and html.index('id="keep-offer"') < html.index('id="pay-')
        assert html.count('id="keep-offer"') == 1


@pytest.mark.parametrize(("name", "method"), [
    ("ios-cna", "wechat:h5"), ("android-sign-in", "alipay:wap"), ("wechat-mini-android", "wechat:jsapi"),
    ("wechat-mini-android", "wechat:h5"), ("alipay-mini-android", "alipay:wap"),
])
def test_a_way_that_cannot_pay_there_is_refused(pay_mall, pay, token_for, sandbox, name, method):
    """Pressed from a page shown elsewhere (or made up): 422, nothing bound, no provider order."""
    app, _map = pay_mall
    order = new_order(pay)
    went = app.test_client().post(f"/v/{VENUE}/pay/{order.id}/start?lang=en", headers={"User-Agent": UA[name]},
                                  data={"c": token_for(app, VENUE, CLIENT), "method": method})
    assert went.status_code == 422 and "Please choose a way to pay." in went.get_data(as_text=True)
    assert pay.order(VENUE, order.id).provider == "" and sandbox[0].trade(method.split(":")[0], order.id) is None


@pytest.mark.parametrize(("name", "opens_here"), [("ios-cna", False), ("alipay-mini-ios", False),
                                                  ("safari", True)])
def test_the_codes_own_link_is_offered_only_where_it_opens(pay_mall, pay, token_for, name, opens_here):
    """A QR code's link ("pay on this phone") opens the payment app: not from a sign-in sheet nor a mini program."""
    app, _map = pay_mall
    order = new_order(pay)
    token = token_for(app, VENUE, CLIENT)
    went = app.test_client().post(f"/v/{VENUE}/pay/{order.id}/start?lang=en", headers={"User-Agent": UA[name]},
                                  data={"c": token, "method": "wechat:native"})
    html = went.get_data(as_text=True)
    assert went.status_code == 200 and 'id="qr"' in html
    assert ('id="qr-link"' in html) is opens_here
    assert ("Scan with the app on another phone." in html) is not opens_here
    assert ('id="qr-link"' in page_in(app, token, order, name)) is opens_here  # and on every reload


def test_without_a_keep_link_the_sign_in_sheet_points_to_me(pay_mall, pay, token_for, monkeypatch):
    """No keep code could be had (the store failed): the keep offer leads to Me for the link, and the notice says so
    rather than naming a link below that is not there; with the code, the notice names the link."""
    app, _map = pay_mall
    order = new_order(pay)
    token = token_for(app, VENUE, CLIENT)
    with_link = page_in(app, token, order, "ios-cna")
    assert 'id="keep-link"' in with_link and "open the link below" in with_link

    def down(*_args, **_kwargs):
        raise redis.ConnectionError("the store is down")

    monkeypatch.setattr(KeepStore, "issue", down)
    html = page_in(app, token, order, "ios-cna")
    notice = re.search(r'<p class="notice" id="notice-sign-in">([^<]*)</p>', html).group(1)
    assert 'id="keep-link"' not in html and 'id="keep-on-me"' in html
    assert "open the link below" not in notice and "from Me below" in notice
    assert html.index('id="notice-sign-in"') < html.index('id="keep-on-me"') < html.index('id="pay-')


def test_the_sign_in_sheets_words_in_chinese(pay_mall, pay, token_for):
    app, _map = pay_mall
    order = new_order(pay)
    html = app.test_client().get(f"/v/{VENUE}/pay/{order.id}?c={token_for(app, VENUE, CLIENT)}&lang=zh",
                                 headers={"User-Agent": UA["ios-cna"]}).get_data(as_text=True)
    assert "WiFi 登录窗口无法打开微信或支付宝" in html and "继续上网" in html
