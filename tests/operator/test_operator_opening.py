"""Opening a new venue from the console: drafts (IMDF + AP CSV + survey CSV applied as ONE version), the
set-up checklist and coverage heatmap; who may call them and bad input (zone owners: test_operator_owners.py)."""

from __future__ import annotations

import html
import io
import re

import pytest

from fingerprints.imdf import imdf_zip_bytes
from portal.auth import AccountStore
from tests.maps.imdf_builder import mall_archive, split_unit
from tests.maps.test_maps_samples_io import _reversed_uji
from tests.maps.test_maps_setup_drafts import _files

V = "/console/ops/harbour"


@pytest.fixture
def harbour_ops(client, console, svc):
    AccountStore(svc.db).create("harbour-ops", "harbour-pass-1", "operator", "harbour")
    console.login("harbour-ops", "harbour-pass-1")
    return console


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def upload(client, ops, url, payload: bytes, filename: str, **data):
    return client.post(url, data={"csrf_token": ops.csrf(), "file": (io.BytesIO(payload), filename), **data},
                       content_type="multipart/form-data")


def test_new_venue_from_drafts_to_checklist(client, harbour_ops, svc, tmp_path):
    plan, aps, samples = _files(tmp_path)
    assert client.get(V + "/").status_code == 200  # the home page of a venue with no map yet
    resp = client.post(V + "/drafts", data={"csrf_token": harbour_ops.csrf(), "title": "Opening"})
    assert resp.status_code == 303
    draft_url = resp.headers["Location"]
    steps = draft_url + "/steps"
    assert upload(client, harbour_ops, steps, plan.read_bytes(), "plan.zip", kind="imdf").status_code == 303
    assert upload(client, harbour_ops, steps, aps.read_bytes(), "aps.csv", kind="aps").status_code == 303
    assert upload(client, harbour_ops, steps, samples.read_bytes(), "survey.csv", kind="samples").status_code == 303
    page = text(client.get(draft_url))
    assert 'id="draft-diff"' in page and "aps" in page and "+12" in page
    assert client.get(draft_url + "/preview/0.svg").status_code == 200
    assert svc.venues.current_version("harbour") == 0
    resp = client.post(draft_url + "/apply", data={"csrf_token": harbour_ops.csrf()})
    assert resp.status_code == 303 and svc.venues.versions("harbour") == [1]
    page = text(client.get(V + "/checklist"))
    assert 'id="step-plan"' in page and 'id="step-coverage"' in page
    assert re.search(r'id="step-aps" class="done"', page)
    # an IMDF plan marks no entrance: the walkways step asks for one (tests/operator/test_checklist_entrances.py)
    assert re.search(r'id="step-walkways" class="todo"', page) and "no entrance marked" in page
    # no app chosen: every zone lands on the directory, and the step says so
    assert re.search(r'id="step-zones" class="done"', page) and "on the mall directory" in page
    svg = client.get(V + "/checklist/coverage/0.svg")
    assert svg.status_code == 200 and b'class="cell"' in svg.data


def test_bad_draft_input_is_refused(client, harbour_ops, svc):
    resp = client.post(V + "/drafts", data={"csrf_token": harbour_ops.csrf(), "title": ""})
    assert resp.status_code == 400
    draft_url = client.post(V + "/drafts", data={"csrf_token": harbour_ops.csrf(), "title": "x"}).headers["Location"]
    bad = upload(client, harbour_ops, draft_url + "/steps", b"not a zip", "plan.zip", kind="imdf")
    assert bad.status_code == 400 and "Nothing was added" in text(bad)
    assert upload(client, harbour_ops, draft_url + "/steps", b"x", "x.csv", kind="nope").status_code == 400
    aps = upload(client, harbour_ops, draft_url + "/steps", b"name,bssids,level\n", "a.csv", kind="aps")
    assert aps.status_code == 400
    assert client.post(draft_url + "/apply", data={"csrf_token": harbour_ops.csrf()}).status_code == 400
    assert client.get(V + "/drafts/zzzz").status_code == 404
    assert client.post(draft_url + "/abandon", data={"csrf_token": harbour_ops.csrf()}).status_code == 303
    assert client.get(draft_url).status_code == 404
    assert not svc.venues.exists("harbour")


