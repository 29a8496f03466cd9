"""Chinese and English: the language from ?lang= or the browser, the zh catalog complete and compiled,
and shopper pages small."""

from __future__ import annotations

import re

import pytest
from babel.messages.catalog import Catalog

from portal.owner import catalog
from portal.owner.babel_extract import config_field_strings

MAX_PAGE_BYTES = 100_000


def test_lang_zh_shows_chinese(client, demo):
    html = client.get("/v/demo/?lang=zh").get_data(as_text=True)
    assert "查找商店" in html and 'lang="zh-CN"' in html
    assert "Find a shop" not in html


def test_browser_language_zh_cn_shows_chinese(client, demo):
    html = client.get("/v/demo/", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}).get_data(as_text=True)
    assert "查找商店" in html


def test_browser_language_en_shows_english(client, demo):
    html = client.get("/v/demo/", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert "Find a shop" in html and 'lang="en"' in html


def test_lang_en_switches_back(client, demo):
    client.get("/v/demo/?lang=zh")  # remembered in a cookie where cookies survive
    assert "查找商店" in client.get("/v/demo/").get_data(as_text=True)
    html = client.get("/v/demo/?lang=en", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "Find a shop" in html
    assert "Find a shop" in client.get("/v/demo/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)


def test_a_form_that_carries_the_language_is_answered_in_it_without_cookies(client, demo):
    """The sign-in sheet keeps no cookie, so shopper forms carry the choice in a `lang` field (queue, parking):
    the page a POST answers with (here a refused plate, 422) is in that language, not the phone's."""
    sheet = client.application.test_client(use_cookies=False)
    refused = sheet.post("/v/demo/parking/garage/find", data={"plate": "zz", "lang": "zh"},
                         headers={"Accept-Language": "en"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'lang="zh-CN"' in html and "请输入至少 4 个车牌字母或数字。" in html
    english = sheet.post("/v/demo/parking/garage/find", data={"plate": "zz"}, headers={"Accept-Language": "en"})
    assert 'lang="en"' in english.get_data(as_text=True)


def test_only_a_small_shopper_form_chooses_the_language(client, demo):
    """A form's `lang` is read on shopper pages only (the light apps' /v/..., the captive portal's /portal...),
    and only from a small body: a provider's callback (/pay/notify/) holding `lang=zh` is answered in the
    request's own language, as is a shopper page's body past 64 KiB (no form of a shopper's)."""
    sheet = client.application.test_client(use_cookies=False)
    english = {"Accept-Language": "en"}
    for path in ("/pay/notify/wechat/demo", "/pay/notify/wechat-mall/demo"):
        resp = sheet.post(path, data={"lang": "zh", "out_trade_no": "MP1"}, headers=english)
        assert resp.status_code == 404 and '<html lang="en">' in resp.get_data(as_text=True), path
    captive = sheet.post("/portal/extend", data={"lang": "zh"}, headers=english)  # no shopper: refused, in zh
    assert captive.status_code == 400 and '<html lang="zh-CN">' in captive.get_data(as_text=True)
    padded = sheet.post("/v/demo/parking/garage/find", data={"plate": "zz", "lang": "zh", "pad": "x" * 70_000},
                        headers=english)
    assert padded.status_code == 422 and '<html lang="en">' in padded.get_data(as_text=True)


WECHAT = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN")
OLD_ANDROID = ("Mozilla/5.0 (Linux; U; Android 12; zh-cn; Redmi Note 11 Build/SKQ1) AppleWebKit/537.36 (KHTML, like "
               "Gecko) Version/4.0 Chrome/100.0.4896.58 Mobile Safari/537.36 XiaoMi/MiuiBrowser/17.1")
DOUYIN = ("Mozilla/5.0 (Linux; Android 13; V2227A Build/TP1A; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
          "Chrome/110.0 Mobile Safari/537.36 aweme_290000 AppName/aweme ByteLocale/zh-CN Region/CN")
WEBVIEW = ("Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Version/4.0 Chrome/120.0 Mobile Safari/537.36")


def page_lang(client, path: str = "/v/demo/", **headers: str) -> str:
    html = client.get(path, headers=headers).get_data(as_text=True)
    return re.search(r'<html lang="([^"]+)"', html).group(1)


@pytest.mark.parametrize("agent", [WECHAT, OLD_ANDROID, DOUYIN])
def test_without_accept_language_the_user_agents_locale_chooses(client, demo, agent):
    """An in-app browser that sends no Accept-Language (WeChat, Douyin, an old Android browser) names its locale in
    its user agent: the page is in Chinese, where it was in English."""
    sheet = client.application.test_client(use_cookies=False)
    assert page_lang(sheet, **{"User-Agent": agent}) == "zh-CN"
    assert page_lang(sheet, "/v/demo/zone/kopi", **{"User-Agent": agent}) == "zh-CN"


# WeChat set to Chinese on an Android phone set to English: the platform's `en-us` comes first in the string.
WECHAT_ON_ENGLISH_ANDROID = ("Mozilla/5.0 (Linux; U; Android 12; en-us; Redmi Note 11 Build/SKQ1; wv) "
                             "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/107.0.5304.141 Mobile "
                             "Safari/537.36 XWEB/5023 MMWEBSDK/20230202 MicroMessenger/8.0.33.2320(0x28002151) "
                             "NetType/WIFI Language/zh_CN")


@pytest.mark.parametrize(("agent", "lang"), [(WECHAT_ON_ENGLISH_ANDROID, "zh-CN"),
                                             (WECHAT_ON_ENGLISH_ANDROID.replace("Language/zh_CN", "Language/en"), "en"),
                                             (OLD_ANDROID + " Language/en", "en")])
def test_the_apps_own_language_wins_over_the_platforms(client, demo, agent, lang):
    assert page_lang(client.application.test_client(use_cookies=False), **{"User-Agent": agent}) == lang


@pytest.mark.parametrize("agent", [WEBVIEW, "Mozilla/5.0 (X11; Linux x86_64) Language/ko_KR", ""])
def test_a_user_agent_naming_no_language_of_ours_is_answered_in_english(client, demo, agent):
    assert page_lang(client.application.test_client(use_cookies=False), **{"User-Agent": agent}) == "en"


def test_accept_language_the_choice_and_its_cookie_win_over_the_user_agent(client, demo):
    sheet = client.application.test_client(use_cookies=False)
    assert page_lang(sheet, **{"User-Agent": WECHAT, "Accept-Language": "en-GB,en;q=0.9"}) == "en"
    assert page_lang(sheet, "/v/demo/?lang=en", **{"User-Agent": WECHAT}) == "en"
    english = sheet.post("/v/demo/parking/garage/find", data={"plate": "zz", "lang": "en"},
                         headers={"User-Agent": WECHAT})  # the shopper's form carries her choice
    assert '<html lang="en">' in english.get_data(as_text=True)
    client.get("/v/demo/?lang=en")  # remembered in a cookie
    assert page_lang(client, **{"User-Agent": WECHAT}) == "en"


def test_the_language_link_offers_the_other_language(client, demo):
    assert "lang=en" in client.get("/v/demo/?lang=zh").get_data(as_text=True)
    assert "lang=zh" in client.get("/v/demo/?lang=en").get_data(as_text=True)


def test_console_login_in_chinese(client, demo):
    html = client.get("/console/login?lang=zh").get_data(as_text=True)
    assert "管理后台登录" in html and "用户名" in html and "密码" in html


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("path", ["/v/demo/", "/v/demo/zone/atrium", "/v/demo/zone/kopi", "/v/demo/zone/cinema",
                                  "/v/demo/zone/foodcourt", "/v/demo/zone/garage"])
def test_shopper_pages_stay_under_100_kb(client, demo, svc, path, lang):
    resp = client.get(f"{path}?lang={lang}")
    assert resp.status_code == 200, path
    assert len(resp.get_data()) < MAX_PAGE_BYTES, (path, len(resp.get_data()))


# ---- the catalog ---------------------------------------------------------------------------------


def test_zh_catalog_has_no_empty_or_fuzzy_translation():
    assert catalog.untranslated("zh") == []


def test_zh_translations_keep_their_placeholders():
    problems = [(str(m.id), errors) for m, errors in catalog.load_po("zh").check()]
    assert problems == []


def test_compiled_catalog_matches_the_po():
    """The committed .mo is what the .po says (`python -m portal.owner.catalog compile` or make refreshes it)."""
    assert catalog.translations(catalog.load_mo("zh")) == catalog.translations(catalog.load_po("zh"))


def test_a_message_with_a_context_is_its_own_message():
    """pgettext('nav', 'Home') is not gettext('Home'): a catalog with one lacks the other (the menu's 首页 and
    the shop category's 家居 share the msgid "Home")."""
    template = Catalog()
    template.add("Home", context="nav")
    template.add("Home", context="a context no template uses")
    template.add("Home")
    assert catalog.missing(template, "zh") == ["a context no template uses|Home"]
    names = catalog.translations(catalog.load_po("zh"))
    assert names["nav|Home"] == ("首页",) and names["Home"] == ("家居",)
    assert catalog.translations(catalog.load_mo("zh"))["nav|Home"] == ("首页",)  # a .mo's context is bytes


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Catalog:
    """Every message the code has (extracted once for the module: it reads every file)."""
    return catalog.extract(tmp_path_factory.mktemp("pot") / "messages.pot")


def test_every_message_in_the_code_is_in_the_zh_catalog(template):
    """New strings need a Chinese translation: `python -m portal.owner.catalog update`, translate the
    empty entries in translations/zh/LC_MESSAGES/messages.po, then `... catalog compile`."""
    assert len(template) > 100
    assert catalog.missing(template, "zh") == []


def test_the_zh_catalog_keeps_no_message_the_code_no_longer_has(template):
    """A message reworded or removed in the code leaves its old msgid behind (`catalog update` keeps no
    obsolete entry, but an edit by hand does): 37 such entries had piled up, seat kinds and old page notes."""
    extracted = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in template if m.id}
    left = [m.id for m in catalog.load_po("zh")
            if m.id and (m.context, m.id if isinstance(m.id, str) else m.id[0]) not in extracted]
    assert left == []


def test_extractor_collects_config_field_labels():
    source = '''
ConfigField("a", "Label one", help="Some help")
registry.ConfigField("b", label="Label two")
ConfigField("c", "")
Other("d", "not me")
'''
    assert [text for _line, text in config_field_strings(source)] == ["Label one", "Some help", "Label two"]
    assert list(config_field_strings("def broken(:")) == []
