"""A zone keeps its id when the venue's plan is imported again: zone apps, owner accounts and footfall are keyed
by zone id, and another tool's archive gives ids from names or from category and file order. The imported unit
is matched to the venue's zone by its IMDF feature id (kept on the zone as `imdf_id`), on the direct import and
on a draft's step alike; a new unit never takes a dropped zone's id. Also: only an archive of ours is taken to
lie in our exports' default frame. Real store (the suite's Valkey) where a store is involved."""

from __future__ import annotations

import json

import pytest

from fingerprints import edits
from fingerprints.drafts import DraftStore, diff_maps
from fingerprints.imdf import export_imdf, import_imdf
from fingerprints.model import VenueMap
from tests.maps.imdf_builder import add_unit, fid, mall_archive

VENUE = "harbour-ids"
BSSID = "f0:9f:c2:2b:10:09"


def _archive(variant=None):
    """Two floors whose corridors are unnamed walkways: the archive's ids for them are `walkway` and
    `walkway-2`, in file order."""
    files = mall_archive(levels=2)
    for unit in files["unit.geojson"]["features"]:
        if unit["properties"]["category"] == "walkway":
            unit["properties"]["name"] = None
    if variant:
        variant(files)
    return files


def _reordered(files):
    files["unit.geojson"]["features"].reverse()


def _floor_of(venue_map: VenueMap, zone_id: str) -> int | None:
    zone = venue_map.zone(zone_id)
    return zone.floor if zone else None


def test_the_archive_alone_numbers_walkways_by_file_order():
    """What the matching below is for: on its own, the reordered archive swaps the walkways' ids."""
    first, again = import_imdf(_archive(), VENUE), import_imdf(_archive(_reordered), VENUE)
    assert (_floor_of(first, "walkway"), _floor_of(first, "walkway-2")) == (0, 1)
    assert (_floor_of(again, "walkway"), _floor_of(again, "walkway-2")) == (1, 0)
    assert first.zone("walkway").imdf_id == fid("unit", 0, "corridor")


def _new_feature_ids(files):
    """A tool that writes new feature ids at each export: every unit's, and every reference to it."""
    text = json.dumps(files)
    for unit in files["unit.geojson"]["features"]:
        text = text.replace(unit["id"], unit["id"][:-4] + "beef")
    files.update(json.loads(text))


@pytest.mark.parametrize("variant", [_reordered, _new_feature_ids], ids=["units reordered", "new feature ids"])
def test_a_reimport_keeps_every_zone_its_id_and_floor(svc, variant):
    """Units reordered: matched by their unit ids. A tool writing new feature ids: no unit id matches, so each zone
    is found by where it stands (it was renamed `books-2`, `walkway-3`, ...)."""
    svc.venues.put_map(import_imdf(_archive(), VENUE))
    before = {z.id: (z.floor, z.polygon) for z in svc.venues.get_map(VENUE).zones}
    with svc.venues.edit(VENUE, "map.import_imdf") as m:
        edits.merge_imported(m, import_imdf(_archive(variant), VENUE).to_dict())
    after = {z.id: (z.floor, z.polygon) for z in svc.venues.get_map(VENUE).zones}
    assert after == before


def test_a_draft_reimport_keeps_the_zone_ids_too(svc):
    svc.venues.put_map(import_imdf(_archive(), VENUE))
    drafts = DraftStore(svc.db, svc.venues)
    draft = drafts.open(VENUE, "plan again")
    drafts.add(VENUE, draft.id, "merge_imported", {"imported": import_imdf(_archive(_reordered), VENUE).to_dict()})
    before, preview = drafts.preview(VENUE, draft.id)
    assert diff_maps(before, preview)["zones"] == {"added": [], "removed": [], "changed": []}
    drafts.apply(VENUE, draft.id)
    after = svc.venues.get_map(VENUE)
    assert (_floor_of(after, "walkway"), _floor_of(after, "walkway-2")) == (0, 1)


