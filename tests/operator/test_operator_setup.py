"""Operator venue set-up pages: who may call them, bad input (clear 400, map version unchanged), and the
happy paths (every change a new map version, audited)."""

from __future__ import annotations

import html
import io
import json
import re
import zipfile

import pytest
from PIL import Image

from portal.auth import AccountStore, AuditLog

V = "/console/ops/demo"


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def png(width: int = 600, height: int = 300, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (240, 240, 235)).save(buf, format=fmt)
    return buf.getvalue()


def post(client, ops, url, **data):
    return client.post(url, data={"csrf_token": ops.csrf(), **data})


def upload(client, ops, url, field, payload: bytes, filename: str, **data):
    return client.post(url, data={"csrf_token": ops.csrf(), field: (io.BytesIO(payload), filename), **data},
                       content_type="multipart/form-data")


def version(svc) -> int:
    return svc.venues.current_version("demo")


# -- who may call ---------------------------------------------------------------------------------------

GET_PAGES = ["/setup", "/setup/floor/0", "/setup/floor/0/overlay.svg", "/setup/export.imdf.zip", "/setup/samples.csv",
             "/survey", "/quality", "/quality/0/confusion.png", "/quality/0/heatmap.png",
             "/aps/f0:9f:c2:1a:00:01/heatmap.png", "/versions", "/footfall", "/footfall/2024-05-01/0.png"]
POSTS = ["/setup/floors", "/setup/floor/0/plan", "/setup/floor/0/scale", "/setup/floor/0/aps", "/setup/aps/delete",
         "/setup/floor/0/zones", "/setup/zones/delete", "/setup/floor/0/nodes", "/setup/edges",
         "/setup/walkway/delete", "/setup/walkway/entrance", "/setup/import-imdf", "/setup/import-samples",
         "/survey/devices", "/survey/devices/delete", "/survey/start", "/survey/finish", "/survey/cancel",
         "/versions/rollback", "/versions/rebuild"]


def test_logged_out_is_sent_to_login(client, console, svc):
    before = version(svc)
    for path in GET_PAGES:
        resp = client.get(V + path)
        assert resp.status_code == 302 and "/console/login" in resp.headers["Location"], path
    for path in POSTS:
        resp = client.post(V + path, data={"csrf_token": console.csrf(), "floor": "0", "bssid": "f0:9f:c2:1a:00:01"})
        assert resp.status_code == 302 and "/console/login" in resp.headers["Location"], path
    assert version(svc) == before


def test_post_without_csrf_token_is_refused(client, ops, svc):
    before = version(svc)
    resp = client.post(V + "/setup/floor/0/aps", data={"bssid": "aa:bb:cc:dd:ee:01", "x": "5", "y": "5"})
    assert resp.status_code == 400
    assert version(svc) == before


def test_owner_account_gets_403(client, console, svc):
    console.login("cinema")
    for path in GET_PAGES:
        assert client.get(V + path).status_code == 403, path
    for path in POSTS:
        assert client.post(V + path, data={"csrf_token": console.csrf()}).status_code == 403, path


def test_operator_of_another_venue_gets_403(client, console, svc, db):
    AccountStore(db).create("ops-other", "other-venue-pw", "operator", "othermall")
    console.login("ops-other", "other-venue-pw")
    before = version(svc)
    for path in GET_PAGES:
        assert client.get(V + path).status_code == 403, path
    for path in POSTS:
        resp = client.post(V + path, data={"csrf_token": console.csrf(), "bssid": "aa:bb:cc:dd:ee:01", "x": "1",
                                           "y": "1", "floor": "0"})
        assert resp.status_code == 403, path
    assert version(svc) == before


def test_pages_render(client, ops):
    for path in ["/", "/setup", "/setup/floor/0", "/setup/floor/0?tool=zone", "/setup/floor/0?tool=scale",
                 "/setup/floor/1?tool=walkway", "/setup/floor/0?lang=zh"]:
        resp = client.get(V + path)
        assert resp.status_code == 200, path
    assert client.get(V + "/setup/floor/7").status_code == 404
    home = client.get(V + "/").get_data(as_text=True)
    for link in ("/setup", "/survey", "/quality", "/versions", "/footfall"):
        assert V + link in home


# -- floors, plan, scale --------------------------------------------------------------------------------


