"""Venue maps to and from IMDF (Indoor Mapping Data Format 1.0.0, OGC Community Standard 20-094).

An IMDF archive is one GeoJSON FeatureCollection per feature type (`venue.geojson`, `level.geojson`, ...)
plus `manifest.json`, zipped. `export_imdf` returns {filename: JSON document}; `write_imdf_zip` zips it;
`import_imdf` takes such a dict or a zip and returns a VenueMap, or raises `ImdfError` (a ValueError)
listing every problem found with the file, the feature id and what is wrong. Nothing is returned unless
the whole archive is valid: an import is all or nothing.

Mapping (our model -> IMDF):
- the venue -> one `venue` feature (category "shoppingcenter") and its `address` (required by IMDF);
- each floor -> a `level` (ordinal = floor level), its geometry the floor's rectangle;
- each zone -> a `unit`, category from the zone kind (garage -> parking, cinema -> movietheater, food and
  restaurant -> foodservice, atrium -> unenclosedarea, anything else -> room);
- each shop -> an `occupant` (category from ours where IMDF has it, see OCCUPANT_CATEGORY_FOR) with an
  `anchor` point in its unit;
- gaps in the walls between two zones -> `opening` lines (pedestrian);
- the ends of lifts, escalators and stairs of the walkway graph -> `amenity` points.
IMDF has no feature type for WiFi access points, walls or a routing graph, so these travel in extension
files next to the standard ones (declared in the manifest's `extensions`, ignored by other tools):
`mallportal_venue.geojson` (plan origin and projection, floor sizes and plans, our ids and zone kinds),
`mallportal_walls.geojson`, `mallportal_aps.geojson` and `mallportal_walkways.geojson`. Standard
features carry only the properties the standard defines.

Coordinates: IMDF is WGS84 lon/lat; our plans are metres, x to the right and y *down* the plan from its
top-left corner (0, 0). The export places that corner at an `Origin` (lon/lat, plan rotation clockwise
from north-up, 0 by default) with a local equirectangular projection (exact to well under a millimetre
over a building), and stores the origin in `mallportal_venue.geojson`. An archive from another tool
(no extension) is projected around the north-west corner of its venue geometry.
"""

from __future__ import annotations

import io
import json
import math
import re
import uuid
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

from shapely.geometry import LineString, MultiLineString, Point, Polygon
from shapely.ops import linemerge, unary_union

from fingerprints.geometry import zone_map
from fingerprints.model import (
    ID_RE,
    AccessPoint,
    Floor,
    Shop,
    VenueMap,
    WalkEdge,
    WalkNode,
    Zone,
    normalise_bssid,
)

IMDF_VERSION = "1.0.0"
EXTENSION = "mallportal"
EARTH_RADIUS_M = 6378137.0  # WGS84 semi-major axis
COORD_DECIMALS = 9  # 1e-9 degree ~ 0.1 mm
METRE_DECIMALS = 4
MAX_ZIP_BYTES = 256 * 1024 * 1024  # uncompressed; refuse zip bombs
MAX_ZIP_MEMBERS = 200
_NAMESPACE = uuid.UUID("e6a78196-7a9a-4d1d-9738-d91af87385f5")  # for stable feature ids per venue

# -- the IMDF 1.0.0 category lists we check against ---------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


VENUE_CATEGORIES = _words("""
airport airport.intl aquarium businesscampus casino communitycenter conventioncenter governmentfacility
healthcarefacility hotel museum parkingfacility resort retailstore shoppingcenter stadium stripmall theater
themepark trainstation transitstation university
""")

LEVEL_CATEGORIES = _words("""
arrivals arrivals.domestic arrivals.intl departures departures.domestic departures.intl parking transit
unspecified
""")

UNIT_CATEGORIES = _words("""
auditorium brick classroom column concrete conferenceroom drywall elevator escalator fieldofplay firstaid
fitnessroom foodservice footbridge glass huddleroom kitchen laboratory library lobby lounge mailroom
mothersroom movietheater movingwalkway nonpublic office opentobelow parking phoneroom platform privatelounge
ramp recreation restroom restroom.family restroom.female restroom.female.wheelchair restroom.male
restroom.male.wheelchair restroom.transgender restroom.transgender.wheelchair restroom.unisex
restroom.unisex.wheelchair restroom.wheelchair road room serverroom shower smokingarea stairs steps storage
structure terrace theater unenclosedarea unspecified vegetation waitingroom walkway walkway.island wood
""")

OPENING_CATEGORIES = _words("""
automobile bicycle emergencyexit pedestrian pedestrian.principal pedestrian.transit service
""")

AMENITY_CATEGORIES = _words("""
amphitheater animalreliefarea arrivalgate atm babychanging baggagecarousel baggagecarousel.intl baggagecarts
baggageclaim baggageclaim.oversize baggagerecheck baggagestorage boardinggate boardinggate.aircraft
boardinggate.bus boardinggate.ferry boardinggate.train bus bus.muni bus.national businesscenter cabin
caregiver carrental cashier changemachine checkin checkin.desk checkin.desk.oversizebaggage
checkin.desk.transfer checkin.selfservice childplayarea coinlocker copymachine defibrillator drinkingfountain
eatingdrinking elevator emergencyshelter entry escalator exhibit faregate faregate.oversized fieldofplay
fieldofplay.americanfootball fieldofplay.baseball fieldofplay.basketball fieldofplay.fieldhockey
fieldofplay.icehockey fieldofplay.rugby fieldofplay.soccer fieldofplay.softball fieldofplay.tennis
fieldofplay.trackfield fieldofplay.volleyball firealarmpullstation fireextinguisher firstaid fittingroom
foodservice gatearea groundtransportation guestservices handsanitizerstation healthscreening hoteling
immigration information information.bid information.carrental information.hotel information.mufid
information.mufid.arrivals information.mufid.departures information.transit landmark library limo lostandfound
mailbox meditation meetingpoint mobilityrescue mothersroom movingwalkway paidarea parkandride parking
parking.bicycle parking.compact parking.ev parking.longterm parking.motorcycle parking.shortterm
parking.waitingarea payphone pedestriancrossing peoplemover phone phone.emergency photobooth platform police
powerchargingstation prayerroom prayerroom.buddhism prayerroom.christianity prayerroom.hinduism
prayerroom.islam prayerroom.islam.female prayerroom.islam.male prayerroom.judaism prayerroom.shintoism
prayerroom.sikh prayerroom.taoic privatelounge productreturn rail.muni rail.national ramp reception.desk
recreation restroom restroom.family restroom.female restroom.female.wheelchair restroom.male
restroom.male.wheelchair restroom.transgender restroom.transgender.wheelchair restroom.unisex
restroom.unisex.wheelchair restroom.wheelchair rideshare seat seating security security.checkpoint
security.inspection service shower shuttle sleepbox smokingarea stairs storage strollerrental
studentadmissions studentservices swimmingpool swimmingpool.children swimmingpool.family taxi ticketing
ticketing.airline ticketing.bus ticketing.bus.muni ticketing.bus.national ticketing.rail ticketing.rail.muni
ticketing.rail.national ticketing.shuttle traintrack transit unspecified valet vendingmachine
vendingmachine.trainticket wheelchairassist wifi yoga
""")