def test_ap_list_floor_names_and_malformed_files_from_the_console(client, harbour_ops, svc, tmp_path):
    """An AP list whose floor names are not the venue's is mapped in the form; a malformed Ekahau project
    (an AP's location a string) is a listed problem (400), not a server error."""
    from tests.maps.test_maps_ap_lists import _esx

    plan, _aps, _samples = _files(tmp_path)
    draft_url = client.post(V + "/drafts", data={"csrf_token": harbour_ops.csrf(), "title": "x"}).headers["Location"]
    steps = draft_url + "/steps"
    assert upload(client, harbour_ops, steps, plan.read_bytes(), "plan.zip", kind="imdf").status_code == 303
    plans = [{"id": "fp", "name": "Harbour_GF_A1.pdf", "width": 1000, "height": 400, "metersPerUnit": 0.05}]
    aps = [{"id": "ap1", "name": "AP-1", "location": {"floorPlanId": "fp", "coord": {"x": 100, "y": 50}}}]
    measured = [{"accessPointId": "ap1", "accessPointMeasurementIds": ["m1"]}]
    esx = _esx(plans, aps, measured, [{"id": "m1", "mac": "00:11:22:33:44:01"}])
    unmapped = upload(client, harbour_ops, steps, esx, "p.esx", kind="aps")
    assert unmapped.status_code == 400 and "Ground Floor=0" in text(unmapped)
    assert upload(client, harbour_ops, steps, esx, "p.esx", kind="aps", floors="nonsense").status_code == 400
    mapped = upload(client, harbour_ops, steps, esx, "p.esx", kind="aps", floors="Harbour_GF_A1.pdf=0")
    assert mapped.status_code == 303
    aps[0]["location"] = "fp"
    broken = upload(client, harbour_ops, steps, _esx(plans, aps, measured, []), "p.esx", kind="aps")
    assert broken.status_code == 400 and "Nothing was added" in text(broken)


def test_ap_list_alignment_from_the_console(client, harbour_ops, svc, tmp_path):
    """The form's alignment moves positions read off the file's plan; malformed points are a 400, nothing added."""
    from fingerprints.drafts import DraftStore

    plan, aps, _samples = _files(tmp_path)
    draft_url = client.post(V + "/drafts", data={"csrf_token": harbour_ops.csrf(), "title": "x"}).headers["Location"]
    steps = draft_url + "/steps"
    assert upload(client, harbour_ops, steps, plan.read_bytes(), "plan.zip", kind="imdf").status_code == 303
    for bad in ("0,0=1,1", "0,0=1,1; 0,0=2,2", "x" * 300):
        resp = upload(client, harbour_ops, steps, aps.read_bytes(), "aps.csv", kind="aps", align=bad)
        assert resp.status_code == 400 and "align" in text(resp) and "Nothing was added" in text(resp)
    draft_id = draft_url.rstrip("/").rsplit("/", 1)[-1]
    assert len(DraftStore(svc.db, svc.venues).get("harbour", draft_id).steps) == 1  # the plan only
    moved = upload(client, harbour_ops, steps, aps.read_bytes(), "aps.csv", kind="aps", align="1,0.5=0,0; 11,0.5=10,0")
    assert moved.status_code == 303
    preview = DraftStore(svc.db, svc.venues).preview("harbour", draft_id)[1]
    first = next(ap for ap in preview.aps if ap.bssid == "f0:9f:c2:2b:00:01")
    assert (first.x, first.y) == (4.0, 4.5)


def test_ap_list_devices_left_out_are_said_on_the_draft_page(client, harbour_ops, tmp_path):
    """A Meraki device list with APs on no floor plan and a switch: the list is imported without them, and the
    console said nothing of them (the CLI prints them). They are flashed with why, in the page's language."""
    import json

    from fingerprints.imdf import Origin

    plan, _aps, _samples = _files(tmp_path)
    draft_url = client.post(V + "/drafts", data={"csrf_token": harbour_ops.csrf(), "title": "x"}).headers["Location"]
    steps = draft_url + "/steps"
    assert upload(client, harbour_ops, steps, plan.read_bytes(), "plan.zip", kind="imdf").status_code == 303
    place = Origin(114.17, 22.3)  # the fixture plan's own origin
    corners = {k: dict(zip(("lng", "lat"), place.to_lonlat(x, y), strict=True))
               for k, (x, y) in (("topLeftCorner", (0, 0)), ("topRightCorner", (60, 0)), ("bottomLeftCorner", (0, 24)))}
    plans = json.dumps([{"floorPlanId": "g", "name": "L0", **corners}]).encode()
    lng, lat = place.to_lonlat(30, 12)
    devices = json.dumps([
        {"name": "G-01", "mac": "0c:8d:db:00:02:01", "model": "MR46", "lat": lat, "lng": lng, "floorPlanId": "g"},
        {"name": "L1-01", "mac": "0c:8d:db:00:03:01", "model": "MR46", "lat": lat, "lng": lng, "floorPlanId": None},
        {"name": "Core switch", "mac": "0c:8d:db:00:ff:01", "model": "MS225-48"},
    ]).encode()

    def add(lang: str) -> str:
        resp = client.post(steps + f"?lang={lang}", data={
            "csrf_token": harbour_ops.csrf(), "kind": "aps", "format": "meraki",
            "file": (io.BytesIO(devices), "devices.json"), "companion": (io.BytesIO(plans), "plans.json")},
            content_type="multipart/form-data")
        assert resp.status_code == 303
        return text(client.get(draft_url + f"?lang={lang}"))

    page = add("en")
    assert "Added to the draft: 1 APs from devices.json." in page
    assert ("2 device(s) of the AP list were left out: L1-01: on no floor plan; Core switch: MS225-48 is not an AP. "
            "Place the APs among them on the map by hand") in page
    page = add("zh")
    assert "L1-01：不在任何平面图上" in page and "Core switch：MS225-48 不是 AP" in page
    assert "were left out" not in page


