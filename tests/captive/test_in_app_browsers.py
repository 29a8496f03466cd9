"""Only the OS's WiFi sign-in sheets count as the captive browser (portal/captive/probes.py is_captive_browser):
an app's own browser (WeChat, Alipay, QQ, Weibo, Facebook, ...) looks like one by the old rule (WebKit without
"Safari" on iOS, a WebView on Android) but keeps cookies, stays open and can download, so its shopper gets the
normal pages. User agents as the clients send them."""

from __future__ import annotations

import pytest

from portal.captive.probes import in_app_browser, is_captive_browser
from portal.shopper import new_shopper, token_store
from tests.user_agents import IN_APP_BROWSERS, MINI_PROGRAMS, OTHER_APPS, OWN_BROWSERS, SIGN_IN_SHEETS


@pytest.mark.parametrize("name", SIGN_IN_SHEETS)
def test_the_os_sign_in_sheets_are_captive_browsers(name):
    assert is_captive_browser(SIGN_IN_SHEETS[name])


@pytest.mark.parametrize("name", [*IN_APP_BROWSERS, *OWN_BROWSERS])
def test_in_app_and_own_browsers_are_not(name):
    assert not is_captive_browser({**IN_APP_BROWSERS, **OWN_BROWSERS}[name])


def test_mini_programs_and_other_apps_are_named():
    """A mini program's web-view is a browser of its own (portal/payments/service.py offers it no way that pays on
    the phone), whichever app hosts it; Kuaishou, Meituan, JD, ... are apps' browsers, not sign-in sheets."""
    assert {name: in_app_browser(ua) for name, ua in MINI_PROGRAMS.items()} == dict.fromkeys(MINI_PROGRAMS,
                                                                                          "miniprogram")
    assert {name: in_app_browser(ua) for name, ua in OTHER_APPS.items()} == dict.fromkeys(OTHER_APPS, "other")


def test_apps_browsers_get_the_json_download_on_my_data(app, client, demo):
    with app.app_context():
        token = token_store(app).mint(new_shopper("demo"))
    for ua, download in ((IN_APP_BROWSERS["wechat-ios"], True), (OTHER_APPS["kuaishou-android"], True),
                         (OTHER_APPS["bilibili-android"], True), (SIGN_IN_SHEETS["ios-cna"], False)):
        page = client.get(f"/v/demo/my-data?c={token}&lang=zh", headers={"User-Agent": ua}).get_data(as_text=True)
        assert ('id="export-json"' in page) is download, ua
        assert ('id="export-in-browser"' in page) is not download, ua


@pytest.mark.parametrize(("name", "words"), [
    ("douyin-ios", "This app's browser is not your phone's own browser."),
    ("kuaishou-android", "This app's browser is not your phone's own browser."),
    ("ios-cna", "The WiFi sign-in window forgets everything when it closes."),
])
def test_me_words_the_keep_link_by_where_it_is_shown(app, client, demo, name, words):
    """Me's keep link: the sign-in sheet forgets her when it closes; an app's browser keeps her, but is not her
    phone's browser, so the link is worded for each."""
    with app.app_context():
        token = token_store(app).mint(new_shopper("demo"))
    ua = {**IN_APP_BROWSERS, **SIGN_IN_SHEETS}[name]
    page = client.get(f"/v/demo/me?c={token}&lang=en", headers={"User-Agent": ua}).get_data(as_text=True)
    assert 'id="keep-link"' in page and words in page.replace("&#39;", "'")
    assert ("sign-in window" in page) is (name == "ios-cna")