def test_a_renamed_tenant_keeps_its_zone_id(svc):
    svc.venues.put_map(import_imdf(_archive(), VENUE))

    def renamed(files):
        for unit in files["unit.geojson"]["features"]:
            if unit["id"] == fid("unit", 0, "Books"):
                unit["properties"]["name"] = {"en": "Page One"}

    with svc.venues.edit(VENUE, "map.import_imdf") as m:
        edits.merge_imported(m, import_imdf(_archive(renamed), VENUE).to_dict())
    zone = svc.venues.get_map(VENUE).zone("books-0")
    assert zone is not None and zone.name == "Page One" and zone.imdf_id == fid("unit", 0, "Books")
    assert svc.venues.get_map(VENUE).zone("page-one") is None


def test_a_new_unit_never_takes_the_id_of_a_dropped_zone(svc):
    """The tenancy is redrawn as a new unit under the old name: the old zone (and what is keyed by it) is gone, and
    the new one gets an id of its own."""
    svc.venues.put_map(import_imdf(_archive(), VENUE))

    def redrawn(files):
        files["unit.geojson"]["features"] = [u for u in files["unit.geojson"]["features"]
                                             if u["id"] != fid("unit", 0, "Books")]
        add_unit(files, "Books-new", 0, "room", (15, 0, 30, 10), {"en": "Books 0"})

    with svc.venues.edit(VENUE, "map.import_imdf") as m:
        edits.merge_imported(m, import_imdf(_archive(redrawn), VENUE).to_dict())
    after = svc.venues.get_map(VENUE)
    assert after.zone("books-0") is None
    assert after.zone("books-0-2").imdf_id == fid("unit", 0, "Books-new")


def test_a_map_stored_without_unit_ids_loads_and_keeps_its_ids_on_reimport(svc):
    """A map stored before zones kept their unit id: it loads, and a reimport finds its zones by their shapes."""
    old = import_imdf(_archive(), VENUE).to_dict()
    for zone in old["zones"]:
        del zone["imdf_id"]
    stored = VenueMap.from_dict(old)
    assert all(z.imdf_id == "" for z in stored.zones)
    svc.venues.put_map(stored)
    with svc.venues.edit(VENUE, "map.import_imdf") as m:
        edits.merge_imported(m, import_imdf(_archive(_reordered), VENUE).to_dict())
    after = svc.venues.get_map(VENUE)
    assert (_floor_of(after, "walkway"), _floor_of(after, "walkway-2")) == (0, 1)
    assert after.zone("walkway").imdf_id == fid("unit", 0, "corridor")  # kept from now on


def test_our_export_writes_the_unit_ids_back():
    first = import_imdf(_archive(), VENUE)
    units = {u["id"] for u in export_imdf(first)["unit.geojson"]["features"]}
    assert fid("unit", 1, "corridor") in units
    again = import_imdf(export_imdf(first), VENUE)
    assert {z.id: z.imdf_id for z in again.zones} == {z.id: z.imdf_id for z in first.zones}


def _console_map() -> VenueMap:
    """Drawn in the console (no corner on Earth): the builder's floor, a zone, an AP and a survey point."""
    m = VenueMap(id=VENUE, name="Harbour", name_zh="", floors=[])
    edits.add_floor(m, 0, "L0", 60, 24)
    edits.add_floor(m, 1, "L1", 60, 24)
    edits.add_zone(m, "hall", "Hall", 0, [(0, 0), (60, 0), (60, 24), (0, 24)])
    edits.place_ap(m, BSSID, 0, 20.0, 12.0, name="AP-1")
    edits.add_sample(m, {"floor": 0, "x": 21, "y": 12, "rssi": {BSSID: -40.0}})
    return m


