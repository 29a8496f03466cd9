"""The errors the operator console shows from fingerprints/ (a survey CSV's bad cell or column, an AP list, a busy
map, a survey point heard too little, a validation walk's route) are said in the page's language: each carries its
catalog message (core.errors.CatalogInputError, CatalogProblems) and the views show it with
portal.errors.input_error_text. The English is the CLI's, word for word (tests/maps/test_error_catalog_messages.py).

The zh cases need the new msgids translated and compiled (the lead adds them to translations/)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from fingerprints.drafts import DraftStore
from fingerprints.store import VenueKeysMap, VenueStore
from fingerprints.survey import SurveyKeys, SurveyStore
from portal.maps.validation import LiveWalks
from tests.pages import visible_text

V = "/console/ops/demo"
MAC = "02:00:5e:00:53:42"



def upload(client, ops, url, files: dict[str, tuple[bytes, str]], **data):
    payload = {name: (io.BytesIO(content), filename) for name, (content, filename) in files.items()}
    return client.post(url, data={"csrf_token": ops.csrf(), **payload, **data}, content_type="multipart/form-data")


def samples_csv(client) -> tuple[str, list[str]]:
    """The demo's own samples export: (header, first row's cells)."""
    header, first, *_ = client.get(V + "/setup/samples.csv").get_data(as_text=True).splitlines()
    return header, first.split(",")


# -- survey / sample CSV import ----------------------------------------------------------------------------


@pytest.mark.parametrize(("column", "cell", "lang", "shown", "not_shown"), [
    (2, "abc", "zh", "bad.csv：第 2 行 x 列：'abc' 不是数字", "is not a number"),
    (2, "abc", "en", "bad.csv: line 2, column x: 'abc' is not a number", "不是数字"),
    # the survey's floor may be named as the AP list names it; a name the venue lacks lists its floors
    (1, "Level 9", "zh", "bad.csv：第 2 行 floor 列：'Level 9' 既不是楼层编号，也不是场馆的楼层名称：0 (",
     "is neither"),
    (1, "Level 9", "en", "bad.csv: line 2, column floor: 'Level 9' is neither a floor number nor one of the venue's "
                         "floor names: 0 (", "既不是"),
])
def test_a_bad_cell_of_a_samples_csv_is_said_in_the_page_language(client, ops, svc, column, cell, lang, shown,
                                                                  not_shown):
    header, cells = samples_csv(client)
    bad = header + "\n" + ",".join([*cells[:column], cell, *cells[column + 1:]]) + "\n"
    before = svc.venues.current_version("demo")
    resp = upload(client, ops, V + f"/setup/import-samples?lang={lang}", {"samples": (bad.encode(), "bad.csv")},
                  mode="replace")
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and shown in text and not_shown not in text
    assert svc.venues.current_version("demo") == before


@pytest.mark.parametrize(("lang", "shown", "not_shown"), [
    ("zh", "big.csv：第 2 行：不是可读的 CSV（field larger than field limit", "big.csv：第 2 行：field"),
    ("en", "big.csv: line 2: not a readable CSV (field larger than field limit", "不是可读的"),
])
def test_a_samples_csv_the_csv_reader_refuses_is_said_in_the_page_language(client, ops, lang, shown, not_shown):
    """The csv module's own English reason was the whole message after the line; now the detail of one."""
    header, cells = samples_csv(client)
    big = header + "\n" + ",".join([*cells[:4], "x" * 200_000, *cells[5:]]) + "\n"
    resp = upload(client, ops, V + f"/setup/import-samples?lang={lang}", {"samples": (big.encode(), "big.csv")},
                  mode="replace")
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and shown in text and not_shown not in text


@pytest.mark.parametrize(("lang", "shown"), [
    ("zh", "AP {b} 出现了两次"),
    ("en", "AP {b} appears twice"),
])
def test_a_samples_csv_naming_an_ap_twice_is_said_in_the_page_language(client, ops, lang, shown):
    header, cells = samples_csv(client)
    bssid = header.split(",")[5]
    twice = header + "," + bssid + "\n" + ",".join(cells) + ",-60\n"
    resp = upload(client, ops, V + f"/setup/import-samples?lang={lang}", {"samples": (twice.encode(), "dup.csv")},
                  mode="replace")
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and shown.format(b=bssid) in text
    assert ("appears twice" in text) == (lang == "en")


