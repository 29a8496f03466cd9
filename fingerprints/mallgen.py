"""A seeded mall generator: a realistic venue for benchmarks the positioning was never tuned on.

    mall = generate_mall(seed=101)              # shape by seed: "linear" or "ring"
    mall = generate_mall(seed=7, shape="ring")
    mall.venue        # VenueMap with floors, walls, APs, zones, shops, walkway graph and a survey
    mall.simulator()  # the RadioSimulator of its radio world (live phase: phones, bodies, outages)

Two shapes:
- "linear": a 4-level strip mall (car park + 3 shop floors), one 12 m corridor with shop rows on both
  sides, anchors at the ends, a food hall of small stalls (4-6 m frontage) on the top floor, kiosks
  in the corridor, street entrances at both corridor ends;
- "ring": a 5-level mall (car park + 4 shop floors) whose corridor rings an open atrium (an event
  space on the ground floor, a void above), corner anchors, a food hall on the top floor.
Every shop floor has kiosks; lifts and stairs reach the car park, escalator pairs join the shop floors.
Ceiling APs sit along the corridors every ~13 m (enterprise density) and in a grid over the car park.
Walls have materials (glass shopfronts, drywall between units, concrete outside and around cores),
each with its own loss. The survey: reference points on a grid inside every zone, a few scans each,
taken with one survey phone whose RSSI offset is drawn from the seed (as a real survey would be).
Everything follows from the seed: the same seed gives the same mall, byte for byte.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from fingerprints.geometry import zone_map
from fingerprints.model import AccessPoint, Floor, Shop, VenueMap, WalkEdge, WalkNode, Zone
from fingerprints.simulator import PHONE_MODELS, RadioSimulator
from positioning import MISSING_DBM

WALL_DB = {"glass": 3.0, "drywall": 5.0, "concrete": 12.0}
SHAPES = ("linear", "ring")
AP_SPACING_M = 13.0
NODE_SPACING_M = 4.0
DOOR_M = 3.0

# The app a zone of each kind lands on (apps not installed fall back to the directory).
KIND_APPS = {
    "garage": "parking", "lobby": "parking", "cinema": "cinema", "food": "queue", "stall": "queue",
    "restaurant": "queue", "atrium": "activities", "anchor": "membership", "kiosk": "coupons",
    "corridor": "directory", "shop": "coupons",
}

_ADJ = ["Golden", "Blue", "Jade", "Harbour", "Lotus", "Silver", "Maple", "Coral", "Amber", "Cedar", "Pearl",
        "Ivory", "Lumen", "Pixel", "Kopi", "Mango", "Orchid", "Willow", "Sunny", "Urban"]
_NOUN = {"shop": ["Fashion", "Shoes", "Optics", "Toys", "Books", "Beauty", "Sports", "Home", "Watches", "Denim",
                  "Electronics", "Gifts", "Bags", "Kids", "Outdoor"],
         "stall": ["Noodles", "Dumplings", "Curry", "Satay", "Bao", "Rice Bowl", "Tea", "Juice", "Laksa", "Grill"],
         "kiosk": ["Phone Care", "Bubble Tea", "Keys", "Candy", "Sunglasses"],
         "anchor": ["Department Store", "Supermarket", "Home Centre"],
         "restaurant": ["Kitchen", "Bistro", "Hotpot", "Tea House"], "cinema": ["Cinema"]}


@dataclass
class _Unit:
    id: str
    name: str
    kind: str
    floor: int
    rect: tuple[float, float, float, float]  # x0, y0, x1, y1
    door: tuple[float, float] | None  # where its front wall opens; None: open on every side
    front: str = "none"  # which edge the door is on: "n", "s", "w", "e" or "none"
    polygon: list[tuple[float, float]] | None = None  # when not the plain rectangle (notched corridors)


@dataclass
class GeneratedMall:
    venue: VenueMap
    seed: int
    shape: str
    wall_losses: dict[int, list[float]]
    zone_apps: dict[str, str]
    entrances: list[str]  # walk nodes where shoppers come in: street doors
    parking_nodes: list[str]  # walk nodes in the car park where cars stand
    survey_phone_offset_db: float
    radio: dict = field(default_factory=dict)
    # How much more phone models differ than simulator.PHONE_MODELS says (their offsets and the survey phone's
    # scaled by it): a radio world the live model was not chosen in (bench --phone-spread).
    phone_spread: float = 1.0

    def phone_offset_db(self, model: str) -> float:
        """A shopper's phone model's RSSI offset in this mall's radio world."""
        return PHONE_MODELS[model] * self.phone_spread

    def simulator(self) -> RadioSimulator:
        return RadioSimulator(self.venue, seed=self.seed, wall_losses=self.wall_losses, **self.radio)


