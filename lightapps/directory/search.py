"""Shop search: English name, Chinese name (traditional or simplified), category, pinyin (initials, full, or a mix),
synonyms, typos.

Pinyin matching works on the syllables of the Chinese name: a query matches when, starting at some
syllable, each next syllable is consumed by a prefix of one of its readings (at least its first letter).
So for 星光影城 (xing guang ying cheng) "xg", "xgyc", "xingguang", "xinggy" and "guangying" all match.
Polyphonic characters match by any of their readings (pypinyin's heteronyms).

Synonyms: a query naming what a kind of shop offers (电影, 影院, movie -> the cinema; 停车, parking -> the
car park; 吃饭, food -> restaurants and food court stalls...) also finds the shops of that category group
(categories.py: chinese.dimsum is a restaurant). Typos: only when nothing matches exactly, a Latin query
of 4+ letters is compared (rapidfuzz partial ratio) with the English names and the full pinyin of the
Chinese names, so "starlite", "noodel" or "xinguang" still find their shop.

Facilities (search_facilities): a query asking for a restroom, an ATM, an information desk, a baby-care room...
(FACILITY_WORDS, in English, Chinese or pinyin: 厕所, ATM机, 服务台, 母婴室) lists the venue's restroom zones and
the IMDF amenity points of that kind, each with its floor, the zone it lies in and the way there."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache

import opencc
from pypinyin import Style, pinyin
from rapidfuzz import fuzz

from fingerprints.imdf.schema import amenity_kind, amenity_names
from fingerprints.model import Amenity, Zone
from lightapps.directory.categories import FACILITY_LABELS, group_of

MAX_QUERY = 100
_PINYIN_QUERY = re.compile(r"^[a-z0-9]+$")
_SEPARATORS = re.compile(r"[\s'’\-_.·]+")
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@cache
def _simplified():
    """OpenCC's traditional-to-simplified converter (its dictionaries load once, on the first search)."""
    return opencc.OpenCC("t2s")


@lru_cache(maxsize=8192)
def normalise(text: str) -> str:
    """Case-folded, width-folded (full-width letters typed on a Chinese keyboard), traditional characters read as
    simplified (書店 is 书店: a visitor's Hong Kong or Taiwan keyboard, or a tenant's name written so), trimmed."""
    text = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return _simplified().convert(text) if _HAN.search(text) else text


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


# category group (categories.py) -> words shoppers use for it (lower case; Chinese and English). A query that
# is, or contains, one of these finds the group's shops.
_EATING = ("餐厅", "餐馆", "吃饭", "美食", "饭店", "food", "eat", "dining", "restaurant", "restaurants", "lunch",
           "dinner", "canting", "meishi")
SYNONYMS: dict[str, tuple[str, ...]] = {
    "cinema": ("电影", "影院", "影城", "电影院", "看电影", "cinema", "movie", "movies", "film", "films", "theater",
               "theatre", "dianying", "yingyuan"),
    "parking": ("停车", "停车场", "车库", "泊车", "找车", "parking", "car park", "carpark", "garage", "park my car",
                "tingche"),
    "restaurant": _EATING,
    "food": (*_EATING, "美食广场", "小吃", "food court", "food hall", "stall", "stalls"),
    "cafe": ("咖啡", "咖啡厅", "coffee", "cafe", "café", "kafei"),
    "books": ("书", "书店", "图书", "book", "books", "bookshop", "bookstore", "shudian"),
    "fashion": ("服装", "衣服", "时装", "女装", "男装", "clothes", "clothing", "fashion", "fuzhuang"),
    "electronics": ("数码", "电子", "手机", "电脑", "electronics", "phone", "phones", "computer", "shuma"),
}
# What shoppers type for a facility, per kind (categories.FACILITY_LABELS): a restroom (a zone of kind "restroom", an
# IMDF restroom unit, or a restroom amenity point), or an amenity point of the kind its category is listed under
# (fingerprints.imdf.schema.AMENITY_KINDS). A query naming one, or a facility's own name, lists them beside the shops.
FACILITY_WORDS: dict[str, tuple[str, ...]] = {
    "restroom": ("洗手间", "卫生间", "厕所", "公厕", "厕", "女厕", "男厕", "toilet", "toilets", "restroom", "restrooms",
                 "washroom", "bathroom", "wc", "loo", "ladies", "gents", "xishoujian", "cesuo"),
    "information": ("服务台", "问讯处", "问询处", "询问处", "咨询台", "咨询处", "服务中心", "客服", "information",
                    "info", "information desk", "info desk", "help desk", "customer service", "guest services",
                    "concierge", "fuwutai"),
    "atm": ("取款机", "提款机", "atm机", "取钱", "取现", "atm", "atms", "cash machine", "cashpoint", "cash point",
            "qukuanji"),
    "babycare": ("母婴室", "母婴", "育婴室", "哺乳室", "尿布台", "换尿布", "baby changing", "baby change",
                 "changing table", "nursing room", "mothers room", "mother's room", "baby care", "baby room",
                 "breastfeeding", "muyingshi"),
    "firstaid": ("医务室", "急救", "医疗站", "医护室", "first aid", "firstaid", "medical room", "medical", "yiwushi"),
    "defibrillator": ("除颤器", "除颤仪", "aed", "defibrillator"),
    "wheelchair": ("轮椅", "wheelchair", "wheelchairs", "lunyi"),
    "stroller": ("婴儿车", "童车", "stroller", "strollers", "pram", "buggy", "pushchair"),
    "lockers": ("储物柜", "寄存", "存包", "locker", "lockers", "left luggage", "luggage storage", "bag storage"),
    "drinkingfountain": ("饮水机", "饮水处", "直饮水", "喝水", "drinking water", "water fountain", "drinking fountain",
                         "water dispenser"),
    "charging": ("充电", "充电宝", "charging", "charger", "phone charging", "charging station", "power bank"),
    "vendingmachine": ("售货机", "贩卖机", "vending", "vending machine", "vending machines"),
    "lostandfound": ("失物招领", "失物", "lost and found", "lost & found", "lost property"),
    "prayerroom": ("祈祷室", "礼拜室", "prayer room", "prayer", "prayer rooms"),
    "playarea": ("游乐区", "儿童乐园", "play area", "kids play", "children's play area"),
    "smokingarea": ("吸烟", "抽烟", "smoking", "smoking area", "smoking room", "smoke"),
    "taxi": ("出租车", "的士", "打车", "taxi", "taxis", "cab", "taxi stand", "taxi rank"),
    "security": ("保安", "警务室", "安保", "security", "police"),
}
RESTROOM_KIND = "restroom"
FUZZY_MIN_QUERY = 4
FUZZY_CUTOFF = 80  # rapidfuzz partial_ratio, 0-100: "starlite" 86, "noodel" 83; unrelated words stay below 70


