"""A floor rescaled (edits.rescale_floor) moves the IMDF units kept for the export (Floor.imdf_units: stairs, lift
shafts) with its zones, and a kiosk takes its Chinese name by the rule every other name does (Simplified first)."""

from __future__ import annotations

from fingerprints import edits
from fingerprints.imdf import import_imdf
from fingerprints.model import Floor, VenueMap, Zone
from tests.maps.imdf_builder import mall_archive
from tests.maps.test_maps_imdf_other_tools import add_kiosk


def test_rescaling_a_floor_scales_its_kept_imdf_units_as_its_zones():
    ring = ((2.0, 2.0), (6.0, 2.0), (6.0, 4.0), (2.0, 4.0))
    hole = ((3.0, 2.5), (4.0, 2.5), (4.0, 3.0))
    floor = Floor(0, "G", 40, 20, metres_per_pixel=0.05,
                  imdf_units=[("unit-1", "stairs", (("en", "Stairs"),), ((ring, hole),))])
    venue = VenueMap(id="v", name="V", name_zh="V", floors=[floor, Floor(1, "L1", 40, 20)],
                     zones=[Zone("z", "Z", "Z", 0, list(ring))])
    edits.rescale_floor(venue, 0, 0.1)
    doubled = tuple((2 * x, 2 * y) for x, y in ring)
    assert venue.zone("z").polygon == list(doubled)
    assert venue.floor(0).imdf_units == [("unit-1", "stairs", (("en", "Stairs"),),
                                          ((doubled, tuple((2 * x, 2 * y) for x, y in hole)),))]
    assert VenueMap.from_dict(venue.to_dict()).floor(0).imdf_units == venue.floor(0).imdf_units  # stored as is


def test_a_kiosk_takes_the_simplified_chinese_label_first():
    files = mall_archive(levels=1)
    add_kiosk(files, "tea", 0, (25, 11, 27, 13), name={"en": "Tea", "zh-Hant": "茶舖", "zh-Hans": "茶铺"})
    (kiosk,) = [z for z in import_imdf(files, "harbour").zones if z.kind == "kiosk"]
    assert (kiosk.name, kiosk.name_zh) == ("Tea", "茶铺")