# IMDF's occupant list has over a thousand entries (cuisines, trades, services). We carry the part a
# shopping mall uses; an occupant category outside it is refused with a message saying so (LIMITATION:
# a valid but exotic category, e.g. "lawyer.tax", needs adding here).
OCCUPANT_CATEGORIES = _words("""
accessories adultstore antiques appliances arcade artgallery artsandcrafts artsupplies atm audiovideoequipment
babyclothesandsupplies bagels bakedgoods bank bar barber beautysalon beautyspas beerwineandspirits bistro
books bookstore bowlingalley bubbletea buffet burgers butcher cafe cafeteria cakes candy canteen
cards.stationery carrental cellphoneaccessories cheese chinese chinese.cantonese chinese.dimsum chinese.hunan
chinese.shanghainese chinese.szechuan chocolate cinema climbing clinic clothing clothing.childrens
clothing.mens clothing.plussize clothing.womens cocktailbar coffee coffee.tea comicbooks
computersandaccessories conveniencestore cosmetics costumes currencyexchange danceschool dentistry
departmentstore desserts dimsum discountstore donuts drycleaning dumplings dutyfree education
electronicappliances electronicsrepair escapegame eventspace eyelashes eyewear.opticians familyfuncenter
fashion fashionaccessories fastfood fitnessinstruction florist flowers foodcourt foodstand formalwear
frozenfoods fruitandvegetables furniture furniturestore gelato giftshops gourmetfood grocery grocerystore gym
haircutsstyling hardware hats healthyfoods hobbyshop homedecor hotpot icecream indian internetcafe italian
japanese japanese.ramen jewelry juicebar karaoke kidsactivities kiosk kiosk.food korean languageschool
laundryservices leathergoods lingerie luggage malaysian manicurists massagetherapy maternitywear medicalcenter
mobilephonerepair mobilephones musicalinstruments noodles opticians optometry outdoorgear outletstore parking
perfume pets petstore pharmacy photography photographystore pizza playcenter playground postoffice restaurant
salad sandwiches seafood shoerepair shoes shoestore shopping singaporean skincare souvenirs sportinggoods
sportsbar sportswear stationery steak supermarket sushi swimwear taiwanese tea thai theater.movie tickets
tobaccoshop toys toystore travelagent tutoring vegan vegetarian videogamesandconsoles vietnamese
vintageclothing watches watchrepair
""")

UNIT_CATEGORY_FOR_KIND = {
    "garage": "parking", "parking": "parking", "cinema": "movietheater", "theater": "theater",
    "food": "foodservice", "restaurant": "foodservice", "atrium": "unenclosedarea", "walkway": "walkway",
    "office": "office", "restroom": "restroom", "shop": "room",
}
KIND_FOR_UNIT_CATEGORY = {
    "parking": "garage", "movietheater": "cinema", "theater": "cinema", "foodservice": "food",
    "unenclosedarea": "atrium", "lobby": "atrium", "walkway": "atrium", "recreation": "atrium",
}
OCCUPANT_CATEGORY_FOR = {
    "electronics": "computersandaccessories", "fashion": "fashion", "books": "books", "cafe": "cafe",
    "cinema": "cinema", "restaurant": "restaurant", "parking": "parking", "food": "restaurant",
    "coffee": "coffee", "toys": "toys", "jewelry": "jewelry", "shoes": "shoestore",
}
# Unit categories that are building fabric, not places: not turned into zones on import.
STRUCTURAL_UNITS = frozenset({"brick", "column", "concrete", "drywall", "glass", "structure", "wood",
                              "opentobelow", "elevator", "escalator", "stairs", "steps", "movingwalkway",
                              "ramp"})
CONNECTOR_KINDS = ("elevator", "escalator", "stairs")

GEOMETRY_TYPES = {
    "venue": ("Polygon", "MultiPolygon"), "level": ("Polygon", "MultiPolygon"),
    "unit": ("Polygon", "MultiPolygon"), "fixture": ("Polygon", "MultiPolygon"),
    "section": ("Polygon", "MultiPolygon"), "footprint": ("Polygon", "MultiPolygon"),
    "geofence": ("Polygon", "MultiPolygon"), "kiosk": ("Polygon", "MultiPolygon"),
    "opening": ("LineString",), "amenity": ("Point",), "anchor": ("Point",),
    "occupant": (None,), "address": (None,), "building": (None,),
}
# Properties every feature of a type must have (a key; null allowed unless in NON_NULL).
REQUIRED = {
    "address": ("address", "unit", "locality", "province", "country", "postal_code", "postal_code_ext"),
    "venue": ("category", "restriction", "name", "alt_name", "hours", "phone", "website", "display_point",
              "address_id"),
    "level": ("category", "restriction", "outdoor", "ordinal", "name", "short_name", "display_point",
              "address_id", "building_ids"),
    "unit": ("category", "restriction", "accessibility", "name", "alt_name", "level_id", "display_point"),
    "opening": ("category", "accessibility", "access_control", "door", "name", "alt_name", "display_point",
                "level_id"),
    "amenity": ("category", "accessibility", "name", "alt_name", "hours", "phone", "website", "unit_ids",
                "address_id", "correlation_id"),
    "anchor": ("address_id", "unit_id"),
    "occupant": ("name", "category", "anchor_id", "hours", "phone", "website", "validity", "correlation_id"),
    "fixture": ("category", "name", "alt_name", "anchor_id", "level_id", "display_point"),
}
NON_NULL = {
    "address": ("address", "locality", "country"),
    "venue": ("category", "name", "display_point", "address_id"),
    "level": ("category", "outdoor", "ordinal", "name"),
    "unit": ("category", "level_id"),
    "opening": ("category", "level_id"),
    "amenity": ("category", "unit_ids"),
    "anchor": ("unit_id",),
    "occupant": ("name", "category", "anchor_id"),
    "fixture": ("category", "level_id"),
}
CATEGORY_LISTS = {
    "venue": VENUE_CATEGORIES, "level": LEVEL_CATEGORIES, "unit": UNIT_CATEGORIES,
    "opening": OPENING_CATEGORIES, "amenity": AMENITY_CATEGORIES, "occupant": OCCUPANT_CATEGORIES,
}
STANDARD_FILES = ("address", "venue", "level", "unit", "opening", "amenity", "anchor", "occupant", "fixture")
REQUIRED_FILES = ("manifest.json", "address.geojson", "venue.geojson", "level.geojson", "unit.geojson")
EXTENSION_FILES = ("mallportal_venue.geojson", "mallportal_walls.geojson", "mallportal_aps.geojson",
                   "mallportal_walkways.geojson")