class _Builder:
    def __init__(self, rng: np.random.Generator, width: float, height: float) -> None:
        self.rng = rng
        self.width, self.height = width, height
        self.units: list[_Unit] = []
        self.walls: dict[int, list[tuple[tuple[float, float, float, float], str]]] = {}
        self.nodes: list[WalkNode] = []
        self.edges: list[WalkEdge] = []
        self.aps: list[AccessPoint] = []
        self._wall_keys: set[tuple] = set()
        self._spine: dict[int, list[str]] = {}
        self._names: set[str] = set()

    # -- names ---------------------------------------------------------------------------------
    def name(self, kind: str) -> str:
        nouns = _NOUN.get(kind, _NOUN["shop"])
        for _ in range(200):
            text = f"{self.rng.choice(_ADJ)} {self.rng.choice(nouns)}"
            if text not in self._names:
                self._names.add(text)
                return text
        return f"{self.rng.choice(_ADJ)} {self.rng.choice(nouns)} {len(self._names)}"

    # -- geometry --------------------------------------------------------------------------------
    def wall(self, level: int, a: tuple[float, float], b: tuple[float, float], material: str) -> None:
        key = (level, *sorted([(round(a[0], 2), round(a[1], 2)), (round(b[0], 2), round(b[1], 2))]))
        if key in self._wall_keys or a == b:
            return
        self._wall_keys.add(key)
        self.walls.setdefault(level, []).append(((a[0], a[1], b[0], b[1]), material))

    def unit(self, unit: _Unit, side_material: str = "drywall", front_material: str = "glass") -> None:
        """A room: walls on its four edges (outer edges concrete), its door a gap in the front wall."""
        self.units.append(unit)
        x0, y0, x1, y1 = unit.rect
        edges = {"n": ((x0, y0), (x1, y0)), "s": ((x0, y1), (x1, y1)), "w": ((x0, y0), (x0, y1)),
                 "e": ((x1, y0), (x1, y1))}
        for side, (a, b) in edges.items():
            outer = (a[0] == b[0] and a[0] in (0, self.width)) or (a[1] == b[1] and a[1] in (0, self.height))
            material = "concrete" if outer else (front_material if side == unit.front else side_material)
            if side == unit.front and unit.door is not None:
                dx, dy = unit.door
                if a[1] == b[1]:
                    self.wall(unit.floor, a, (dx - DOOR_M / 2, a[1]), material)
                    self.wall(unit.floor, (dx + DOOR_M / 2, a[1]), b, material)
                else:
                    self.wall(unit.floor, a, (a[0], dy - DOOR_M / 2), material)
                    self.wall(unit.floor, (a[0], dy + DOOR_M / 2), b, material)
            else:
                self.wall(unit.floor, a, b, material)

    def outline(self, level: int) -> None:
        w, h = self.width, self.height
        for a, b in (((0, 0), (w, 0)), ((w, 0), (w, h)), ((0, h), (w, h)), ((0, 0), (0, h))):
            self.wall(level, a, b, "concrete")

    # -- walkway graph ----------------------------------------------------------------------------
    def node(self, node_id: str, level: int, x: float, y: float) -> str:
        self.nodes.append(WalkNode(id=node_id, floor=level, x=float(round(x, 2)), y=float(round(y, 2))))
        return node_id

    def link(self, a: str, b: str, kind: str = "walk", oneway: bool = False) -> None:
        self.edges.append(WalkEdge(a=a, b=b, kind=kind, oneway=oneway))

    def spine(self, level: int, points: list[tuple[float, float]], closed: bool = False) -> None:
        """A corridor's centre line: nodes every ~4 m along the polyline, linked in order."""
        ids: list[str] = []
        segments = list(zip(points, points[1:] + ([points[0]] if closed else []), strict=False))
        for (ax, ay), (bx, by) in segments:
            n = max(1, int(round(np.hypot(bx - ax, by - ay) / NODE_SPACING_M)))
            for k in range(n):
                t = k / n
                ids.append(self.node(f"c{level}-{len(ids)}", level, ax + t * (bx - ax), ay + t * (by - ay)))
        if not closed:
            ids.append(self.node(f"c{level}-{len(ids)}", level, *points[-1]))
        for a, b in zip(ids, ids[1:] + ([ids[0]] if closed else []), strict=False):
            self.link(a, b)
        self._spine.setdefault(level, []).extend(ids)

    def nearest_spine(self, level: int, x: float, y: float) -> str:
        by_id = {n.id: n for n in self.nodes}
        return min(self._spine[level], key=lambda i: np.hypot(by_id[i].x - x, by_id[i].y - y))

    def connect_units(self) -> None:
        """Each unit: a node inside it, joined to the corridor through its door (or directly when open)."""
        for u in self.units:
            if u.kind in ("corridor",):
                continue
            x0, y0, x1, y1 = u.rect
            inside = self.node(f"in-{u.id}", u.floor, (x0 + x1) / 2, (y0 + y1) / 2)
            if u.door is None:
                self.link(inside, self.nearest_spine(u.floor, (x0 + x1) / 2, (y0 + y1) / 2))
                continue
            door = self.node(f"door-{u.id}", u.floor, *u.door)
            self.link(inside, door)
            target = getattr(u, "opens_to", None)
            self.link(door, target or self.nearest_spine(u.floor, *u.door))

    # -- APs -------------------------------------------------------------------------------------
    def ap(self, level: int, x: float, y: float, name: str) -> None:
        i = len(self.aps) + 1
        self.aps.append(AccessPoint(bssid=f"0c:8d:db:{level:02x}:{i >> 8:02x}:{i & 255:02x}", floor=level,
                                    x=float(round(x, 2)), y=float(round(y, 2)), name=name))

    def aps_along(self, level: int, points: list[tuple[float, float]], closed: bool = False) -> None:
        segments = list(zip(points, points[1:] + ([points[0]] if closed else []), strict=False))
        length = sum(np.hypot(b[0] - a[0], b[1] - a[1]) for a, b in segments)
        count = max(2, int(round(length / AP_SPACING_M)))
        offset = self.rng.uniform(0.3, 0.7) * length / count
        for k in range(count):
            s = offset + k * length / count
            for (ax, ay), (bx, by) in segments:
                seg = np.hypot(bx - ax, by - ay)
                if s <= seg:
                    t = s / seg
                    self.ap(level, ax + t * (bx - ax), ay + t * (by - ay), f"AP-{level}-{len(self.aps) + 1:02d}")
                    break
                s -= seg