def test_add_floor(client, ops, svc):
    before = version(svc)
    resp = post(client, ops, V + "/setup/floors", level="2", name="L2", width_m="80", height_m="40")
    assert resp.status_code == 303
    assert version(svc) == before + 1
    assert svc.venues.get_map("demo").floor(2).name == "L2"
    assert AuditLog(svc.db).recent("demo")[0]["action"] == "floor.add"
    for bad, message in [({"level": "2", "name": "again"}, "already exists"),
                         ({"level": "x", "name": "X"}, "whole number"), ({"level": "3", "name": ""}, "name"),
                         ({"level": "3", "name": "L3", "width_m": "-5"}, "between")]:
        resp = post(client, ops, V + "/setup/floors", **{"width_m": "10", "height_m": "10", **bad})
        assert resp.status_code == 400 and message in text(resp), bad
    assert version(svc) == before + 1


def test_plan_upload_rejects_bad_files(client, ops, svc):
    before = version(svc)
    url = V + "/setup/floor/0/plan"
    cases = [
        (b"this is not an image at all", "not a readable PNG or JPEG"),
        (png(8001, 20), "at most 8000"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024 + 10), "too large"),
        (png(100, 80)[:200], "not a readable PNG or JPEG"),  # truncated
        (png(100, 80)[:33] + png(100, 80)[-12:], "not a readable PNG or JPEG"),  # a header and no image data
        (png(60, 40, "GIF"), "PNG or JPEG"),
    ]
    for payload, message in cases:
        resp = upload(client, ops, url, "plan", payload, "plan.png")
        assert resp.status_code == 400, message
        assert message in text(resp), message
    resp = client.post(url, data={"csrf_token": ops.csrf()}, content_type="multipart/form-data")
    assert resp.status_code == 400 and "Choose a floor-plan image" in text(resp)
    resp = upload(client, ops, url, "plan", b"\0" * (11 * 1024 * 1024), "huge.png")  # past the request limit
    assert resp.status_code == 413 and "The upload is too large" in text(resp)
    assert version(svc) == before
    assert not svc.db.keys("mp:{demo}:ops:plan:*")  # nothing half-stored


def test_plan_upload_and_scale(client, ops, svc):
    before = version(svc)
    resp = post(client, ops, V + "/setup/floor/1/scale", x1="0", y1="0", x2="100", y2="0", metres="10")
    assert resp.status_code == 400 and "Upload a floor-plan image first" in text(resp)
    resp = upload(client, ops, V + "/setup/floor/1/plan", "plan", png(600, 300), "plan.png")
    assert resp.status_code == 303
    fl = svc.venues.get_map("demo").floor(1)
    assert fl.plan_image and fl.metres_per_pixel == pytest.approx(120 / 600) and fl.height_m == pytest.approx(60)
    image = client.get(V + f"/plans/{fl.plan_image}")
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert client.get(V + "/plans/" + "0" * 24).status_code == 404
    page = client.get(V + "/setup/floor/1?tool=scale").get_data(as_text=True)
    assert fl.plan_image in page and 'data-mode="pair"' in page
    # no-JavaScript clicks: the first pick fills x1/y1, the second x2/y2
    page = client.get(V + "/setup/floor/1?tool=scale&pick.x=10&pick.y=20").get_data(as_text=True)
    assert 'name="x1" value="10"' in page and 'name="y1" value="20"' in page
    page = client.get(V + "/setup/floor/1?tool=scale&x1=10&y1=20&pick.x=110&pick.y=20").get_data(as_text=True)
    assert 'name="x2" value="110"' in page
    ap_before = next(a for a in svc.venues.get_map("demo").aps if a.floor == 1)
    for bad, message in [({"x2": "12", "y2": "21"}, "too close"), ({"metres": "abc"}, "must be a number"),
                         ({"x2": "9999"}, "between"), ({"metres": ""}, "required")]:
        data = {"x1": "10", "y1": "20", "x2": "110", "y2": "20", "metres": "5", **bad}
        resp = post(client, ops, V + "/setup/floor/1/scale", **data)
        assert resp.status_code == 400 and message in text(resp), bad
    assert version(svc) == before + 1
    resp = post(client, ops, V + "/setup/floor/1/scale", x1="10", y1="20", x2="110", y2="20", metres="5")
    assert resp.status_code == 303
    m = svc.venues.get_map("demo")
    assert m.version == before + 2
    fl = m.floor(1)
    assert fl.metres_per_pixel == pytest.approx(0.05) and fl.width_m == pytest.approx(30)
    ap_after = next(a for a in m.aps if a.bssid == ap_before.bssid)
    assert ap_after.x == pytest.approx(ap_before.x / 4, abs=0.01)  # kept its place on the plan
    assert all(0 <= s.x <= fl.width_m for s in m.samples if s.floor == 1)


