"""Shop search: English and Chinese names, category, pinyin initials / full pinyin / a mix."""

from __future__ import annotations

import pytest

from fingerprints.model import Shop
from lightapps.directory.search import pinyin_matches, search_shops, syllables

SHOPS = [
    Shop("starlight", "Starlight Cinema", "星光影城", "cinema", 1, 22, 30),
    Shop("noodle", "Lanzhou Noodle Bar", "兰州拉面", "restaurant", 1, 55, 20),
    Shop("dumpling", "Golden Dumpling", "金饺子", "restaurant", 1, 75, 20),
    Shop("kopi", "Kopi Coffee", "考比咖啡", "cafe", 0, 90, 15),
    Shop("tea", "Green Tea", "绿茶", "restaurant", 0, 10, 10),
    Shop("bank", "City Bank", "城市银行", "services", 0, 12, 10),
    Shop("ktv", "Party KTV", "KTV量贩", "entertainment", 1, 5, 5),
]


def ids(shops):
    return [s.id for s in shops]


@pytest.mark.parametrize("query", ["xg", "XG", "xgyc", "xingguang", "xingguangyingcheng", "xinggy",
                                   "guangying", "xing guang", "xing'guang", "ｘｇ", "yc"])
def test_pinyin_finds_starlight(query):
    assert ids(search_shops(SHOPS, query)) == ["starlight"]


@pytest.mark.parametrize("query", ["gx", "xgz", "xingguangx", "yingxing"])
def test_pinyin_needs_syllable_order(query):
    assert not pinyin_matches(query, "星光影城")


def test_pinyin_initials_of_other_shops():
    assert ids(search_shops(SHOPS, "lzlm")) == ["noodle"]
    assert ids(search_shops(SHOPS, "jjz")) == ["dumpling"]
    assert ids(search_shops(SHOPS, "kbkf")) == ["kopi"]


def test_pinyin_v_for_u_umlaut_and_other_readings():
    assert "tea" in ids(search_shops(SHOPS, "lvcha"))  # 绿 typed as lv on a pinyin keyboard
    assert "tea" in ids(search_shops(SHOPS, "lc"))
    assert "bank" in ids(search_shops(SHOPS, "yinhang"))  # 行 read hang in 银行, not xing
    assert "bank" in ids(search_shops(SHOPS, "csyh"))


def test_latin_part_of_a_chinese_name():
    assert syllables("KTV量贩") == (("ktv",), ("liang",), ("fan",))
    assert ids(search_shops(SHOPS, "ktvlf")) == ["ktv"]


def test_english_and_chinese_names():
    assert ids(search_shops(SHOPS, "star")) == ["starlight"]
    assert ids(search_shops(SHOPS, "  STARLIGHT cinema ")) == ["starlight"]
    assert ids(search_shops(SHOPS, "starlightcinema")) == ["starlight"]
    assert ids(search_shops(SHOPS, "星光")) == ["starlight"]
    assert ids(search_shops(SHOPS, "拉面")) == ["noodle"]
    assert search_shops(SHOPS, "nothing like it") == []


def test_category_filter_and_category_text():
    assert ids(search_shops(SHOPS, "", "restaurant")) == ["tea", "dumpling", "noodle"]
    assert ids(search_shops(SHOPS, "jin", "restaurant")) == ["dumpling"]
    assert search_shops(SHOPS, "xg", "restaurant") == []
    assert ids(search_shops(SHOPS, "cafe")) == ["kopi"]  # the category name itself
    assert ids(search_shops(SHOPS, "咖啡店", category_labels={"cafe": "咖啡店"})) == ["kopi"]


def test_empty_query_lists_all_in_floor_order():
    found = search_shops(SHOPS, "")
    assert len(found) == len(SHOPS)
    assert [s.floor for s in found] == sorted(s.floor for s in found)


@pytest.mark.parametrize("query, want", [
    ("电影", ["starlight"]), ("影院", ["starlight"]), ("movie", ["starlight"]), ("看电影", ["starlight"]),
    ("咖啡", ["kopi"]), ("coffee", ["kopi"]), ("food", ["tea", "dumpling", "noodle"]),
    ("吃饭", ["tea", "dumpling", "noodle"]),
])
def test_synonyms_find_the_category(query, want):
    assert ids(search_shops(SHOPS, query)) == want


@pytest.mark.parametrize("query, want", [
    ("starlite", ["starlight"]), ("noodel", ["noodle"]), ("xinguang", ["starlight"]), ("dumplin", ["dumpling"]),
    ("kopee coffe", ["kopi"]),
])
def test_typos_are_forgiven_when_nothing_matches_exactly(query, want):
    assert ids(search_shops(SHOPS, query)) == want


def test_fuzzy_only_as_a_fallback_and_never_for_short_or_unrelated_queries():
    assert ids(search_shops(SHOPS, "star")) == ["starlight"]  # exact wins; no fuzzy extras
    assert search_shops(SHOPS, "zzzz") == [] and search_shops(SHOPS, "gx") == []
    assert search_shops(SHOPS, "nothing like it") == []


def test_latin_synonyms_are_whole_words():
    assert "dumpling" not in ids(search_shops(SHOPS, "great"))  # "eat" inside another word names nothing
    assert ids(search_shops(SHOPS, "eat dumplings")) == ["tea", "dumpling", "noodle"]


@pytest.mark.parametrize("query, found", [
    ("星光影城", ["starlight"]),
    ("蘭州拉麵", ["noodle"]),  # typed on a Hong Kong or Taiwan keyboard
    ("金餃子", ["dumpling"]),
    ("綠茶", ["tea"]),
    ("城市銀行", ["bank"]),
    ("電影", ["starlight"]),  # a synonym, in traditional characters
])
def test_traditional_characters_find_simplified_names(query, found):
    assert ids(search_shops(SHOPS, query)) == found


def test_a_name_written_in_traditional_characters_is_found_in_simplified():
    hk = [Shop("books", "Commercial Press", "商務印書館", "books", 1, 10, 10)]
    assert ids(search_shops(hk, "商务印书馆")) == ["books"] and ids(search_shops(hk, "印書")) == ["books"]


def test_a_query_for_a_toilet_lists_the_restrooms():
    from fingerprints.model import Zone
    from lightapps.directory.search import search_facilities

    zones = [Zone("wc-2", "Women's restroom", "女洗手间", 2, [(0, 0), (4, 0), (4, 4)], kind="restroom"),
             Zone("wc-1", "Restroom", "洗手间", 1, [(0, 0), (4, 0), (4, 4)], kind="restroom"),
             Zone("kopi", "Kopi", "考比", 1, [(0, 0), (4, 0), (4, 4)], kind="shop")]

    def restrooms(query):
        return [(kind, [f.ref[1] for f in places]) for kind, places in search_facilities(zones, [], query)]

    for query in ("厕所", "洗手间", "卫生间", "toilet", "Toilets", "WC", "restroom", "廁所"):
        assert restrooms(query) == [("restroom", ["wc-1", "wc-2"])], query
    assert restrooms("Women's restroom") == [("restroom", ["wc-1", "wc-2"])]  # asks for one
    assert restrooms("coffee") == [] and restrooms("") == []