def _row(b: _Builder, level: int, x0: float, x1: float, y0: float, y1: float, front: str, prefix: str,
         kinds: list[tuple[str, float, float]]) -> None:
    """Fill [x0, x1] x [y0, y1] with units side by side along x, door on the `front` edge (n or s).
    kinds: (kind, min frontage, max frontage) drawn in turn; the last unit takes what is left."""
    x, k = x0, 0
    while x1 - x > 0.5:
        kind, lo, hi = kinds[k % len(kinds)]
        width = float(b.rng.uniform(lo, hi))
        if x1 - (x + width) < lo:
            width = x1 - x
        door_y = y0 if front == "n" else y1
        unit = _Unit(f"{prefix}{k + 1:02d}", b.name(kind), kind, level, (x, y0, x + width, y1),
                     (x + width / 2, door_y), front)
        b.unit(unit)
        x += width
        k += 1


def _kiosks(b: _Builder, level: int, spots: list[tuple[float, float]], prefix: str) -> None:
    """Open counters in the corridor (no walls), 3 x 3 m."""
    for i, (x, y) in enumerate(spots):
        b.units.append(_Unit(f"{prefix}k{i + 1}", b.name("kiosk"), "kiosk", level,
                             (x - 1.5, y - 1.5, x + 1.5, y + 1.5), None))