def test_only_the_venues_operator(client, console, svc):
    console.login("ops")  # the demo venue's operator
    assert client.get(V + "/drafts").status_code == 403
    assert client.get(V + "/checklist").status_code == 403
    console.logout()
    console.login("cinema")  # an owner
    assert client.get("/console/ops/demo/drafts").status_code == 403
    console.logout()
    assert client.get("/console/ops/demo/drafts").status_code == 302


def test_a_new_venues_console_links_only_pages_that_open(client, harbour_ops):
    """Before its first map a venue's pages that need one answer 404 ("Unknown venue"); its home and every
    page's menu linked them all the same."""
    for page in ("/", "/checklist", "/drafts", "/owners", "/audit", "/outbox"):
        links = set(re.findall(r'href="(/console/[^"#?]+)', client.get(V + page).get_data(as_text=True)))
        assert V + "/" in links and V + "/setup" not in links, page
        assert [link for link in sorted(links) if client.get(link).status_code != 200] == [], page
    harbour_ops.logout()
    harbour_ops.login("ops")  # a venue with a map: every page linked
    assert 'href="/console/ops/demo/setup"' in text(client.get("/console/ops/demo/"))
    assert 'href="/console/ops/demo/health"' in text(client.get("/console/ops/demo/drafts"))


def test_draft_preview_of_a_plan_import(client, harbour_ops):
    draft_url = client.post(V + "/drafts", data={"csrf_token": harbour_ops.csrf(), "title": "p"}).headers["Location"]
    upload(client, harbour_ops, draft_url + "/steps", imdf_zip_bytes(mall_archive()), "p.zip", kind="walkways")
    page = text(client.get(draft_url))
    assert "replace_walkways" in page


def test_a_unit_drawn_in_several_parts_is_noted_on_the_draft(client, harbour_ops, svc):
    draft_url = client.post(V + "/drafts", data={"csrf_token": harbour_ops.csrf(), "title": "x"}).headers["Location"]
    plan = imdf_zip_bytes(split_unit(mall_archive(levels=2)))
    assert upload(client, harbour_ops, draft_url + "/steps", plan, "plan.zip", kind="imdf").status_code == 303
    page = text(client.get(draft_url + "?lang=en"))
    assert "The import noted: unit.geojson: feature" in page
    assert "(Books 0)" in page
    assert "1 other part(s) dropped (50.0 m²)" in page
    assert "IMDF plan.zip (1 import note(s))" in page  # in the step list, kept with the draft
    again = text(client.get(draft_url + "?lang=en"))
    assert "1 other part(s) dropped" not in again and "import note(s)" in again


