"""The checklist's survey coverage says what it counts: the share of the zones' area (COVER_CELL_M grid cells)
within COVER_RADIUS_M of a reference point. It said "52% of the zones covered" and "40% of its zones within 6 m"
while every zone had a point (the audit's campus): a zone count would have read 100%."""

from __future__ import annotations

from fingerprints.model import Floor, Sample, VenueMap, Zone
from portal.maps.checklist import _coverage


def _corridor_with_one_point() -> VenueMap:
    """Two zones, each with a reference point: a 60 m corridor (its point at one end) and a small room."""
    zones = [Zone("corridor", "Corridor", "走廊", 0, [(0, 0), (60, 0), (60, 8), (0, 8)]),
             Zone("room", "Room", "房间", 0, [(0, 8), (8, 8), (8, 16), (0, 16)])]
    samples = [Sample(0, 2, 4, {"f0:9f:c2:1a:00:01": -60.0}, zone="corridor"),
               Sample(0, 4, 12, {"f0:9f:c2:1a:00:01": -60.0}, zone="room")]
    return VenueMap(id="words", name="Words", name_zh="", floors=[Floor(0, "G", 60, 16)], zones=zones,
                    samples=samples)


def test_the_coverage_is_said_as_a_share_of_the_zones_area(app):
    with app.test_request_context("/?lang=en"):
        step = _coverage("words", _corridor_with_one_point())
    assert not step.done
    # 23%, rounded down since 2026-12-07 (a share just under the goal must not read as the goal)
    assert step.detail == ("2 reference points; 23% of the zones' area covered (within 6 m of one). 2 of 2 zones where"
                           " shoppers stay have one within 6 m.")
    assert step.missing == ["floor G: 23% of its zones' area within 6 m of a reference point (goal 80%)"]