def _food_hall(b: _Builder, level: int, x0: float, x1: float, y0: float, y1: float, front: str, prefix: str) -> None:
    """Stalls of 4-6 m frontage along the back wall, facing a seating area open to the corridor."""
    depth = 7.0
    back_y0, back_y1 = (y0, y0 + depth) if front == "s" else (y1 - depth, y1)
    seat = (x0, back_y1, x1, y1) if front == "s" else (x0, y0, x1, back_y0)
    seating = _Unit(f"{prefix}hall", "Food Hall", "food", level, seat, None, "none")
    b.units.append(seating)  # open to the corridor: no walls of its own besides the outer ones
    count = max(1, int(round((x1 - x0) / 5.0)))  # equal stalls of about 5 m (4-6 m for any hall of 8 m or more)
    width = (x1 - x0) / count
    for k in range(count):
        x = x0 + k * width
        door_y = back_y1 if front == "s" else back_y0
        stall = _Unit(f"{prefix}s{k + 1:02d}", b.name("stall"), "stall", level, (x, back_y0, x + width, back_y1),
                      (x + width / 2, door_y), "s" if front == "s" else "n")
        b.unit(stall, front_material="glass")
        stall.opens_to = f"in-{seating.id}"  # type: ignore[attr-defined]


def _corridor(b: _Builder, level: int, rect: tuple[float, float, float, float], zid: str, name: str,
              kiosks: list[tuple[float, float]] = ()) -> None:
    """A corridor zone; kiosks inside it are cut out of its polygon (notches on its edge)."""
    x0, y0, x1, y1 = rect
    poly = [(x0, y0)]
    for kx, _ky in sorted(kiosks):  # kiosks stand against the corridor's north edge
        poly += [(kx - 1.5, y0), (kx - 1.5, y0 + 3.0), (kx + 1.5, y0 + 3.0), (kx + 1.5, y0)]
    poly += [(x1, y0), (x1, y1), (x0, y1)]
    b.units.append(_Unit(zid, name, "corridor", level, rect, None, "none", polygon=poly))