# -- access points --------------------------------------------------------------------------------------


def test_place_ap_by_click_and_by_fields(client, ops, svc):
    before = version(svc)
    resp = post(client, ops, V + "/setup/floor/0/aps", bssid="AA-BB-CC-DD-EE-01", name="New AP",
                **{"spot.x": "100", "spot.y": "50"})
    assert resp.status_code == 303
    m = svc.venues.get_map("demo")
    ap = next(a for a in m.aps if a.bssid == "aa:bb:cc:dd:ee:01")
    assert (ap.floor, ap.x, ap.y, ap.name) == (0, 20.0, 10.0, "New AP")  # 5 px per metre on a drawn plan
    assert m.version == before + 1
    entry = AuditLog(svc.db).recent("demo")[0]
    assert entry["action"] == "ap.place" and entry["user"] == "ops" and entry["detail"]["version"] == before + 1
    resp = post(client, ops, V + "/setup/floor/1/aps", bssid="aa:bb:cc:dd:ee:01", x="30.5", y="12")
    assert resp.status_code == 303
    ap = next(a for a in svc.venues.get_map("demo").aps if a.bssid == "aa:bb:cc:dd:ee:01")
    assert (ap.floor, ap.x, ap.y, ap.name) == (1, 30.5, 12.0, "New AP")  # moved, not duplicated
    resp = post(client, ops, V + "/setup/aps/delete", bssid="aa:bb:cc:dd:ee:01", floor="1")
    assert resp.status_code == 303
    assert "aa:bb:cc:dd:ee:01" not in svc.venues.get_map("demo").ap_ids()
    assert version(svc) == before + 3


@pytest.mark.parametrize("data, message", [
    ({"bssid": "zz:bb:cc:dd:ee:01"}, "is not a BSSID"),
    ({"bssid": "aa:bb:cc:dd:ee"}, "is not a BSSID"),
    ({"bssid": "aa:bb:cc:dd:ee:01:02"}, "is not a BSSID"),
    ({"bssid": ""}, "is not a BSSID"),
    ({"x": "500"}, "between 0 and 120"),
    ({"x": "nan"}, "between"),
    ({"x": ""}, "required"),
    ({"spot.x": "9999", "spot.y": "1", "spot.pointer": "1"}, "between"),  # operator.js marks a pointer click
    ({"name": "x" * 41}, "too long"),
])
def test_place_ap_bad_input(client, ops, svc, data, message):
    before = version(svc)
    resp = post(client, ops, V + "/setup/floor/0/aps", **{"bssid": "aa:bb:cc:dd:ee:01", "x": "5", "y": "5", **data})
    assert resp.status_code == 400
    assert message in text(resp)
    assert version(svc) == before


def test_deleting_a_malformed_bssid_is_said_in_the_pages_language(client, ops, svc):
    """The model's own English ("malformed BSSID 'zz'") was shown on the Chinese page."""
    resp = post(client, ops, V + "/setup/aps/delete?lang=zh", bssid="zz", floor="0")
    assert resp.status_code == 400 and "'zz' 不是有效的 BSSID" in text(resp) and "malformed" not in text(resp)


def test_delete_unknown_ap(client, ops, svc):
    before = version(svc)
    resp = post(client, ops, V + "/setup/aps/delete", bssid="aa:bb:cc:dd:ee:99", floor="0")
    assert resp.status_code == 400 and "There is no AP" in text(resp)
    assert version(svc) == before


# -- zones ----------------------------------------------------------------------------------------------



