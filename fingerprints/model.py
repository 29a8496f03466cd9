"""The venue map: floors, access points, zones, shops, amenities, walkway graph and fingerprint samples.

Plain dataclasses with a JSON round trip; the map is stored whole per version (see store.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any

from core.security import normalise_mac

BSSID_RE = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}\Z")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}\Z")  # \Z, not $: "east\n" is no id (ID_RE.match takes it whole)


# A unit of an imported IMDF plan that is no zone (stairs, a lift shaft, a column: schema.STRUCTURAL_UNITS), kept to
# be written back on export: (its unit id, its category, its name labels as (language tag, text) pairs, its parts
# as rings of (x, y) plan metres, each part's outline first). Tuples all through: a floor's record copies as it is.
ImdfUnit = tuple[str, str, tuple[tuple[str, str], ...], tuple[tuple[tuple[tuple[float, float], ...], ...], ...]]


def name_in(name: str, name_zh: str, zh: bool) -> str:
    """A map's name (a venue's, a floor's, a zone's, a shop's) in the page's language (`zh`: Chinese), else in the
    other one: a place stored or imported with one language only is still named on the other language's pages,
    never blank."""
    return (name_zh or name) if zh else (name or name_zh)


def normalise_bssid(raw: str) -> str:
    """Lower-case colon form, by the rule a client's MAC is read by (`normalise_mac`): a gateway names the phone
    and its AP in one redirect, in one notation. Raises ValueError if malformed."""
    try:
        return normalise_mac(raw)
    except ValueError:
        raise ValueError(f"malformed BSSID {raw!r}") from None


@dataclass
class Floor:
    level: int
    name: str
    width_m: float
    height_m: float
    # Wall segments (x1, y1, x2, y2) in metres: drawn on the plan and used by the radio simulator.
    walls: list[tuple[float, float, float, float]] = field(default_factory=list)
    plan_image: str | None = None  # id of an uploaded plan image; None = drawn from walls and zones
    metres_per_pixel: float | None = None
    name_zh: str = ""  # the floor's Chinese name (an IMDF level's zh label); empty: `name` in both languages
    short_name: str = ""  # the floor's short name ("G", "B1": an IMDF level's short_name), as survey files name it
    # The imported IMDF level's own name labels ({"ru": ...}, {"en", "zh-Hant", "zh-Hans"}), written back on export
    # while the names read from them are the floor's (fingerprints.imdf.export); empty: drawn, or stored before.
    imdf_names: dict[str, str] = field(default_factory=dict)
    imdf_units: list[ImdfUnit] = field(default_factory=list)  # the level's units that are no zone, for the export

    def label(self, zh: bool = False) -> str:
        """The floor's name in the page's language (`name_in`)."""
        return name_in(self.name, self.name_zh, zh)

    def names(self) -> set[str]:
        """The names a file may call the floor by (its name, Chinese name, short name and the imported level's names in
        other languages: "Этаж 1" beside "Level 1"), case-folded."""
        return {n.strip().casefold() for n in (self.name, self.name_zh, self.short_name, *self.imdf_names.values())
                if isinstance(n, str) and n.strip()}


@dataclass
class AccessPoint:
    bssid: str
    floor: int
    x: float
    y: float
    name: str = ""
    height_m: float | None = None  # mounting height above the floor, when the AP list says
    model: str = ""


@dataclass
class Zone:
    id: str
    name: str
    name_zh: str
    floor: int
    polygon: list[tuple[float, float]]
    kind: str = "shop"  # cinema, garage, food, atrium, shop, restaurant...
    group: str | None = None  # the zone standing for a group of small zones (a food hall for its stalls)
    # The IMDF unit feature id the zone was imported from, written back as its unit's id on export: a re-import of
    # the venue finds the zone by it and keeps the zone's id (zone apps, owner accounts and footfall are keyed by
    # it). Empty: drawn in the console, or stored before it was kept (fingerprints.edits.merge_imported).
    imdf_id: str = ""
    # Its unit's own name labels and category (classroom, restroom.female), written back on export while the zone's
    # names and kind are still the ones read from them (fingerprints.imdf.export); empty: drawn, or stored before.
    imdf_names: dict[str, str] = field(default_factory=dict)
    imdf_category: str = ""

    def label(self, zh: bool = False) -> str:
        """The zone's name in the page's language (`name_in`): every page and notice that names a zone asks this."""
        return name_in(self.name, self.name_zh, zh)


@dataclass
class Shop:
    id: str
    name: str
    name_zh: str
    category: str
    floor: int
    x: float
    y: float
    zone: str | None = None
    description: str = ""

    def label(self, zh: bool = False) -> str:
        """The shop's name in the page's language (`name_in`): every page that names a shop asks this."""
        return name_in(self.name, self.name_zh, zh)


@dataclass
class Amenity:
    """A facility shoppers ask for by what it is (an ATM, an information desk, a baby-changing room): an IMDF amenity
    point, imported for the directory (fingerprints.imdf.schema.AMENITY_KINDS lists the categories kept)."""

    id: str  # the IMDF amenity feature id it was imported from, written back as its id on export
    category: str  # its IMDF amenity category (atm, information, babychanging, restroom.family...)
    floor: int
    x: float
    y: float
    name: str = ""  # the archive's names, empty where it gave none (the directory then names it by its category)
    name_zh: str = ""
    zone: str | None = None  # the zone it lies in (or, off every zone, its unit's zone), if any


@dataclass
class WalkNode:
    id: str
    floor: int
    x: float
    y: float
    # Where shoppers on foot come in from outside (a street or transit door): the quality report's live estimate
    # starts on-foot arrivals here (portal.tracking.estimate.arrival_place); IMDF's exterior pedestrian openings.
    entrance: bool = False


@dataclass
class WalkEdge:
    a: str
    b: str
    kind: str = "walk"  # walk, escalator (one-way a->b), elevator, stairs
    oneway: bool = False


@dataclass
class Sample:
    """One surveyed reference point: mean RSSI per AP (dBm) and its spread."""

    floor: int
    x: float
    y: float
    rssi: dict[str, float]
    spread: dict[str, float] = field(default_factory=dict)
    n: int = 1
    zone: str | None = None


@dataclass
class VenueMap:
    id: str
    name: str
    name_zh: str
    floors: list[Floor]
    aps: list[AccessPoint] = field(default_factory=list)
    zones: list[Zone] = field(default_factory=list)
    shops: list[Shop] = field(default_factory=list)
    amenities: list[Amenity] = field(default_factory=list)
    nodes: list[WalkNode] = field(default_factory=list)
    edges: list[WalkEdge] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    building: int = 0
    version: int = 0
    # The live positioner's parameters chosen for this venue (`flask positioning-tune`: WKNNPositioner
    # keyword arguments; empty: the defaults of fingerprints.training.live_params), and how they were
    # chosen (the cross-validation's verdict, shown to the operator). Kept across map edits.
    positioner: dict[str, Any] = field(default_factory=dict)
    positioner_tuning: dict[str, Any] = field(default_factory=dict)
    # Where the plan's (0, 0) corner lies on Earth: {"lon", "lat", "rotation_deg"} (fingerprints.imdf.Origin),
    # known once the plan came from IMDF; AP lists in lon/lat are placed with it. Empty: not known.
    origin: dict[str, float] = field(default_factory=dict)

    def label(self, zh: bool = False) -> str:
        """The venue's name in the page's language (`name_in`): every header, title and notice that names the venue
        asks this."""
        return name_in(self.name, self.name_zh, zh)

    def entrance_spots(self) -> list[tuple[int, float, float]]:
        """The walkway nodes marked as entrances, as (floor, x, y)."""
        return [(node.floor, node.x, node.y) for node in self.nodes if node.entrance]

    def floor(self, level: int) -> Floor:
        for floor in self.floors:
            if floor.level == level:
                return floor
        raise KeyError(f"venue {self.id} has no floor {level}")

    def floor_name(self, level: int, zh: bool = False) -> str:
        """A floor's name in the page's language; its number where the map has no such floor (a stale link)."""
        try:
            return self.floor(level).label(zh)
        except KeyError:
            return str(level)

    def levels_named(self, text: str) -> set[int]:
        """The levels of the floors a survey file or AP list may mean by `text`: one whose name, Chinese name or
        short name it is (case and surrounding space ignored). The one lookup both readers use."""
        key = text.strip().casefold()
        return {f.level for f in self.floors if key and key in f.names()}

    def zone(self, zone_id: str) -> Zone | None:
        return next((z for z in self.zones if z.id == zone_id), None)

    def ap_ids(self) -> list[str]:
        return [ap.bssid for ap in self.aps]

    def to_dict(self) -> dict[str, Any]:
        """What dataclasses.asdict gives, without its deep copy of every number (1.3 s -> 0.03 s for the
        demo mall, paid on every map write): each part is a flat record whose lists and dicts hold only
        immutable values (numbers, strings, tuples of numbers), so copying those containers is a deep copy."""
        out = _record(self)
        for name in _PARTS:
            out[name] = [_record(item) for item in getattr(self, name)]
        return out

    def copy(self) -> VenueMap:
        """A private deep copy to change (the dict round trip: about 10x cheaper than copy.deepcopy)."""
        return VenueMap.from_dict(self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VenueMap:
        def tuples(items):
            return [tuple(item) for item in items]

        floors = [Floor(**{**f, "walls": tuples(f.get("walls", [])),
                           "imdf_units": [_frozen(u) for u in f.get("imdf_units", [])]}) for f in data["floors"]]
        zones = [Zone(**{**z, "polygon": tuples(z["polygon"])}) for z in data.get("zones", [])]
        return cls(
            id=data["id"],
            name=data["name"],
            name_zh=data.get("name_zh", data["name"]),
            floors=floors,
            aps=[AccessPoint(**a) for a in data.get("aps", [])],
            zones=zones,
            shops=[Shop(**s) for s in data.get("shops", [])],
            amenities=[Amenity(**a) for a in data.get("amenities", [])],  # absent: stored before they were kept
            nodes=[WalkNode(**n) for n in data.get("nodes", [])],
            edges=[WalkEdge(**e) for e in data.get("edges", [])],
            samples=[Sample(**s) for s in data.get("samples", [])],
            building=data.get("building", 0),
            version=data.get("version", 0),
            positioner=dict(data.get("positioner") or {}),
            positioner_tuning=dict(data.get("positioner_tuning") or {}),
            origin=dict(data.get("origin") or {}),
        )


_PARTS = ("floors", "aps", "zones", "shops", "amenities", "nodes", "edges", "samples")  # VenueMap's record lists


def _frozen(value: Any) -> Any:
    """JSON's lists back to the tuples they were written from (nested)."""
    return tuple(_frozen(v) for v in value) if isinstance(value, list | tuple) else value


def _record(item: Any) -> dict[str, Any]:
    names = _FIELD_NAMES.get(type(item)) or _FIELD_NAMES.setdefault(type(item), tuple(f.name for f in fields(item)))
    return {name: _copied(getattr(item, name)) for name in names}


def _copied(value: Any) -> Any:
    return list(value) if isinstance(value, list) else dict(value) if isinstance(value, dict) else value


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