def _car_park(b: _Builder, lobbies: list[tuple[float, float]], lobby_w: float) -> list[str]:
    """Level 0: parking bands between full-depth lift lobbies; an aisle along the middle; APs in a grid."""
    w, h = b.width, b.height
    cuts = [0.0]
    for lx, _ly in sorted(lobbies):
        cuts += [lx - lobby_w / 2, lx + lobby_w / 2]
    cuts.append(w)
    mid = h / 2
    letters = "abcdefgh"
    for i in range(0, len(cuts) - 1):
        a, c = cuts[i], cuts[i + 1]
        if i % 2 == 0:
            b.units.append(_Unit(f"p-{letters[i // 2]}", f"Car park {letters[i // 2].upper()}", "garage", 0,
                                 (a, 0, c, h), None, "none"))
        else:
            lobby = _Unit(f"p-lobby{i // 2 + 1}", f"Lift lobby {i // 2 + 1}", "lobby", 0, (a, 0, c, h), None)
            b.units.append(lobby)
            for x in (a, c):  # concrete core walls with a door on the aisle
                b.wall(0, (x, 0), (x, mid - DOOR_M / 2), "concrete")
                b.wall(0, (x, mid + DOOR_M / 2), (x, h), "concrete")
    b.outline(0)
    b.spine(0, [(2.0, mid), (w - 2.0, mid)])
    parking = []
    for x in np.arange(6.0, w - 4, 8.0):
        for y in (mid - 14.0, mid + 14.0):
            if 0 < y < h and not any(abs(x - lx) < lobby_w / 2 + 1 for lx, _ in lobbies):
                nid = b.node(f"bay-{x:g}-{y:g}", 0, x, y)
                b.link(nid, b.nearest_spine(0, x, mid))
                parking.append(nid)
    for x in np.arange(12.0, w, 26.0):
        for y in (h * 0.25, h * 0.75):
            b.ap(0, x, y, f"AP-P-{len(b.aps) + 1:02d}")
    return parking


def _connect_levels(b: _Builder, levels: list[int], lifts: list[tuple[float, float]],
                    stairs: list[tuple[float, float]], escalators: list[tuple[float, float]]) -> None:
    """Lifts and stairs on every level (car park included), escalator pairs between shop floors."""
    for kind, spots, reach in (("elevator", lifts, levels), ("stairs", stairs, levels),
                               ("escalator", escalators, levels[1:])):
        for i, (x, y) in enumerate(spots):
            ids = []
            for level in reach:
                nid = b.node(f"{kind}{i + 1}-{level}", level, x, y)
                b.link(nid, b.nearest_spine(level, x, y))
                ids.append(nid)
            for lo, hi in zip(ids, ids[1:], strict=False):
                if kind == "escalator":
                    b.link(lo, hi, "escalator", oneway=True)
                    b.link(hi, lo, "escalator", oneway=True)
                else:
                    b.link(lo, hi, kind)


def _linear(b: _Builder, levels: list[int]) -> tuple[list[str], list[str]]:
    w, h = b.width, b.height
    c0, c1 = 22.0, 34.0  # corridor band
    mid = (c0 + c1) / 2
    lifts, stairs, escalators = [(w / 3, c0 + 2), (2 * w / 3, c0 + 2)], [(10.0, c1 - 2), (w - 10.0, c1 - 2)], \
        [(w / 2, c1 - 2)]
    parking = _car_park(b, lifts, 12.0)
    shop_kinds = [("shop", 8.0, 16.0)]
    top = levels[-1]
    for level in levels[1:]:
        p = f"l{level}-"
        kiosk_spots = [(w * 0.28, c0 + 1.5), (w * 0.72, c0 + 1.5)]
        _corridor(b, level, (0, c0, w / 2, c1), f"{p}mall-w", f"Mall west L{level}",
                  [k for k in kiosk_spots if k[0] < w / 2])
        _corridor(b, level, (w / 2, c0, w, c1), f"{p}mall-e", f"Mall east L{level}",
                  [k for k in kiosk_spots if k[0] >= w / 2])
        _kiosks(b, level, kiosk_spots, p)
        anchor = 28.0
        if level == top:  # food hall in the north row's middle, a cinema at its east end
            _row(b, level, 0, w / 2 - 30, 0, c0, "s", f"{p}n", shop_kinds)
            _food_hall(b, level, w / 2 - 30, w / 2 + 30, 0, c0, "s", f"{p}f")
            b.unit(_Unit(f"{p}cinema", b.name("cinema"), "cinema", level, (w / 2 + 30, 0, w, c0),
                         (w / 2 + 45, c0), "s"))
        else:
            b.unit(_Unit(f"{p}anchor-w", b.name("anchor"), "anchor", level, (0, 0, anchor, c0), (anchor / 2, c0), "s"))
            _row(b, level, anchor, w - anchor, 0, c0, "s", f"{p}n", shop_kinds)
            b.unit(_Unit(f"{p}anchor-e", b.name("anchor"), "anchor", level, (w - anchor, 0, w, c0),
                         (w - anchor / 2, c0), "s"))
        _row(b, level, 0, w, c1, h, "n", f"{p}s", shop_kinds + [("restaurant", 10.0, 14.0)])
        b.outline(level)
        b.spine(level, [(1.0, mid), (w - 1.0, mid)])
        b.aps_along(level, [(0.0, mid), (w, mid)])
        if level == top:
            b.ap(level, w / 2, 8.0, f"AP-{level}-hall")
    b.connect_units()
    _connect_levels(b, levels, lifts, stairs, escalators)
    street = [b.nearest_spine(levels[1], 1.0, mid), b.nearest_spine(levels[1], w - 1.0, mid)]
    return street, parking