class ImdfError(ValueError):
    """An archive that breaks the IMDF rules we check; `problems` lists them all."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:20]
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"invalid IMDF archive ({len(problems)} problem(s)):\n" + "\n".join(shown) + more)


# -- projection ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Where the plan's (0, 0) corner lies on Earth, and how the plan is turned (degrees clockwise from
    north-up: 0 means x points east and y points south)."""

    lon: float
    lat: float
    rotation_deg: float = 0.0

    def __post_init__(self) -> None:
        if not (-180 <= self.lon <= 180 and -85 <= self.lat <= 85):
            raise ValueError(f"origin {self.lon}, {self.lat} is not a lon/lat on Earth (|lat| <= 85)")

    def _trig(self) -> tuple[float, float, float]:
        th = math.radians(self.rotation_deg)
        return math.cos(th), math.sin(th), EARTH_RADIUS_M * math.cos(math.radians(self.lat))

    def to_lonlat(self, x: float, y: float) -> list[float]:
        c, s, r_lon = self._trig()
        e0, n0 = x, -y
        east, north = e0 * c + n0 * s, -e0 * s + n0 * c
        lon = self.lon + math.degrees(east / r_lon)
        lat = self.lat + math.degrees(north / EARTH_RADIUS_M)
        return [round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS)]

    def to_plan(self, lon: float, lat: float) -> tuple[float, float]:
        c, s, r_lon = self._trig()
        east = math.radians(lon - self.lon) * r_lon
        north = math.radians(lat - self.lat) * EARTH_RADIUS_M
        e0, n0 = east * c - north * s, east * s + north * c
        return round(e0, METRE_DECIMALS) + 0.0, round(-n0, METRE_DECIMALS) + 0.0


DEFAULT_ORIGIN = Origin(lon=114.158, lat=22.2855)  # an arbitrary harbour-front spot; pass the real one


# -- export -------------------------------------------------------------------------------------------


def _labels(en: str, zh: str | None = None) -> dict[str, str]:
    out = {"en": en}
    if zh and zh != en:
        out["zh-Hans"] = zh
    return out


def _ring(origin: Origin, coords: Iterable[tuple[float, float]]) -> list[list[float]]:
    ring = [origin.to_lonlat(x, y) for x, y in coords]
    if ring[0] != ring[-1]:
        ring.append(list(ring[0]))
    return ring


def _rect(w: float, h: float) -> list[tuple[float, float]]:
    return [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)]


def _point(origin: Origin, x: float, y: float) -> dict:
    return {"type": "Point", "coordinates": origin.to_lonlat(x, y)}


def _feature(fid: str, feature_type: str, geometry: dict | None, properties: dict) -> dict:
    return {"id": fid, "type": "Feature", "feature_type": feature_type, "geometry": geometry,
            "properties": properties}


def _collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def _openings(venue: VenueMap, floor: Floor) -> list[tuple[str, str, LineString]]:
    """Gaps in the walls along the boundary two zones share: (zone a, zone b, line)."""
    if not floor.walls:
        return []
    walls = unary_union([LineString([(w[0], w[1]), (w[2], w[3])]) for w in floor.walls]).buffer(0.01)
    zones = [(z.id, Polygon(z.polygon)) for z in venue.zones if z.floor == floor.level]
    out = []
    for (ida, pa), (idb, pb) in combinations(zones, 2):
        shared = pa.boundary.intersection(pb.boundary)
        lines = [g for g in getattr(shared, "geoms", [shared]) if isinstance(g, LineString | MultiLineString)]
        if not lines:
            continue
        merged = unary_union(lines)
        if isinstance(merged, MultiLineString):
            merged = linemerge(merged)
        gaps = merged.difference(walls)
        for part in getattr(gaps, "geoms", [gaps]):
            if isinstance(part, LineString) and part.length >= 0.5:
                out.append((ida, idb, part))
    return out


