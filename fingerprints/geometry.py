"""Small plane-geometry helpers shared by the simulator, the demo mall and the walkway graph."""

from __future__ import annotations

from collections.abc import Sequence

from shapely.geometry import LineString, Point, Polygon

from fingerprints.model import VenueMap, Zone
from positioning import ZoneMap


def segment_crosses_walls(
    walls: Sequence[tuple[float, float, float, float]], a: tuple[float, float], b: tuple[float, float]
) -> bool:
    path = LineString([a, b])
    return any(path.intersects(LineString([(w[0], w[1]), (w[2], w[3])])) for w in walls)


def zone_map(venue: VenueMap) -> ZoneMap:
    """The venue's zones as the positioning core's ZoneMap (point-in-polygon lookups)."""
    return ZoneMap([(z.id, z.floor, z.polygon) for z in venue.zones])


def nearest_ap_m(venue: VenueMap, zone: Zone) -> float | None:
    """How far the zone (its outline; 0 with an AP inside) lies from the nearest AP on its floor, in metres on the
    plan; None with no AP on that floor. Far from every AP a signal changes little from one metre to the next (by
    10 n / (d ln 10) dB a metre at d metres, path-loss exponent n: 0.3 dB at 35 m for n = 2.4), so neighbouring
    zones there read alike: the quality report names it beside the zones it lands worst."""
    aps = [ap for ap in venue.aps if ap.floor == zone.floor]
    if not aps or len(zone.polygon) < 3:
        return None
    outline = Polygon(zone.polygon)
    return min(float(outline.distance(Point(ap.x, ap.y))) for ap in aps)
