"""WeChat Pay JSAPI (paying inside WeChat's own browser) and the ways to pay each browser is offered.

JSAPI through the real SDK against the sandbox: the official account's silent sign-in (the sandbox sends WeChat's
browser straight back with a code), the code exchanged for the shopper's openid, a JSAPI order for it and the
pay sheet's parameters signed with the merchant's key. The sign-in's `state` binds the return to one order and
its shopper: made up, made for another order, expired or brought by another browser, the return places nothing.
WeChat's browser is offered JSAPI first and no H5 / Alipay page (which fail there), Alipay's its own page first
and no WeChat H5; a browser where nothing pays on the phone says how to open the page in the phone's browser.
One Chromium test with WeChat's user agent buys a cinema ticket through the sandbox's WeixinJSBridge."""

from __future__ import annotations

import base64
import copy
import json
import logging
import re
import time
import types
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from core.payment_settings import PaymentSettings
from lightapps.cinema.store import CinemaStore, ShowtimeInput
from portal.apps.registry import get as get_app
from portal.captive.probes import in_app_browser
from portal.payments import views
from portal.payments.providers.base import ProviderError
from portal.payments.providers.wechat import WeChatPayProvider
from portal.payments.service import PaymentError
from portal.payments.signin import STATE_TTL_S
from portal.paysandbox.app import USER_COOKIE, jsapi_bridge_script

VENUE, CLIENT = "demo", "anon-jsapi"
WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Mobile/15E148 MicroMessenger/8.0.49(0x18003129) NetType/WIFI Language/zh_CN")
WECHAT_ANDROID_UA = ("Mozilla/5.0 (Linux; Android 13; V2227A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, "
                     "like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20231202 "
                     "MMWEBID/2247 MicroMessenger/8.0.47.2560(0x28002F35) WeChat/arm64 Weixin NetType/WIFI "
                     "Language/zh_CN ABI/arm64")
ALIPAY_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Mobile/15E148 Ariver/1.1.0 AliApp(AP/10.5.86.6000) Nebula WK RVKType(0) AlipayDefined(nt:WIFI,"
             "ws:390|780|3.0) AlipayClient/10.5.86.6000 Language/zh-Hans Region/CN")
SAFARI_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Version/17.5 Mobile/15E148 Safari/604.1")
CHROME_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
             "Mobile Safari/537.36")
WECOM_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 16_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Mobile/15E148 wxwork/4.1.6 MicroMessenger/7.0.1 Language/zh ColorScheme/Light")
# WeChat's browser asking for English: with no Accept-Language the portal would speak its user agent's zh_CN.
IN_WECHAT_EN = {"User-Agent": WECHAT_UA, "Accept-Language": "en"}


def new_order(pay, amount: int = 1500):
    return pay.create(VENUE, merchant="kopi", shopper=CLIENT, amount=amount, purpose="jsapi-test", ref="r",
                      description="JSAPI test", idem=f"jsapi:{time.time_ns()}", return_url="http://return.example/x")


def press(app, token_for, order, method: str = "wechat:jsapi", ua: str = WECHAT_UA, client=None):
    """(test client, the answer to pressing Pay with `method` in the browser `ua`)."""
    client = client or app.test_client()
    went = client.post(f"/v/{VENUE}/pay/{order.id}/start", headers={"User-Agent": ua, "Accept-Language": "en"},
                       data={"c": token_for(app, VENUE, CLIENT), "method": method})
    return client, went


