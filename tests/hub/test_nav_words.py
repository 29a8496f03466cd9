"""The header's words in Chinese: the menu's "Home" (the mall home, 首页) has its own message context, apart
from the shop category "home" (home furnishings, 家居) that shares the English word."""

from __future__ import annotations

import dataclasses
import re

from fingerprints.model import Shop


def _nav_home(html: str) -> str:
    return re.search(r'id="hub-home">([^<]*)</a>', html).group(1)


def test_zh_menu_says_home_page_and_the_category_still_says_furnishings(client, svc, shopper):
    _, token = shopper
    venue_map = svc.venues.get_map("demo")
    sofa = Shop("sofa", "Sofa World", "沙发世界", "home", 0, 95, 40, "lumen")
    svc.venues.put_map(dataclasses.replace(venue_map, shops=[*venue_map.shops, sofa]))
    html = client.get(f"/v/demo/?c={token}&lang=zh").get_data(as_text=True)
    assert _nav_home(html) == "首页"
    assert re.search(r'data-category="home">家居</a>', html)  # the category filter
    listing = client.get(f"/v/demo/?c={token}&lang=zh&category=home").get_data(as_text=True)
    assert _nav_home(listing) == "首页" and "家居 ·" in listing and "沙发世界" in listing
    english = client.get(f"/v/demo/?c={token}&lang=en").get_data(as_text=True)
    assert _nav_home(english) == "Home" and 'data-category="home">Home</a>' in english


def test_zh_menu_on_an_app_page_says_home_page(client, shopper):
    _, token = shopper
    for path in ("/v/demo/parking/garage", "/v/demo/me"):
        html = client.get(f"{path}?c={token}&lang=zh").get_data(as_text=True)
        assert _nav_home(html) == "首页", path
        assert "家居" not in html, path
