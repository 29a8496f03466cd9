"""Faults a reviewer reproduced on a live server while opening a venue, each fixed and tested here:

1. a draft step upload over 1 MiB (a survey CSV, an IMDF archive) was a 413 although the page allows 32 MB
   (the draft's step endpoint kept the app-wide body limit sized for RSSI reports);
2. the checklist ticked "Walkways" on a venue whose floors no lift, escalator or stairs link joins;
3. the checklist's live heatmap caption said "blocks of the survey held out", which the estimate does not do;
4. a live walk's walkway route had 30 m gaps and its goal twice.

Real store (the suite's Valkey), the Flask test client, the real IMDF import and walkway graph."""

from __future__ import annotations

import html
import io
import math
import random
import re
import zipfile
from pathlib import Path

import pytest

from fingerprints.drafts import DraftStore
from fingerprints.imdf import import_imdf
from fingerprints.imdf.export import imdf_zip_bytes
from fingerprints.model import Floor, VenueMap, WalkEdge, WalkNode, Zone
from fingerprints.routes import shortest_route
from portal.auth import AccountStore
from portal.maps.checklist import floors_not_joined
from portal.maps.validation import LiveWalks
from portal.operator.mapedit import UPLOAD_MAX_BYTES
from portal.operator.venue_setup import UPLOAD_LIMITS, UPLOAD_SLACK
from portal.operator.walks import ROUTE_SPACING_M, thin_route
from tests.maps.imdf_builder import mall_archive
from tests.maps.test_maps_setup_drafts import _files

ROOT = Path(__file__).resolve().parents[2]
H = "/console/ops/harbour"
PHONE = "02:00:5e:00:55:07"
ROUNDING_M = 0.15  # route points are rounded to 0.1 m: two of them may be this much further apart


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


@pytest.fixture
def harbour_ops(client, console, svc):
    AccountStore(svc.db).create("harbour-ops", "harbour-pass-1", "operator", "harbour")
    console.login("harbour-ops", "harbour-pass-1")
    return console


def upload(client, ops, url, payload: bytes, filename: str, field: str = "file", **data):
    return client.post(url, data={"csrf_token": ops.csrf(), field: (io.BytesIO(payload), filename), **data},
                       content_type="multipart/form-data")


def open_draft(client, ops, venue_url: str = H) -> tuple[str, str]:
    resp = client.post(venue_url + "/drafts", data={"csrf_token": ops.csrf(), "title": "opening"})
    assert resp.status_code == 303
    url = resp.headers["Location"]
    return url, url.rstrip("/").rsplit("/", 1)[-1]


def steps_of(svc, venue: str, draft_id: str) -> list[str]:
    return [step["note"] for step in DraftStore(svc.db, svc.venues).get(venue, draft_id).steps]


# ---- 1. uploads over 1 MiB ----------------------------------------------------------------------------


def survey_of_at_least(samples_csv: bytes, size: int) -> bytes:
    """The survey with every point scanned again and again (a survey phone's repeated scans, averaged per
    point by the import) until the file has `size` bytes or more."""
    header, *rows = samples_csv.decode().strip().split("\n")
    block = "\n".join(rows) + "\n"
    repeats = size // len(block.encode()) + 1
    return (header + "\n" + block * repeats).encode()


def imdf_of_at_least(files: dict, size: int) -> bytes:
    """An IMDF archive with a LICENSE.txt beside the data (not read by the import) that makes it `size` bytes."""
    buf = io.BytesIO(imdf_zip_bytes(files))
    with zipfile.ZipFile(buf, "a") as zf:
        zf.writestr(zipfile.ZipInfo("LICENSE.txt"), random.Random(7).randbytes(size), zipfile.ZIP_STORED)
    return buf.getvalue()


