"""Zone groups: neighbouring small zones a position cannot tell apart (food-hall stalls, kiosks) and
the place that stands for them, so a phone lands on the food hall rather than on a wrong stall or on
the mall home.

A group comes from the operator (a zone's `group`: the id of the zone that stands for it, e.g. the food
hall) or from the map: small zones of the same kind on one floor that touch each other form a group,
represented by the larger zone that touches most of them (the hall they open onto); without one, no
group. The decision reads the position's uncertainty (the posterior mass over zones), not only the
best zone: the best zone when it holds `min_zone` of the mass, else the group holding `min_group`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shapely.geometry import Polygon

# (zone id, floor, polygon, kind, operator's group or None)
GroupSpec = tuple[str, int, Sequence[tuple[float, float]], str, str | None]


@dataclass(frozen=True)
class Placement:
    zone: str | None
    zone_confidence: float
    group: str | None  # the zone standing for the group of the best zone (None: not in a group)
    group_confidence: float  # the posterior mass of that group's members (and of the group zone itself)


def derive_groups(zones: Sequence[GroupSpec], *, small_m2: float = 80.0, touch_m: float = 1.5) -> dict[str, str]:
    """zone id -> the zone standing for its group. The operator's groups win; the rest come from the map."""
    ids = {z for z, *_ in zones}
    groups = {z: g for z, _, _, _, g in zones if g and g in ids and g != z}
    polygons = {z: Polygon(coords) for z, _, coords, _, _ in zones}
    small = [spec for spec in zones if spec[4] is None and polygons[spec[0]].area <= small_m2]
    # Connected components of touching small zones of one kind and floor.
    parent = {spec[0]: spec[0] for spec in small}

    def root(z: str) -> str:
        while parent[z] != z:
            parent[z] = parent[parent[z]]
            z = parent[z]
        return z

    for i, (a, fa, _, ka, _) in enumerate(small):
        for b, fb, _, kb, _ in small[i + 1:]:
            if fa == fb and ka == kb and polygons[a].distance(polygons[b]) <= touch_m:
                parent[root(a)] = root(b)
    components: dict[str, list[str]] = {}
    for z, *_ in small:
        components.setdefault(root(z), []).append(z)
    floor_of = {z: f for z, f, *_ in zones}
    small_ids = {spec[0] for spec in small}
    for members in components.values():
        hall = _hall(members, zones, polygons, floor_of, small_ids, touch_m) if len(members) >= 2 else None
        if hall is not None:
            groups.update(dict.fromkeys(members, hall))
    return groups


def _hall(members, zones, polygons, floor_of, small_ids, touch_m) -> str | None:
    """The larger zone on the members' floor touching most of them (at least half)."""
    floor = floor_of[members[0]]
    best, best_n = None, 0
    for z, f, *_ in zones:
        if f != floor or z in small_ids:
            continue
        n = sum(1 for m in members if polygons[z].distance(polygons[m]) <= touch_m)
        if n > best_n or (n == best_n and best is not None and polygons[z].area > polygons[best].area):
            best, best_n = z, n
    return best if best_n * 2 >= len(members) else None


def place(posterior: Mapping[str, float], groups: Mapping[str, str], zones: set[str]) -> Placement:
    """The best zone and its group's mass from a posterior over states (zones and off-zone states)."""
    in_zones = {s: p for s, p in posterior.items() if s in zones}
    if not in_zones:
        return Placement(None, 0.0, None, 0.0)
    values = in_zones.values()
    # the most probable zone, the first by name on a tie: max(sorted(in_zones), key=in_zones.get) without sorting
    # every name (that form itself where a NaN makes the order of the comparisons matter)
    if any(p != p for p in values):
        best = max(sorted(in_zones), key=in_zones.get)
    else:
        top = max(values)
        best = min(s for s, p in in_zones.items() if p == top)
    group = groups.get(best) or (best if best in groups.values() else None)
    mass = 0.0
    if group is not None:
        mass = sum(p for s, p in in_zones.items() if s == group or groups.get(s) == group)
    return Placement(best, round(in_zones[best], 4), group, round(mass, 4))
