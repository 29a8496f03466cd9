"""Owners' images in the store, per venue and zone, within a byte budget per venue.

Keys (venue `v`):
  mp:{v}:media:img:<id>                     HASH  rendition name ("320.webp", "640.jpg") -> bytes
  mp:{v}:media:ref:<zone>:<kind>:<ref>      STRING JSON {id, widths, fallback, w, h, bytes}: the image
                                            currently shown for a film / dish / shop / event of the zone
  mp:{v}:media:bytes                        STRING the bytes all the venue's renditions take
  mp:{v}:media:zone:<zone>                  HASH  "@bytes" -> the bytes the zone's images take; "<kind>:<ref>"
                                            -> the bytes counted for that place (its index: what to take
                                            off when the image goes)

An image belongs to a zone: an owner can only place images in the zones they manage, and a shopper page
of a zone reads only that zone's. The id is a hash of zone, kind, ref and the file, so no two places share
an image and replacing one deletes the old. Replacing is one Lua script (the budget checks, the write, the
old image's removal, the counters): never over the budget, never a counter that drifts.

Two budgets: the venue's (MEDIA_BUDGET_MB) and, when the store is given one, each zone's share of it
(`portal.media.views.media_store`: a quarter), so that one zone cannot take the space every other zone
needs. Images stored before the zone counts existed are not in them (a zone's count only grows from zero)."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

import redis

from core.storage import VenueKeys
from portal.media.images import Rendition

KINDS = ("film", "dish", "shop", "event")
REF = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
IMAGE_ID = re.compile(r"^[0-9a-f]{24}$")
RENDITION = re.compile(r"^(\d{1,4})\.(webp|jpg)$")
MIME = {"webp": "image/webp", "jpg": "image/jpeg"}

# KEYS: used, new image, ref, old image, zone. ARGV: expected ref value ("" = none), budget, new bytes, old bytes,
# new ref value, zone budget (-1: none), the place's field in the zone hash, then rendition name/bytes pairs.
# The zone's share is checked first: an owner over it is told to remove one of the zone's own images.
PUT_LUA = """
local current = redis.call('GET', KEYS[3]) or ''
if current ~= ARGV[1] then return 'CHANGED' end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local new, old = tonumber(ARGV[3]), tonumber(ARGV[4])
if KEYS[2] ~= KEYS[4] then
  local zone_budget = tonumber(ARGV[6])
  local zone_used = tonumber(redis.call('HGET', KEYS[5], '@bytes') or '0')
  local zone_old = tonumber(redis.call('HGET', KEYS[5], ARGV[7]) or '0')
  if zone_budget >= 0 and zone_used - zone_old + new > zone_budget then return 'ZONE' end
  if used - old + new > tonumber(ARGV[2]) then return 'BUDGET' end
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], unpack(ARGV, 8))
  if old > 0 then redis.call('DEL', KEYS[4]) end
  redis.call('INCRBY', KEYS[1], new - old)
  redis.call('HSET', KEYS[5], ARGV[7], new)
  redis.call('HINCRBY', KEYS[5], '@bytes', new - zone_old)
end
redis.call('SET', KEYS[3], ARGV[5])
return 'OK'
"""

# KEYS: used, ref, image, zone. ARGV: expected ref value, its bytes, the place's field in the zone hash. The zone
# gets back what it was counted for that place (nothing for an image older than the zone counts).
REMOVE_LUA = """
if (redis.call('GET', KEYS[2]) or '') ~= ARGV[1] then return 'CHANGED' end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('DECRBY', KEYS[1], tonumber(ARGV[2]))
local counted = tonumber(redis.call('HGET', KEYS[4], ARGV[3]) or '0')
redis.call('HDEL', KEYS[4], ARGV[3])
redis.call('HINCRBY', KEYS[4], '@bytes', -counted)
return 'OK'
"""


class MediaKeys(VenueKeys):
    def image(self, image_id: str) -> str:
        return self.key("media", "img", image_id)

    def ref(self, zone: str, kind: str, ref: str) -> str:
        return self.key("media", "ref", zone, kind, ref)

    def used(self) -> str:
        return self.key("media", "bytes")

    def zone(self, zone: str) -> str:
        return self.key("media", "zone", zone)


ZONE_TOTAL = "@bytes"  # the zone hash's total; a place's field is "<kind>:<ref>" (neither has "@" or ":")


def place_field(kind: str, ref: str) -> str:
    return f"{kind}:{ref}"


@dataclass(frozen=True)
class Picture:
    """What a page needs to draw an image: its renditions' names, by URL built in views."""

    venue: str
    id: str
    widths: tuple[int, ...]
    fallback: int  # the JPEG's width
    width: int  # of the largest rendition
    height: int
    size: int = 0  # bytes of all renditions (the budget's count)


