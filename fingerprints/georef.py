"""Where a venue's plan lies on Earth (`Origin`: its (0, 0) corner's lon/lat and its turn) and the stable ids our
IMDF export gives a venue's parts (`exported_feature_id`). Below fingerprints.imdf: the map's edits
(fingerprints.edits) use both without loading the IMDF reader and writer, which use the edits."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass

EARTH_RADIUS_M = 6378137.0  # WGS84 semi-major axis
COORD_DECIMALS = 9  # 1e-9 degree ~ 0.1 mm
METRE_DECIMALS = 4


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

EXPORT_NAMESPACE = uuid.UUID("e6a78196-7a9a-4d1d-9738-d91af87385f5")  # our export's stable feature ids per venue


def exported_feature_id(venue_id: str, *parts: object) -> str:
    """The feature id our export gives a part of a venue (`"unit", zone_id` for a zone without an imdf_id): stable,
    so that an archive of ours edited in another tool is recognised on import by its ids."""
    return str(uuid.uuid5(EXPORT_NAMESPACE, "/".join([venue_id, *map(str, parts)])))
