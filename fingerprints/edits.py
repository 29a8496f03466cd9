"""Map edits: plain functions that change a VenueMap in place, or raise EditError and change nothing
that is kept (callers run them on the private copy `VenueStore.edit` hands out, or on a draft's copy).

The console, the CLI (portal/map_cli.py), IMDF and AP imports, surveys, drafts and the demo seed all
call these, so a rule ("a zone may not overlap another", "samples follow their zone") has one owner.
Every edit takes JSON-friendly arguments (numbers, strings, lists, dicts), so a draft can store a list
of `(name, kwargs)` and replay it with `apply_edit` on top of whatever version is current when it is
applied. Messages are English templates marked with `N_` for the translation catalog; the console shows
`gettext(err.template) % err.params`."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, replace
from typing import Any

from shapely.geometry import Polygon
from shapely.validation import explain_validity

from core.errors import N_
from fingerprints.geometry import zone_map
from fingerprints.georef import DEFAULT_ORIGIN, Origin, exported_feature_id
from fingerprints.model import ID_RE, AccessPoint, Floor, Sample, VenueMap, WalkEdge, WalkNode, Zone
from fingerprints.plan import PX_PER_M

EDGE_KINDS = ("walk", "escalator", "elevator", "stairs", "ramp")
ZONE_KINDS = ("shop", "restaurant", "food", "cinema", "garage", "atrium", "service", "restroom", "corridor")


MAX_PLAN_M = 5000.0  # metres: no mall floor is wider (the console's floor form says the same)



class EditError(ValueError):
    """An edit refused: `template % params` is the English text; the console translates `template`."""

    def __init__(self, template: str, **params: Any) -> None:
        self.template, self.params = template, params
        super().__init__(template % params if params else template)


# -- floors ---------------------------------------------------------------------------------------------


def finite(value: object) -> float:
    """`value` as a finite float; ValueError for anything else (text, NaN, infinity, an integer no float holds)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{str(value)[:40]!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _measure(value: object, what: str, low: float = 0.0, high: float = MAX_PLAN_M) -> float:
    """A finite number in [low, high] (every console form checks this; the CLI and imports rely on it here)."""
    try:
        number = finite(value)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and low <= number <= high):
        raise EditError(N_("%(what)s must be a number from %(low)s to %(high)s."), what=what, low=f"{low:g}",
                        high=f"{high:g}")
    return number


def add_floor(m: VenueMap, level: int, name: str, width_m: float, height_m: float) -> None:
    width_m, height_m = _measure(width_m, "width_m", 1), _measure(height_m, "height_m", 1)
    if any(f.level == level for f in m.floors):
        raise EditError(N_("Floor %(level)s already exists."), level=level)
    m.floors.append(Floor(level=int(level), name=name, width_m=float(width_m), height_m=float(height_m)))
    m.floors.sort(key=lambda f: f.level)


def set_plan_image(m: VenueMap, level: int, image_id: str, width_px: int, height_px: int) -> None:
    """The plan spans the floor's width until its scale is set."""
    fl = _floor(m, level)
    mpp = fl.width_m / width_px
    fl.plan_image, fl.metres_per_pixel = image_id, mpp
    fl.height_m = round(height_px * mpp, 3)


def rescale_floor(m: VenueMap, level: int, metres_per_pixel: float) -> None:
    """New metres per pixel of a floor's plan; what is already placed keeps its place on the plan."""
    fl = _floor(m, level)
    metres_per_pixel = _measure(metres_per_pixel, "metres_per_pixel", 1e-4, 10)
    k = metres_per_pixel / (fl.metres_per_pixel or 1.0 / PX_PER_M)
    _measure(fl.width_m * k, "width_m", 0), _measure(fl.height_m * k, "height_m", 0)  # the floor it makes
    fl.width_m, fl.height_m = round(fl.width_m * k, 3), round(fl.height_m * k, 3)
    fl.metres_per_pixel = metres_per_pixel
    fl.walls = [tuple(round(v * k, 3) for v in wall) for wall in fl.walls]
    for item in [*m.aps, *m.nodes, *m.samples, *m.shops, *m.amenities]:
        if item.floor == level:
            item.x, item.y = round(item.x * k, 3), round(item.y * k, 3)
    for zone in m.zones:
        if zone.floor == level:
            zone.polygon = _scaled_ring(zone.polygon, k)
    # the imported units that are no zone are written back on export: on the plan they stand where the zones do
    fl.imdf_units = [(uid, category, names, tuple(tuple(tuple(_scaled_ring(ring, k)) for ring in part)
                                                  for part in parts))
                     for uid, category, names, parts in fl.imdf_units]