class OverBudget(Exception):
    """The venue's images would take more than its budget (`zone` False), or the zone's more than its share of
    it (`zone` True)."""

    def __init__(self, zone: bool = False) -> None:
        super().__init__("zone share" if zone else "venue budget")
        self.zone = zone


def text_ref(text: str) -> str:
    """A place named by a text rather than an id (a film, by its title: all its showtimes share a poster)."""
    return hashlib.sha256(" ".join(text.casefold().split()).encode()).hexdigest()[:16]


def check_place(kind: str, ref: str) -> None:
    """ValueError unless kind and ref name a place an image may go."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of: {', '.join(KINDS)}")
    if not REF.match(ref or ""):
        raise ValueError("ref: 1-64 letters, digits, '.', '_' or '-'")


class MediaStore:
    def __init__(self, db: redis.Redis, budget_bytes: int, zone_budget_bytes: int | None = None) -> None:
        """`zone_budget_bytes`: the most one zone's images may take (None: only the venue's budget)."""
        self.db = db
        self.budget_bytes = budget_bytes
        self.zone_budget_bytes = zone_budget_bytes
        self._put = db.register_script(PUT_LUA)
        self._remove = db.register_script(REMOVE_LUA)

    def get(self, venue: str, zone: str, kind: str, ref: str) -> Picture | None:
        raw = self.db.get(MediaKeys(venue).ref(zone, kind, ref))
        return self._picture(venue, raw)

    def get_many(self, venue: str, places: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], Picture | None]:
        """`get` of many (zone, kind, ref) places in one round trip (one MGET: the venue's keys share its slot)."""
        places = list(dict.fromkeys(places))
        if not places:
            return {}
        keys = MediaKeys(venue)
        raws = self.db.mget([keys.ref(*place) for place in places])
        return {place: self._picture(venue, raw) for place, raw in zip(places, raws, strict=True)}

    def put(self, venue: str, zone: str, kind: str, ref: str, source: bytes, images: list[Rendition]) -> Picture:
        """Place the renditions of `source` at (zone, kind, ref), replacing what was there; OverBudget."""
        check_place(kind, ref)
        keys = MediaKeys(venue)
        image_id = hashlib.sha256(f"{zone}\0{kind}\0{ref}\0".encode() + source).hexdigest()[:24]
        webp = [r for r in images if r.fmt == "webp"]
        largest = max(webp, key=lambda r: r.width)
        size = sum(len(r.data) for r in images)
        value = json.dumps({"id": image_id, "widths": [r.width for r in webp],
                            "fallback": next(r.width for r in images if r.fmt == "jpg"),
                            "w": largest.width, "h": largest.height, "bytes": size})
        pairs = [part for r in images for part in (r.name, r.data)]
        for _attempt in range(5):  # another owner's upload to the same place in between: read again
            current = self.db.get(keys.ref(zone, kind, ref)) or b""
            old = self._picture(venue, current)
            result = self._put(keys=[keys.used(), keys.image(image_id), keys.ref(zone, kind, ref),
                                     keys.image(old.id if old else "-"), keys.zone(zone)],
                               args=[current, self.budget_bytes, size, old.size if old else 0, value,
                                     -1 if self.zone_budget_bytes is None else self.zone_budget_bytes,
                                     place_field(kind, ref), *pairs])
            if result in (b"BUDGET", b"ZONE"):
                raise OverBudget(zone=result == b"ZONE")
            if result == b"OK":
                return self._picture(venue, value.encode())
        raise redis.RedisError("media place kept changing")  # pragma: no cover - five races in a row

    def remove(self, venue: str, zone: str, kind: str, ref: str) -> bool:
        keys = MediaKeys(venue)
        current = self.db.get(keys.ref(zone, kind, ref))
        picture = self._picture(venue, current)
        if picture is None:
            return False
        return self._remove(keys=[keys.used(), keys.ref(zone, kind, ref), keys.image(picture.id), keys.zone(zone)],
                            args=[current, picture.size, place_field(kind, ref)]) == b"OK"

    def rendition(self, venue: str, image_id: str, name: str) -> bytes | None:
        if not IMAGE_ID.match(image_id) or not RENDITION.match(name):
            return None
        return self.db.hget(MediaKeys(venue).image(image_id), name)

    def used(self, venue: str) -> int:
        return int(self.db.get(MediaKeys(venue).used()) or 0)

    def zone_used(self, venue: str, zone: str) -> int:
        """The bytes the zone's images take (those stored since zones were counted)."""
        return int(self.db.hget(MediaKeys(venue).zone(zone), ZONE_TOTAL) or 0)

    @staticmethod
    def _picture(venue: str, raw: bytes | None) -> Picture | None:
        if not raw:
            return None
        data = json.loads(raw)
        return Picture(venue=venue, id=data["id"], widths=tuple(data["widths"]), fallback=data["fallback"],
                       width=data["w"], height=data["h"], size=data.get("bytes", 0))
