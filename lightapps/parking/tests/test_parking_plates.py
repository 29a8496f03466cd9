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