def _scaled_ring(ring: Iterable[tuple[float, float]], k: float) -> list[tuple[float, float]]:
    return [(round(x * k, 3), round(y * k, 3)) for x, y in ring]


def _floor(m: VenueMap, level: int) -> Floor:
    try:
        return m.floor(int(level))
    except (KeyError, TypeError, ValueError):
        raise EditError(N_("Unknown floor %(floor)s."), floor=repr(level)) from None


# -- access points --------------------------------------------------------------------------------------


def place_ap(m: VenueMap, bssid: str, level: int, x: float, y: float, name: str = "",
             height_m: float | None = None, model: str = "") -> bool:
    """Place (or move) an AP; True if it was already on the map. `bssid` is normalised already."""
    fl = _floor(m, level)
    x, y = _measure(x, "x"), _measure(y, "y")
    if height_m is not None:
        height_m = _measure(height_m, "height_m", 0, 100)
    if not (0 <= x <= fl.width_m and 0 <= y <= fl.height_m):
        raise EditError(N_("AP %(b)s at (%(x)s, %(y)s) is off the plan of floor %(f)s."), b=bssid,
                        x=f"{x:g}", y=f"{y:g}", f=fl.name)
    ap = next((a for a in m.aps if a.bssid == bssid), None)
    if ap is None:
        m.aps.append(AccessPoint(bssid=bssid, floor=fl.level, x=x, y=y, name=name, height_m=height_m, model=model))
        return False
    ap.floor, ap.x, ap.y = fl.level, x, y
    ap.name = name or ap.name
    ap.height_m = ap.height_m if height_m is None else height_m
    ap.model = model or ap.model
    return True


def place_aps(m: VenueMap, aps: Iterable[Mapping[str, Any]]) -> int:
    """Bulk placement (AP lists from CSV, controllers, survey tools): each item has place_ap's
    arguments. Returns how many were already on the map (moved)."""
    return sum(place_ap(m, **dict(item)) for item in aps)


def delete_ap(m: VenueMap, bssid: str) -> None:
    before = len(m.aps)
    m.aps = [a for a in m.aps if a.bssid != bssid]
    if len(m.aps) == before:
        raise EditError(N_("There is no AP %(b)s."), b=bssid)


# -- zones ----------------------------------------------------------------------------------------------


def check_zone_polygon(m: VenueMap, level: int, zone_id: str, points: list[tuple[float, float]]) -> None:
    fl = _floor(m, level)
    if len(points) < 3:
        raise EditError(N_("A zone needs at least 3 points (got %(n)s): click its corners on the plan."),
                        n=len(points))
    if len(points) > 200:
        raise EditError(N_("A zone has at most 200 points."))
    for x, y in points:
        if not (0 <= x <= fl.width_m and 0 <= y <= fl.height_m):
            raise EditError(N_("Point (%(x)s, %(y)s) is off the plan of floor %(f)s (%(w)s x %(h)s m)."),
                            x=f"{x:g}", y=f"{y:g}", f=fl.name, w=f"{fl.width_m:g}", h=f"{fl.height_m:g}")
    polygon = Polygon(points)
    if polygon.convex_hull.area < 0.01:
        raise EditError(N_("The zone has no area (its points lie on one line)."))
    if not polygon.is_valid:
        raise EditError(N_("The outline crosses itself (%(why)s); click the corners in order around the zone."),
                        why=explain_validity(polygon))
    if polygon.area < 0.01:
        raise EditError(N_("The zone has no area."))
    for other in m.zones:
        if other.floor == level and other.id != zone_id and Polygon(other.polygon).intersection(polygon).area > 0.01:
            raise EditError(N_("The zone overlaps zone %(z)s (%(name)s)."), z=other.id, name=other.name)