def test_a_drafts_steps_are_said_in_the_pages_language(client, harbour_ops, tmp_path):
    """A step's note was stored as English words and shown so on the Chinese page: it keeps its catalog
    message, so each page says it in its language (the CLI's `map-draft show` the same English)."""
    plan, aps, samples = _files(tmp_path)
    draft_url = client.post(V + "/drafts", data={"csrf_token": harbour_ops.csrf(), "title": "x"}).headers["Location"]
    split = imdf_zip_bytes(split_unit(mall_archive(levels=2)))
    resp = upload(client, harbour_ops, draft_url + "/steps?lang=zh", split, "plan.zip", kind="imdf")
    assert resp.status_code == 303
    flashed = text(client.get(draft_url + "?lang=zh"))
    assert "已加入草稿：IMDF plan.zip（1 条导入说明）" in flashed  # the flash, and the step below
    assert "unit.geojson：要素 " in flashed and "unit.geojson: feature" not in flashed  # the note's place too
    for payload, name, kind in ((aps, "aps.csv", "aps"), (samples, "s.csv", "samples"), (split, "w.zip", "walkways")):
        assert upload(client, harbour_ops, draft_url + "/steps", payload.read_bytes() if kind != "walkways"
                      else payload, name, kind=kind).status_code == 303
    steps = re.search(r'<ol id="draft-steps">(.*?)</ol>', text(client.get(draft_url + "?lang=zh")), re.S).group(1)
    assert "IMDF plan.zip（1 条导入说明）" in steps and "来自 aps.csv 的 12 个接入点" in steps
    assert re.search(r"来自 s\.csv 的 \d+ 个样本", steps) and re.search(r"来自 w\.zip 的通道：\d+ 个节点", steps)
    assert not re.search(r"kept only|APs from|samples from|walkways from", steps)
    steps = text(client.get(draft_url + "?lang=en"))
    assert "IMDF plan.zip (1 import note(s))" in steps and "12 APs from aps.csv" in steps
    assert re.search(r"walkways from w\.zip: \d+ nodes, \d+ links", steps)



def _opened_harbour(client, ops, tmp_path):
    """harbour opened through one applied draft: its plan, 12 APs and a MallPortal survey."""
    plan, aps, samples = _files(tmp_path)
    draft_url = client.post(V + "/drafts", data={"csrf_token": ops.csrf(), "title": "Opening"}).headers["Location"]
    for payload, name, kind in ((plan, "plan.zip", "imdf"), (aps, "aps.csv", "aps"), (samples, "s.csv", "samples")):
        assert upload(client, ops, draft_url + "/steps", payload.read_bytes(), name, kind=kind).status_code == 303
    assert client.post(draft_url + "/apply", data={"csrf_token": ops.csrf()}).status_code == 303