def test_a_draft_takes_a_survey_and_a_plan_over_1_mib(app, client, harbour_ops, svc, tmp_path):
    """The reviewer's 2,041,552-byte survey CSV was a 413 (the app-wide 1 MiB body limit); a plan too."""
    plan, aps, samples = _files(tmp_path)
    big_plan = imdf_of_at_least(mall_archive(levels=2), 1_200_000)
    survey = survey_of_at_least(samples.read_bytes(), 2_041_552)
    assert min(len(big_plan), len(survey)) > app.config["MAX_CONTENT_LENGTH"] == 2**20
    url, draft_id = open_draft(client, harbour_ops)
    resp = upload(client, harbour_ops, url + "/steps", big_plan, "harbour.imdf.zip", kind="imdf")
    assert resp.status_code == 303, text(resp)[:500]
    assert upload(client, harbour_ops, url + "/steps", aps.read_bytes(), "aps.csv", kind="aps").status_code == 303
    resp = upload(client, harbour_ops, url + "/steps", survey, "survey.csv", kind="samples")
    assert resp.status_code == 303, text(resp)[:500]
    assert steps_of(svc, "harbour", draft_id)[-1] == "60 samples (replace) from survey.csv"  # scans averaged per point
    walkways = upload(client, harbour_ops, url + "/steps", big_plan, "harbour.imdf.zip", kind="walkways")
    assert walkways.status_code == 303
    assert len(steps_of(svc, "harbour", draft_id)) == 4
    assert client.get(url).status_code == 200
    assert not svc.venues.exists("harbour")  # a draft until applied


def test_a_draft_upload_over_the_upload_limit_is_a_clear_413_and_loses_nothing(client, harbour_ops, svc, tmp_path):
    plan, _aps, _samples = _files(tmp_path)
    url, draft_id = open_draft(client, harbour_ops)
    assert upload(client, harbour_ops, url + "/steps", plan.read_bytes(), "plan.zip", kind="imdf").status_code == 303
    limit = UPLOAD_LIMITS["operator.add_step"] + UPLOAD_SLACK
    resp = upload(client, harbour_ops, url + "/steps", b"x" * (limit + 1), "survey.csv", kind="samples")
    assert resp.status_code == 413 and "The upload is too large" in text(resp)
    assert f"at most {UPLOAD_LIMITS['operator.add_step'] // 2**20} MB" in text(resp)
    assert steps_of(svc, "harbour", draft_id) == ["IMDF plan.zip"]  # nothing added, nothing lost
    # the next request (a survey under the limit, in the same session) is answered as usual
    again = upload(client, harbour_ops, url + "/steps", b"not,a,survey\n" * 100_000, "survey.csv", kind="samples")
    assert again.status_code == 400 and "Nothing was added" in text(again)
    assert steps_of(svc, "harbour", draft_id) == ["IMDF plan.zip"]


def test_every_file_form_of_the_console_allows_the_upload_limit():
    """Each operator page's file form posts to an endpoint with its own body limit: at least the upload limit
    per file (an endpoint missing from UPLOAD_LIMITS keeps the app-wide 1 MiB, the fault)."""
    forms = {}
    for page in sorted((ROOT / "templates" / "operator").glob("*.html")):
        for form in re.findall(r"<form[^>]*>", page.read_text()):
            if "multipart/form-data" in form:
                endpoint = re.search(r"url_for\('(operator\.\w+)'", form).group(1)
                forms[endpoint] = page.name
    assert {"operator.add_step", "operator.import_imdf", "operator.import_samples", "operator.validation_upload",
            "operator.upload_plan"} <= set(forms)
    for endpoint, page in forms.items():
        assert endpoint in UPLOAD_LIMITS, (endpoint, page)
        if endpoint != "operator.upload_plan":  # plan images: at most PLAN_MAX_BYTES, said by the page itself
            assert UPLOAD_LIMITS[endpoint] >= UPLOAD_MAX_BYTES, endpoint


@pytest.mark.parametrize("path,field,extra", [
    ("/setup/import-imdf", "imdf", {}),
    ("/setup/import-samples", "samples", {"format": "mallportal", "mode": "append"}),
    ("/setup/floor/0/plan", "plan", {}),
    ("/validation", "route", {}),
    ("STEP", "file", {"kind": "imdf"}),
    ("STEP", "file", {"kind": "aps"}),
    ("STEP", "file", {"kind": "samples"}),
    ("STEP", "file", {"kind": "walkways"}),
])
def test_every_upload_endpoint_reads_a_file_over_1_mib_and_refuses_bad_content(client, console, svc, path, field,
                                                                                 extra):
    """A 1.5 MiB file that is not what the form wants is read and refused with the form's own 400 (never the
    app-wide 413), and stores nothing."""
    console.login("ops")
    before = svc.venues.current_version("demo")
    draft_id = None
    if path == "STEP":
        url, draft_id = open_draft(client, console, "/console/ops/demo")
        path = url.split("/console/ops/demo", 1)[1] + "/steps"
    junk = b"this is not the file you are looking for\n" * 40_000
    assert len(junk) > 1.5 * 2**20
    resp = upload(client, console, "/console/ops/demo" + path, junk, "junk.bin", field=field, **extra)
    assert resp.status_code == 400, (resp.status_code, text(resp)[:300])
    assert svc.venues.current_version("demo") == before
    if draft_id:
        assert steps_of(svc, "demo", draft_id) == []