def test_draw_zone(client, ops, svc):
    assert post(client, ops, V + "/setup/floors", level="3", name="L3", width_m="50", height_m="30").status_code == 303
    before = version(svc)
    points = "10,10 20,10 20,18 10,18"
    resp = post(client, ops, V + "/setup/floor/3/zones", id="kiosk-1", name="Kiosk", name_zh="小亭", kind="shop",
                points=points)
    assert resp.status_code == 303
    m = svc.venues.get_map("demo")
    zone = m.zone("kiosk-1")
    assert zone.floor == 3 and len(zone.polygon) == 4 and zone.name_zh == "小亭"
    assert m.version == before + 1
    resp = post(client, ops, V + "/setup/floor/3/zones", id="kiosk-2", name="Next door", kind="shop",
                points="15,15 25,15 25,25 15,25")
    assert resp.status_code == 400 and "overlaps zone kiosk-1" in text(resp)
    resp = post(client, ops, V + "/setup/zones/delete", zone="kiosk-1", floor="3")
    assert resp.status_code == 303 and svc.venues.get_map("demo").zone("kiosk-1") is None


def test_zone_points_by_clicks_without_javascript(client, ops):
    page = client.get(V + "/setup/floor/0?tool=zone&points=1.00,2.00&pick.x=50&pick.y=25").get_data(as_text=True)
    assert "1.00,2.00 10.00,5.00" in page


@pytest.mark.parametrize("points, message", [
    ("0,0 10,10 10,0 0,10", "crosses itself"),
    ("1,1 5,1 5,5 1,5 1,1 6,6", "crosses itself"),
    ("1,1 2,2", "at least 3 points"),
    ("", "at least 3 points"),
    ("1,1 500,1 500,5", "off the plan"),
    ("1,1 5,-1 5,5", "off the plan"),
    ("1,1 abc 5,5", "Point 2 ('abc') is not"),
    ("1,1 2,2 3,3", "no area"),
])
def test_zone_bad_polygons(client, ops, svc, points, message):
    before = version(svc)
    resp = post(client, ops, V + "/setup/floor/0/zones", id="bad-zone", name="Bad", kind="shop", points=points)
    assert resp.status_code == 400
    assert message in text(resp)
    assert version(svc) == before


def test_zone_bad_fields_and_overlap(client, ops, svc):
    before = version(svc)
    m = svc.venues.get_map("demo")
    cinema = m.zone("cinema")
    xs = [p[0] for p in cinema.polygon]
    ys = [p[1] for p in cinema.polygon]
    cx, cy = sum(xs) / len(xs), sum(ys) / len(ys)
    inside = f"{cx - 1},{cy - 1} {cx + 1},{cy - 1} {cx + 1},{cy + 1} {cx - 1},{cy + 1}"
    for data, message in [({"id": "cinema"}, "already exists"), ({"id": "Bad Id!"}, "Zone id"),
                          ({"name": ""}, "name of 1 to 60"), ({"kind": "spaceship"}, "Unknown zone kind"),
                          ({"points": inside}, "overlaps zone cinema")]:
        form = {"id": "new-zone", "name": "New", "kind": "shop", "points": inside, **data}
        resp = post(client, ops, V + f"/setup/floor/{cinema.floor}/zones", **form)
        assert resp.status_code == 400 and message in text(resp), data
    assert version(svc) == before


# -- walkway graph ---------------------------------------------------------------------------------------


def test_walkway_nodes_and_edges(client, ops, svc):
    before = version(svc)
    assert post(client, ops, V + "/setup/floor/0/nodes", id="n-a", x="10", y="10").status_code == 303
    resp = post(client, ops, V + "/setup/floor/0/nodes", id="n-b", **{"spot.x": "100", "spot.y": "50"})
    assert resp.status_code == 303
    assert post(client, ops, V + "/setup/edges", a="n-a", b="n-b", kind="walk", floor="0").status_code == 303
    m = svc.venues.get_map("demo")
    assert any(e.a == "n-a" and e.b == "n-b" for e in m.edges) and m.version == before + 3
    for url, data, message in [
        ("/setup/floor/0/nodes", {"id": "n-a", "x": "1", "y": "1"}, "already exists"),
        ("/setup/floor/0/nodes", {"id": "", "x": "1", "y": "1"}, "Node id"),
        ("/setup/floor/0/nodes", {"id": "n-c", "x": "1000", "y": "1"}, "between"),
        ("/setup/edges", {"a": "n-a", "b": "nowhere", "floor": "0"}, "There is no node"),
        ("/setup/edges", {"a": "n-a", "b": "n-a", "floor": "0"}, "two different nodes"),
        ("/setup/edges", {"a": "n-b", "b": "n-a", "floor": "0"}, "already linked"),
        ("/setup/edges", {"a": "n-a", "b": "n-b", "kind": "teleport", "floor": "0"}, "Unknown link kind"),
        ("/setup/walkway/delete", {"node": "nowhere", "floor": "0"}, "There is no node"),
    ]:
        resp = post(client, ops, V + url, **data)
        assert resp.status_code == 400 and message in text(resp), data
    assert version(svc) == before + 3
    assert post(client, ops, V + "/setup/walkway/delete", node="n-a", floor="0").status_code == 303
    m = svc.venues.get_map("demo")
    assert not any("n-a" in (e.a, e.b) for e in m.edges) and not any(n.id == "n-a" for n in m.nodes)