def rezone_points(m: VenueMap) -> None:
    """After zones change, each sample's zone is the polygon it stands in, and so is each amenity's (the directory's
    "near" zone), else the zone it had while that still exists (an IMDF amenity off every zone: its unit's)."""
    zones = zone_map(m)
    for sample in m.samples:
        sample.zone = zones.zone_at(sample.floor, sample.x, sample.y)
    kept = {z.id for z in m.zones}
    for amenity in m.amenities:
        amenity.zone = zones.zone_at(amenity.floor, amenity.x, amenity.y) or (
            amenity.zone if amenity.zone in kept else None)


def add_zone(m: VenueMap, zone_id: str, name: str, level: int, points: list, kind: str = "shop",
             name_zh: str = "") -> None:
    """A zone outlined by POINTS 'x1,y1 x2,y2 x3,y3 ...': its corners in metres on the plan, at least 3."""
    if not ID_RE.match(zone_id):
        raise EditError(N_("Zone id: lower-case letters, digits, - and _, at most 48 (e.g. cafe-2)."))
    if m.zone(zone_id) is not None:
        raise EditError(N_("Zone %(z)s already exists; delete it first to redraw it."), z=zone_id)
    polygon = [(float(x), float(y)) for x, y in points]
    check_zone_polygon(m, level, zone_id, polygon)
    m.zones.append(Zone(id=zone_id, name=name, name_zh=name_zh or name, floor=int(level), polygon=polygon,
                        kind=kind))
    rezone_points(m)


def delete_zone(m: VenueMap, zone_id: str) -> None:
    if m.zone(zone_id) is None:
        raise EditError(N_("There is no zone %(z)s."), z=repr(zone_id))
    m.zones = [z for z in m.zones if z.id != zone_id]
    rezone_points(m)


# -- walkway graph --------------------------------------------------------------------------------------


def add_node(m: VenueMap, node_id: str, level: int, x: float, y: float, entrance: bool = False) -> None:
    """A walkway node; ENTRANCE: shoppers on foot come in here from outside (a street or transit door)."""
    if not ID_RE.match(node_id):
        raise EditError(N_("Node id: lower-case letters, digits, - and _, at most 48."))
    if any(n.id == node_id for n in m.nodes):
        raise EditError(N_("Node %(n)s already exists."), n=node_id)
    m.nodes.append(WalkNode(id=node_id, floor=_floor(m, level).level, x=_measure(x, "x"), y=_measure(y, "y"),
                            entrance=bool(entrance)))


def set_entrance(m: VenueMap, node: str, clear: bool = False) -> None:
    """Mark walkway node NODE as an entrance, where shoppers on foot come in from outside; CLEAR unmarks it."""
    found = next((n for n in m.nodes if n.id == node), None)
    if found is None:
        raise EditError(N_("There is no node %(n)s."), n=repr(str(node)[:48]))
    if found.entrance != clear:  # a new map version that changes nothing would only hide the mistake
        raise EditError(N_("Node %(n)s is already an entrance.") if found.entrance else
                        N_("Node %(n)s is not an entrance."), n=node)
    found.entrance = not clear


def add_edge(m: VenueMap, a: str, b: str, kind: str = "walk", oneway: bool = False) -> None:
    """A walkway link between nodes A and B; KIND is one of walk, escalator, elevator, stairs, ramp."""
    if kind not in EDGE_KINDS:  # said in full: `map-edit add-edge --kind lift` has no form to pick from
        raise EditError(N_("Unknown link kind %(kind)s; use one of %(kinds)s."), kind=repr(str(kind)[:20]),
                        kinds=", ".join(EDGE_KINDS))
    if a == b:
        raise EditError(N_("A link joins two different nodes."))
    ids = {n.id for n in m.nodes}
    for node in (a, b):
        if node not in ids:
            raise EditError(N_("There is no node %(n)s."), n=repr(node[:48]))
    if any({e.a, e.b} == {a, b} for e in m.edges):
        raise EditError(N_("Nodes %(a)s and %(b)s are already linked."), a=a, b=b)
    m.edges.append(WalkEdge(a=a, b=b, kind=kind, oneway=oneway))