# ---- 2. the checklist's walkways: every floor joined -------------------------------------------------


def floors_apart_archive() -> bytes:
    """The two-floor mall with no relationship features and no stacked lift or stairs units (drawn as rooms):
    nothing joins its floors."""
    files = mall_archive(levels=2, with_relationships=False)
    for feature in files["unit.geojson"]["features"]:
        if feature["properties"]["category"] in ("elevator", "stairs"):
            feature["properties"]["category"] = "room"
    return imdf_zip_bytes(files)


def walkways_step(client) -> tuple[str, str]:
    page = text(client.get(H + "/checklist"))
    item = re.search(r'<li id="step-walkways" class="(\w+)">(.*?)</li>\s*(?:<li id="step-|</ol>)', page, re.S)
    assert item, page
    return item.group(1), re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item.group(2)))


def test_the_checklist_fails_walkways_when_the_floors_are_not_joined(client, harbour_ops, svc):
    """The reviewer's IMDF (no relationships, no stacked lifts): each floor's walkways are their own part. The
    step was ticked; now it fails, names the floors and says how to join them; a walk across is refused."""
    url, _draft_id = open_draft(client, harbour_ops)
    step = upload(client, harbour_ops, url + "/steps", floors_apart_archive(), "plan.zip", kind="imdf")
    assert step.status_code == 303
    assert client.post(url + "/apply", data={"csrf_token": harbour_ops.csrf()}).status_code == 303
    venue_map = svc.venues.get_map("harbour")
    assert len(venue_map.floors) == 2 and all(e.kind == "walk" for e in venue_map.edges)
    state, words = walkways_step(client)
    assert state == "todo", words
    assert "not all joined" in words and "2 parts" in words and "floor L0 | floor L1" in words
    assert "floor L1: no lift, escalator or stairs link joins it to floor L0" in words
    assert "map editor" in words and "relationship" in words and "Link the floors" in words
    assert f'href="{H}/setup/floor/1?tool=walkway"' in client.get(H + "/checklist").get_data(as_text=True)
    # what the step warns of: a walk from a shop on L0 to one on L1 is refused (400), nothing stored
    resp = client.post(H + "/walk", data={"csrf_token": harbour_ops.csrf(), "phone": PHONE, "points": "",
                                          "from": "kopi-0", "to": "toys-1"})
    assert resp.status_code == 400 and "No walkway joins these two zones" in text(resp)
    assert LiveWalks(svc.db).recent("harbour") == []


def test_the_checklist_ticks_walkways_when_lifts_and_stairs_join_the_floors(client, harbour_ops, svc):
    venue_map = import_imdf(imdf_zip_bytes(mall_archive(levels=2)), venue_id="harbour")
    venue_map.nodes[0].entrance = True  # an IMDF plan marks none (tests/operator/test_checklist_entrances.py)
    svc.venues.put_map(venue_map)
    state, words = walkways_step(client)
    assert state == "done", words
    assert "joined" not in words and "Add derived walkways to a draft" in words


def corridor_floor(level: int) -> tuple[list[WalkNode], list[WalkEdge], Zone]:
    """A 60 m corridor on one floor: three nodes, two 30 m links, and a zone round it."""
    nodes = [WalkNode(f"n{level}-{i}", level, x, 10.0) for i, x in enumerate((0.0, 30.0, 60.0))]
    edges = [WalkEdge(f"n{level}-0", f"n{level}-1"), WalkEdge(f"n{level}-1", f"n{level}-2")]
    zone = Zone(f"mall-{level}", f"Mall {level}", f"商场 {level}", level, [(0, 5), (60, 5), (60, 15), (0, 15)],
                "corridor")
    return nodes, edges, zone