def _ring(b: _Builder, levels: list[int]) -> tuple[list[str], list[str]]:
    s = b.width
    o0, o1, i0, i1 = 32.0, s - 32.0, 44.0, s - 44.0  # corridor ring between [o0,o1]^2 and [i0,i1]^2
    m0, m1 = (o0 + i0) / 2, (o1 + i1) / 2  # its centre line
    loop = [(m0, m0), (m1, m0), (m1, m1), (m0, m1)]
    lifts, stairs, escalators = [(m0 + 2, m0 + 2), (m1 - 2, m1 - 2)], [(m1 - 2, m0 + 2), (m0 + 2, m1 - 2)], \
        [(s / 2, m0 + 3), (s / 2, m1 - 3)]
    parking = _car_park(b, [(m0 + 2, 0), (m1 - 2, 0)], 14.0)
    top = levels[-1]
    shop = [("shop", 8.0, 15.0)]
    for level in levels[1:]:
        p = f"l{level}-"
        kiosks_n = [(s / 2 - 12, o0 + 1.5)]
        _corridor(b, level, (o0, o0, o1, i0), f"{p}mall-n", f"Mall north L{level}", kiosks_n)
        _corridor(b, level, (o0, i1, o1, o1), f"{p}mall-s", f"Mall south L{level}")
        _corridor(b, level, (o0, i0, i0, i1), f"{p}mall-w", f"Mall west L{level}")
        _corridor(b, level, (i1, i0, o1, i1), f"{p}mall-e", f"Mall east L{level}")
        _kiosks(b, level, kiosks_n, p)
        if level == levels[1]:
            b.units.append(_Unit(f"{p}atrium", "Atrium", "atrium", level, (i0, i0, i1, i1), None))
        # corners: anchors (north-west, south-east) or large shops, doors on the ring's corners
        b.unit(_Unit(f"{p}anchor-nw", b.name("anchor"), "anchor", level, (0, 0, o0 + 12, o0), (o0 + 6, o0), "s"))
        b.unit(_Unit(f"{p}anchor-se", b.name("anchor"), "anchor", level, (o1 - 12, o1, s, s), (o1 - 6, o1), "n"))
        if level == top:
            _food_hall(b, level, o0 + 12, s, 0, o0, "s", f"{p}f")
            b.unit(_Unit(f"{p}cinema", b.name("cinema"), "cinema", level, (0, o1, o1 - 12, s), (s / 2, o1), "n"))
        else:  # rows between the corners; the other two corners are large units opening on the ring's corners
            _row(b, level, o0 + 12, o1 - 12, 0, o0, "s", f"{p}n", shop)
            b.unit(_Unit(f"{p}ne", b.name("restaurant"), "restaurant", level, (o1 - 12, 0, s, o0), (o1 - 6, o0), "s"))
            _row(b, level, o0 + 12, o1 - 12, o1, s, "n", f"{p}s", shop + [("restaurant", 10.0, 14.0)])
            b.unit(_Unit(f"{p}sw", b.name("shop"), "shop", level, (0, o1, o0 + 12, s), (o0 + 6, o1), "n"))
        for side, x0, x1, front in (("w", 0, o0, "e"), ("e", o1, s, "w")):  # west and east rows, along y
            y = o0
            k = 0
            while o1 - y > 0.5:
                width = float(b.rng.uniform(8.0, 15.0))
                if o1 - (y + width) < 8.0:
                    width = o1 - y
                door_x = x1 if front == "e" else x0
                b.unit(_Unit(f"{p}{side}{k + 1:02d}", b.name("shop"), "shop", level, (x0, y, x1, y + width),
                             (door_x, y + width / 2), front))
                y += width
                k += 1
        b.outline(level)
        if level != levels[1]:  # the atrium void: a glass balustrade around it
            for a, c in (((i0, i0), (i1, i0)), ((i1, i0), (i1, i1)), ((i0, i1), (i1, i1)), ((i0, i0), (i0, i1))):
                b.wall(level, a, c, "glass")
        b.spine(level, loop, closed=True)
        b.aps_along(level, loop, closed=True)
    b.connect_units()
    _connect_levels(b, levels, lifts, stairs, escalators)
    g = levels[1]
    street = [b.nearest_spine(g, s / 2, m0), b.nearest_spine(g, s / 2, m1)]
    # street doors: through the middle of the north and south rows would need gaps; enter from the corridor
    return street, parking