def node(svc, node_id: str):
    return next(n for n in svc.venues.get_map("demo").nodes if n.id == node_id)


def test_a_node_added_with_the_entrance_box_is_an_entrance(client, ops, svc):
    before = version(svc)
    resp = post(client, ops, V + "/setup/floor/0/nodes", id="door-a", x="10", y="10", entrance="1")
    assert resp.status_code == 303
    client.get(resp.headers["Location"])  # the flash is said on the page the redirect opens
    assert node(svc, "door-a").entrance and version(svc) == before + 1
    entry = AuditLog(svc.db).recent("demo")[0]
    assert entry["action"] == "walk.node_add" and entry["detail"]["entrance"] is True
    assert post(client, ops, V + "/setup/floor/0/nodes", id="plain-a", x="12", y="10").status_code == 303
    assert not node(svc, "plain-a").entrance  # the box left unticked: an ordinary node
    page = text(client.get(V + "/setup/floor/0?tool=walkway"))
    assert 'name="entrance" value="1"' in page and "Entrance (shoppers on foot come in here from outside)" in page
    # refused input stores nothing, with or without the box
    resp = post(client, ops, V + "/setup/floor/0/nodes", id="door-a", x="1", y="1", entrance="1")
    assert resp.status_code == 400 and "already exists" in text(resp)
    assert version(svc) == before + 2


def test_marking_and_unmarking_an_entrance(client, ops, svc):
    url = V + "/setup/walkway/entrance"
    assert post(client, ops, V + "/setup/floor/0/nodes", id="n-door", x="10", y="10").status_code == 303
    before = version(svc)
    page = client.get(V + "/setup/floor/0?tool=walkway").get_data(as_text=True)
    row = re.search(r"<tr><td>n-door</td>.*?</tr>", page, re.S).group(0)
    assert 'action="/console/ops/demo/setup/walkway/entrance"' in row and "Mark as entrance" in row
    assert 'name="clear"' not in row
    resp = post(client, ops, url, node="n-door", floor="0")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/setup/floor/0?tool=walkway")
    assert node(svc, "n-door").entrance and version(svc) == before + 1
    entry = AuditLog(svc.db).recent("demo")[0]
    assert entry["action"] == "walk.entrance" and entry["user"] == "ops"
    assert entry["detail"]["node"] == "n-door" and entry["detail"]["entrance"] is True
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Node n-door marked as an entrance; map version" in html.unescape(page)
    row = re.search(r'<tr class="entrance"><td>n-door</td>.*?</tr>', page, re.S).group(0)
    assert "✓" in row and 'name="clear" value="1"' in row and "Unmark" in row
    svg = client.get(V + "/setup/floor/0/overlay.svg?walkway=1").get_data(as_text=True)
    on_floor = [n.id for n in svc.venues.get_map("demo").nodes if n.entrance and n.floor == 0]
    assert "n-door" in on_floor and svg.count('class="entrance"') == len(on_floor)  # each entrance ringed
    assert "<title>n-door (entrance)</title>" in svg
    resp = post(client, ops, url, node="n-door", floor="0", clear="1")
    assert resp.status_code == 303 and not node(svc, "n-door").entrance and version(svc) == before + 2
    assert "Node n-door is no longer an entrance" in text(client.get(resp.headers["Location"]))
    assert AuditLog(svc.db).recent("demo")[0]["detail"]["entrance"] is False


