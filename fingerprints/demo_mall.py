"""The demo mall: a generated two-floor venue with APs, zones, shops, a walkway graph and a
fingerprint map surveyed by the radio simulator. Seeded, so every build is identical."""

from __future__ import annotations

import itertools

import numpy as np

from fingerprints.geometry import segment_crosses_walls
from fingerprints.model import AccessPoint, Floor, Shop, VenueMap, WalkEdge, WalkNode, Zone
from fingerprints.simulator import RadioSimulator

WIDTH_M, HEIGHT_M = 120.0, 60.0
DOOR_M = 4.0
# The street doors: (level, x, y) on the outline, a DOOR_M gap in its wall, a walkway node marked as an entrance
# just inside (the atrium's south front, where shoppers on foot come in; drivers come in from the car park)
STREET_DOORS = [(0, 60.0, HEIGHT_M)]

# (id, name, name_zh, floor, x0, y0, x1, y1, kind)
ZONES = [
    ("garage", "Car park", "停车场", 0, 0, 0, 40, 60, "garage"),
    ("atrium", "Atrium", "中庭", 0, 40, 0, 80, 60, "atrium"),
    ("kopi", "Kopi Coffee", "考比咖啡", 0, 80, 0, 100, 30, "shop"),
    ("books", "Mango Tree Books", "芒果树书店", 0, 100, 0, 120, 30, "shop"),
    ("lumen", "Lumen Fashion", "流明时装", 0, 80, 30, 120, 60, "shop"),
    ("cinema", "Starlight Cinema", "星光影城", 1, 0, 0, 45, 60, "cinema"),
    ("foodcourt", "Food court", "美食广场", 1, 45, 0, 85, 60, "food"),
    ("jade", "Jade Tea House", "翡翠茶楼", 1, 85, 0, 120, 30, "restaurant"),
    ("pixel", "Pixel Electronics", "像素电子", 1, 85, 30, 120, 60, "shop"),
]

SHOPS = [
    ("kopi", "Kopi Coffee", "考比咖啡", "cafe", 0, 90, 15, "kopi", "Single-origin coffee and kaya toast."),
    ("books", "Mango Tree Books", "芒果树书店", "books", 0, 110, 15, "books", "Books, stationery, readings."),
    ("lumen", "Lumen Fashion", "流明时装", "fashion", 0, 100, 45, "lumen", "Clothing for all seasons."),
    ("starlight", "Starlight Cinema", "星光影城", "cinema", 1, 22, 30, "cinema", "Six screens, IMAX."),
    ("noodle", "Lanzhou Noodle Bar", "兰州拉面", "restaurant", 1, 55, 20, "foodcourt", "Hand-pulled noodles."),
    ("dumpling", "Golden Dumpling", "金饺子", "restaurant", 1, 75, 20, "foodcourt", "Dumplings and soups."),
    ("jade", "Jade Tea House", "翡翠茶楼", "restaurant", 1, 102, 15, "jade", "Dim sum and tea."),
    ("pixel", "Pixel Electronics", "像素电子", "electronics", 1, 102, 45, "pixel", "Phones and gadgets."),
    ("carpark", "Car park", "停车场", "parking", 0, 20, 30, "garage", "400 bays, pay at exit."),
]

# The shops' descriptions in Chinese (SHOPS holds the English): the demo seed writes both as each shop's
# profile, as an owner would (portal/apps/shop_profiles.py), so zh pages read Chinese.
SHOP_DESCRIPTIONS_ZH = {
    "kopi": "单一产地咖啡和咖椰吐司。", "books": "图书、文具、读书会。", "lumen": "四季服饰。",
    "starlight": "六个影厅，含 IMAX。", "noodle": "手工拉面。", "dumpling": "饺子和汤。", "jade": "点心和茶。",
    "pixel": "手机和数码产品。", "carpark": "400 个车位，出场时付费。",
}