def test_a_real_mall_near_the_default_origin_is_not_taken_for_one_of_our_exports():
    """The builder's mall lies in Hong Kong, about 2 km from DEFAULT_ORIGIN: its plan's metres are taken as they
    are, not moved as if it were an export of ours."""
    m = _console_map()
    edits.merge_imported(m, import_imdf(mall_archive(levels=2), VENUE).to_dict())
    assert (m.aps[0].x, m.aps[0].y) == (20.0, 12.0)
    assert (m.samples[0].x, m.samples[0].y) == (21.0, 12.0)


@pytest.mark.parametrize("keep_extension", [True, False])
def test_our_own_export_near_the_default_origin_is_still_taken_in_its_frame(keep_extension):
    """An export of the console-drawn map, its hall cut 10 m shorter on the west in another tool (which may drop
    our extension files but keeps the feature ids): the AP stays where it stands."""
    m = _console_map()
    files = export_imdf(m)
    if not keep_extension:
        files = {k: v for k, v in files.items() if not k.startswith("mallportal_")}
    from fingerprints.georef import DEFAULT_ORIGIN

    ring = [DEFAULT_ORIGIN.to_lonlat(x, y) for x, y in ((10, 0), (60, 0), (60, 24), (10, 24), (10, 0))]
    for name in ("venue.geojson", "level.geojson", "unit.geojson"):
        for feature in files[name]["features"]:
            feature["geometry"]["coordinates"] = [ring]
    if keep_extension:  # the other tool moved the corner on purpose and said so
        ext = files["mallportal_venue.geojson"]["features"][0]["properties"]
        ext["origin_lon"], ext["origin_lat"] = DEFAULT_ORIGIN.to_lonlat(10, 0)
        for floor in ext["floors"]:
            floor["width_m"] = 50
    edits.merge_imported(m, import_imdf(files, VENUE).to_dict())
    assert (round(m.aps[0].x, 3), round(m.aps[0].y, 3)) == (10.0, 12.0)
    assert m.zone("hall") is not None


def test_the_places_are_compared_on_one_plan_when_the_corner_moved():
    """An archive from another tool whose outline was corrected: the plan's corner moves, so every zone's plan
    metres change; carried to the new plan through lon/lat, each old zone still stands on its unit."""
    first = import_imdf(_archive(_new_feature_ids), VENUE)
    moved = first.to_dict()
    corner = dict(first.origin)
    corner["lon"] += 8 / 111_320  # ~8 m further east: the old plan's metres sit 8 m off the new plan's
    moved["origin"] = corner
    for zone in moved["zones"]:
        zone["polygon"] = [[x - 8 * 0.92, y] for x, y in zone["polygon"]]  # the same place on the new plan
        zone["imdf_id"] = ""
    again = VenueMap.from_dict(moved)
    for zone in again.zones:
        zone.id = "x-" + zone.id  # the archive's own ids, all different
    edits._keep_zone_ids(first, again, edits.plan_transfer(first.origin, again.origin))
    assert sorted(z.id for z in again.zones) == sorted(z.id for z in first.zones)


def test_our_export_from_a_tool_writing_new_feature_ids_is_still_taken_in_its_frame():
    """No unit id of ours survived, nor our extension files: the zones standing where the archive's units do, read in
    the default frame, say it is our export; the AP stays where it stands."""
    from fingerprints.georef import DEFAULT_ORIGIN

    m = _console_map()
    files = {k: v for k, v in export_imdf(m).items() if not k.startswith("mallportal_")}
    ring = [DEFAULT_ORIGIN.to_lonlat(x, y) for x, y in ((10, 0), (60, 0), (60, 24), (10, 24), (10, 0))]
    for name in ("venue.geojson", "level.geojson", "unit.geojson"):  # its hall cut 10 m shorter on the west
        for feature in files[name]["features"]:
            feature["geometry"]["coordinates"] = [ring]
    _new_feature_ids(files)
    edits.merge_imported(m, import_imdf(files, VENUE).to_dict())
    assert (round(m.aps[0].x, 3), round(m.aps[0].y, 3)) == (10.0, 12.0) and m.zone("hall") is not None