@pytest.mark.parametrize("data, status, message", [
    ({"node": "nowhere", "floor": "0"}, 400, "There is no node 'nowhere'"),
    ({"node": "", "floor": "0"}, 400, "Which node? (node field missing)"),
    ({"floor": "0"}, 400, "Which node? (node field missing)"),
    ({"node": "x" * 200, "floor": "0"}, 400, "There is no node"),
    ({"node": "f0-3-3"}, 400, "Which floor? (floor field missing)"),
])
def test_marking_an_entrance_bad_input(client, ops, svc, data, status, message):
    before = version(svc)
    entrances = svc.venues.get_map("demo").entrance_spots()
    resp = post(client, ops, V + "/setup/walkway/entrance", **data)
    assert resp.status_code == status and message in text(resp)
    assert version(svc) == before and svc.venues.get_map("demo").entrance_spots() == entrances


def test_marking_an_entrance_is_said_in_the_pages_language(client, ops, svc):
    resp = post(client, ops, V + "/setup/walkway/entrance?lang=zh", node="", floor="0")
    assert resp.status_code == 400 and "哪个节点？（缺少节点字段）" in text(resp)
    page = text(client.get(V + "/setup/floor/0?tool=walkway&lang=zh"))
    assert "标为入口" in page and "Mark as entrance" not in page and "Entrance (shoppers" not in page


def test_marking_a_node_on_another_floor_opens_that_floor(client, ops, svc):
    """The node id is typed in on floor 0's page; the node is on floor 1: marked, and the redirect opens floor 1,
    where the node and the message are (unmarking too)."""
    url = V + "/setup/walkway/entrance"
    before = version(svc)
    resp = post(client, ops, url, node="f1-3-3", floor="0")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/setup/floor/1?tool=walkway")
    assert node(svc, "f1-3-3").entrance and version(svc) == before + 1
    page = text(client.get(resp.headers["Location"]))
    assert "Node f1-3-3 marked as an entrance; map version" in page
    assert re.search(r'<tr class="entrance"><td>f1-3-3</td>', page)
    resp = post(client, ops, url, node="f1-3-3", floor="0", clear="1")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/setup/floor/1?tool=walkway")
    assert not node(svc, "f1-3-3").entrance and version(svc) == before + 2


@pytest.mark.parametrize("lang, marked, message", [
    ("", True, "Node {n} is already an entrance."),
    ("", False, "Node {n} is not an entrance."),
    ("?lang=zh", True, "节点 {n} 已是入口。"),
    ("?lang=zh", False, "节点 {n} 不是入口。"),
])
def test_a_no_op_marking_is_refused(client, ops, svc, lang, marked, message):
    """Marking an entrance again, or unmarking a node that is none: 400, said in the page's language, no new map
    version (one that changes nothing would hide the mistake)."""
    n = "f0-3-3"
    if marked:
        assert post(client, ops, V + "/setup/walkway/entrance", node=n, floor="0").status_code == 303
    assert node(svc, n).entrance is marked
    before = version(svc)
    data = {"node": n, "floor": "0"} if marked else {"node": n, "floor": "0", "clear": "1"}
    resp = post(client, ops, V + "/setup/walkway/entrance" + lang, **data)
    assert resp.status_code == 400 and message.format(n=n) in text(resp)
    assert version(svc) == before and node(svc, n).entrance is marked


def test_marking_an_entrance_without_csrf_token_is_refused(client, ops, svc):
    before = version(svc)
    resp = client.post(V + "/setup/walkway/entrance", data={"node": "f0-3-3", "floor": "0"})
    assert resp.status_code == 400
    resp = client.post(V + "/setup/floor/0/nodes", data={"id": "door-b", "x": "5", "y": "5", "entrance": "1"})
    assert resp.status_code == 400
    assert version(svc) == before and not node(svc, "f0-3-3").entrance


def test_marking_an_entrance_refuses_anyone_but_the_venues_operator(client, console, svc, db):
    before = version(svc)
    data = {"csrf_token": console.csrf(), "node": "f0-3-3", "floor": "0"}
    resp = client.post(V + "/setup/walkway/entrance", data=data)  # signed out
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    console.login("cinema")  # a zone owner
    assert client.post(V + "/setup/walkway/entrance", data={**data, "csrf_token": console.csrf()}).status_code == 403
    AccountStore(db).create("ops-other", "other-venue-pw", "operator", "othermall")
    console.login("ops-other", "other-venue-pw")
    assert client.post(V + "/setup/walkway/entrance", data={**data, "csrf_token": console.csrf()}).status_code == 403
    assert version(svc) == before and not node(svc, "f0-3-3").entrance