def tower(links: list[WalkEdge], levels=(0, 1, 2), entrance: bool = True) -> VenueMap:
    """Corridors on each of `levels`, joined by `links`; ENTRANCE: the lowest floor's first node is a street door."""
    venue_map = VenueMap(id="harbour", name="Harbour", name_zh="海港",
                         floors=[Floor(level, f"L{level}", 60.0, 20.0) for level in levels])
    for level in levels:
        nodes, edges, zone = corridor_floor(level)
        venue_map.nodes += nodes
        venue_map.edges += edges
        venue_map.zones.append(zone)
    venue_map.edges += links
    venue_map.nodes[0].entrance = entrance
    return venue_map


def test_floors_not_joined_names_each_part():
    lift = [WalkEdge("n0-2", "n1-2", "elevator")]
    assert floors_not_joined(tower(lift + [WalkEdge("n1-0", "n2-0", "stairs")])) == ([], [])
    assert floors_not_joined(tower(lift)) == ([[0, 1], [2]], [])  # the largest part first
    assert floors_not_joined(tower([])) == ([[0], [1], [2]], [])
    assert floors_not_joined(tower([], levels=(0,))) == ([], [])  # one floor: nothing to join
    one_way = [WalkEdge("n0-2", "n1-2", "escalator", oneway=True), WalkEdge("n1-0", "n2-0", "stairs")]
    assert floors_not_joined(tower(one_way)) == ([], [0])  # up from L0, never back down to it
    both_ways = one_way + [WalkEdge("n1-1", "n0-1", "escalator", oneway=True)]
    assert floors_not_joined(tower(both_ways)) == ([], [])
    no_walkway = tower(lift, levels=(0, 1))
    no_walkway.floors.append(Floor(5, "Roof", 60.0, 20.0))
    assert floors_not_joined(no_walkway) == ([[0, 1], [5]], [])


def test_the_checklist_names_the_floor_left_out_and_one_way_floors(client, harbour_ops, svc):
    svc.venues.put_map(tower([WalkEdge("n0-2", "n1-2", "elevator")]))
    state, words = walkways_step(client)
    assert state == "todo" and "floor L2: no lift, escalator or stairs link joins it to floors L0, L1" in words
    svc.venues.put_map(tower([WalkEdge("n0-2", "n1-2", "escalator", oneway=True), WalkEdge("n1-0", "n2-0", "stairs")]))
    state, words = walkways_step(client)
    assert state == "todo" and "floor L0: reached or left one way only" in words
    svc.venues.put_map(tower([WalkEdge("n0-2", "n1-2", "elevator"), WalkEdge("n1-0", "n2-0", "stairs")]))
    assert walkways_step(client)[0] == "done"


# ---- 3. the live heatmap's caption says what the estimate does --------------------------------------


def test_the_live_heatmap_caption_says_no_reference_point_is_hidden(client, console, svc):
    from fingerprints.quality import LiveAssumptions

    assert LiveAssumptions().hidden_m == 0.0  # what the caption states; change both together
    console.login("ops")
    page = text(client.get("/console/ops/demo/checklist"))
    assert "held out" not in page
    caption = ("(live estimate: simulated visits through the live path, 2 min in, at spots between the reference "
               "points; no reference point hidden from the model)")
    assert page.count(caption) == len(svc.venues.get_map("demo").floors)
    zh = text(client.get("/console/ops/demo/checklist?lang=zh"))
    assert "未对模型隐藏任何参考点" in zh and "留出" not in zh


# ---- 4. live walk routes: a point about every 8 m, the goal once ------------------------------------


def gaps(route) -> list[float]:
    return [math.hypot(b[1] - a[1], b[2] - a[2]) for a, b in zip(route, route[1:], strict=False) if a[0] == b[0]]


def assert_marked_every(route, spacing_m: float) -> None:
    assert all(a != b for a, b in zip(route, route[1:], strict=False)), route  # never the same point twice
    assert all(g <= spacing_m + ROUNDING_M for g in gaps(route)), (gaps(route), route)


def test_thin_route_interpolates_long_links_and_ends_on_the_goal_once():
    """The reviewer's route: 30 m links and a goal that rounds to the last node."""
    points = [(1, 52.0, 33.5), (1, 44.0, 64.0), (1, 67.5, 67.5), (1, 90.0, 84.0), (1, 112.0, 91.1),
              (1, 112.02, 91.08)]
    route = thin_route(points, 8.0)
    assert route[0] == (1, 52.0, 33.5) and route[-1] == (1, 112.0, 91.1)
    assert route.count((1, 112.0, 91.1)) == 1
    assert_marked_every(route, 8.0)
    length = sum(math.hypot(b[1] - a[1], b[2] - a[2]) for a, b in zip(points, points[1:], strict=False))
    assert len(route) - 1 == math.ceil(length / 8.0)  # evenly spread: no more points than 8 m asks for
    assert thin_route([(0, 5.0, 5.0), (0, 5.0, 5.0)], 8.0) == [(0, 5.0, 5.0)]