def signed_in(location: str, user: str = "shopper-1") -> str:
    """What WeChat's browser does with the sign-in URL (the sandbox's): the portal's return path, code and state."""
    answer = requests.get(location, headers={"User-Agent": WECHAT_UA}, cookies={USER_COOKIE: user},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    return f"{back.path}?{back.query}"


def with_arg(path: str, name: str, value: str) -> str:
    parts = urlsplit(path)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {name: value}
    return parts.path + "?" + "&".join(f"{k}={v}" for k, v in query.items())


def bridge_params(html: str) -> dict:
    return json.loads(re.search(r"var params = (\{.*?\}), back", html).group(1))


def verifies(public_key, params: dict) -> bool:
    message = "".join(f"{params[k]}\n" for k in ("appId", "timeStamp", "nonceStr", "package")).encode()
    try:
        public_key.verify(base64.b64decode(params["paySign"]), message, padding.PKCS1v15(), hashes.SHA256())
    except Exception:  # noqa: BLE001 - InvalidSignature
        return False
    return True


def buttons(html: str) -> list[str]:
    return re.findall(r'id="pay-([a-z]+-[a-z0-9]+)"', html)


# ---- the provider and the service, against the sandbox ----

def test_jsapi_pays_as_the_signed_in_openid_and_the_callback_books_it(pay, pay_portal, sandbox):
    box, sandbox_url = sandbox
    paid = []
    pay.register("jsapi-test", on_paid=lambda o: paid.append(o.id) or True)
    order = new_order(pay)
    openid = pay.wechat_payer(box.sign_in("shopper-1"))
    assert openid == box.openid_of("shopper-1") != box.openid_of("shopper-2")
    begun = pay.start(VENUE, order.id, "wechat", "jsapi", "203.0.113.9", pay_portal[1], "http://return.example/x",
                      payer=openid)
    params = begun.params
    assert begun.kind == "bridge" and params["appId"] == box.keys.wechat_appid and params["signType"] == "RSA"
    assert params["package"].startswith("prepay_id=wx") and params["timeStamp"].isdigit()
    assert verifies(box.keys.wechat_merchant_key.public_key(), params)
    trade = box.trade("wechat", order.id)
    assert (trade.method, trade.payer, trade.amount) == ("jsapi", openid, 1500)
    assert pay.order(VENUE, order.id).method == "jsapi"
    # A sheet opened with parameters someone changed (another amount's prepay_id, a signature of their own): refused.
    forged = {**params, "nonceStr": params["nonceStr"][::-1]}
    assert requests.post(f"{sandbox_url}/sandbox/jsapi/pay", data=json.dumps(forged), timeout=30).status_code == 400
    assert pay.order(VENUE, order.id).status == "created"
    answer = requests.post(f"{sandbox_url}/sandbox/jsapi/pay", data=json.dumps(params), timeout=30)
    assert answer.status_code == 200 and answer.json() == {"paid": True}
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert pay.order(VENUE, order.id).status == "paid" and paid == [order.id]
    assert trade.notifications[-1]["status"] == 200
    assert [(e.kind, e.amount, e.provider) for e in pay.store.ledger(VENUE)] == [("paid", 1500, "wechat")]


def test_a_sign_in_code_is_exchanged_once_and_logs_no_secret(pay, sandbox, caplog):
    box, _url = sandbox
    code = box.sign_in("shopper-1")
    with caplog.at_level(logging.DEBUG):  # urllib3 logs the exchange's URL, the sandbox its request line
        assert pay.wechat_payer(code) == box.openid_of("shopper-1")
    assert "/sns/oauth2/access_token" in caplog.text and "secret=[redacted]" in caplog.text
    assert box.keys.wechat_app_secret not in caplog.text and box.openid_of("shopper-1") not in caplog.text
    for used in (code, "sb-made-up", ""):
        with pytest.raises(PaymentError) as refused:
            pay.wechat_payer(used)
        assert refused.value.code == "payer"


def test_jsapi_needs_the_payer_and_the_app_secret(pay, pay_portal, sandbox, tmp_path: Path):
    _box, sandbox_url = sandbox
    order = new_order(pay)
    for payer, method in (("", "jsapi"), ("o-someone", "native")):
        with pytest.raises(PaymentError) as refused:
            pay.start(VENUE, order.id, "wechat", method, "203.0.113.9", pay_portal[1], "http://r.example/", payer=payer)
        assert refused.value.code == "unknown_provider"
    assert pay.order(VENUE, order.id).provider == ""  # nothing bound
    cred = requests.get(f"{sandbox_url}/sandbox/credentials.json", timeout=30).json()["wechat"]
    (tmp_path / f"{cred['platform_serial']}.pem").write_text(cred["platform_cert"])  # as sandbox_providers does
    without = WeChatPayProvider(cred["mchid"], cred["appid"], cred["private_key"], cred["cert_serial_no"],
                                cred["apiv3_key"], str(tmp_path), gateway=sandbox_url)
    assert without.methods == ("h5", "native")
    with pytest.raises(ProviderError):
        without.start(order.id, 1500, "x", "jsapi", order.expires_ms, "203.0.113.9", "http://n.example/", "", "o-1")


def test_the_app_secret_is_a_setting_kept_out_of_repr(tmp_path: Path):
    env = {"WECHAT_APP_SECRET": "s3cr3t-app-secret", "WECHAT_OAUTH_URL": "https://oauth.example/",
           "WECHAT_API_URL": "https://api.example"}
    read = PaymentSettings.from_env(env, tmp_path)
    assert (read.wechat_app_secret, read.wechat_oauth_url, read.wechat_api_url) == (
        "s3cr3t-app-secret", "https://oauth.example", "https://api.example")
    assert "s3cr3t" not in repr(read)
    defaults = PaymentSettings.from_env({}, tmp_path)
    assert (defaults.wechat_oauth_url, defaults.wechat_api_url) == ("https://open.weixin.qq.com",
                                                                    "https://api.weixin.qq.com")
    with pytest.raises(ValueError, match="WECHAT_API_URL"):
        PaymentSettings.from_env({"WECHAT_API_URL": "api.weixin.qq.com"}, tmp_path)


# ---- the sign-in and its state, through the shopper pages ----

def test_pay_in_wechat_signs_in_then_opens_the_pay_sheet(pay_mall, pay, token_for, sandbox):
    app, _map = pay_mall
    box, sandbox_url = sandbox
    order = new_order(pay)
    client, went = press(app, token_for, order)
    assert went.status_code == 303
    location = went.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(f"{sandbox_url}/connect/oauth2/authorize?") and location.endswith("#wechat_redirect")
    assert query["appid"] == [box.keys.wechat_appid] and query["scope"] == ["snsapi_base"]
    assert urlsplit(query["redirect_uri"][0]).path == f"/v/{VENUE}/pay/{order.id}/payer"
    assert token_for(app, VENUE, CLIENT) not in unquote(location) and "c=" not in query["redirect_uri"][0]
    assert pay.order(VENUE, order.id).provider == "" and box.trade("wechat", order.id) is None  # nothing placed yet
    page = client.get(signed_in(location), headers=IN_WECHAT_EN)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    params = bridge_params(html)
    assert verifies(box.keys.wechat_merchant_key.public_key(), params)
    assert 'id="jsapi-help"' in html and f'"/v/{VENUE}/pay/{order.id}/back"' in html
    # she is in WeChat already (a mini program's web-view on iOS too, which refuses the sheet): the codes are left
    assert "choose a QR code below" in html and "open this page in WeChat" not in html
    assert box.trade("wechat", order.id).payer == box.openid_of("shopper-1")
    assert (pay.order(VENUE, order.id).provider, pay.order(VENUE, order.id).method) == ("wechat", "jsapi")
    assert requests.post(f"{sandbox_url}/sandbox/jsapi/pay", data=json.dumps(params), timeout=30).status_code == 200
    back = client.get(f"/v/{VENUE}/pay/{order.id}/back", headers=IN_WECHAT_EN)
    assert back.status_code == 303
    done = client.get(back.headers["Location"], headers=IN_WECHAT_EN)
    assert done.status_code == 303 and done.headers["Location"].startswith("http://return.example/x?c=")


def test_a_return_with_a_made_up_state_places_nothing(pay_mall, pay, token_for, sandbox):
    app, _map = pay_mall
    box, _url = sandbox
    order = new_order(pay)
    client, went = press(app, token_for, order)
    back = signed_in(went.headers["Location"])
    state = parse_qs(urlsplit(back).query)["state"][0]
    made_up = [state[:-1] + ("0" if state[-1] != "0" else "1"), "", "1x" + "0" * 40, str(int(time.time()) + 9999)
               + state[state.index("x"):], state + "0"]
    for forged in made_up:
        answer = client.get(with_arg(back, "state", forged), headers=IN_WECHAT_EN)
        assert answer.status_code == 400
        assert "This payment link is not valid. Please press Pay again." in answer.get_data(as_text=True)
    without_code = client.get(with_arg(back, "code", ""), headers=IN_WECHAT_EN)
    assert without_code.status_code == 400
    assert pay.order(VENUE, order.id).provider == "" and box.trade("wechat", order.id) is None
    # The code was never exchanged: the genuine return still works.
    assert client.get(back, headers=IN_WECHAT_EN).status_code == 200
    assert box.trade("wechat", order.id) is not None


def test_a_state_made_for_another_order_places_nothing(pay_mall, pay, token_for, sandbox):
    app, _map = pay_mall
    box, _url = sandbox
    first, second = new_order(pay), new_order(pay, 2500)
    client, went = press(app, token_for, first)
    back = signed_in(went.headers["Location"])
    other = back.replace(first.id, second.id)
    answer = client.get(other, headers=IN_WECHAT_EN)
    assert answer.status_code == 400 and second.id in answer.get_data(as_text=True)
    assert pay.order(VENUE, second.id).provider == "" and box.trade("wechat", second.id) is None


def test_an_expired_state_places_nothing(pay_mall, pay, token_for, sandbox, monkeypatch):
    app, _map = pay_mall
    box, _url = sandbox
    order = new_order(pay, 3500)
    client, went = press(app, token_for, order)
    back = signed_in(went.headers["Location"])
    later = time.time() + STATE_TTL_S + 5
    monkeypatch.setattr(views, "time", types.SimpleNamespace(time=lambda: later))
    answer = client.get(back, headers=IN_WECHAT_EN)
    assert answer.status_code == 400
    assert "This payment link has expired. Please press Pay again." in answer.get_data(as_text=True)
    assert pay.order(VENUE, order.id).provider == "" and box.trade("wechat", order.id) is None


def test_the_return_in_another_browser_or_twice(pay_mall, pay, token_for, sandbox):
    """Another browser (no cookie of the order's shopper) with the genuine code and state: 404, nothing placed.
    The return loaded again (its code used): 400, and the order placed by the first stays as it was."""
    app, _map = pay_mall
    box, _url = sandbox
    order = new_order(pay)
    client, went = press(app, token_for, order)
    back = signed_in(went.headers["Location"])
    assert app.test_client().get(back, headers=IN_WECHAT_EN).status_code == 404
    assert box.trade("wechat", order.id) is None
    assert client.get(back, headers=IN_WECHAT_EN).status_code == 200
    again = client.get(back, headers=IN_WECHAT_EN)
    assert again.status_code == 400
    assert "WeChat could not confirm who is paying. Please press Pay again." in again.get_data(as_text=True)
    assert pay.order(VENUE, order.id).status == "created" and box.trade("wechat", order.id).status == "NOTPAY"


# ---- which ways to pay each browser is offered ----

@pytest.mark.parametrize(("ua", "shown"), [
    (WECHAT_UA, ["wechat-jsapi", "wechat-native", "alipay-qr"]),
    (WECHAT_ANDROID_UA, ["wechat-jsapi", "wechat-native", "alipay-qr"]),
    (ALIPAY_UA, ["alipay-wap", "wechat-native", "alipay-qr"]),
    (SAFARI_UA, ["wechat-h5", "wechat-native", "alipay-wap", "alipay-qr"]),
    (CHROME_UA, ["wechat-h5", "wechat-native", "alipay-wap", "alipay-qr"]),
])
def test_the_ways_to_pay_follow_the_browser(pay_mall, pay, token_for, ua, shown):
    app, _map = pay_mall
    order = new_order(pay)
    page = app.test_client().get(f"/v/{VENUE}/pay/{order.id}?c={token_for(app, VENUE, CLIENT)}",
                                 headers={"User-Agent": ua})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and buttons(html) == shown
    assert 'id="open-in-browser"' not in html


def test_in_wechat_without_the_app_secret_the_page_says_how_to_leave(pay_mall, pay, token_for, monkeypatch):
    app, _map = pay_mall
    monkeypatch.setattr(pay.provider("wechat"), "methods", ("h5", "native"))  # no WECHAT_APP_SECRET
    order = new_order(pay)
    c = token_for(app, VENUE, CLIENT)
    page = app.test_client().get(f"/v/{VENUE}/pay/{order.id}?c={c}&lang=zh", headers={"User-Agent": WECHAT_UA})
    html = page.get_data(as_text=True)
    assert buttons(html) == ["wechat-native", "alipay-qr"]  # the codes, for another phone to scan
    assert "请用手机浏览器打开本页付款" in html
    link = re.search(r'id="open-link" readonly value="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert link.startswith(f"http://localhost/v/{VENUE}/pay/{order.id}?") and f"c={c}" in link and "lang=zh" in link
    in_safari = app.test_client().get(f"/v/{VENUE}/pay/{order.id}?c={c}", headers={"User-Agent": SAFARI_UA})
    assert 'id="open-in-browser"' not in in_safari.get_data(as_text=True)
    # JSAPI pressed from a page of before: nothing to sign in with
    _client, went = press(app, token_for, order)
    assert went.status_code == 422 and pay.order(VENUE, order.id).provider == ""


@pytest.mark.parametrize(("ua", "method"), [(WECHAT_UA, "wechat:h5"), (WECHAT_UA, "alipay:wap"),
                                            (ALIPAY_UA, "wechat:h5"), (SAFARI_UA, "wechat:jsapi")])
def test_a_way_to_pay_the_browser_cannot_use_is_refused(pay_mall, pay, token_for, sandbox, ua, method):
    app, _map = pay_mall
    order = new_order(pay)
    _client, went = press(app, token_for, order, method, ua)
    assert went.status_code == 422 and "Please choose a way to pay." in went.get_data(as_text=True)
    assert pay.order(VENUE, order.id).provider == "" and sandbox[0].trade(method.split(":")[0], order.id) is None


def test_which_app_is_the_browser():
    assert [in_app_browser(ua) for ua in (WECHAT_UA, WECHAT_ANDROID_UA, ALIPAY_UA, WECOM_UA, SAFARI_UA, "")] == [
        "wechat", "wechat", "alipay", "other", "", ""]


# ---- in a browser ----

@pytest.mark.browser
def test_buy_a_cinema_ticket_in_wechat_through_jsapi(browser, pay_portal, pay, sandbox, demo_map):
    """WeChat's browser (its user agent; WeixinJSBridge injected, talking to the sandbox as WeChat's native bridge
    would, unbound by the page's CSP): seats -> hold -> Pay -> WeChat Pay · pay on this phone -> the sign-in
    (straight back) -> the pay sheet pays -> the order's return -> the ticket."""
    app, url = pay_portal
    _box, sandbox_url = sandbox
    svc = app.extensions["mallportal"]
    venue_map = copy.deepcopy(demo_map)
    venue_map.samples = []
    svc.venues.put_map(venue_map)
    svc.zone_apps.set(VENUE, "cinema", "cinema", get_app("cinema").default_config())
    item = ShowtimeInput("WeChat Film", "微信电影", "1", int(time.time()) + 3 * 3600, 4500)
    show_id = CinemaStore(svc.db).upsert_showtimes(VENUE, "cinema", [item], source="test")["ids"][0]
    context = browser.new_context(viewport={"width": 390, "height": 844}, user_agent=WECHAT_UA, is_mobile=True,
                                  has_touch=True, bypass_csp=True, locale="zh-CN")
    context.add_init_script(jsapi_bridge_script(sandbox_url))
    page = context.new_page()
    try:
        page.goto(f"{url}/v/{VENUE}/cinema/cinema/show/{show_id}")
        page.click('label[title="C4"]')
        page.click('label[title="C5"]')
        page.click("#hold-seats")
        page.click("#pay")
        page.wait_for_selector("#pay-wechat-jsapi")
        assert page.locator("#pay-wechat-h5, #pay-alipay-wap").count() == 0
        page.click("#pay-wechat-jsapi")
        page.wait_for_selector("#booking-code")  # the ticket: the sheet paid, the return found it paid
        assert page.url.startswith(url) and "/ticket/" in page.url
        assert page.inner_text("#ticket-seats") == "C4, C5"
    finally:
        context.close()
    paid = [e for e in pay.store.ledger(VENUE, "cinema") if e.kind == "paid"]
    assert len(paid) == 1 and paid[0].amount == 9000 and paid[0].provider == "wechat"
