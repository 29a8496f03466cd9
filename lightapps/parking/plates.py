"""Licence plates: normalising, checking, keyed hashing, and the rule for partial lookups.

Normalising (the parking system's events and the shopper's query alike):
  * Unicode NFKC (full-width ``ＡＢ１２`` -> ``AB12``), upper case, spaces, dashes, dots and middle dots
    dropped (``SEPARATORS``: the dot of a Chinese plate is typed as any of several characters, ``粤B·D8888``,
    ``粤B•D8888``, ``粤B・D8888``...): ``"sg 1234-a"`` -> ``"SG1234A"``;
  * for matching only, the letters plate readers and people confuse with digits are folded:
    ``O`` -> ``0`` and ``I`` -> ``1`` (``"SO1234"`` and ``"S01234"`` are the same car), and so are the
    traditional forms of the province characters (``TRADITIONAL``: ``粵BD8888`` as a Hong Kong or Taiwan
    keyboard types it is ``粤BD8888``). The folded form is what is hashed and what partial queries are
    compared against;
  * allowed characters: A-Z, 0-9 and CJK ideographs (the province character of a Chinese plate,
    ``粤B12345``); a plate from the parking system is 2-10 such characters.

The lookup rule (see ``ParkingStore.find``):
  * a query needs at least ``MIN_QUERY`` (4) characters after normalising;
  * **exact**: the query is a whole plate, or a Chinese plate with its province character left out of one
    side only (typed without it; or read without it, the character plate readers miss most, and typed with
    it: then the rest must have ``MIN_QUERY`` characters, so a province character never stands in for one
    of the characters a query needs): the shopper gets the level, area and bay, the bay on the plan, and a
    walking route (once the hour the car came in is named, see views);
  * **partial**: otherwise the query is matched as a substring of the plates parked now; 1 to
    ``MAX_MATCHES`` (3) matches give the level and area only (never the bay, never the other plates'
    text); more matches give nothing but "type more characters".
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata

MIN_QUERY = 4
MAX_QUERY = 10
MIN_PLATE = 2
MAX_PLATE = 10
MAX_MATCHES = 3

# What people, phone keyboards and plate readers put between a plate's characters, dropped: white space, "-",
# "_", ".", the dots a phone offers for the dot of a Chinese plate (U+00B7 middle dot, U+2022 bullet, U+2027
# hyphenation point, U+30FB katakana middle dot, U+2219, U+22C5, U+2E31, U+3002 ideographic full stop) and
# the Unicode dashes (U+2010-U+2015, U+2212 minus). Full-width forms are ASCII after NFKC.
SEPARATORS = "\u00b7\u2022\u2027\u30fb\u2219\u22c5\u2e31\u3002\u2010-\u2015\u2212"
_DROP = re.compile(rf"[\s\-_.{SEPARATORS}]+")
_VALID = re.compile(r"^[A-Z0-9\u4e00-\u9fff]+$")
# The 13 of the 31 province abbreviations written differently in traditional characters (the other 18,
# 京 津 渝 冀 豫 黑 吉 蒙 新 青 藏 川 桂 湘 鄂 皖 浙 甘, are the same in both), with 陜 (a common variant of
# 陝) and 贑 (of 贛), and the characters some plates end with (學 coach, 掛 trailer, 領 consulate) -> the
# simplified characters the plates carry.
TRADITIONAL = {"粵": "粤", "滬": "沪", "魯": "鲁", "遼": "辽", "貴": "贵", "雲": "云", "蘇": "苏", "閩": "闽",
               "贛": "赣", "贑": "赣", "陝": "陕", "陜": "陕", "寧": "宁", "瓊": "琼", "晉": "晋",
               "學": "学", "掛": "挂", "領": "领"}
_FOLD = str.maketrans({"O": "0", "I": "1", **TRADITIONAL})


class PlateError(ValueError):
    """A plate or query that cannot be used; the message is user-facing (English)."""


class PlateCharacterError(PlateError):
    """A character no plate has: `char`, as typed (the shopper is told which to remove)."""

    def __init__(self, char: str) -> None:
        super().__init__("may contain only letters, digits and a province character")
        self.char = char


def normalise(raw: object) -> str:
    """Display form: NFKC, upper case, separators dropped. PlateError if not a string of plate characters."""
    if not isinstance(raw, str):
        raise PlateError("must be a string")
    text = _DROP.sub("", unicodedata.normalize("NFKC", raw)).upper()
    if not text:
        raise PlateError("is empty")
    if not _VALID.match(text):
        raise PlateCharacterError(_first_invalid(raw))
    return text


def _first_invalid(raw: str) -> str:
    """The first character of `raw` that normalises to something no plate has (as typed: "＄", not "$")."""
    for char in raw:
        text = _DROP.sub("", unicodedata.normalize("NFKC", char)).upper()
        if text and not _VALID.match(text):
            return char
    return next((c for c in unicodedata.normalize("NFKC", raw) if not _VALID.match(c.upper())), raw[:1])


def fold(text: str) -> str:
    """Matching form of a normalised plate: O -> 0, I -> 1, traditional province characters simplified."""
    return text.translate(_FOLD)


def plate_from_system(raw: object) -> str:
    """A plate in a parking-system event -> its folded form. PlateError naming the problem."""
    text = normalise(raw)
    if not MIN_PLATE <= len(text) <= MAX_PLATE:
        raise PlateError(f"must have {MIN_PLATE} to {MAX_PLATE} letters or digits")
    return fold(text)


def query_from_shopper(raw: object) -> str:
    """The shopper's query -> its folded form; at least MIN_QUERY characters."""
    text = normalise(raw)
    if len(text) < MIN_QUERY:
        raise PlateError(f"needs at least {MIN_QUERY} letters or digits")
    if len(text) > MAX_QUERY:
        raise PlateError(f"has at most {MAX_QUERY} letters or digits")
    return fold(text)


def has_province(text: str) -> bool:
    return bool(text) and "\u4e00" <= text[0] <= "\u9fff"


def is_exact(query: str, plate: str) -> bool:
    """The query names this whole plate (both folded). A Chinese plate may be typed without its province
    character; and a plate read without it (the reader could not make it out) is named by the whole plate
    typed with it, when the rest has at least MIN_QUERY characters."""
    if query == plate or (has_province(plate) and plate[1:] == query):
        return True
    return has_province(query) and not has_province(plate) and len(plate) >= MIN_QUERY and query[1:] == plate


def is_candidate(query: str, plate: str) -> bool:
    """The plates a lookup considers (see the rule above): those the query is part of, or names whole."""
    return matches(query, plate) or is_exact(query, plate)


def matches(query: str, plate: str) -> bool:
    return query in plate


class PlateHasher:
    """Keyed hash of folded plates (HMAC-SHA256 with the install's MAC hash key, domain-separated and
    per venue): the store is keyed by it, the lookup log records it; neither reveals the plate."""

    def __init__(self, key: str) -> None:
        if not key:
            raise ValueError("plate hash key must not be empty")
        self._key = hashlib.sha256(b"mallportal-parking-plates\0" + key.encode()).digest()

    def digest(self, venue: str, folded: str) -> str:
        return hmac.new(self._key, f"{venue}\0{folded}".encode(), hashlib.sha256).hexdigest()[:32]
