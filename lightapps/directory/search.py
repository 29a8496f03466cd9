"""Shop search: English name, Chinese name, category, and pinyin (initials, full, or a mix).

Pinyin matching works on the syllables of the Chinese name: a query matches when, starting at some
syllable, each next syllable is consumed by a prefix of one of its readings (at least its first letter).
So for 星光影城 (xing guang ying cheng) "xg", "xgyc", "xingguang", "xinggy" and "guangying" all match.
Polyphonic characters match by any of their readings (pypinyin's heteronyms)."""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

from pypinyin import Style, pinyin

MAX_QUERY = 100
_PINYIN_QUERY = re.compile(r"^[a-z0-9]+$")
_SEPARATORS = re.compile(r"[\s'’\-_.·]+")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def normalise(text: str) -> str:
    """Case-folded, width-folded (full-width letters typed on a Chinese keyboard), trimmed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@lru_cache(maxsize=4096)
def syllables(name_zh: str) -> tuple[tuple[str, ...], ...]:
    """The readings of each syllable of a name: Chinese characters give their pinyin (phrase reading
    first, then other readings); runs of Latin letters/digits count as one syllable each."""
    out: list[tuple[str, ...]] = []
    for chunk in pinyin(name_zh, style=Style.NORMAL, heteronym=True, errors=lambda s: [s]):
        readings = []
        for reading in chunk:
            if _HAN.search(reading):
                continue  # a character pypinyin has no reading for
            for word in re.findall(r"[a-z0-9]+", normalise(reading)):
                if word not in readings:
                    readings.append(word)
        if len(chunk) == 1 and len(readings) > 1:  # a non-Chinese run: its words are separate syllables
            out.extend((word,) for word in readings)
        elif readings:
            out.append(tuple(readings))
    return tuple(out)


def pinyin_matches(query: str, name_zh: str) -> bool:
    """Does a Latin-letter query match the name's pinyin (initials, full syllables, or a mix)?"""
    query = _SEPARATORS.sub("", normalise(query))
    if not query or not _PINYIN_QUERY.match(query):
        return False
    sylls = syllables(name_zh)

    @cache
    def match(i: int, pos: int) -> bool:
        if pos == len(query):
            return True
        if i == len(sylls):
            return False
        for reading in sylls[i]:
            for k in range(min(len(reading), len(query) - pos), 0, -1):
                if query.startswith(reading[:k], pos) and match(i + 1, pos + k):
                    return True
        return False

    return any(match(start, 0) for start in range(len(sylls)))


def shop_matches(shop, query: str, category_labels: dict[str, str] | None = None) -> bool:
    query = normalise(query)
    if not query:
        return True
    texts = [shop.name, shop.name_zh, shop.category]
    if category_labels and shop.category in category_labels:
        texts.append(category_labels[shop.category])
    if any(query in normalise(text) for text in texts):
        return True
    # "lumen fashion" typed without the space, or with other separators
    squashed = _SEPARATORS.sub("", query)
    if squashed and squashed in _SEPARATORS.sub("", normalise(shop.name)):
        return True
    return pinyin_matches(query, shop.name_zh)


def search_shops(shops, query: str = "", category: str = "", category_labels: dict[str, str] | None = None):
    """Shops matching the query and (if given) exactly the category, in floor then name order."""
    found = [s for s in shops if (not category or s.category == category) and shop_matches(s, query, category_labels)]
    return sorted(found, key=lambda s: (s.floor, normalise(s.name)))