def test_a_draft_step_of_survey_samples_says_a_bad_header_in_chinese(client, ops, svc):
    draft = DraftStore(svc.db, svc.venues).open("demo", "survey")
    resp = upload(client, ops, V + f"/drafts/{draft.id}/steps?lang=zh", {"file": (b"floor,x,y\n0,1,2\n", "s.csv")},
                  kind="samples")
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and "未添加任何内容" in text
    assert "s.csv：第 1 行：缺少列 building, zone" in text and "missing column" not in text


# -- AP lists -------------------------------------------------------------------------------------------


AP_CSV = b"name,bssids,level,x_m,y_m\nAP-9,f0:9f:c2:1a:09:01,9,5,5\n"


@pytest.mark.parametrize(("lang", "shown", "not_shown"), [
    ("zh", ["AP 列表未导入（1 个问题）", "第 2 行：楼层 '9' 不是本场馆的楼层：0 (G)，1 (L1)"], "AP list not imported"),
    ("en", ["AP list not imported (1 problem(s))", "row 2: floor '9' is not one of the venue's floors: 0 (G), 1 (L1)"],
     "AP 列表未导入"),
])
def test_an_ap_list_with_an_unknown_floor_is_said_in_the_page_language(client, ops, svc, lang, shown, not_shown):
    draft = DraftStore(svc.db, svc.venues).open("demo", "aps")
    resp = upload(client, ops, V + f"/drafts/{draft.id}/steps?lang={lang}", {"file": (AP_CSV, "aps.csv")},
                  kind="aps")
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and all(s in text for s in shown) and not_shown not in text
    assert DraftStore(svc.db, svc.venues).get("demo", draft.id).steps == []


def test_an_ap_list_naming_a_column_twice_is_said_in_chinese(client, ops, svc):
    draft = DraftStore(svc.db, svc.venues).open("demo", "aps")
    twice = b"name,bssids,level,x_m,y_m,x_m\nAP-1,f0:9f:c2:1a:09:01,0,5,5,6\n"
    resp = upload(client, ops, V + f"/drafts/{draft.id}/steps?lang=zh", {"file": (twice, "aps.csv")}, kind="aps")
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and "第 1 行：'x_m' 列出现了两次（表头第 4 列和第 6 列）；请只保留一列" in text
    assert "appears twice" not in text


# -- a map change while another holds the map -------------------------------------------------------------


@pytest.fixture
def busy_map(svc, monkeypatch):
    """Another change holds the demo's map lock for the whole test; the views wait 0.2 s for it, not 30 s."""
    held = svc.db.lock(VenueKeysMap("demo").edit_lock(), timeout=120)
    assert held.acquire(blocking=False)
    venues = svc.venues
    monkeypatch.setattr(venues, "edit_lock",
                        lambda venue, timeout_s=0.2: VenueStore.edit_lock(venues, venue, timeout_s))
    yield
    held.release()


@pytest.mark.parametrize(("lang", "shown"), [
    ("zh", "地图正在进行其他修改，本次未保存任何内容。请稍后再试。"),
    ("en", "The map is busy with another change; nothing was stored. Try again in a moment."),
])
def test_applying_a_draft_to_a_busy_map_says_so_in_the_page_language(client, ops, svc, busy_map, lang, shown):
    draft = DraftStore(svc.db, svc.venues).open("demo", "later")
    before = svc.venues.current_version("demo")
    resp = client.post(V + f"/drafts/{draft.id}/apply?lang={lang}", data={"csrf_token": ops.csrf()})
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and shown in text and "the map is busy" not in text
    assert svc.venues.current_version("demo") == before


@pytest.mark.parametrize(("lang", "shown"), [
    ("zh", "地图正在进行其他修改，本次未保存任何内容。请稍后再试。"),
    ("en", "The map is busy with another change; nothing was stored. Try again in a moment."),
])
def test_a_console_map_edit_on_a_busy_map_says_so_in_the_page_language(client, ops, svc, busy_map, lang, shown):
    """change_map (every set-up tool's edit) lets MapBusyError through to the view, which says it."""
    before = svc.venues.current_version("demo")
    resp = client.post(V + f"/setup/floors?lang={lang}", data={
        "csrf_token": ops.csrf(), "level": "7", "name": "L7", "width_m": "50", "height_m": "40"})
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and shown in text
    assert svc.venues.current_version("demo") == before


def test_a_rollback_on_a_busy_map_says_the_map_is_busy_not_that_the_version_is_missing(client, ops, svc, busy_map):
    version = svc.venues.current_version("demo")
    resp = client.post(V + "/versions/rollback?lang=zh", data={"csrf_token": ops.csrf(), "version": str(version)})
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 409 and "地图正在进行其他修改" in text
    assert "没有地图版本" not in text and "There is no map version" not in text


