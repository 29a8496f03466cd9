"""Facilities in the directory: a search for an ATM, an information desk, a baby-care room, first aid... in English or
Chinese lists the venue's IMDF amenity points of that kind (and restrooms their zones), with floor, the zone each lies
in and the way there."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest

from fingerprints.imdf.schema import AMENITY_KINDS
from fingerprints.model import Amenity, Zone
from lightapps.directory.categories import FACILITY_LABELS
from lightapps.directory.search import FACILITY_WORDS, search_facilities
from portal.shopper import Shopper, shopper_token

SQUARE = [(0, 0), (10, 0), (10, 10), (0, 10)]
ZONES = [Zone("atrium", "Atrium", "中庭", 0, SQUARE, kind="atrium"),
         Zone("wc-1", "Restroom", "洗手间", 1, SQUARE, kind="restroom")]
AMENITIES = [
    Amenity("a-atm-1", "atm", 1, 5, 5, "HSBC ATM", "汇丰取款机", zone=None),
    Amenity("a-atm-0", "atm", 0, 2, 3, zone="atrium"),
    Amenity("a-info", "information", 0, 4, 4, zone="atrium"),
    Amenity("a-guest", "guestservices", 1, 4, 4),
    Amenity("a-baby", "babychanging", 0, 6, 6, zone="atrium"),
    Amenity("a-nursing", "mothersroom", 1, 6, 6),
    Amenity("a-aid", "firstaid", 0, 7, 7),
    Amenity("a-wc", "restroom", 1, 5, 5, zone="wc-1"),  # the restroom zone's own: listed once, as the zone
    Amenity("a-family", "restroom.family", 0, 8, 8, zone="atrium"),
]


def found(query: str) -> list[tuple[str, list[str]]]:
    return [(kind, [f.ref[1] for f in places]) for kind, places in search_facilities(ZONES, AMENITIES, query)]


@pytest.mark.parametrize("query", ["ATM", "atm机", "ATM机", "取款机", "提款机", "cash machine", "where is an atm"])
def test_a_query_for_an_atm_lists_the_atms_floor_by_floor(query):
    assert found(query) == [("atm", ["a-atm-0", "a-atm-1"])]


@pytest.mark.parametrize(("query", "listed"), [
    ("服务台", [("information", ["a-info", "a-guest"])]),
    ("问讯处", [("information", ["a-info", "a-guest"])]),
    ("問訊處", [("information", ["a-info", "a-guest"])]),  # traditional characters
    ("information desk", [("information", ["a-info", "a-guest"])]),
    ("母婴室", [("babycare", ["a-baby", "a-nursing"])]),
    ("baby changing", [("babycare", ["a-baby", "a-nursing"])]),
    ("first aid", [("firstaid", ["a-aid"])]),
    ("医务室", [("firstaid", ["a-aid"])]),
    ("厕所", [("restroom", ["a-family", "wc-1"])]),  # the restroom amenity in wc-1 is wc-1
    ("HSBC", [("atm", ["a-atm-1"])]),  # its own name
    ("coffee", []), ("", []),
])
def test_a_query_naming_a_facility_lists_that_kind(query, listed):
    assert found(query) == listed


def test_an_unnamed_amenity_is_named_by_its_category_in_both_languages():
    (_, places), = search_facilities(ZONES, AMENITIES, "nursing room")
    assert [(f.name, f.name_zh) for f in places] == [("Baby changing", "母婴室"), ("Nursing room", "母婴室")]
    assert places[0].near.id == "atrium" and places[1].near is None
    assert places[0].to == "0,6.00,6.00"  # the way to the point itself


def test_every_kind_imported_has_a_heading_and_words():
    kinds = set(AMENITY_KINDS.values()) | {"restroom"}
    assert kinds == set(FACILITY_LABELS) == set(FACILITY_WORDS)


@pytest.fixture
def token(app):
    with app.test_request_context():
        return shopper_token(Shopper("demo", "client-dir-facilities"))


def test_a_search_for_an_atm_lists_it_with_floor_zone_and_directions(client, demo, svc, token):
    with svc.venues.edit("demo", "test.amenities") as m:
        m.amenities = [Amenity("0b0e4bc6-8a53-4c9a-a1c2-6d1f2f0a3e01", "atm", 0, 60.0, 20.5, zone="atrium"),
                       Amenity("0b0e4bc6-8a53-4c9a-a1c2-6d1f2f0a3e02", "information", 1, 60.0, 20.0, "Info",
                               "问讯处", zone="foodcourt")]
    html = client.get("/v/demo/", query_string={"q": "取款机", "c": token, "lang": "zh"}).get_data(as_text=True)
    item = re.search(r'<li data-amenity="0b0e4bc6-8a53-4c9a-a1c2-6d1f2f0a3e01">(.*?)</li>', html, re.S).group(1)
    assert 'id="facilities-atm"' in html and "自动取款机" in item and "G" in item
    assert "中庭" in item or "Atrium" in item  # the zone it lies in
    link = urlparse(unescape(re.search(r'href="([^"]+)"', item).group(1)))
    assert link.path == "/v/demo/navigate"
    assert parse_qs(link.query)["to"] == ["0,60.00,20.50"] and parse_qs(link.query)["to_label"] == ["自动取款机"]
    assert parse_qs(link.query)["c"] == [token]
    assert 'data-amenity="0b0e4bc6-8a53-4c9a-a1c2-6d1f2f0a3e02"' not in html
    html = client.get("/v/demo/", query_string={"q": "information", "c": token, "lang": "en"}).get_data(as_text=True)
    assert "Information desks" in html and 'data-amenity="0b0e4bc6-8a53-4c9a-a1c2-6d1f2f0a3e02"' in html
    assert "near Food court" in html
    route = client.get(link.path, query_string=parse_qs(link.query))
    assert route.status_code == 200