def delete_walkway(m: VenueMap, node: str = "", a: str = "", b: str = "") -> None:
    """Delete a node (and its links) or one link (a, b)."""
    if node:
        if not any(n.id == node for n in m.nodes):
            raise EditError(N_("There is no node %(n)s."), n=repr(node[:48]))
        m.nodes = [n for n in m.nodes if n.id != node]
        m.edges = [e for e in m.edges if node not in (e.a, e.b)]
        return
    before = len(m.edges)
    m.edges = [e for e in m.edges if {e.a, e.b} != {a, b}]
    if len(m.edges) == before:
        raise EditError(N_("Nodes %(a)s and %(b)s are not linked."), a=a[:48], b=b[:48])


def replace_walkways(m: VenueMap, nodes: list[dict], edges: list[dict]) -> None:
    """A whole walkway graph (derived from the plan, see fingerprints.imdf.navgraph); the entrances the operator
    marked stay marked on the nodes of the same id where they stay put (`_keep_entrances`)."""
    m.nodes = _keep_entrances(m.nodes, [WalkNode(**n) for n in nodes])
    m.edges = [WalkEdge(**e) for e in edges]
    ids = {n.id for n in m.nodes}
    for e in m.edges:
        if e.a not in ids or e.b not in ids:
            raise EditError(N_("Link %(a)s - %(b)s names a node that does not exist."), a=e.a, b=e.b)


# -- whole-map imports ----------------------------------------------------------------------------------


def merge_imported(m: VenueMap, imported: dict) -> set[str]:
    """An imported map (VenueMap.to_dict(), e.g. from IMDF) becomes this map: fingerprint samples (which
    IMDF does not carry) are kept, re-zoned with the imported zones; APs and walkways are kept when the
    import has none (the walkways with their entrances; an import's walkways bring their own, and the entrances
    marked on the map stay marked on the import's nodes of the same id nearby: `_keep_entrances`).

    What is kept is in the current plan's metres. When the plan's corner moved on Earth (a corrected venue
    outline moves the corner of an archive from another tool), it is carried to the new plan through lon/lat,
    so that it stays where it stands; a map drawn in the console has no corner of its own, and its exports lie
    at DEFAULT_ORIGIN, so an archive near there is taken as one of them. Refused, changing nothing, when anything
    kept would lie off the new plan or on a floor it lacks: an AP or survey point silently off its floor (or
    dropped with its floor) locates no one.

    A zone keeps its id across imports (`_keep_zone_ids`): zone apps, owner accounts and footfall are keyed by it.
    Returns the ids of the zones the map no longer has (what was keyed by them reaches no place)."""
    before = {z.id for z in m.zones}
    new = VenueMap.from_dict(imported)
    _refuse_lost_floors(m, new)
    move = plan_transfer(m.origin or _exported_frame(m, new), new.origin)
    _keep_zone_ids(m, new, move)
    samples = [replace(s, rssi=dict(s.rssi), spread=dict(s.spread)) for s in m.samples]
    kept_aps = [] if new.aps else [replace(a) for a in m.aps]
    kept_nodes = [] if new.nodes else [replace(n) for n in m.nodes]  # copies: `m` is unchanged if refused
    if move is not None:
        for item in [*samples, *kept_aps, *kept_nodes]:
            item.x, item.y = move(item.x, item.y)
    _refuse_off_plan(new, [*(("AP", a) for a in kept_aps), *(("node", n) for n in kept_nodes),
                           *(("sample", s) for s in samples)])
    zones = zone_map(new)
    for s in samples:
        s.zone = zones.zone_at(s.floor, s.x, s.y)
    nodes, edges = (_keep_entrances(m.nodes, new.nodes, move), new.edges) if new.nodes else (kept_nodes, m.edges)
    m.name, m.name_zh, m.floors, m.zones, m.shops = new.name, new.name_zh, new.floors, new.zones, new.shops
    m.amenities = new.amenities  # the archive's, as its shops: a plan's ATMs and information desks come with it
    m.aps, m.nodes, m.edges, m.samples = new.aps or kept_aps, nodes, edges, samples
    m.origin = new.origin or m.origin
    return before - {z.id for z in m.zones}


