"""Directory pages: search (name, pinyin, category), shop pages, links carrying the shopper's `c` token."""

from __future__ import annotations

import re
from html import unescape

import pytest

from portal.shopper import Shopper, shopper_token


@pytest.fixture
def token(app):
    with app.test_request_context():
        return shopper_token(Shopper("demo", "client-dir-1"))


def shop_ids(html: str) -> list[str]:
    return re.findall(r'data-shop="([^"]+)"', html)


def hrefs(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'href="([^"]+)"', html)]


def assert_links_carry(html: str, token: str):
    links = [h for h in hrefs(html) if h.startswith("/v/")]
    assert links, "no shopper links on the page"
    for link in links:
        assert f"c={token}" in link, link
    for form in re.findall(r"<form[^>]*method=\"get\"[^>]*>.*?</form>", html, re.S):
        assert f'name="c" value="{token}"' in form


def test_home_lists_every_shop(client, demo, token):
    html = client.get(f"/v/demo/?c={token}").get_data(as_text=True)
    assert set(shop_ids(html)) == {"kopi", "books", "lumen", "starlight", "noodle", "dumpling", "jade",
                                   "pixel", "carpark"}
    assert_links_carry(html, token)


@pytest.mark.parametrize("query", ["xg", "xgyc", "xingguang", "星光", "starlight", "STAR"])
def test_search_finds_starlight(client, demo, token, query):
    resp = client.get("/v/demo/", query_string={"q": query, "c": token})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert shop_ids(html) == ["starlight"]
    assert_links_carry(html, token)


def test_search_no_match(client, demo):
    html = client.get("/v/demo/?q=zzzz").get_data(as_text=True)
    assert shop_ids(html) == []
    assert 'id="no-match"' in html


def test_category_filter(client, demo, token):
    html = client.get("/v/demo/", query_string={"category": "restaurant", "c": token}).get_data(as_text=True)
    assert set(shop_ids(html)) == {"noodle", "dumpling", "jade"}
    assert 'aria-current="true" data-category="restaurant"' in html
    # the filter is kept when searching within it
    assert 'name="category" value="restaurant"' in html
    html = client.get("/v/demo/", query_string={"category": "restaurant", "q": "jz"}).get_data(as_text=True)
    assert shop_ids(html) == ["dumpling"]
    assert_links_carry(client.get("/v/demo/", query_string={"category": "cafe", "c": token}).get_data(as_text=True),
                       token)


def test_bad_search_input_is_a_clear_400(client, demo):
    resp = client.get("/v/demo/", query_string={"category": "weapons"})
    assert resp.status_code == 400
    assert "Unknown category" in resp.get_data(as_text=True)
    resp = client.get("/v/demo/", query_string={"q": "x" * 101})
    assert resp.status_code == 400
    assert "too long" in resp.get_data(as_text=True)


def test_unknown_venue_404(client, demo):
    assert client.get("/v/nowhere/").status_code == 404
    assert client.get("/v/nowhere/shop/kopi").status_code == 404


def test_zone_landing_puts_zone_shops_first(client, demo, token):
    resp = client.get(f"/v/demo/zone/jade?c={token}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'id="zone-title"' in html and "Jade Tea House" in html
    assert shop_ids(html)[0] == "jade"
    assert_links_carry(html, token)
    assert client.get("/v/demo/zone/nowhere").status_code == 404


def test_shop_page(client, demo, token):
    resp = client.get(f"/v/demo/shop/starlight?c={token}")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Starlight Cinema" in html and "星光影城" in html
    assert "Six screens, IMAX." in html
    assert re.search(r'id="shop-floor">L1', html)
    assert 'id="shop-category"' in html and "Cinema" in html
    assert "<svg" in html and "<circle" in html  # where it is on the plan
    take = unescape(re.search(r'id="take-me-there" href="([^"]+)"', html).group(1))
    assert take.startswith("/v/demo/navigate?")
    assert "to=shop:starlight" in take and "from=me" in take and f"c={token}" in take
    assert_links_carry(html, token)
    assert len(html.encode()) < 100_000


def test_shop_page_in_chinese(client, demo):
    html = client.get("/v/demo/shop/noodle?lang=zh").get_data(as_text=True)
    assert re.search(r'<h1 id="shop-name">兰州拉面</h1>', html)


def test_unknown_shop_404(client, demo):
    resp = client.get("/v/demo/shop/no-such-shop")
    assert resp.status_code == 404
    assert "Unknown shop" in resp.get_data(as_text=True)


def test_anonymous_shopper_gets_a_token_on_every_link(client, demo):
    html = client.get("/v/demo/").get_data(as_text=True)
    token = re.search(r'name="c" value="([^"]+)"', html).group(1)
    assert token
    assert_links_carry(html, token)


def test_a_search_for_a_toilet_lists_the_restrooms_with_directions(client, demo, svc, token):
    """"Where is the toilet?": an IMDF restroom unit is a zone of kind restroom; a query for one lists them, each
    with the way there (a route to the zone), in the page's language; a shop search lists none."""
    from fingerprints.model import Zone

    with svc.venues.edit("demo", "zone.add") as m:  # where the plan has room does not matter to the search
        m.zones.append(Zone("wc-1", "Restroom", "洗手间", 1, [(1, 1), (3, 1), (3, 3), (1, 3)], kind="restroom"))
    html = client.get("/v/demo/", query_string={"q": "厕所", "c": token, "lang": "zh"}).get_data(as_text=True)
    assert 'id="facilities-restroom"' in html and 'data-zone="wc-1"' in html and "洗手间" in html
    assert any("/navigate" in h and "to=zone:wc-1" in h for h in hrefs(html))
    assert_links_carry(html, token)
    html = client.get("/v/demo/", query_string={"q": "toilet", "c": token, "lang": "en"}).get_data(as_text=True)
    assert 'data-zone="wc-1"' in html and "Restrooms" in html
    html = client.get("/v/demo/", query_string={"q": "xg", "c": token}).get_data(as_text=True)
    assert 'id="facilities-' not in html