# -- a survey point heard too little (a flash, and the survey page after it) ------------------------------


@pytest.mark.parametrize(("lang", "shown", "not_shown"), [
    ("zh", "只收到勘测设备的 0 次扫描；至少需要 3 次", "scan(s) of the survey device"),
    ("en", "only 0 scan(s) of the survey device were heard; at least 3 are needed", "次扫描"),
])
def test_a_point_heard_too_little_is_said_in_the_page_language(client, ops, svc, lang, shown, not_shown):
    resp = client.post(V + "/survey/devices", data={"csrf_token": ops.csrf(), "mac": MAC, "label": "phone"})
    assert resp.status_code == 303
    device = svc.hasher.client_id(MAC)
    form = {"csrf_token": ops.csrf(), "device": device, "floor": "0", "x": "10", "y": "10", "duration": "3"}
    assert client.post(V + "/survey/start", data=form).status_code == 303
    resp = client.post(V + f"/survey/finish?lang={lang}", data={"csrf_token": ops.csrf(), "device": device},
                       follow_redirects=True)  # the flash, on the survey page the finish sends back to
    text = visible_text(resp.get_data(as_text=True))
    assert shown in text and not_shown not in text
    client.post(V + "/survey/cancel", data={"csrf_token": ops.csrf(), "device": device})


# -- a validation walk's route --------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "shown", "not_shown"), [
    ("zh", "路线 CSV 第 2 行：(999, 30) 超出楼层 0 的平面图（x 0 至 120 米，y 0 至 60 米）", "is off the plan"),
    ("en", "route CSV line 2: (999, 30) is off the plan of floor 0 (x 0 to 120 m, y 0 to 60 m)", "超出楼层"),
])
def test_a_route_point_off_the_plan_is_said_in_the_page_language(client, ops, svc, lang, shown, not_shown):
    route = b"ts,floor,x,y\n1796200000,0,999,30\n"
    readings = b"ts,ap,rssi\n1796200000,f0:9f:c2:1a:00:01,-60\n"
    resp = upload(client, ops, V + f"/validation?lang={lang}",
                  {"route": (route, "route.csv"), "readings": (readings, "readings.csv")})
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and shown in text and not_shown not in text


# -- Meraki / UniFi / Ekahau AP lists: the locators and the reasons nothing was placed ------------------------


MERAKI_PLANS = json.dumps([{"floorPlanId": "p2", "name": "Basement"}]).encode()
MERAKI_DEVICES = json.dumps([1, {"name": "sw", "model": "MS220"},
                             {"name": "ap1", "model": "MR46", "floorPlanId": "p2", "lat": 22.2852, "lng": 114.1585,
                              "mac": "f0:9f:c2:1a:00:99"}]).encode()


@pytest.mark.parametrize(("lang", "shown", "not_shown"), [
    ("zh", ["AP 列表未导入（2 个问题）", "设备 #0：不是 JSON 对象",
            "平面图 'Basement'：楼层 'Basement' 不是本场馆的楼层"], "is not one of the venue's floors"),
    ("en", ["AP list not imported (2 problem(s))", "device #0: not an object",
            "floor plan 'Basement': floor 'Basement' is not one of the venue's floors: 0 (G), 1 (L1)"], "平面图"),
])
def test_a_meraki_list_on_an_unknown_floor_plan_is_said_in_the_page_language(client, ops, svc, lang, shown, not_shown):
    draft = DraftStore(svc.db, svc.venues).open("demo", "aps")
    resp = upload(client, ops, V + f"/drafts/{draft.id}/steps?lang={lang}",
                  {"file": (MERAKI_DEVICES, "devices.json"), "companion": (MERAKI_PLANS, "plans.json")},
                  kind="aps", format="meraki")
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and all(s in text for s in shown) and not_shown not in text
    assert DraftStore(svc.db, svc.venues).get("demo", draft.id).steps == []


@pytest.mark.parametrize(("lang", "shown", "not_shown"), [
    ("zh", ["该文件没有放置任何 AP", "sw：不是 AP（usw）", "u2：未放置在地图上"], "not an AP"),
    ("en", ["the file places no AP (sw: not an AP (usw); u2: not placed on a map)"], "不是 AP"),
])
def test_the_reasons_a_unifi_list_places_no_ap_are_said_in_the_page_language(client, ops, svc, lang, shown, not_shown):
    devices = {"data": [{"type": "usw", "name": "sw"},  # a switch, and an AP on a map the list does not have
                        {"type": "uap", "name": "u2", "mac": "f0:9f:c2:1a:00:98", "x": 1, "y": 1, "map_id": "gone"}]}
    draft = DraftStore(svc.db, svc.venues).open("demo", "aps")
    resp = upload(client, ops, V + f"/drafts/{draft.id}/steps?lang={lang}",
                  {"file": (json.dumps(devices).encode(), "devices.json"), "companion": (b'{"data": []}', "maps.json")},
                  kind="aps", format="unifi")
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and all(s in text for s in shown) and not_shown not in text