KEEP_ENTRANCE_M = 3.0  # metres: a mark is carried to the incoming node of its id only if that node is this near it


def _keep_entrances(current: list[WalkNode], incoming: list[WalkNode], move: PlanMove | None = None
                    ) -> list[WalkNode]:
    """`incoming` with the entrances marked on `current` marked on its nodes of the same id too, when that node is
    on the same floor within KEEP_ENTRANCE_M of the marked one (`move`: the current plan's metres to the incoming
    plan's, when its corner moved): a re-derived graph keeps its ids (fingerprints.imdf.navgraph), and a plan from
    another tool marks only the doors its openings say, so the operator's marks would otherwise be lost on every
    re-import; but a derived id is positional (`w-<unit>-<k>`, the k-th point of the unit's walkway), and after a
    plan edit the same id can name another spot, where the mark does not belong."""
    marked: dict[str, tuple[int, float, float]] = {}
    for node in current:
        if node.entrance:
            marked[node.id] = (node.floor, *(move(node.x, node.y) if move else (node.x, node.y)))
    for node in incoming:
        floor, x, y = marked.get(node.id, (None, math.inf, math.inf))
        near = floor == node.floor and math.hypot(x - node.x, y - node.y) <= KEEP_ENTRANCE_M
        node.entrance = node.entrance or near
    return incoming


PlanMove = Callable[[float, float], tuple[float, float]]
DEFAULT_FRAME_M = 5_000  # an archive whose corner lies this near DEFAULT_ORIGIN came from one of our exports


def _exported_frame(m: VenueMap, new: VenueMap) -> dict[str, float]:
    """The corner a console-drawn map `m` (no corner of its own) had in its exports: DEFAULT_ORIGIN, when the
    imported archive is one of them (perhaps redrawn by another tool): it lies near DEFAULT_ORIGIN and has a unit
    of the id our export gives one of `m`'s zones, or (a tool that writes new feature ids) at least half of `m`'s
    zones stand where its units do when it is read in that frame. Else none is known: an archive of the mall at
    its real place (which may well lie near DEFAULT_ORIGIN, in Hong Kong Central), whose plan's metres are taken
    as they are."""
    try:
        corner = Origin(**new.origin)
    except (TypeError, ValueError):
        return {}
    if math.hypot(*DEFAULT_ORIGIN.to_plan(corner.lon, corner.lat)) > DEFAULT_FRAME_M or not m.zones:
        return {}
    frame = asdict(DEFAULT_ORIGIN)
    if {_unit_id(m, z) for z in m.zones} & {z.imdf_id.lower() for z in new.zones if z.imdf_id}:
        return frame
    placed = _same_places(m, new, plan_transfer(frame, new.origin), set(), set())
    return frame if 2 * len({old_id for _, old_id, _ in placed}) >= len(m.zones) else {}


def _unit_id(m: VenueMap, zone: Zone) -> str:
    """The IMDF unit id of a zone of `m`: the one it was imported from, else the one our export gives it (so an
    export of a console-drawn map, edited in another tool that keeps feature ids, is recognised)."""
    return zone.imdf_id.lower() if zone.imdf_id else exported_feature_id(m.id, "unit", zone.id)


SAME_PLACE_OVERLAP = 0.5  # a zone not matched by unit id is the imported zone covering this much of both (IoU)


