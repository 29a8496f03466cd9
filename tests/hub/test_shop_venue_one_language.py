"""A shop or venue named in one language only is named so on the other language's pages too, never blank: the mall
home's shop list, the shop page, the route page, Me, the header's brand (a page's own, the hub's, the error page's)
and the owner console (Shop.label, VenueMap.label, through fingerprints.model.name_in)."""

from __future__ import annotations

import re

import pytest

from fingerprints.model import Floor, Shop, VenueMap
from portal.demo import mark_demo_venue

BRAND = re.compile(r'<a class="brand"[^>]*>([^<]*)</a>')
TITLE = re.compile(r"<title>([^<]*)</title>")


def brand(page: str) -> str:
    return BRAND.search(page).group(1).strip()


@pytest.fixture
def one_language(svc, demo):
    """The venue and Kopi Coffee named in English only, Pixel Electronics in Chinese only (像素电子), as a map
    imported with one language's names."""
    with svc.venues.edit("demo", "test.one_language", by="test") as venue_map:
        venue_map.name_zh = ""
        for shop in venue_map.shops:
            if shop.id == "kopi":
                shop.name_zh = ""
            elif shop.id == "pixel":
                shop.name = ""


@pytest.fixture
def chinese_venue(svc, demo):
    """The venue named in Chinese only."""
    with svc.venues.edit("demo", "test.chinese_venue", by="test") as venue_map:
        venue_map.name = ""


def get(client, path: str, lang: str, token: str = "") -> str:
    resp = client.get(path, query_string={"lang": lang, **({"c": token} if token else {})})
    assert resp.status_code == 200, (path, resp.status_code)
    return resp.get_data(as_text=True)


def shop_link(page: str, shop_id: str) -> str:
    return re.search(rf'<li data-shop="{shop_id}"><a class="shop-link"[^>]*>([^<]*)</a>', page).group(1)


def test_the_mall_home_lists_a_shop_in_its_only_language(client, shopper, one_language):
    _, token = shopper
    zh = get(client, "/v/demo/", "zh", token)
    assert shop_link(zh, "kopi") == "Kopi Coffee"
    assert shop_link(zh, "pixel") == "像素电子"  # both names' shop still in Chinese on a Chinese page
    assert brand(zh) == "Harbour Light Mall" and TITLE.search(zh).group(1) == "Harbour Light Mall"
    en = get(client, "/v/demo/", "en", token)
    assert shop_link(en, "pixel") == "像素电子"
    assert shop_link(en, "kopi") == "Kopi Coffee"
    # no second name repeating the only one
    item = en.split('data-shop="pixel"', 1)[1].split("</li>", 1)[0]
    assert 'lang="zh-CN"' not in item


def test_the_shop_page_names_a_shop_in_its_only_language(client, shopper, one_language):
    _, token = shopper
    zh = get(client, "/v/demo/shop/kopi", "zh", token)
    assert '<h1 id="shop-name">Kopi Coffee</h1>' in zh
    assert TITLE.search(zh).group(1) == "Kopi Coffee · Harbour Light Mall"
    assert brand(zh) == "Harbour Light Mall"
    assert '<p class="small" lang="en">Kopi Coffee</p>' not in zh  # not named twice
    en = get(client, "/v/demo/shop/pixel", "en", token)
    assert '<h1 id="shop-name">像素电子</h1>' in en
    both = get(client, "/v/demo/shop/books", "en", token)  # a shop with both names: as before, both shown
    assert re.search(r'<h1 id="shop-name">[^<]+</h1>\s*<p class="small" lang="zh-CN">[^<]+</p>', both)


def test_the_route_page_offers_a_shop_in_its_only_language(client, shopper, one_language):
    _, token = shopper
    zh = get(client, "/v/demo/navigate", "zh", token)
    assert re.search(r'<option value="shop:kopi"[^>]*>Kopi Coffee \(', zh)
    assert brand(zh) == "Harbour Light Mall"
    en = get(client, "/v/demo/navigate", "en", token)
    assert re.search(r'<option value="shop:pixel"[^>]*>像素电子 \(', en)


def test_the_route_api_names_a_shop_in_its_only_language(client, one_language):
    body = client.get("/v/demo/route", query_string={"from": "shop:kopi", "to": "shop:pixel"}).get_json()
    assert (body["from"]["name"], body["to"]["name"]) == ("Kopi Coffee", "像素电子")


def test_me_and_the_hub_header_name_a_venue_in_english_only_on_chinese_pages(client, shopper, one_language):
    _, token = shopper
    me = get(client, "/v/demo/me", "zh", token)
    assert brand(me) == "Harbour Light Mall" and TITLE.search(me).group(1).endswith(" · Harbour Light Mall")
    assert brand(get(client, "/v/demo/my-data", "zh", token)) == "Harbour Light Mall"  # the hub's header


def test_pages_name_a_venue_in_chinese_only_on_english_pages(client, shopper, chinese_venue):
    _, token = shopper
    for path in ("/v/demo/", "/v/demo/shop/kopi", "/v/demo/me", "/v/demo/my-data", "/v/demo/navigate"):
        assert brand(get(client, path, "en", token)) == "港湾之光购物中心", path
    missing = client.get("/v/demo/shop/nosuch", query_string={"lang": "en", "c": token})
    assert missing.status_code == 404 and brand(missing.get_data(as_text=True)) == "港湾之光购物中心"


def test_the_owner_console_names_a_shop_and_the_venue_in_their_only_language(client, console, one_language):
    console.login("kopi")
    zone = client.get("/console/owner/demo/zone/kopi?lang=zh").get_data(as_text=True)
    assert "<h3>Kopi Coffee</h3>" in zone
    home = client.get("/console/owner/demo/?lang=zh").get_data(as_text=True)
    assert TITLE.search(home).group(1).endswith(" · Harbour Light Mall")


@pytest.mark.parametrize(("name", "name_zh", "zh", "shown"), [
    ("Kopi Coffee", "考比咖啡", True, "考比咖啡"),
    ("Kopi Coffee", "考比咖啡", False, "Kopi Coffee"),
    ("Kopi Coffee", "", True, "Kopi Coffee"),
    ("", "考比咖啡", False, "考比咖啡"),
])
def test_shop_and_venue_labels_fall_back_to_the_other_language(name, name_zh, zh, shown):
    assert Shop("kopi", name, name_zh, "cafe", 0, 1.0, 1.0).label(zh) == shown
    assert VenueMap("demo", name, name_zh, []).label(zh) == shown


def test_the_demo_picker_names_a_chinese_only_venue_on_an_english_page(client, svc, chinese_venue):
    """/demo's venue picker (demo.demo_venues) names each demo mall by VenueMap.label: Harbour Light, Chinese only,
    was a blank tab on an English page."""
    svc.venues.put_map(VenueMap(id="tiny", name="Tiny", name_zh="", floors=[Floor(0, "G", 20, 10)]))
    mark_demo_venue(svc.db, "tiny")
    tabs = dict(re.findall(r'data-venue="([^"]+)"[^>]*>([^<]*)</a>', get(client, "/demo", "en")))
    assert tabs == {"demo": "港湾之光购物中心", "tiny": "Tiny"}
    assert dict(re.findall(r'data-venue="([^"]+)"[^>]*>([^<]*)</a>', get(client, "/demo", "zh")))["tiny"] == "Tiny"
