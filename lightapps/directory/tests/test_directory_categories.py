"""Category names shoppers read: every category a map can hold (the demo mall's, the mall generator's, IMDF
occupant categories) has a label in both languages, an unknown one a generic label, never its raw key; and
a generated mall's car park is found in its directory as the demo mall's is."""

from __future__ import annotations

import re

import pytest

from fingerprints.imdf.schema import OCCUPANT_CATEGORIES
from fingerprints.mallgen import generate_mall
from lightapps.directory.categories import category_label, group_of
from portal.seed import GALLERIA_VENUE, build_galleria, load_generated_mall

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def galleria():
    return build_galleria(survey_step_m=400.0, scans=1)  # the Galleria's shops and zones; no survey needed


@pytest.fixture
def galleria_loaded(svc, app, galleria):
    with app.app_context():
        load_generated_mall(svc, galleria)
    return galleria.venue


def every_category(demo_map, galleria) -> set[str]:
    ring = generate_mall(7, "ring", survey_step_m=400.0, scans=1).venue
    return ({s.category for venue in (demo_map, galleria.venue, ring) for s in venue.shops}
            | set(OCCUPANT_CATEGORIES))


def test_every_category_a_map_can_hold_has_a_label_in_both_languages(app, demo_map, galleria):
    categories = every_category(demo_map, galleria)
    assert {"anchor", "food", "kiosk", "stall", "shop", "parking", "chinese.dimsum"} <= categories
    with app.test_request_context("/?lang=zh"):
        zh = {c: category_label(c) for c in categories}
    with app.test_request_context("/?lang=en"):
        en = {c: category_label(c) for c in categories}
    assert [c for c, label in zh.items() if not HAN.search(label)] == []
    assert [c for c, label in en.items() if label == c or HAN.search(label)] == []


def test_an_unknown_category_reads_as_generic_shops_not_its_key(app):
    assert group_of("vinyl-records") == group_of("shop") == "shop"
    with app.test_request_context("/?lang=en"):
        assert category_label("vinyl-records") == category_label("shop") == "Shops"
    with app.test_request_context("/?lang=zh"):
        assert HAN.search(category_label("vinyl-records"))
    assert group_of("chinese.hunan") == group_of("chinese.szechuan.spicy") == "restaurant"  # by its dotted base


def chips(html: str) -> list[tuple[str, str]]:
    return re.findall(r'data-category="([^"]+)">([^<]*)<', html)


def test_the_galleria_directory_in_chinese_shows_no_english_category_key(client, galleria_loaded):
    html = client.get(f"/v/{GALLERIA_VENUE}/", query_string={"lang": "zh"}).get_data(as_text=True)
    shown = chips(html)
    assert {key for key, _ in shown} == {"anchor", "cinema", "food", "kiosk", "parking", "restaurant", "shop"}
    assert [label for _, label in shown if not HAN.search(label)] == []
    metas = re.findall(r'<span class="meta">([^<·]*)·', html)
    assert metas and [m for m in metas if not HAN.search(m)] == []


def test_a_category_chip_lists_its_whole_group(client, galleria_loaded):
    stalls = {s.id for s in galleria_loaded.shops if s.category in ("stall", "food")}
    html = client.get(f"/v/{GALLERIA_VENUE}/", query_string={"category": "food"}).get_data(as_text=True)
    assert set(re.findall(r'data-shop="([^"]+)"', html)) == stalls
    assert 'aria-current="true" data-category="food"' in html
    # a shop's own category (an older link) stands for its group
    html = client.get(f"/v/{GALLERIA_VENUE}/", query_string={"category": "stall"}).get_data(as_text=True)
    assert set(re.findall(r'data-shop="([^"]+)"', html)) == stalls


def test_every_car_park_zone_of_a_generated_mall_is_in_its_directory(galleria):
    venue = galleria.venue
    garages = {z.id for z in venue.zones if z.kind == "garage"}
    assert garages and {s.zone for s in venue.shops if s.category == "parking"} == garages


@pytest.mark.parametrize("query", ["停车", "parking", "找车", "car park"])
def test_the_galleria_car_park_is_found(client, galleria_loaded, query):
    garages = {z.id for z in galleria_loaded.zones if z.kind == "garage"}
    html = client.get(f"/v/{GALLERIA_VENUE}/", query_string={"q": query, "lang": "zh"}).get_data(as_text=True)
    assert set(re.findall(r'data-shop="([^"]+)"', html)) == garages
    assert "停车场 A 区" in html  # the Galleria's Chinese name of car park A