def _same_places(m: VenueMap, new: VenueMap, move: PlanMove | None, matched_old: set[str], matched_new: set[str]
                 ) -> list[tuple[float, str, str]]:
    """(overlap, old zone id, new zone id) of each pair of a zone of `m` and an imported zone on its floor that
    stand in the same place (IoU at least SAME_PLACE_OVERLAP), `m`'s polygons carried to the new plan by `move`;
    the zones of `matched_old` / `matched_new` left out."""
    pairs = []
    for old in m.zones:
        if old.id in matched_old:
            continue
        before = Polygon([move(x, y) for x, y in old.polygon] if move else old.polygon)
        for zone in new.zones:
            if zone.floor != old.floor or zone.id in matched_new:
                continue
            after = Polygon(zone.polygon)
            union = before.union(after).area if before.is_valid and after.is_valid else 0.0
            if union > 0 and before.intersection(after).area / union >= SAME_PLACE_OVERLAP:
                pairs.append((before.intersection(after).area / union, old.id, zone.id))
    return pairs


def _keep_zone_ids(m: VenueMap, new: VenueMap, move: PlanMove | None = None) -> None:
    """Give `new`'s zones the ids of `m`'s zones they are (in place, with the shops' and amenities' zones): the zone of
    the same unit id (`_unit_id`), else the imported zone on its floor that is mostly the same shape (`_same_places`,
    with `m`'s polygons carried to the new plan by `move`): a zone stored before unit ids were kept, or every zone when
    no unit id of the archive matches (a tool that writes new feature ids at each export). The archive's own ids
    come from names and file order, so without this a re-import with the units reordered swaps `walkway` and
    `walkway-2` between floors, and a renamed tenant's zone gets a new id, silently moving or orphaning everything
    keyed by zone id. A new unit keeps the archive's id unless it is taken by a zone of `m` (an id never moves to a
    different unit): then it gets the next free `<id>-<n>`."""
    if not m.zones or not new.zones:
        return
    current = {_unit_id(m, z): z for z in m.zones}
    rename: dict[str, str] = {}
    for zone in new.zones:
        same = current.get(zone.imdf_id.lower()) if zone.imdf_id else None
        if same is not None:
            rename[zone.id] = same.id
    kept = set(rename.values())
    # IMDF's feature ids are meant to last: where any of the archive's match, a zone whose unit id is not in it was
    # dropped (a tenancy redrawn as a new unit is a new zone). Where none does, the tool wrote new ids at export,
    # and every zone is found by its place.
    placed_by_id = {z.id for z in m.zones if z.imdf_id} if rename else set()
    for _, old_id, new_id in sorted(_same_places(m, new, move, kept | placed_by_id, set(rename)),
                                    reverse=True):  # the best fitting pairs first
        if old_id not in kept and new_id not in rename:
            rename[new_id] = old_id
            kept.add(old_id)
    taken = {z.id for z in m.zones} | kept
    reserved = taken | {z.id for z in new.zones}
    for zone in new.zones:
        if zone.id in rename or zone.id not in taken:
            continue
        base, n = zone.id[:44], 2
        while f"{base}-{n}" in reserved:
            n += 1
        rename[zone.id] = f"{base}-{n}"
        reserved.add(rename[zone.id])
    for zone in new.zones:
        zone.id = rename.get(zone.id, zone.id)
        zone.group = rename.get(zone.group, zone.group) if zone.group else zone.group
    for item in [*new.shops, *new.amenities]:
        item.zone = rename.get(item.zone, item.zone) if item.zone else item.zone


def _refuse_lost_floors(m: VenueMap, new: VenueMap) -> None:
    """EditError when the import lacks a floor that holds APs (kept: the import has none) or survey points: they
    would be dropped with it (another tool left a level out, or numbered the levels otherwise)."""
    levels = {f.level for f in new.floors}
    lost: dict[int, list[int]] = {}
    for level in {s.floor for s in m.samples} | (set() if new.aps else {a.floor for a in m.aps}):
        if level not in levels:
            lost[level] = [sum(1 for a in m.aps if a.floor == level) if not new.aps else 0,
                           sum(1 for s in m.samples if s.floor == level)]
    if lost:
        names = {f.level: f.name for f in m.floors}
        items = "; ".join(f"{names.get(level, level)}: {aps} APs, {points} survey points"
                          for level, (aps, points) in sorted(lost.items()))
        raise EditError(N_("Nothing was imported: the archive has no floor for what is kept on these floors "
                           "(%(items)s). Check the archive's levels (their ordinals), or delete those first."),
                        items=items)