def export_imdf(venue: VenueMap, origin: Origin | None = None, *, address: str | None = None,
                locality: str = "Unknown", country: str = "CN") -> dict[str, dict]:
    """The venue map as an IMDF archive: {filename: GeoJSON FeatureCollection (or the manifest)}."""
    origin = origin or DEFAULT_ORIGIN

    def fid(*parts: object) -> str:
        return str(uuid.uuid5(_NAMESPACE, "/".join([venue.id, *map(str, parts)])))

    address_id = fid("address")
    address_f = _feature(address_id, "address", None, {
        "address": address or venue.name, "unit": None, "locality": locality, "province": None,
        "country": country, "postal_code": None, "postal_code_ext": None, "postal_code_vanity": None,
    })
    width = max(f.width_m for f in venue.floors)
    height = max(f.height_m for f in venue.floors)
    outline = {"type": "Polygon", "coordinates": [_ring(origin, _rect(width, height))]}
    venue_f = _feature(fid("venue"), "venue", outline, {
        "category": "shoppingcenter", "restriction": None, "name": _labels(venue.name, venue.name_zh),
        "alt_name": None, "hours": None, "phone": None, "website": None,
        "display_point": _point(origin, width / 2, height / 2), "address_id": address_id,
    })
    level_ids = {f.level: fid("level", f.level) for f in venue.floors}
    levels = []
    for floor in venue.floors:
        kinds = {z.kind for z in venue.zones if z.floor == floor.level}
        levels.append(_feature(level_ids[floor.level], "level", {
            "type": "Polygon", "coordinates": [_ring(origin, _rect(floor.width_m, floor.height_m))]}, {
            "category": "parking" if kinds == {"garage"} else "unspecified", "restriction": None,
            "outdoor": False, "ordinal": floor.level, "name": _labels(floor.name),
            "short_name": _labels(floor.name), "display_point": _point(origin, floor.width_m / 2, floor.height_m / 2),
            "address_id": None, "building_ids": None,
        }))
    unit_ids = {z.id: fid("unit", z.id) for z in venue.zones}
    polygons = {z.id: Polygon(z.polygon) for z in venue.zones}
    units = []
    for zone in venue.zones:
        if zone.floor not in level_ids:
            raise ValueError(f"zone {zone.id} is on floor {zone.floor}, which the venue does not have")
        rep = polygons[zone.id].representative_point()
        units.append(_feature(unit_ids[zone.id], "unit", {
            "type": "Polygon", "coordinates": [_ring(origin, zone.polygon)]}, {
            "category": UNIT_CATEGORY_FOR_KIND.get(zone.kind, "room"), "restriction": None,
            "accessibility": None, "name": _labels(zone.name, zone.name_zh), "alt_name": None,
            "level_id": level_ids[zone.floor], "display_point": _point(origin, rep.x, rep.y),
        }))

    def unit_at(level: int, x: float, y: float) -> str | None:
        p = Point(x, y)
        for zone in venue.zones:
            if zone.floor == level and polygons[zone.id].covers(p):
                return zone.id
        return None

    openings = []
    for floor in venue.floors:
        for a, b, line in _openings(venue, floor):
            mid = line.interpolate(0.5, normalized=True)
            openings.append(_feature(fid("opening", floor.level, a, b, round(mid.x, 3), round(mid.y, 3)), "opening", {
                "type": "LineString", "coordinates": [origin.to_lonlat(x, y) for x, y in line.coords]}, {
                "category": "pedestrian", "accessibility": None, "access_control": None, "door": None,
                "name": None, "alt_name": None, "display_point": _point(origin, mid.x, mid.y),
                "level_id": level_ids[floor.level],
            }))
    nodes = {n.id: n for n in venue.nodes}
    amenities, seen = [], set()
    for edge in venue.edges:
        if edge.kind not in CONNECTOR_KINDS:
            continue
        for node_id in (edge.a, edge.b):
            node = nodes.get(node_id)
            if node is None or node_id in seen:
                continue
            seen.add(node_id)
            zone_id = unit_at(node.floor, node.x, node.y)
            if zone_id is None:
                continue  # IMDF amenities must lie in a unit
            amenities.append(_feature(fid("amenity", node_id), "amenity", _point(origin, node.x, node.y), {
                "category": edge.kind, "accessibility": None, "name": None, "alt_name": None, "hours": None,
                "phone": None, "website": None, "unit_ids": [unit_ids[zone_id]], "address_id": None,
                "correlation_id": None,
            }))
    anchors, occupants = [], []
    for shop in venue.shops:
        zone_id = shop.zone if shop.zone in unit_ids else unit_at(shop.floor, shop.x, shop.y)
        if zone_id is None:
            raise ValueError(f"shop {shop.id} lies in no zone: an IMDF anchor needs a unit")
        anchor_id = fid("anchor", shop.id)
        anchors.append(_feature(anchor_id, "anchor", _point(origin, shop.x, shop.y),
                                {"address_id": None, "unit_id": unit_ids[zone_id]}))
        category = shop.category if shop.category in OCCUPANT_CATEGORIES else OCCUPANT_CATEGORY_FOR.get(
            shop.category, "shopping")
        occupants.append(_feature(fid("occupant", shop.id), "occupant", None, {
            "name": _labels(shop.name, shop.name_zh), "category": category, "anchor_id": anchor_id,
            "hours": None, "phone": None, "website": None, "validity": None, "correlation_id": None,
        }))

    # -- extension files: what IMDF cannot say -----------------------------------------------------------
    ext_venue = _feature(fid("mallportal", "venue"), f"{EXTENSION}:venue", _point(origin, 0.0, 0.0), {
        "venue_id": venue.id, "building": venue.building, "projection": "equirectangular",
        "origin_lon": origin.lon, "origin_lat": origin.lat, "rotation_deg": origin.rotation_deg,
        "floors": [{"level": f.level, "level_id": level_ids[f.level], "width_m": f.width_m,
                    "height_m": f.height_m, "plan_image": f.plan_image, "metres_per_pixel": f.metres_per_pixel}
                   for f in venue.floors],
        "zones": [{"unit_id": unit_ids[z.id], "zone_id": z.id, "kind": z.kind} for z in venue.zones],
        "shops": [{"occupant_id": fid("occupant", s.id), "shop_id": s.id, "category": s.category,
                   "zone": s.zone, "description": s.description} for s in venue.shops],
    })
    walls = [
        _feature(fid("wall", f.level, i), f"{EXTENSION}:wall",
                 {"type": "LineString", "coordinates": [origin.to_lonlat(w[0], w[1]), origin.to_lonlat(w[2], w[3])]},
                 {"level_id": level_ids[f.level]})
        for f in venue.floors for i, w in enumerate(f.walls)
    ]
    aps = [_feature(fid("ap", ap.bssid), f"{EXTENSION}:ap", _point(origin, ap.x, ap.y),
                    {"bssid": ap.bssid, "name": ap.name, "level_id": level_ids.get(ap.floor)})
           for ap in venue.aps]
    walk = [_feature(fid("node", n.id), f"{EXTENSION}:walknode", _point(origin, n.x, n.y),
                     {"node_id": n.id, "level_id": level_ids.get(n.floor)}) for n in venue.nodes]
    walk += [_feature(fid("edge", i, e.a, e.b), f"{EXTENSION}:walkedge", None,
                      {"a": e.a, "b": e.b, "kind": e.kind, "oneway": e.oneway}) for i, e in enumerate(venue.edges)]
    manifest = {
        "version": IMDF_VERSION, "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "generated_by": "MallPortal", "language": "en", "extensions": [EXTENSION],
    }
    return {
        "manifest.json": manifest,
        "address.geojson": _collection([address_f]),
        "venue.geojson": _collection([venue_f]),
        "level.geojson": _collection(levels),
        "unit.geojson": _collection(units),
        "opening.geojson": _collection(openings),
        "amenity.geojson": _collection(amenities),
        "anchor.geojson": _collection(anchors),
        "occupant.geojson": _collection(occupants),
        "mallportal_venue.geojson": _collection([ext_venue]),
        "mallportal_walls.geojson": _collection(walls),
        "mallportal_aps.geojson": _collection(aps),
        "mallportal_walkways.geojson": _collection(walk),
    }