# -- IMDF and CSV import/export -----------------------------------------------------------------------------


def test_imdf_export_and_import_round_trip(client, ops, svc):
    resp = client.get(V + "/setup/export.imdf.zip")
    assert resp.status_code == 200 and resp.mimetype == "application/zip"
    names = set(zipfile.ZipFile(io.BytesIO(resp.data)).namelist())
    assert {"manifest.json", "venue.geojson", "level.geojson", "unit.geojson"} <= names
    before = svc.venues.get_map("demo")
    resp = upload(client, ops, V + "/setup/import-imdf", "imdf", resp.data, "demo.zip")
    assert resp.status_code == 303
    after = svc.venues.get_map("demo")
    assert after.version == before.version + 1
    assert {z.id for z in after.zones} == {z.id for z in before.zones}
    assert len(after.samples) == len(before.samples) and len(after.aps) == len(before.aps)


def test_imdf_import_broken_archives(client, ops, svc):
    good = client.get(V + "/setup/export.imdf.zip").data
    files = {n: zipfile.ZipFile(io.BytesIO(good)).read(n) for n in zipfile.ZipFile(io.BytesIO(good)).namelist()}

    def rezip(changes: dict) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for name, data in {**files, **changes}.items():
                if data is not None:
                    zf.writestr(name, data)
        return buf.getvalue()

    before = version(svc)
    cases = [
        (b"PK\x03\x04 not really a zip", "not a zip archive"),
        (rezip({"unit.geojson": b"{not json"}), "unit.geojson: not valid JSON"),
        (rezip({"venue.geojson": None}), "venue.geojson"),
        (rezip({"level.geojson": b'{"type": "FeatureCollection", "features": [{"type": "Feature", "id": "x"}]}'}),
         "level.geojson"),
    ]
    for payload, message in cases:
        resp = upload(client, ops, V + "/setup/import-imdf", "imdf", payload, "broken.zip")
        body = text(resp)
        assert resp.status_code == 400, message
        assert "Nothing was imported" in body and message in body, message
    resp = client.post(V + "/setup/import-imdf", data={"csrf_token": ops.csrf()}, content_type="multipart/form-data")
    assert resp.status_code == 400 and "Choose a" in text(resp)
    assert version(svc) == before



def test_imdf_import_notes_a_unit_drawn_in_several_parts(client, ops, svc):
    """The direct import says what the draft step says: such a unit's zone keeps only its largest part."""
    good = client.get(V + "/setup/export.imdf.zip").data
    files = {n: zipfile.ZipFile(io.BytesIO(good)).read(n) for n in zipfile.ZipFile(io.BytesIO(good)).namelist()}
    units = json.loads(files["unit.geojson"])
    unit = units["features"][0]
    ring = unit["geometry"]["coordinates"][0]
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    dx = (max(xs) - min(xs)) * 0.2  # a small second part just beside the unit: within the venue, one tenth or so
    part = [[max(xs) + dx, min(ys)], [max(xs) + 2 * dx, min(ys)], [max(xs) + 2 * dx, min(ys) + dx],
            [max(xs) + dx, min(ys) + dx], [max(xs) + dx, min(ys)]]
    unit["geometry"] = {"type": "MultiPolygon", "coordinates": [unit["geometry"]["coordinates"], [part]]}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in {**files, "unit.geojson": json.dumps(units).encode()}.items():
            zf.writestr(name, data)
    before = version(svc)
    resp = upload(client, ops, V + "/setup/import-imdf", "imdf", buf.getvalue(), "split.zip")
    assert resp.status_code == 303 and version(svc) == before + 1
    page = text(client.get(resp.headers["Location"] + "?lang=en"))
    assert "The import noted" in page and "1 other part(s) dropped" in page
    resp = upload(client, ops, V + "/setup/import-imdf?lang=zh", "imdf", buf.getvalue(), "split.zip")
    page = text(client.get(resp.headers["Location"] + "?lang=zh"))
    assert "另有 1 个部分被舍弃" in page and "其区域取最大的部分" in page and "other part(s)" not in page