@pytest.mark.parametrize(("lang", "shown", "not_shown"), [
    ("zh", "设备 #0：未放置在地图上", "device #"),
    ("en", "the file places no AP (device #0: not placed on a map)", "设备"),
])
def test_a_device_with_no_name_is_said_in_the_page_language(client, ops, svc, lang, shown, not_shown):
    """A device the list names by no name, serial or MAC is named by its place in the list, in the page's words."""
    devices = {"data": [{"type": "uap", "x": 1, "y": 1, "map_id": "gone"}]}
    draft = DraftStore(svc.db, svc.venues).open("demo", "aps")
    resp = upload(client, ops, V + f"/drafts/{draft.id}/steps?lang={lang}",
                  {"file": (json.dumps(devices).encode(), "devices.json"), "companion": (b'{"data": []}', "maps.json")},
                  kind="aps", format="unifi")
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and shown in text and not_shown not in text


# -- archives and IMDF ------------------------------------------------------------------------------------


def zip_of(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return buf.getvalue()


@pytest.mark.parametrize(("lang", "shown", "not_shown"), [
    ("zh", ["未导入任何内容", "manifest.json：解压后膨胀", "倍（最多 200 倍）：视为压缩炸弹，已拒绝"], "zip bomb"),
    ("en", ["Nothing was imported.", "manifest.json: expands", "times (at most 200): refused as a zip bomb"],
     "压缩炸弹"),
])
def test_a_zip_bomb_is_refused_in_the_page_language(client, ops, svc, lang, shown, not_shown):
    before = svc.venues.current_version("demo")
    bomb = zip_of({"manifest.json": " " * 3 * 2**20})
    resp = upload(client, ops, V + f"/setup/import-imdf?lang={lang}", {"imdf": (bomb, "bomb.zip")})
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and all(s in text for s in shown) and not_shown not in text
    assert svc.venues.current_version("demo") == before


def demo_imdf(client) -> dict[str, dict]:
    """The demo's own IMDF export, as {file name: JSON}."""
    resp = client.get(V + "/setup/export.imdf.zip")
    assert resp.status_code == 200
    with zipfile.ZipFile(io.BytesIO(resp.data)) as zf:
        return {name: json.loads(zf.read(name)) for name in zf.namelist()}


@pytest.mark.parametrize(("lang", "shown", "not_shown"), [
    ("zh", ["IMDF 压缩包无效（2 个问题）", "manifest.json：不支持版本 '9.9'（应为 '1.0.0'）",
            "：几何图形：多边形没有环"], "is not supported"),
    ("en", ["invalid IMDF archive (2 problem(s))", "manifest.json: version '9.9' is not supported (expected '1.0.0')",
            "geometry: polygon has no rings"], "不支持版本"),
])
def test_the_problems_of_an_imdf_archive_are_said_in_the_page_language(client, ops, svc, lang, shown, not_shown):
    files = demo_imdf(client)
    files["manifest.json"]["version"] = "9.9"
    files["unit.geojson"]["features"][0]["geometry"] = {"type": "Polygon", "coordinates": []}
    before = svc.venues.current_version("demo")
    archive = zip_of({name: json.dumps(doc) for name, doc in files.items()})
    resp = upload(client, ops, V + f"/setup/import-imdf?lang={lang}", {"imdf": (archive, "demo.zip")})
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and all(s in text for s in shown) and not_shown not in text
    assert svc.venues.current_version("demo") == before


@pytest.mark.parametrize(("lang", "words"), [
    ("zh", {"id": "unit.geojson：要素 #0：id None 不是 UUID",
            "geometry": "unit.geojson：要素 {unit}：几何图形：多边形的环未闭合",
            "bssid": "mallportal_aps.geojson：要素 {ap}：BSSID 'zz' 格式不对", "not": "feature"}),
    ("en", {"id": "unit.geojson: feature #0: id None is not a UUID",
            "geometry": "unit.geojson: feature {unit}: geometry: polygon ring is not closed",
            "bssid": "mallportal_aps.geojson: feature {ap}: malformed BSSID 'zz'", "not": "要素"}),
])
def test_where_an_imdf_problem_is_is_said_in_the_page_language(client, ops, svc, lang, words):
    """The place a problem names (a file's feature, its geometry) was English on the Chinese page."""
    files = demo_imdf(client)
    units = files["unit.geojson"]["features"]
    del units[0]["id"]  # no id: named by its place in the list
    ring = units[1]["geometry"]["coordinates"][0]
    ring[-1] = [ring[-1][0] + 0.001, ring[-1][1]]
    before = svc.venues.current_version("demo")
    resp = upload(client, ops, V + f"/setup/import-imdf?lang={lang}",
                  {"imdf": (zip_of({name: json.dumps(doc) for name, doc in files.items()}), "demo.zip")})
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and words["id"] in text and words["not"] not in text
    assert words["geometry"].format(unit=units[1]["id"]) in text
    files = demo_imdf(client)
    ap = files["mallportal_aps.geojson"]["features"][0]
    ap["properties"]["bssid"] = "zz"  # found when the map is built, after the archive's checks
    resp = upload(client, ops, V + f"/setup/import-imdf?lang={lang}",
                  {"imdf": (zip_of({name: json.dumps(doc) for name, doc in files.items()}), "demo.zip")})
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and words["bssid"].format(ap=ap["id"]) in text and words["not"] not in text
    assert svc.venues.current_version("demo") == before


@pytest.mark.parametrize(("lang", "shown", "not_shown"), [
    ("zh", "区域 {z} 位于楼层 7，而场馆没有该楼层", "which the venue does not have"),
    ("en", "zone {z} is on floor 7, which the venue does not have", "而场馆没有该楼层"),
])
def test_an_imdf_export_refused_is_said_in_the_page_language(client, ops, svc, lang, shown, not_shown):
    with svc.venues.edit("demo", "test.zone_floor", by="test") as venue_map:  # a map older checks let through
        zone = venue_map.zones[0]
        zone.floor = 7
    resp = client.get(V + f"/setup/export.imdf.zip?lang={lang}")
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and shown.format(z=zone.id) in text and not_shown not in text


# -- a live validation walk, and a survey point finished elsewhere --------------------------------------------


@pytest.mark.parametrize(("lang", "shown", "not_shown"), [
    ("zh", "这次验证行走已结束", "this walk is finished"),
    ("en", "this walk is finished", "这次验证行走已结束"),
])
def test_marking_a_finished_walk_is_said_in_the_page_language(client, ops, svc, lang, shown, not_shown):
    walks = LiveWalks(svc.db)
    walk_id = walks.start("demo", svc.hasher.client_id(MAC), [(0, 10.0, 10.0)], "ops",
                          svc.venues.current_version("demo"))
    assert walks.finish("demo", walk_id)
    resp = client.post(V + f"/walk/{walk_id}/mark?lang={lang}", data={"csrf_token": ops.csrf(), "point": "0"})
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 409 and shown in text and not_shown not in text
    assert walks.get("demo", walk_id)["marks"] == []


@pytest.mark.parametrize(("lang", "shown", "not_shown"), [
    ("zh", "这个勘测点刚刚已在别处完成", "finished elsewhere"),
    ("en", "This survey point was just finished elsewhere (another tab, or its timer)", "已在别处完成"),
])
def test_a_point_finished_elsewhere_meanwhile_is_said_in_the_page_language(client, ops, svc, monkeypatch, lang, shown,
                                                                          not_shown):
    resp = client.post(V + "/survey/devices", data={"csrf_token": ops.csrf(), "mac": MAC, "label": "phone"})
    assert resp.status_code == 303
    device = svc.hasher.client_id(MAC)
    form = {"csrf_token": ops.csrf(), "device": device, "floor": "0", "x": "10", "y": "10", "duration": "3"}
    assert client.post(V + "/survey/start", data=form).status_code == 303

    def finished_by_another(store, venue, client_id, **kwargs):
        """Another finisher (a second tab, the timer) claimed the point first: the store's own refusal."""
        store.db.delete(SurveyKeys(venue).point(client_id))
        raise ValueError("no survey point in progress for this device (finished elsewhere)")

    monkeypatch.setattr(SurveyStore, "finish", finished_by_another)
    resp = client.post(V + f"/survey/finish?lang={lang}", data={"csrf_token": ops.csrf(), "device": device})
    text = visible_text(resp.get_data(as_text=True))
    assert resp.status_code == 400 and shown in text and not_shown not in text