def imdf_zip_bytes(files: Mapping[str, dict]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, doc in files.items():
            zf.writestr(name, json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
    return buf.getvalue()


def write_imdf_zip(venue: VenueMap, path: str | Path, origin: Origin | None = None, **kwargs: Any) -> Path:
    path = Path(path)
    data = imdf_zip_bytes(export_imdf(venue, origin, **kwargs))
    path.write_bytes(data)
    return path


# -- import: reading ----------------------------------------------------------------------------------


def read_imdf_files(source: Mapping[str, Any] | str | Path | bytes) -> dict[str, Any]:
    """{filename: parsed JSON} from a dict (values parsed or JSON text/bytes), a zip path or zip bytes.
    Files inside one top folder of the zip are accepted too. Raises ImdfError for unreadable input."""
    if isinstance(source, Mapping):
        raw = dict(source)
    else:
        try:
            zf = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else Path(source))
        except FileNotFoundError:
            raise ImdfError([f"{source}: no such file"]) from None
        except (zipfile.BadZipFile, OSError) as exc:
            label = "archive" if isinstance(source, bytes) else str(source)
            raise ImdfError([f"{label}: not a zip archive ({exc})"]) from None
        with zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if len(members) > MAX_ZIP_MEMBERS:
                raise ImdfError([f"archive has {len(members)} files; at most {MAX_ZIP_MEMBERS} allowed"])
            if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise ImdfError([f"archive expands to more than {MAX_ZIP_BYTES // 2**20} MiB"])
            raw = {}
            for m in members:
                name = m.filename.rsplit("/", 1)[-1]
                if name.startswith(".") or "__MACOSX" in m.filename:
                    continue
                if name in raw:
                    raise ImdfError([f"{name}: appears twice in the archive"])
                raw[name] = zf.read(m)
    out = {}
    problems = []
    for name, value in raw.items():
        if isinstance(value, bytes | str):
            try:
                value = json.loads(value)
            except (ValueError, UnicodeDecodeError) as exc:
                problems.append(f"{name}: not valid JSON ({exc})")
                continue
        out[name] = value
    if problems:
        raise ImdfError(problems)
    return out


# -- import: validation -------------------------------------------------------------------------------

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _position_problem(pos: object) -> str | None:
    if not isinstance(pos, list) or len(pos) < 2 or not all(_is_number(v) for v in pos[:2]):
        return f"position {pos!r} is not [lon, lat]"
    lon, lat = pos[0], pos[1]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return f"position {pos!r} is outside WGS84 lon/lat ranges"
    return None


def _geometry_problem(geom: dict) -> str | None:
    """Structural GeoJSON check of one geometry (type already known to be allowed)."""
    kind, coords = geom.get("type"), geom.get("coordinates")
    if kind == "Point":
        return _position_problem(coords)

    def line(c, min_len):
        if not isinstance(c, list) or len(c) < min_len:
            return f"{kind} needs at least {min_len} positions"
        for p in c:
            problem = _position_problem(p)
            if problem:
                return problem
        return None

    def polygon(c):
        if not isinstance(c, list) or not c:
            return "polygon has no rings"
        for ring in c:
            problem = line(ring, 4)
            if problem:
                return problem
            if ring[0][:2] != ring[-1][:2]:
                return "polygon ring is not closed (first and last positions differ)"
        return None

    if kind == "LineString":
        return line(coords, 2)
    if kind == "Polygon":
        return polygon(coords)
    if kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            return "MultiPolygon has no polygons"
        for c in coords:
            problem = polygon(c)
            if problem:
                return problem
        return None
    return f"unsupported geometry type {kind!r}"


def _labels_problem(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not value or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return "must be a labels object such as {\"en\": \"...\"}"
    return None


class _Checker:
    def __init__(self, files: dict[str, Any]) -> None:
        self.files = files
        self.problems: list[str] = []
        self.features: dict[str, list[dict]] = {}
        self.by_id: dict[str, tuple[str, dict]] = {}

    def add(self, where: str, problem: str) -> None:
        self.problems.append(f"{where}: {problem}")

    def run(self) -> None:
        for name in REQUIRED_FILES:
            if name not in self.files:
                self.add(name, "required file is missing")
        manifest = self.files.get("manifest.json")
        if manifest is not None:
            self._manifest(manifest)
        for ftype in STANDARD_FILES:
            self._collection(f"{ftype}.geojson", ftype)
        for name in EXTENSION_FILES:
            self._collection(name, None)
        if not self.problems:
            self._references()

    def _manifest(self, m: object) -> None:
        if not isinstance(m, dict):
            self.add("manifest.json", "must be a JSON object")
            return
        for key in ("version", "created", "language"):
            if key not in m:
                self.add("manifest.json", f"required property {key!r} is missing")
        if "version" in m and m["version"] != IMDF_VERSION:
            self.add("manifest.json", f"version {m['version']!r} is not supported (expected {IMDF_VERSION!r})")

    def _collection(self, name: str, ftype: str | None) -> None:
        doc = self.files.get(name)
        if doc is None:
            return
        if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(
                doc.get("features"), list):
            self.add(name, "must be a GeoJSON FeatureCollection with a 'features' list")
            return
        feats = []
        for i, f in enumerate(doc["features"]):
            if not isinstance(f, dict):
                self.add(f"{name}: feature #{i}", "must be a JSON object")
                continue
            fid = f.get("id")
            where = f"{name}: feature {fid}" if isinstance(fid, str) else f"{name}: feature #{i}"
            if not isinstance(fid, str) or not _UUID_RE.match(fid):
                self.add(where, f"id {fid!r} is not a UUID")
                continue
            if fid in self.by_id:
                self.add(where, f"id is used twice (also in {self.by_id[fid][0]})")
                continue
            self.by_id[fid] = (name, f)
            if f.get("type") != "Feature":
                self.add(where, "'type' must be \"Feature\"")
            props = f.get("properties")
            if not isinstance(props, dict):
                self.add(where, "'properties' must be an object")
                continue
            if ftype is None:
                feature_type = f.get("feature_type")
                if not isinstance(feature_type, str) or not feature_type.startswith(EXTENSION + ":"):
                    self.add(where, f"extension feature_type must start with {EXTENSION}:")
                geom = f.get("geometry")
                if geom is not None:
                    problem = _geometry_problem(geom) if isinstance(geom, dict) else "geometry must be an object"
                    if problem:
                        self.add(where, problem)
                feats.append(f)
                continue
            if f.get("feature_type") != ftype:
                self.add(where, f"feature_type {f.get('feature_type')!r} does not belong in {name} "
                                f"(expected {ftype!r})")
                continue
            if self._feature(where, ftype, f, props):
                feats.append(f)
        self.features[name] = feats

    def _feature(self, where: str, ftype: str, f: dict, props: dict) -> bool:
        ok = True
        allowed = GEOMETRY_TYPES.get(ftype, (None,))
        geom = f.get("geometry", "missing")
        if geom == "missing":
            self.add(where, "'geometry' member is missing (use null where the type has none)")
            ok = False
        elif geom is None:
            if None not in allowed:
                self.add(where, f"geometry is null; a {ftype} needs {' or '.join(a for a in allowed if a)}")
                ok = False
        elif not isinstance(geom, dict) or geom.get("type") not in allowed:
            got = geom.get("type") if isinstance(geom, dict) else type(geom).__name__
            want = " or ".join(a if a else "null" for a in allowed)
            self.add(where, f"geometry type {got!r} is not allowed for {ftype} features (must be {want})")
            ok = False
        else:
            problem = _geometry_problem(geom)
            if problem:
                self.add(where, f"geometry: {problem}")
                ok = False
        for key in REQUIRED.get(ftype, ()):
            if key not in props:
                self.add(where, f"required property {key!r} is missing")
                ok = False
            elif props[key] is None and key in NON_NULL.get(ftype, ()):
                self.add(where, f"property {key!r} must not be null")
                ok = False
        cats = CATEGORY_LISTS.get(ftype)
        cat = props.get("category")
        if cats is not None and cat is not None and cat not in cats:
            extra = " (MallPortal knows the mall-related part of the occupant list)" if ftype == "occupant" else ""
            self.add(where, f"category {cat!r} is not an IMDF {ftype} category{extra}")
            ok = False
        for key in ("name", "alt_name", "short_name"):
            if key in props:
                problem = _labels_problem(props[key])
                if problem:
                    self.add(where, f"property {key!r} {problem}")
                    ok = False
        dp = props.get("display_point")
        if dp is not None and (not isinstance(dp, dict) or dp.get("type") != "Point" or _geometry_problem(dp)):
            self.add(where, "display_point must be a GeoJSON Point")
            ok = False
        if ftype == "level":
            if "ordinal" in props and (not isinstance(props["ordinal"], int) or isinstance(props["ordinal"], bool)):
                self.add(where, "ordinal must be an integer")
                ok = False
            if "outdoor" in props and not isinstance(props["outdoor"], bool):
                self.add(where, "outdoor must be true or false")
                ok = False
        if ftype == "amenity" and props.get("unit_ids") is not None and (
                not isinstance(props["unit_ids"], list) or not props["unit_ids"]):
            self.add(where, "unit_ids must be a non-empty list of unit ids")
            ok = False
        return ok

    def _ref(self, where: str, key: str, value: object, ftype: str, nullable: bool) -> None:
        if value is None:
            if not nullable:
                self.add(where, f"{key} must not be null")
            return
        target = self.by_id.get(value) if isinstance(value, str) else None
        if target is None:
            self.add(where, f"{key} {value!r} does not resolve to any feature")
        elif target[1].get("feature_type") != ftype:
            self.add(where, f"{key} {value!r} is a {target[1].get('feature_type')}, not a {ftype}")

    def _references(self) -> None:
        for name, feats in self.features.items():
            for f in feats:
                props, where = f["properties"], f"{name}: feature {f['id']}"
                ftype = f.get("feature_type")
                if ftype in ("unit", "opening", "fixture"):
                    self._ref(where, "level_id", props.get("level_id"), "level", nullable=False)
                if ftype == "venue":
                    self._ref(where, "address_id", props.get("address_id"), "address", nullable=False)
                if ftype in ("level", "amenity", "anchor") and props.get("address_id") is not None:
                    self._ref(where, "address_id", props["address_id"], "address", nullable=True)
                if ftype == "amenity":
                    for uid in props.get("unit_ids") or []:
                        self._ref(where, "unit_ids", uid, "unit", nullable=False)
                if ftype == "anchor":
                    self._ref(where, "unit_id", props.get("unit_id"), "unit", nullable=False)
                if ftype == "occupant":
                    self._ref(where, "anchor_id", props.get("anchor_id"), "anchor", nullable=False)
                if ftype == "fixture" and props.get("anchor_id") is not None:
                    self._ref(where, "anchor_id", props["anchor_id"], "anchor", nullable=True)
                if isinstance(ftype, str) and ftype.startswith(EXTENSION + ":") and props.get("level_id") is not None:
                    self._ref(where, "level_id", props["level_id"], "level", nullable=True)
        venues = self.features.get("venue.geojson", [])
        if len(venues) != 1:
            self.add("venue.geojson", f"must hold exactly one venue feature, found {len(venues)}")
        if not self.features.get("level.geojson"):
            self.add("level.geojson", "holds no level")
        ordinals: dict[int, str] = {}
        for f in self.features.get("level.geojson", []):
            o = f["properties"]["ordinal"]
            if o in ordinals:
                self.add(f"level.geojson: feature {f['id']}", f"ordinal {o} is also used by level {ordinals[o]} "
                                                              "(MallPortal needs one level per floor)")
            ordinals[o] = f["id"]


def validate_imdf(files: Mapping[str, Any]) -> None:
    """Raise ImdfError listing every problem; return None if the archive passes."""
    checker = _Checker(dict(files))
    checker.run()
    if checker.problems:
        raise ImdfError(checker.problems)


# -- import: building the map -------------------------------------------------------------------------


def _label(labels: dict | None, *langs: str) -> str | None:
    if not labels:
        return None
    for lang in langs:
        for key, value in labels.items():
            if key == lang or key.lower().startswith(lang.lower() + "-"):
                return value
    return None


def _slug(text: str | None, fallback: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")[:40] or fallback
    if not ID_RE.match(base):
        base = fallback
    candidate, n = base, 2
    while candidate in taken:
        candidate = f"{base}-{n}"
        n += 1
    taken.add(candidate)
    return candidate


def _outer_ring(geom: dict) -> list[list[float]]:
    """The exterior ring of a Polygon, or of a MultiPolygon's largest part (holes dropped)."""
    if geom["type"] == "Polygon":
        return geom["coordinates"][0]
    parts = [Polygon([p[:2] for p in poly[0]]) for poly in geom["coordinates"]]
    best = max(range(len(parts)), key=lambda i: parts[i].area)
    return geom["coordinates"][best][0]


def _all_positions(geom: dict | None) -> Iterable[list[float]]:
    if not geom:
        return
    stack = [geom.get("coordinates")]
    while stack:
        c = stack.pop()
        if isinstance(c, list) and c and _is_number(c[0]):
            yield c
        elif isinstance(c, list):
            stack.extend(c)


def import_imdf(source: Mapping[str, Any] | str | Path | bytes, venue_id: str | None = None) -> VenueMap:
    """Parse and validate an IMDF archive (dict of files, zip path or zip bytes) into a VenueMap.
    Raises ImdfError (ValueError) naming the file, feature id and problem; returns only if valid."""
    files = read_imdf_files(source)
    checker = _Checker(files)
    checker.run()
    if checker.problems:
        raise ImdfError(checker.problems)
    try:
        venue = _build_map(checker.features, venue_id)
    except ImdfError:
        raise
    except (TypeError, KeyError, AttributeError, IndexError, ValueError) as exc:
        raise ImdfError([f"{EXTENSION}_*.geojson: extension data is malformed ({type(exc).__name__}: {exc})"]) from None
    _check_positionable(venue)
    return venue


def _build_map(feats: dict[str, list[dict]], venue_id: str | None) -> VenueMap:
    problems: list[str] = []
    venue_f = feats["venue.geojson"][0]
    ext = (feats.get("mallportal_venue.geojson") or [None])[0]
    ext_props = ext["properties"] if ext else {}
    if ext:
        try:
            origin = Origin(float(ext_props["origin_lon"]), float(ext_props["origin_lat"]),
                            float(ext_props.get("rotation_deg") or 0.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise ImdfError([f"mallportal_venue.geojson: feature {ext['id']}: bad origin ({exc})"]) from None
    else:  # another tool's archive: put the plan's (0, 0) at the north-west corner of everything
        positions = [p for name in ("venue.geojson", "level.geojson", "unit.geojson")
                     for f in feats.get(name, []) for p in _all_positions(f["geometry"])]
        origin = Origin(min(p[0] for p in positions), max(p[1] for p in positions))
    vid = venue_id or ext_props.get("venue_id") or _slug(_label(venue_f["properties"]["name"], "en"), "venue", set())
    if not ID_RE.match(str(vid)):
        raise ImdfError([f"venue id {vid!r} is not a valid id (lower-case letters, digits, - and _)"])

    # floors
    ext_floors = {f.get("level_id"): f for f in ext_props.get("floors", []) if isinstance(f, dict)}
    level_of: dict[str, int] = {}
    floors = []
    for f in sorted(feats["level.geojson"], key=lambda f: f["properties"]["ordinal"]):
        props = f["properties"]
        level = props["ordinal"]
        level_of[f["id"]] = level
        xs, ys = zip(*(origin.to_plan(p[0], p[1]) for p in _all_positions(f["geometry"])), strict=True)
        extra = ext_floors.get(f["id"], {})
        width = float(extra.get("width_m") or round(max(xs), 2))
        height = float(extra.get("height_m") or round(max(ys), 2))
        if width <= 0 or height <= 0:
            problems.append(f"level.geojson: feature {f['id']}: level lies west or north of the venue origin")
        floors.append(Floor(level=level, name=_label(props["name"], "en") or str(level), width_m=width,
                            height_m=height, plan_image=extra.get("plan_image"),
                            metres_per_pixel=extra.get("metres_per_pixel")))
    # walls: ours from the extension; otherwise unit outlines (minus openings) stand in for walls
    walls: dict[int, list[tuple[float, float, float, float]]] = {fl.level: [] for fl in floors}
    for f in feats.get("mallportal_walls.geojson", []):
        level = level_of.get(f["properties"].get("level_id"))
        geom = f.get("geometry")
        if level is None or not geom or geom.get("type") != "LineString":
            problems.append(f"mallportal_walls.geojson: feature {f['id']}: a wall needs a LineString and a level_id")
            continue
        pts = [origin.to_plan(p[0], p[1]) for p in geom["coordinates"]]
        walls[level] += [(a[0], a[1], b[0], b[1]) for a, b in zip(pts, pts[1:], strict=False)]

    # zones
    ext_zones = {z.get("unit_id"): z for z in ext_props.get("zones", []) if isinstance(z, dict)}
    taken: set[str] = set()
    zones: list[Zone] = []
    zone_of_unit: dict[str, str] = {}
    for f in feats["unit.geojson"]:
        props = f["properties"]
        extra = ext_zones.get(f["id"])
        if extra is None and props["category"] in STRUCTURAL_UNITS:
            continue
        ring = [origin.to_plan(p[0], p[1]) for p in _outer_ring(f["geometry"])]
        if len(ring) > 1 and ring[0] == ring[-1]:
            ring = ring[:-1]
        name = _label(props.get("name"), "en") or props["category"]
        zh = _label(props.get("name"), "zh") or name
        zone_id = extra["zone_id"] if extra and ID_RE.match(str(extra.get("zone_id", ""))) else None
        if zone_id in taken:
            problems.append(f"unit.geojson: feature {f['id']}: zone id {zone_id!r} is used twice")
            continue
        if zone_id is None:
            zone_id = _slug(name, "unit-" + f["id"][:8].lower(), taken)
        taken.add(zone_id)
        kind = extra.get("kind") if extra else KIND_FOR_UNIT_CATEGORY.get(props["category"], "shop")
        poly = Polygon(ring)
        if len(ring) < 3 or not poly.is_valid or poly.area <= 0:
            problems.append(f"unit.geojson: feature {f['id']}: polygon is not a simple shape with an area "
                            "(self-intersecting or degenerate)")
            continue
        zones.append(Zone(id=zone_id, name=name, name_zh=zh, floor=level_of[props["level_id"]],
                          polygon=[(x, y) for x, y in ring], kind=str(kind or "shop")))
        zone_of_unit[f["id"]] = zone_id
    if not any(walls.values()) and not feats.get("mallportal_walls.geojson"):
        openings = unary_union([LineString([origin.to_plan(*p[:2]) for p in f["geometry"]["coordinates"]])
                                for f in feats.get("opening.geojson", [])]) if feats.get("opening.geojson") else None
        gaps = openings.buffer(0.01) if openings is not None else None
        for zone in zones:
            outline = LineString([*zone.polygon, zone.polygon[0]])
            rest = outline.difference(gaps) if gaps is not None else outline
            for part in getattr(rest, "geoms", [rest]):
                coords = list(getattr(part, "coords", []))
                for a, b in zip(coords, coords[1:], strict=False):
                    seg = (round(a[0], 3), round(a[1], 3), round(b[0], 3), round(b[1], 3))
                    if seg not in walls[zone.floor] and (seg[2], seg[3], seg[0], seg[1]) not in walls[zone.floor]:
                        walls[zone.floor].append(seg)
    for fl in floors:
        fl.walls = walls[fl.level]

    # shops: occupant -> anchor -> unit
    anchors = {f["id"]: f for f in feats.get("anchor.geojson", [])}
    unit_level = {f["id"]: level_of[f["properties"]["level_id"]] for f in feats["unit.geojson"]}
    ext_shops = {s.get("occupant_id"): s for s in ext_props.get("shops", []) if isinstance(s, dict)}
    shop_ids: set[str] = set()
    shops = []
    for f in feats.get("occupant.geojson", []):
        props = f["properties"]
        anchor = anchors[props["anchor_id"]]
        unit_id = anchor["properties"]["unit_id"]
        x, y = origin.to_plan(*anchor["geometry"]["coordinates"][:2])
        extra = ext_shops.get(f["id"], {})
        name = _label(props["name"], "en") or next(iter(props["name"].values()))
        sid = extra.get("shop_id") if ID_RE.match(str(extra.get("shop_id", ""))) else None
        if sid is None or sid in shop_ids:
            sid = _slug(name, "shop-" + f["id"][:8].lower(), shop_ids)
        shop_ids.add(sid)
        zone = extra["zone"] if "zone" in extra else zone_of_unit.get(unit_id)
        shops.append(Shop(id=sid, name=name, name_zh=_label(props["name"], "zh") or name,
                          category=str(extra.get("category") or props["category"]), floor=unit_level[unit_id],
                          x=x, y=y, zone=zone if zone in zone_of_unit.values() else None,
                          description=str(extra.get("description") or "")))

    # access points and the walkway graph (extensions)
    aps, seen_bssids = [], set()
    for f in feats.get("mallportal_aps.geojson", []):
        props, where = f["properties"], f"mallportal_aps.geojson: feature {f['id']}"
        try:
            bssid = normalise_bssid(props.get("bssid"))
        except ValueError as exc:
            problems.append(f"{where}: {exc}")
            continue
        level = level_of.get(props.get("level_id"))
        geom = f.get("geometry")
        if level is None or not geom or geom.get("type") != "Point":
            problems.append(f"{where}: an AP needs a Point and a level_id")
            continue
        if bssid in seen_bssids:
            problems.append(f"{where}: BSSID {bssid} appears twice")
            continue
        seen_bssids.add(bssid)
        x, y = origin.to_plan(*geom["coordinates"][:2])
        aps.append(AccessPoint(bssid=bssid, floor=level, x=x, y=y, name=str(props.get("name") or "")))
    nodes, edges = [], []
    for f in feats.get("mallportal_walkways.geojson", []):
        props, where = f["properties"], f"mallportal_walkways.geojson: feature {f['id']}"
        if f.get("feature_type") == f"{EXTENSION}:walknode":
            level = level_of.get(props.get("level_id"))
            geom = f.get("geometry")
            if level is None or not geom or geom.get("type") != "Point" or not isinstance(props.get("node_id"), str):
                problems.append(f"{where}: a walkway node needs a node_id, a Point and a level_id")
                continue
            x, y = origin.to_plan(*geom["coordinates"][:2])
            nodes.append(WalkNode(id=props["node_id"], floor=level, x=x, y=y))
        elif f.get("feature_type") == f"{EXTENSION}:walkedge":
            edges.append(WalkEdge(a=str(props.get("a")), b=str(props.get("b")), kind=str(props.get("kind") or "walk"),
                                  oneway=bool(props.get("oneway"))))
    node_ids = {n.id for n in nodes}
    for e in edges:
        if e.a not in node_ids or e.b not in node_ids:
            problems.append(f"mallportal_walkways.geojson: edge {e.a} -> {e.b} names a node that does not exist")
    if problems:
        raise ImdfError(problems)
    name = _label(venue_f["properties"]["name"], "en") or str(vid)
    venue = VenueMap(id=str(vid), name=name, name_zh=_label(venue_f["properties"]["name"], "zh") or name,
                     floors=floors, aps=aps, zones=zones, shops=shops, nodes=nodes, edges=edges,
                     building=int(ext_props.get("building") or 0))
    return venue


def _check_positionable(venue: VenueMap) -> None:
    """The zones must make a ZoneMap the positioner can use (valid, non-overlapping polygons)."""
    try:
        zone_map(venue)
    except ValueError as exc:
        raise ImdfError([f"unit.geojson: {exc}"]) from None
    problems = []
    by_floor: dict[int, list[tuple[str, Polygon]]] = {}
    for z in venue.zones:
        by_floor.setdefault(z.floor, []).append((z.id, Polygon(z.polygon)))
    for level, polys in by_floor.items():
        for (a, pa), (b, pb) in combinations(polys, 2):
            if pa.intersection(pb).area > 0.01:
                problems.append(f"unit.geojson: units {a!r} and {b!r} overlap on level {level}")
    if problems:
        raise ImdfError(problems)


def merge_imported(current: VenueMap | None, imported: VenueMap) -> VenueMap:
    """The imported map as the venue's next version: fingerprint samples (which IMDF does not carry)
    are kept from the current map, re-zoned with the imported zones; APs are kept when the archive
    has none. Samples on floors the import lacks are dropped."""
    if current is None:
        return imported
    if current.id != imported.id:
        imported.id = current.id
    if not imported.aps:
        imported.aps = list(current.aps)
    levels = {f.level for f in imported.floors}
    zones = zone_map(imported)
    kept = [replace(s, rssi=dict(s.rssi), spread=dict(s.spread), zone=zones.zone_at(s.floor, s.x, s.y))
            for s in current.samples if s.floor in levels]
    imported.samples = kept
    imported.building = current.building
    return imported