# The generated malls' radio world (RadioSimulator's parameters); `generate_mall(radio=...)` overrides any of them
RADIO = {"correlation_m": 6.0, "shadowing_db": 4.0, "fading_db": 3.0, "body_db": 4.0, "path_loss_exponent": 2.4}
# (each wall's loss is drawn by its material, GeneratedMall.wall_losses, so RadioSimulator's one wall_db is not here)
RADIO_PARAMS = ("path_loss_exponent", "shadowing_db", "fading_db", "body_db", "correlation_m", "floor_db", "p0_dbm",
                "sensitivity_dbm")


def parse_radio(text: str) -> dict[str, float]:
    """`name=value,...` (bench --radio) -> a radio override; a name RadioSimulator does not take, a value that is not
    a number, or a value out of its range is refused, naming it."""
    radio: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or name not in RADIO_PARAMS:
            raise ValueError(f"{item!r}: expected name=value with a name among {', '.join(RADIO_PARAMS)}")
        if name in radio:
            raise ValueError(f"{name} given twice")
        try:
            radio[name] = float(value)
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not a number") from None
    return check_radio(radio)


def check_radio(radio: Mapping[str, float]) -> dict[str, float]:
    """A radio override with its values in range (a negative spread or loss, a path loss exponent of 0, a
    correlation length of 0 make no radio world)."""
    radio = dict(radio)
    for name, value in radio.items():
        if name not in RADIO_PARAMS:
            raise ValueError(f"unknown radio parameter {name!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number")
        if name in ("path_loss_exponent", "correlation_m") and value <= 0:
            raise ValueError(f"{name} must be above 0")
        if name in ("shadowing_db", "fading_db", "body_db", "floor_db") and value < 0:
            raise ValueError(f"{name} must be 0 or more")
        if name == "sensitivity_dbm" and value <= MISSING_DBM:  # weaker than what the map reads as not heard
            raise ValueError(f"sensitivity_dbm must be above {MISSING_DBM:g} dBm")
    return radio


