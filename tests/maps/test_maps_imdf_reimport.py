"""Re-importing a corrected IMDF plan over a venue: what is kept (APs, survey points, walkway nodes) stays
where it stands on Earth when the plan's corner moves, and an import that would leave any of it off the new
plan is refused, changing nothing - on the direct import and on a draft's step alike.

An archive from another tool is projected around the north-west corner of its venue outline, so tightening
that outline (a common correction) moves the plan's (0, 0). Real store (the suite's Valkey)."""

from __future__ import annotations

import pytest
from shapely.geometry import Point, Polygon

from fingerprints import edits
from fingerprints.drafts import DraftStore
from fingerprints.edits import EditError
from fingerprints.imdf import Origin, import_imdf
from fingerprints.model import WalkNode
from tests.maps.imdf_builder import add_unit, mall_archive, set_venue_outline

VENUE = "harbour-re"
BSSID = "f0:9f:c2:2b:10:01"
MARGIN = (10.0, 5.0)  # the first archive's venue outline reaches this far west and north of the units
BOOKS_CENTRE = (22.5, 5.0)  # the centre of unit "Books 0" in the builder's frame


def _first_plan():
    """The plan as first drawn: the same units, the venue outline 10 m west and 5 m north of them."""
    return import_imdf(set_venue_outline(mall_archive(levels=2), (-MARGIN[0], -MARGIN[1], 60, 24)), venue_id=VENUE)


def _corrected_plan():
    return import_imdf(mall_archive(levels=2), venue_id=VENUE)


def _zone_at(venue_map, floor, x, y):
    return next((z.id for z in venue_map.zones if z.floor == floor and Polygon(z.polygon).contains(Point(x, y))),
                None)


def _lonlat(venue_map, x, y):
    return Origin(**venue_map.origin).to_lonlat(x, y)


@pytest.fixture
def surveyed(svc):
    """The first plan with an AP at the centre of Books 0 and a survey point beside it, as placed by hand."""
    svc.venues.put_map(_first_plan())
    x, y = BOOKS_CENTRE[0] + MARGIN[0], BOOKS_CENTRE[1] + MARGIN[1]
    with svc.venues.edit(VENUE, "test.survey") as m:
        edits.place_ap(m, BSSID, 0, x, y, name="AP-books")
        edits.add_sample(m, {"floor": 0, "x": x + 1, "y": y + 1, "rssi": {BSSID: -40.0}})
        m.nodes.append(WalkNode(id="hand-drawn", floor=0, x=x, y=y + 1))
    placed = svc.venues.get_map(VENUE)
    assert _zone_at(placed, 0, x, y) == "books-0" and placed.samples[0].zone == "books-0"
    return placed


def _check_kept_in_place(before, after):
    ap_before, ap_after = before.aps[0], after.aps[0]
    assert _lonlat(after, ap_after.x, ap_after.y) == pytest.approx(_lonlat(before, ap_before.x, ap_before.y),
                                                                   abs=1e-8)  # ~1 mm
    assert (ap_after.x, ap_after.y) == pytest.approx(BOOKS_CENTRE, abs=1e-3)
    assert _zone_at(after, 0, ap_after.x, ap_after.y) == "books-0"
    sample = after.samples[0]
    assert sample.zone == "books-0" and (sample.x, sample.y) == pytest.approx((23.5, 6.0), abs=1e-3)


def test_reimport_keeps_aps_and_survey_points_where_they_stand(svc, surveyed):
    corrected = _corrected_plan()
    assert corrected.origin != surveyed.origin  # the corner moved
    corrected.aps, corrected.nodes, corrected.edges = [], [], []  # kept from the map, as with no graph of its own
    with svc.venues.edit(VENUE, "map.import_imdf") as m:
        edits.merge_imported(m, corrected.to_dict())
    after = svc.venues.get_map(VENUE)
    assert after.origin == corrected.origin
    _check_kept_in_place(surveyed, after)
    node = next(n for n in after.nodes if n.id == "hand-drawn")
    assert (node.x, node.y) == pytest.approx((BOOKS_CENTRE[0], BOOKS_CENTRE[1] + 1), abs=1e-3)


def test_a_draft_reimport_keeps_them_in_place_too(svc, surveyed):
    drafts = DraftStore(svc.db, svc.venues)
    draft = drafts.open(VENUE, "corrected plan")
    drafts.add(VENUE, draft.id, "merge_imported", {"imported": _corrected_plan().to_dict()}, "IMDF corrected")
    drafts.apply(VENUE, draft.id)
    _check_kept_in_place(surveyed, svc.venues.get_map(VENUE))