def plan_transfer(old: Mapping[str, float], new: Mapping[str, float]) -> PlanMove | None:
    """Plan metres on the plan whose corner is `old` -> the same spot on the plan whose corner is `new`
    (VenueMap.origin dicts); None when they are the same corner or either is not known."""
    if not old or not new or dict(old) == dict(new):
        return None
    try:
        before, after = Origin(**old), Origin(**new)
    except (TypeError, ValueError):
        return None
    return lambda x, y: after.to_plan(*before.to_lonlat(x, y))


OFF_PLAN_SLACK_M = 0.01  # the lon/lat round trip moves a point by ~0.1 mm: one on the edge is still on it
OFF_PLAN_SHOWN = 5


def onto_plan(floor: Floor, x: float, y: float) -> tuple[float, float] | None:
    """The point on the floor's plan, one within OFF_PLAN_SLACK_M of an edge put on it; None when it lies off."""
    if not (-OFF_PLAN_SLACK_M <= x <= floor.width_m + OFF_PLAN_SLACK_M
            and -OFF_PLAN_SLACK_M <= y <= floor.height_m + OFF_PLAN_SLACK_M):
        return None
    return min(max(x, 0.0), floor.width_m), min(max(y, 0.0), floor.height_m)


def _refuse_off_plan(new: VenueMap, items: list[tuple[str, Any]]) -> None:
    """EditError naming what would lie off its floor of `new` (the first few, and how many in all); points
    within the slack of an edge are put on it."""
    floors = {f.level: f for f in new.floors}
    off = []
    for what, item in items:
        if item.floor not in floors:  # walkway nodes on a floor the plan lacks: kept as before (no route uses them)
            continue
        on = onto_plan(floors[item.floor], item.x, item.y)
        if on is None:
            label = {"AP": f"AP {getattr(item, 'name', '') or getattr(item, 'bssid', '')}",
                     "node": f"walkway node {getattr(item, 'id', '')}", "sample": "survey point"}[what]
            off.append(f"{label} at ({item.x:.1f}, {item.y:.1f}) m on floor {floors[item.floor].name}")
            continue
        item.x, item.y = on
    if off:
        more = f"; ... {len(off) - OFF_PLAN_SHOWN} more" if len(off) > OFF_PLAN_SHOWN else ""
        raise EditError(N_("Nothing was imported: %(n)s kept APs, walkway nodes or survey points would lie off the "
                           "new plan (%(items)s). Move or delete them (import the survey again without those "
                           "points), or check the archive's venue outline."),
                        n=len(off), items="; ".join(off[:OFF_PLAN_SHOWN]) + more)


def replace_samples(m: VenueMap, samples: list[dict], mode: str = "replace") -> None:
    """Fingerprint samples from a CSV import (Sample fields as dicts): replace or append."""
    if mode not in ("replace", "append"):
        raise EditError(N_("Mode must be replace or append."))
    new = [Sample(**s) for s in samples]
    m.samples = new if mode == "replace" else [*m.samples, *new]


def add_sample(m: VenueMap, sample: dict) -> None:
    """One surveyed reference point, zoned where it stands."""
    s = Sample(**sample)
    s.zone = zone_map(m).zone_at(s.floor, s.x, s.y)
    m.samples.append(s)


EDITS: dict[str, Callable[..., Any]] = {f.__name__: f for f in (
    add_floor, set_plan_image, rescale_floor, place_ap, place_aps, delete_ap, add_zone, delete_zone, add_node,
    set_entrance, add_edge, delete_walkway, replace_walkways, merge_imported, replace_samples, add_sample,
)}


def apply_edit(m: VenueMap, name: str, kwargs: Mapping[str, Any]) -> Any:
    """Replay one recorded edit (a draft's step) by name."""
    edit = EDITS.get(name)
    if edit is None:
        raise EditError(N_("Unknown map edit %(name)s."), name=repr(name))
    try:
        return edit(m, **dict(kwargs))
    except TypeError as exc:
        raise EditError(N_("Map edit %(name)s has bad arguments (%(why)s)."), name=name, why=str(exc)) from None