def test_thin_route_marks_both_ends_of_a_floor_change():
    points = [(0, 0.0, 0.0), (0, 20.0, 0.0), (1, 20.0, 0.0), (1, 20.0, 3.0)]
    assert thin_route(points, 8.0) == [(0, 0.0, 0.0), (0, 6.7, 0.0), (0, 13.3, 0.0), (0, 20.0, 0.0),
                                       (1, 20.0, 0.0), (1, 20.0, 3.0)]


def test_thin_route_keeps_a_long_route_within_the_walk_limit():
    from portal.maps.validation import MAX_ROUTE_POINTS

    route = thin_route([(0, 0.0, 0.0), (0, 2000.0, 0.0)], 8.0)
    assert len(route) <= MAX_ROUTE_POINTS and route[0] == (0, 0.0, 0.0) and route[-1] == (0, 2000.0, 0.0)
    assert_marked_every(route, 2000.0 / (len(route) - 1))


def test_a_demo_mall_route_across_floors(demo_map):
    """The demo mall's walkway graph, cinema (L1) to the garage (G): every 8 m or less, the escalator's two ends."""
    zones = {z.id: z for z in demo_map.zones}

    def centre(zone_id):
        z = zones[zone_id]
        return z.floor, sum(x for x, _ in z.polygon) / len(z.polygon), sum(y for _, y in z.polygon) / len(z.polygon)

    found = shortest_route(demo_map, centre("cinema"), centre("garage"))
    route = thin_route(found.points, ROUTE_SPACING_M)
    assert route[0][0] == 1 and route[-1][0] == 0
    assert route[-1] == (0, round(centre("garage")[1], 1), round(centre("garage")[2], 1))
    assert_marked_every(route, ROUTE_SPACING_M)
    change = next(i for i, (a, b) in enumerate(zip(route, route[1:], strict=False)) if a[0] != b[0])
    assert route[change][1:] == route[change + 1][1:]  # where the escalator is taken and where it arrives
    assert len(route) - 1 <= math.ceil(found.length_m / ROUTE_SPACING_M) + 2


def test_a_live_walk_on_long_walkway_links(client, harbour_ops, svc):
    """POST /walk between two zones of a map whose walkway links are 30 m long: the stored route has a point
    at least every 8 m, the goal once; a route between one zone and itself is still refused, nothing stored."""
    venue_map = tower([WalkEdge("n0-2", "n1-2", "elevator")], levels=(0, 1))
    venue_map.zones = [Zone("east-0", "East", "东", 0, [(50, 5), (60, 5), (60, 15), (50, 15)]),
                       Zone("west-1", "West", "西", 1, [(0, 5), (10, 5), (10, 15), (0, 15)])]
    svc.venues.put_map(venue_map)
    bad = client.post(H + "/walk", data={"csrf_token": harbour_ops.csrf(), "phone": PHONE, "points": "",
                                         "from": "east-0", "to": "east-0"})
    assert bad.status_code == 400 and "two different zones" in text(bad)
    assert LiveWalks(svc.db).recent("harbour") == []
    resp = client.post(H + "/walk", data={"csrf_token": harbour_ops.csrf(), "phone": PHONE, "points": "",
                                          "from": "west-1", "to": "east-0"})
    assert resp.status_code == 303, text(resp)[:300]
    walk_id = re.search(r"/walk/([\w-]+)$", resp.headers["Location"]).group(1)
    route = [tuple(p) for p in LiveWalks(svc.db).get("harbour", walk_id)["route"]]
    assert route[0] == (1, 5.0, 10.0) and route[-1] == (0, 55.0, 10.0) and route.count(route[-1]) == 1
    assert_marked_every(route, ROUTE_SPACING_M)
    assert (1, 60.0, 10.0) in route and (0, 60.0, 10.0) in route  # the lift, on both floors
    # L1: from the zone back to its nearest node (5 m), then 60 m to the lift; L0: 5 m from the lift to the goal
    assert len(route) == (math.ceil(65 / 8) + 1) + (math.ceil(5 / 8) + 1)