# Vertical connectors between floors 0 and 1: (id, x, y, kind, oneway direction or None)
CONNECTORS = [
    ("esc-up", 58.0, 6.0, "escalator", (0, 1)),
    ("esc-down", 62.0, 6.0, "escalator", (1, 0)),
    ("lift", 44.0, 54.0, "elevator", None),
    ("stairs", 76.0, 54.0, "stairs", None),
]


def _wall_segments(level: int) -> list[tuple[tuple[float, float, float, float], bool]]:
    """Every room side of a floor, split where other rooms' corners meet it, so that two rooms sharing
    a side share its pieces: ((ax, ay, bx, by), is_outer)."""
    sides = []
    for _, _, _, fl, x0, y0, x1, y1, _ in ZONES:
        if fl == level:
            sides += [(x0, y0, x1, y0), (x1, y0, x1, y1), (x0, y1, x1, y1), (x0, y0, x0, y1)]
    pieces = set()
    for ax, ay, bx, by in sides:
        vertical = ax == bx
        lo, hi = sorted((ay, by) if vertical else (ax, bx))
        cuts = {lo, hi}
        for cx, cy, dx, dy in sides:  # corners of other sides lying on this side split it
            for px, py in ((cx, cy), (dx, dy)):
                along, across = (py, px) if vertical else (px, py)
                if across == (ax if vertical else ay) and lo < along < hi:
                    cuts.add(along)
        cuts = sorted(cuts)
        for u, v in zip(cuts, cuts[1:], strict=False):
            pieces.add((ax, u, ax, v) if vertical else (u, ay, v, ay))
    out = []
    for ax, ay, bx, by in sorted(pieces):
        outer = (ax == bx and ax in (0, WIDTH_M)) or (ay == by and ay in (0, HEIGHT_M))
        out.append(((ax, ay, bx, by), outer))
    return out


def _doors() -> list[tuple[int, tuple[float, float]]]:
    """A door in the middle of every inner wall piece: where _floor_walls leaves its gap."""
    return [(level, ((ax + bx) / 2, (ay + by) / 2)) for level in (0, 1)
            for (ax, ay, bx, by), outer in _wall_segments(level) if not outer]


def _street_door_on(level: int, piece: tuple[float, float, float, float]) -> tuple[float, float] | None:
    """The street door lying on an outer wall piece, if any."""
    ax, ay, bx, by = piece
    for door_level, x, y in STREET_DOORS:
        on = (ax == bx == x and min(ay, by) < y < max(ay, by)) or (ay == by == y and min(ax, bx) < x < max(ax, bx))
        if door_level == level and on:
            return x, y
    return None


def _floor_walls(level: int) -> list[tuple[float, float, float, float]]:
    walls = []
    for (ax, ay, bx, by), outer in _wall_segments(level):
        door = _street_door_on(level, (ax, ay, bx, by))
        if outer and door is None:
            walls.append((ax, ay, bx, by))
            continue
        mx, my = door or ((ax + bx) / 2, (ay + by) / 2)
        half = DOOR_M / 2
        if ax == bx:
            walls += [(ax, ay, ax, my - half), (ax, my + half, ax, by)]
        else:
            walls += [(ax, ay, mx - half, ay), (mx + half, ay, bx, ay)]
    return walls


def _floors() -> list[Floor]:
    return [Floor(level=level, name=name, width_m=WIDTH_M, height_m=HEIGHT_M, walls=_floor_walls(level))
            for level, name in ((0, "G"), (1, "L1"))]


def _aps() -> list[AccessPoint]:
    aps = []
    for level in (0, 1):
        for i, (x, y) in enumerate(itertools.product((12, 36, 60, 84, 108), (15, 45))):
            # Staggered upstairs so the two floors' APs are not stacked exactly.
            dx = 6 if level == 1 else 0
            aps.append(
                AccessPoint(
                    bssid=f"f0:9f:c2:1a:{level:02x}:{i + 1:02x}",
                    floor=level,
                    x=float(min(x + dx, WIDTH_M - 2)),
                    y=float(y),
                    name=f"AP-{'GL'[level]}{i + 1:02d}",
                )
            )
    return aps