def test_an_import_leaving_kept_aps_off_the_plan_is_refused(svc, surveyed):
    """The first plan had an annex east of the mall with an AP in it; the new plan has no annex."""
    files = set_venue_outline(mall_archive(levels=2), (-MARGIN[0], -MARGIN[1], 60, 24))
    add_unit(files, "annex", 0, "room", (60, 0, 80, 10), {"en": "Annex"})
    svc.venues.put_map(import_imdf(files, venue_id=VENUE))
    with svc.venues.edit(VENUE, "test.survey") as m:
        edits.place_ap(m, BSSID, 0, 75.0, 10.0, name="AP-annex")
    version = svc.venues.current_version(VENUE)
    corrected = _corrected_plan()
    with pytest.raises(EditError) as refused, svc.venues.edit(VENUE, "map.import_imdf") as m:
        edits.merge_imported(m, corrected.to_dict())
    assert "1 kept APs, walkway nodes or survey points would lie off the new plan" in str(refused.value)
    assert "AP AP-annex at (65.0, 5.0) m on floor L0" in str(refused.value)
    assert svc.venues.current_version(VENUE) == version  # nothing stored
    drafts = DraftStore(svc.db, svc.venues)
    draft = drafts.open(VENUE, "corrected plan")
    with pytest.raises(EditError, match="AP-annex"):
        drafts.add(VENUE, draft.id, "merge_imported", {"imported": corrected.to_dict()})
    assert drafts.get(VENUE, draft.id).steps == []


def test_the_current_map_is_not_changed_by_a_refused_merge(surveyed):
    corrected = _corrected_plan()
    corrected.floors[0].width_m = corrected.floors[0].height_m = 5.0  # a plan far too small for the survey
    mine = surveyed.copy()
    with pytest.raises(EditError):
        edits.merge_imported(mine, corrected.to_dict())
    assert mine.to_dict() == surveyed.to_dict()


def _console_mall():
    """A map drawn in the console (no corner on Earth: its exports lie at DEFAULT_ORIGIN), three zones in a row,
    an AP and a survey point in the middle one."""
    from fingerprints.model import VenueMap

    m = VenueMap(id="cons", name="Console Mall", name_zh="", floors=[])
    edits.add_floor(m, 0, "L0", 60, 24)
    for i, zid in enumerate(("west", "mid", "east")):
        edits.add_zone(m, zid, zid.title(), 0, [(20 * i, 0), (20 * i + 20, 0), (20 * i + 20, 24), (20 * i, 24)])
    edits.place_ap(m, BSSID, 0, 30.0, 12.0, name="AP-mid")
    edits.add_sample(m, {"floor": 0, "x": 31, "y": 12, "rssi": {BSSID: -40.0}})
    return m


def test_a_console_drawn_map_redrawn_by_another_tool_keeps_its_ap_and_survey_in_place():
    """Exported (at DEFAULT_ORIGIN), its west wing cut off the outline in another tool (our extension files
    dropped), imported again: the corner moved 20 m east, and the AP and survey point stay in "mid"."""
    from fingerprints.georef import DEFAULT_ORIGIN
    from fingerprints.imdf import export_imdf

    m = _console_mall()
    files = {k: v for k, v in export_imdf(m).items() if not k.startswith("mallportal_")}
    ring = [DEFAULT_ORIGIN.to_lonlat(x, y) for x, y in ((20, 0), (60, 0), (60, 24), (20, 24), (20, 0))]
    files["venue.geojson"]["features"][0]["geometry"]["coordinates"] = [ring]
    for level in files["level.geojson"]["features"]:
        level["geometry"]["coordinates"] = [ring]
    files["unit.geojson"]["features"] = [u for u in files["unit.geojson"]["features"]
                                         if (u["properties"].get("name") or {}).get("en") != "West"]
    edits.merge_imported(m, import_imdf(files, venue_id="cons").to_dict())
    ap, sample = m.aps[0], m.samples[0]
    assert (round(ap.x, 3), round(ap.y, 3)) == (10.0, 12.0) and _zone_at(m, 0, ap.x, ap.y) == "mid"
    assert sample.zone == "mid"


def test_an_archive_without_a_floor_that_holds_aps_or_survey_points_is_refused():
    """Another tool left a level out (and kept no AP list of ours): that floor's APs and survey points would be
    dropped with it, silently."""
    from fingerprints.imdf import export_imdf

    m = _console_mall()
    edits.add_floor(m, 1, "L1", 60, 24)
    edits.place_ap(m, "f0:9f:c2:2b:10:02", 1, 10.0, 10.0, name="AP-up")
    edits.add_sample(m, {"floor": 1, "x": 11, "y": 10, "rssi": {"f0:9f:c2:2b:10:02": -45.0}})
    before = m.to_dict()
    one_floor = {k: v for k, v in export_imdf(_console_mall()).items() if not k.startswith("mallportal_")}
    with pytest.raises(EditError, match=r"L1: 1 APs, 1 survey points"):
        edits.merge_imported(m, import_imdf(one_floor, venue_id="cons").to_dict())
    assert m.to_dict() == before


def test_a_reimport_whose_corner_moved_keeps_the_entrances_marked_where_they_stand():
    """The marks the operator made are carried to the corrected plan's nodes of the same id where they stand on
    Earth: compared in the new plan's metres (the corner's move is 11 m, beyond edits.KEEP_ENTRANCE_M)."""
    first, corrected = _first_plan(), _corrected_plan()
    mark = next(n for n in first.nodes if n.id.startswith("w-") and not n.entrance)
    edits.set_entrance(first, mark.id)
    edits.merge_imported(first, corrected.to_dict())
    assert mark.id in {n.id for n in first.nodes if n.entrance}