def test_samples_csv_export_and_import(client, ops, svc):
    before = svc.venues.get_map("demo")
    resp = client.get(V + "/setup/samples.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    csv = resp.get_data(as_text=True)
    assert csv.startswith("building,floor,x,y,zone,")
    resp = upload(client, ops, V + "/setup/import-samples", "samples", csv.encode(), "samples.csv", mode="replace",
                  format="auto", scans="5")
    assert resp.status_code == 303
    after = svc.venues.get_map("demo")
    assert after.version == before.version + 1 and len(after.samples) == len(before.samples)
    uji = client.get(V + "/setup/samples.csv?format=ujiindoorloc")
    waps = client.get(V + "/setup/samples.csv?format=ujiindoorloc&part=waps")
    assert uji.status_code == 200 and waps.status_code == 200 and text(waps).startswith("WAP,BSSID")
    assert client.get(V + "/setup/samples.csv?format=excel").status_code == 400


def test_the_samples_import_says_its_mode_in_the_pages_language(client, ops):
    csv = client.get(V + "/setup/samples.csv").get_data(as_text=True)
    resp = upload(client, ops, V + "/setup/import-samples?lang=zh", "samples", csv.encode(), "samples.csv",
                  mode="append", format="auto", scans="1")
    page = text(client.get(resp.headers["Location"] + "?lang=zh"))
    assert "个参考点（追加），生成地图版本" in page and "（append）" not in page


def test_samples_csv_bad_files(client, ops, svc):
    csv = client.get(V + "/setup/samples.csv").get_data(as_text=True)
    header, first, *_rest = csv.splitlines()
    cells = first.split(",")
    positive = ",".join(cells[:5] + [("40" if c else c) for c in cells[5:]])
    before = version(svc)
    cases = [
        ("floor,x,y\n0,1,2\n", "building"),
        (header + "\n" + ",".join(["0", "0", "abc"] + cells[3:]) + "\n", "line 2"),
        (header + "\n" + positive + "\n", "dBm"),
        (header + "\n" + ",".join(["0", "9", "1", "1"] + cells[4:]) + "\n", "floor"),
        ("\x00\x01 binary", ""),
    ]
    for payload, message in cases:
        resp = upload(client, ops, V + "/setup/import-samples", "samples", payload.encode(), "bad.csv")
        body = text(resp)
        assert resp.status_code == 400, (payload[:40], body[-500:])
        assert "Nothing was imported" in body and message in body, message
    resp = upload(client, ops, V + "/setup/import-samples", "samples", csv.encode(), "s.csv", mode="merge")
    assert resp.status_code == 400 and "replace or append" in text(resp)
    assert version(svc) == before


def test_delete_unknown_zone(client, ops, svc):
    before = version(svc)
    resp = post(client, ops, V + "/setup/zones/delete", zone="nowhere", floor="0")
    assert resp.status_code == 400 and "There is no zone" in text(resp)
    resp = post(client, ops, V + "/setup/zones/delete", zone="cinema")  # no floor field
    assert resp.status_code == 400
    assert version(svc) == before


def test_concurrent_map_edits_lose_nothing(app, svc, db):
    """100 threads each add an AP at once: every change lands in its own version (the map lock)."""
    from concurrent.futures import ThreadPoolExecutor

    from fingerprints.model import AccessPoint, Floor, VenueMap
    from portal.operator.mapedit import change_map

    before = svc.venues.put_map(VenueMap(id="tiny", name="Tiny", name_zh="小", floors=[Floor(0, "G", 50, 30)]))

    def bssid(i: int) -> str:
        return f"aa:bb:cc:dd:{i // 256:02x}:{i % 256:02x}"

    def add(i: int) -> int:
        with app.test_request_context():
            return change_map("tiny", lambda m: m.aps.append(AccessPoint(bssid(i), 0, 1.0, 1.0)), "ap.place")

    with ThreadPoolExecutor(max_workers=100) as pool:
        versions = list(pool.map(add, range(100)))
    assert sorted(versions) == list(range(before + 1, before + 101))
    assert sorted(svc.venues.get_map("tiny").ap_ids()) == sorted(bssid(i) for i in range(100))