def _walk_graph(floors: list[Floor]) -> tuple[list[WalkNode], list[WalkEdge]]:
    """A 6 m grid of walkway nodes per floor, linked to neighbours where no wall is in the way,
    plus escalators (one-way), a lift and stairs between the floors."""
    step = 6.0
    nodes, edges = [], []
    for floor in floors:
        xs = np.arange(step / 2, floor.width_m, step)
        ys = np.arange(step / 2, floor.height_m, step)
        for x, y in itertools.product(xs, ys):
            nodes.append(WalkNode(id=f"f{floor.level}-{x:g}-{y:g}", floor=floor.level, x=float(x), y=float(y)))
            for nx, ny in ((x + step, y), (x, y + step)):
                inside = nx < floor.width_m and ny < floor.height_m
                if inside and not segment_crosses_walls(floor.walls, (x, y), (nx, ny)):
                    edges.append(WalkEdge(a=f"f{floor.level}-{x:g}-{y:g}", b=f"f{floor.level}-{nx:g}-{ny:g}"))

    def link(node_id: str, level: int, x: float, y: float) -> None:
        """Join an extra node (door, lift, stairs) to the grid nodes around it it can walk to."""
        walls = next(f.walls for f in floors if f.level == level)
        for node in grid:
            near = node.floor == level and abs(node.x - x) <= step and abs(node.y - y) <= step
            if near and not segment_crosses_walls(walls, (x, y), (node.x, node.y)):
                edges.append(WalkEdge(a=node_id, b=node.id))

    grid = list(nodes)
    for level, (x, y) in _doors():
        door = f"door{level}-{x:g}-{y:g}"
        nodes.append(WalkNode(id=door, floor=level, x=x, y=y))
        link(door, level, x, y)
    for level, x, y in STREET_DOORS:  # a metre inside the outline, in the zone the door opens into
        inside_x = min(max(x, 1.0), WIDTH_M - 1.0)
        inside_y = min(max(y, 1.0), HEIGHT_M - 1.0)
        door = f"street{level}-{x:g}-{y:g}"
        nodes.append(WalkNode(id=door, floor=level, x=inside_x, y=inside_y, entrance=True))
        link(door, level, inside_x, inside_y)
    for cid, x, y, kind, direction in CONNECTORS:
        for level in (0, 1):
            nodes.append(WalkNode(id=f"{cid}-{level}", floor=level, x=x, y=y))
            link(f"{cid}-{level}", level, x, y)
        if direction is None:
            edges.append(WalkEdge(a=f"{cid}-0", b=f"{cid}-1", kind=kind))
        else:
            src, dst = direction
            edges.append(WalkEdge(a=f"{cid}-{src}", b=f"{cid}-{dst}", kind=kind, oneway=True))
    return nodes, edges


def build_demo_mall(venue_id: str = "demo", survey_step_m: float = 3.0, scans: int = 8) -> VenueMap:
    """The whole demo venue, fingerprint map included (about 1,600 reference points)."""
    floors = _floors()
    zones = [
        Zone(id=zid, name=name, name_zh=zh, floor=fl, kind=kind,
             polygon=[(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
        for zid, name, zh, fl, x0, y0, x1, y1, kind in ZONES
    ]
    shops = [
        Shop(id=sid, name=name, name_zh=zh, category=cat, floor=fl, x=x, y=y, zone=zone, description=desc)
        for sid, name, zh, cat, fl, x, y, zone, desc in SHOPS
    ]
    nodes, edges = _walk_graph(floors)
    venue = VenueMap(
        id=venue_id, name="Harbour Light Mall", name_zh="港湾之光购物中心", floors=floors, aps=_aps(),
        zones=zones, shops=shops, nodes=nodes, edges=edges,
    )
    venue.samples = RadioSimulator(venue).survey_grid(step_m=survey_step_m, scans=scans)
    return venue