def test_the_draft_survey_step_takes_the_uji_sidecar_format_and_scans(client, harbour_ops, svc, tmp_path):
    """A UJIIndoorLoc survey numbered in the survey tool's own WAP order (as many WAPs as the venue has APs)
    was read by position: every reading on the wrong AP, no error. The draft's step takes the sidecar (and
    the format and scans per point, as the set-up page's import does) and refuses the file without it."""
    _opened_harbour(client, harbour_ops, tmp_path)
    truth = svc.venues.get_map("harbour")
    data, sidecar = _reversed_uji(truth)
    draft_url = client.post(V + "/drafts", data={"csrf_token": harbour_ops.csrf(), "title": "UJI"}).headers["Location"]
    form = text(client.get(draft_url)).split('id="add-samples"', 1)[1].split("</form>", 1)[0]
    assert all(f'name="{name}"' in form for name in ("file", "waps", "format", "scans", "venue_order"))
    steps = draft_url + "/steps"
    bare = upload(client, harbour_ops, steps, data, "tool_uji.csv", kind="samples", format="ujiindoorloc")
    assert bare.status_code == 400 and "Nothing was added" in text(bare) and "no WAP,BSSID sidecar" in text(bare)
    resp = client.post(steps, data={"csrf_token": harbour_ops.csrf(), "kind": "samples", "format": "ujiindoorloc",
                                    "scans": "5", "file": (io.BytesIO(data), "tool_uji.csv"),
                                    "waps": (io.BytesIO(sidecar), "tool_uji.waps.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code == 303, text(resp)[-800:]
    assert client.post(draft_url + "/apply", data={"csrf_token": harbour_ops.csrf()}).status_code == 303
    stored = svc.venues.get_map("harbour")
    assert stored.version == truth.version + 1 and len(stored.samples) == len(truth.samples)
    place = {(s.floor, s.x, s.y): s.rssi for s in truth.samples}
    assert all(s.rssi == place[(s.floor, s.x, s.y)] for s in stored.samples)  # each reading on its own AP
    assert {s.n for s in stored.samples} == {5}


def test_the_draft_survey_step_reads_the_venues_own_export_by_position_only_when_told(client, harbour_ops, svc,
                                                                                      tmp_path):
    _opened_harbour(client, harbour_ops, tmp_path)
    truth = svc.venues.get_map("harbour")
    own = client.get(V + "/setup/samples.csv?format=ujiindoorloc").data
    draft_url = client.post(V + "/drafts", data={"csrf_token": harbour_ops.csrf(), "title": "own"}).headers["Location"]
    steps = draft_url + "/steps"
    assert upload(client, harbour_ops, steps, own, "own.csv", kind="samples").status_code == 400
    assert upload(client, harbour_ops, steps, own, "own.csv", kind="samples", venue_order="1").status_code == 303
    bad = upload(client, harbour_ops, steps, own, "own.csv", kind="samples", format="excel")
    assert bad.status_code == 400 and "Unknown sample format" in text(bad)
    bad = upload(client, harbour_ops, steps, own, "own.csv", kind="samples", venue_order="1", scans="0")
    assert bad.status_code == 400 and "Scans per point" in text(bad)
    assert client.post(draft_url + "/apply", data={"csrf_token": harbour_ops.csrf()}).status_code == 303
    stored = svc.venues.get_map("harbour")
    place = {(s.floor, s.x, s.y): s.rssi for s in truth.samples}
    assert all(s.rssi == place[(s.floor, s.x, s.y)] for s in stored.samples) and {s.n for s in stored.samples} == {1}


def test_a_survey_walked_floor_by_floor_is_appended_in_a_draft(client, harbour_ops, svc, tmp_path):
    """The draft's samples step always replaced the survey (the CLI had --mode, the form had none): a survey
    uploaded floor by floor, one file per floor, kept only the last file. The form now has the set-up page's
    mode; the step names it; a mode that is neither is a 400 and adds nothing; only the venue's operator adds."""
    _opened_harbour(client, harbour_ops, tmp_path)
    whole = client.get(V + "/setup/samples.csv").get_data(as_text=True)
    header, *rows = whole.splitlines()
    per_floor = {}
    for row in rows:
        per_floor.setdefault(row.split(",")[1], []).append(row)
    assert len(per_floor) >= 2  # the fixture's survey covers more than one floor
    draft_url = client.post(V + "/drafts", data={"csrf_token": harbour_ops.csrf(), "title": "resurvey"}).headers[
        "Location"]
    form = text(client.get(draft_url)).split('id="add-samples"', 1)[1].split("</form>", 1)[0]
    assert 'name="mode"' in form and 'value="append"' in form
    steps = draft_url + "/steps"
    bad = upload(client, harbour_ops, steps, whole.encode(), "s.csv", kind="samples", mode="merge")
    assert bad.status_code == 400 and "Mode must be replace or append" in text(bad)
    for i, (floor, floor_rows) in enumerate(sorted(per_floor.items())):
        payload = "\n".join([header, *floor_rows]).encode()
        resp = upload(client, harbour_ops, steps, payload, f"floor{floor}.csv", kind="samples",
                      mode="replace" if i == 0 else "append")
        assert resp.status_code == 303
    page = text(client.get(draft_url + "?lang=en"))
    assert re.search(r"\d+ samples \(replace\) from floor\S+\.csv", page)
    assert re.search(r"\d+ samples \(append\) from floor\S+\.csv", page)
    before = svc.venues.get_map("harbour")
    assert client.post(draft_url + "/apply", data={"csrf_token": harbour_ops.csrf()}).status_code == 303
    after = svc.venues.get_map("harbour")
    assert after.version == before.version + 1
    assert sorted((s.floor, s.x, s.y) for s in after.samples) == sorted((s.floor, s.x, s.y) for s in before.samples)


def test_only_the_venues_operator_adds_survey_steps(client, console, harbour_ops, svc, tmp_path):
    _opened_harbour(client, harbour_ops, tmp_path)
    draft_url = client.post(V + "/drafts", data={"csrf_token": harbour_ops.csrf(), "title": "x"}).headers["Location"]
    survey = client.get(V + "/setup/samples.csv").data
    AccountStore(svc.db).create("other-ops", "other-pass-12", "operator", "elsewhere")
    console.login("other-ops", "other-pass-12")
    resp = upload(client, console, draft_url + "/steps", survey, "s.csv", kind="samples", mode="append")
    assert resp.status_code == 403
    console.logout()
    resp = client.post(draft_url + "/steps", data={"kind": "samples", "mode": "append",
                                                   "file": (io.BytesIO(survey), "s.csv")},
                       content_type="multipart/form-data")
    assert resp.status_code in (302, 400, 401, 403)  # signed out: no CSRF token, no session
    console.login("harbour-ops", "harbour-pass-1")
    assert "s.csv" not in re.search(r'<ol id="draft-steps">(.*?)</ol>|$', text(client.get(draft_url)), re.S).group(0)