def _named(query: str, words: tuple[str, ...]) -> bool:
    """Does the (normalised) query name one of `words`: a Chinese word anywhere in it, another a whole word of it?"""
    padded = f" {query} "
    return any(w in query if _HAN.search(w) else f" {w} " in padded for w in words)


def synonym_categories(query: str) -> set[str]:
    """The category groups a query names by one of their synonyms."""
    query = normalise(query)
    if not query:
        return set()
    return {category for category, words in SYNONYMS.items() if _named(query, words)}


@lru_cache(maxsize=4096)
def full_pinyin(name_zh: str) -> str:
    """The Chinese name's pinyin, first reading of each syllable, run together (for typo matching)."""
    return "".join(readings[0] for readings in syllables(name_zh))


def fuzzy_score(shop, query: str) -> float:
    """How closely a Latin query matches the shop's English name or the pinyin of its Chinese name."""
    query = _SEPARATORS.sub("", normalise(query))
    names = (_SEPARATORS.sub("", normalise(shop.name)), full_pinyin(shop.name_zh))
    return max(fuzz.partial_ratio(query, name) for name in names if name)


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
    """Shops matching the query (names, category, pinyin, synonyms; typos when nothing matches exactly) and
    (if given) the category: that category or every one of that group (categories.py), in floor then name
    order."""
    candidates = [s for s in shops if not category or category in (s.category, group_of(s.category))]
    named = synonym_categories(query)
    found = [s for s in candidates if shop_matches(s, query, category_labels) or group_of(s.category) in named]
    squashed = _SEPARATORS.sub("", normalise(query))
    if not found and len(squashed) >= FUZZY_MIN_QUERY and _PINYIN_QUERY.match(squashed):
        found = [s for s in candidates if fuzzy_score(s, query) >= FUZZY_CUTOFF]
    return sorted(found, key=lambda s: (s.floor, normalise(s.name)))


@dataclass(frozen=True)
class Facility:
    """A place shoppers ask for by what it is: a restroom zone, or an amenity point (an ATM, an information desk)."""

    kind: str  # categories.FACILITY_LABELS
    ref: tuple[str, str]  # ("zone", zone id) or ("amenity", amenity id): what the page marks it by
    name: str
    name_zh: str
    floor: int
    near: Zone | None  # the zone an amenity lies in
    to: str  # the navigation page's destination: zone:<id>, or the amenity's <floor>,<x>,<y>


def _facility(amenity: Amenity, kind: str, near: Zone | None) -> Facility:
    """An amenity as listed: named by its category where the archive named it not (an unnamed unit's rule)."""
    en, zh = amenity_names(amenity.category)
    return Facility(kind, ("amenity", amenity.id), amenity.name or en,
                    amenity.name_zh or amenity.name or zh, amenity.floor, near,
                    f"{amenity.floor},{amenity.x:.2f},{amenity.y:.2f}")


def search_facilities(zones: list[Zone], amenities: list[Amenity], query: str) -> list[tuple[str, list[Facility]]]:
    """The facilities of each kind the query asks for (FACILITY_WORDS) or names one of (by its own name), as
    (kind, facilities in floor then name order), kinds in categories.FACILITY_LABELS order; none for an empty query.
    A restroom amenity in a restroom zone is that zone's, listed once."""
    query = normalise(query)
    if not query:
        return []
    asked = {kind for kind, words in FACILITY_WORDS.items() if _named(query, words)}
    by_id = {z.id: z for z in zones}
    found: dict[str, list[Facility]] = {}
    for zone in zones:
        if zone.kind == RESTROOM_KIND and (RESTROOM_KIND in asked or _names(query, zone)):
            found.setdefault(RESTROOM_KIND, []).append(Facility(RESTROOM_KIND, ("zone", zone.id), zone.label(),
                                                                zone.label(True), zone.floor, None, f"zone:{zone.id}"))
    for amenity in amenities:
        kind, near = amenity_kind(amenity.category), by_id.get(amenity.zone or "")
        if kind is None or not (kind in asked or _names(query, amenity)):
            continue
        if kind == RESTROOM_KIND and near is not None and near.kind == RESTROOM_KIND:
            continue
        found.setdefault(kind, []).append(_facility(amenity, kind, near))
    return [(kind, sorted(found[kind], key=lambda f: (f.floor, normalise(f.name))))
            for kind in FACILITY_LABELS if kind in found]


def _names(query: str, place: Zone | Amenity) -> bool:
    """Does the (normalised) query lie in the place's own name, in either language?"""
    return any(query in normalise(name) for name in (place.name, place.name_zh) if name)
