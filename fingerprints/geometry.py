"""Small plane-geometry helpers shared by the simulator, the demo mall and the walkway graph."""

from __future__ import annotations

from collections.abc import Sequence

from shapely.geometry import LineString

from fingerprints.model import VenueMap
from positioning import ZoneMap


def segment_crosses_walls(
    walls: Sequence[tuple[float, float, float, float]], a: tuple[float, float], b: tuple[float, float]
) -> bool:
    path = LineString([a, b])
    return any(path.intersects(LineString([(w[0], w[1]), (w[2], w[3])])) for w in walls)


def zone_map(venue: VenueMap) -> ZoneMap:
    """The venue's zones as the positioning core's ZoneMap (point-in-polygon lookups)."""
    return ZoneMap([(z.id, z.floor, z.polygon) for z in venue.zones])