def generate_mall(seed: int, shape: str | None = None, *, survey_step_m: float = 3.0, scans: int = 5,
                  venue_id: str | None = None, phone_spread: float = 1.0,
                  radio: Mapping[str, float] | None = None) -> GeneratedMall:
    """The mall of `seed` (shape: "linear", "ring", or None to pick by seed), surveyed. `phone_spread`: see
    GeneratedMall (the survey phone's offset is drawn as before and scaled, so the mall is otherwise the same).
    `radio`: RadioSimulator parameters over `RADIO` (bench --radio: a radio world the live model was not chosen
    in); the building, its APs and the survey points are the same, the survey's and the shoppers' readings not."""
    radio = {**RADIO, **check_radio(radio or {})}
    rng = np.random.default_rng(seed)
    shape = shape or SHAPES[seed % 2]
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; choose one of {SHAPES}")
    if shape == "linear":
        b = _Builder(rng, width=float(rng.choice([156.0, 168.0, 180.0])), height=56.0)
        levels = [0, 1, 2, 3]
        street, parking = _linear(b, levels)
    else:
        size = float(rng.choice([124.0, 128.0, 136.0]))
        b = _Builder(rng, width=size, height=size)
        levels = [0, 1, 2, 3, 4]
        street, parking = _ring(b, levels)
    names = {0: "P1"} | {level: ("G" if k == 0 else f"L{k}") for k, level in enumerate(levels[1:])}
    floors, losses = [], {}
    for level in levels:
        walls = b.walls.get(level, [])
        floors.append(Floor(level=level, name=names[level], width_m=b.width, height_m=b.height,
                            walls=[w for w, _ in walls]))
        losses[level] = [WALL_DB[m] for _, m in walls]
    zones, shops, apps = [], [], {}
    for u in b.units:
        x0, y0, x1, y1 = u.rect
        poly = u.polygon or [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        zones.append(Zone(id=u.id, name=u.name, name_zh=u.name, floor=u.floor, polygon=poly, kind=u.kind))
        app = KIND_APPS.get(u.kind, "directory")
        if u.kind == "shop" and rng.random() < 0.5:
            app = "directory"
        apps[u.id] = app
        if u.kind not in ("corridor", "garage", "lobby", "atrium"):
            shops.append(Shop(id=u.id, name=u.name, name_zh=u.name, category=u.kind, floor=u.floor,
                              x=(x0 + x1) / 2, y=(y0 + y1) / 2, zone=u.id))
        elif u.kind == "garage":  # a car park is a place shoppers look up (停车, parking), as the demo mall's is
            shops.append(Shop(id=u.id, name=u.name, name_zh=u.name, category="parking", floor=u.floor,
                              x=(x0 + x1) / 2, y=(y0 + y1) / 2, zone=u.id))
    for node in b.nodes:  # the plan marks its street doors, as an operator would (where the benches' shoppers walk in)
        node.entrance = node.id in street
    venue = VenueMap(id=venue_id or f"gen{seed}", name=f"Generated {shape} mall {seed}",
                     name_zh=f"生成商场 {seed}", floors=floors, aps=b.aps, zones=zones, shops=shops,
                     nodes=b.nodes, edges=b.edges)
    mall = GeneratedMall(venue=venue, seed=seed, shape=shape, wall_losses=losses, zone_apps=apps,
                         entrances=street, parking_nodes=parking,
                         survey_phone_offset_db=round(float(rng.uniform(-4.0, 4.0)) * phone_spread, 1),
                         radio=radio, phone_spread=phone_spread)
    venue.samples = mall.simulator().survey_grid(points=survey_points(venue, survey_step_m), scans=scans,
                                                 phone_offset_db=mall.survey_phone_offset_db)
    return mall


def survey_points(venue: VenueMap, step_m: float) -> list[tuple[int, float, float]]:
    """Reference points on a grid over every zone (a survey walks the zones, not voids or walls)."""
    zones = zone_map(venue)
    points = []
    for f in venue.floors:
        for x in np.arange(step_m / 2, f.width_m, step_m):
            for y in np.arange(step_m / 2, f.height_m, step_m):
                if zones.zone_at(f.level, float(x), float(y)) is not None:
                    points.append((f.level, float(x), float(y)))
    return points
