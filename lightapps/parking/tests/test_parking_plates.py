"""Plate rules: normalising, folding, what a query needs, exact vs partial, the keyed hash."""

from __future__ import annotations

import pytest

from lightapps.parking import plates


@pytest.mark.parametrize("raw, expected", [
    ("sg 1234-a", "SG1234A"),
    ("粤B·12345", "粤B12345"),
    ("ＡＢ１２３", "AB123"),  # full-width, as some phone keyboards type
    (" ab.12_34 ", "AB1234"),
])
def test_normalise(raw, expected):
    assert plates.normalise(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "AB$12", "AB<script>", None, 1234, "ab\x00cd"])
def test_normalise_rejects(raw):
    with pytest.raises(plates.PlateError):
        plates.normalise(raw)


@pytest.mark.parametrize("dot", ["\u00b7", "\u2022", "\u30fb", "\u2027", "\uff65", "\u2219", "\u22c5", "\uff0e",
                                 "\u3002", "\u2013", "\u2014", "\u2212", "\uff0d"])
def test_the_dots_and_dashes_phones_type_are_separators(dot):
    """粤B•D8888: the dot of a Chinese plate as a phone keyboard offers it (middle dot, bullet, katakana
    middle dot, hyphenation point...) and the Unicode dashes are dropped like "-" and "."."""
    assert plates.normalise(f"粤B{dot}D8888") == "粤BD8888"
    assert plates.query_from_shopper(f"粤B{dot}D8888") == "粤BD8888"


@pytest.mark.parametrize("raw, char", [("粤B$D8888", "$"), ("AB＄12", "＄"), ("AB<script>", "<"),
                                       ("ab\x00cd", "\x00"), ("粤B★D8888", "★")])
def test_a_character_no_plate_has_is_named(raw, char):
    with pytest.raises(plates.PlateCharacterError) as refused:
        plates.query_from_shopper(raw)
    assert refused.value.char == char


def test_fold_maps_letters_readers_confuse():
    assert plates.fold("SO1234I") == "S012341"
    assert plates.plate_from_system("so-1234") == plates.plate_from_system("S0 1234")


def test_query_length_rules():
    assert plates.query_from_shopper("b-12 3") == "B123"
    with pytest.raises(plates.PlateError, match="at least 4"):
        plates.query_from_shopper("AB1")
    with pytest.raises(plates.PlateError, match="at most"):
        plates.query_from_shopper("A" * 11)


def test_system_plate_length_rules():
    with pytest.raises(plates.PlateError):
        plates.plate_from_system("A")
    with pytest.raises(plates.PlateError):
        plates.plate_from_system("A" * 11)


def test_exact_and_partial():
    assert plates.is_exact("SG1234A", "SG1234A")
    assert plates.is_exact("B12345", "粤B12345")  # province character left out
    assert not plates.is_exact("1234", "SG1234A")
    assert plates.matches("1234", "SG1234A") and not plates.matches("4321", "SG1234A")


def test_hash_is_keyed_and_per_venue():
    a, b = plates.PlateHasher("key-one"), plates.PlateHasher("key-two")
    assert a.digest("demo", "SG1234A") == a.digest("demo", "SG1234A")
    assert a.digest("demo", "SG1234A") != b.digest("demo", "SG1234A")
    assert a.digest("demo", "SG1234A") != a.digest("other", "SG1234A")
    assert "SG1234A" not in a.digest("demo", "SG1234A")


# The 31 province abbreviations, simplified, and as a traditional-character keyboard (Hong Kong, Taiwan) types them.
PROVINCES = {"京": "京", "津": "津", "沪": "滬", "渝": "渝", "冀": "冀", "豫": "豫", "云": "雲", "辽": "遼", "黑": "黑",
             "湘": "湘", "皖": "皖", "鲁": "魯", "新": "新", "苏": "蘇", "浙": "浙", "赣": "贛", "鄂": "鄂", "桂": "桂",
             "甘": "甘", "晋": "晉", "蒙": "蒙", "陕": "陝", "吉": "吉", "闽": "閩", "贵": "貴", "粤": "粵", "青": "青",
             "藏": "藏", "川": "川", "宁": "寧", "琼": "瓊"}


@pytest.mark.parametrize("simplified, traditional", sorted(PROVINCES.items()))
def test_a_province_typed_in_traditional_characters_is_the_same_plate(simplified, traditional):
    assert len(PROVINCES) == 31
    assert plates.query_from_shopper(f"{traditional}B D8888") == f"{simplified}BD8888"
    assert plates.plate_from_system(f"{traditional}BD8888") == plates.plate_from_system(f"{simplified}BD8888")


def test_traditional_forms_of_other_plate_characters_fold_too():
    assert plates.query_from_shopper("粵B1234學") == "粤B1234学"
    assert plates.query_from_shopper("陜A12345") == "陕A12345"  # the variant HK keyboards give for 陝
    assert plates.normalise("粵B12345") == "粵B12345"  # the display form keeps what was typed


def test_a_plate_read_without_its_province_is_named_by_the_whole_plate():
    """The province character is the one plate readers miss most: the shopper types the whole plate."""
    assert plates.is_exact("粤BD8888", "BD8888")
    assert not plates.is_exact("粤BD8888", "湘BD8888")  # another province: another car
    assert not plates.is_exact("粤BD8888", "BD888") and not plates.is_exact("粤BD888", "BD8888")
    # a province character never stands in for one of the MIN_QUERY characters a query needs
    assert not plates.is_exact("粤BD8", "BD8")
    assert plates.is_candidate("粤BD8888", "BD8888") and plates.is_candidate("D888", "BD8888")
    assert not plates.is_candidate("粤BD888", "BD8888")  # part of a plate with a province: no wider search
