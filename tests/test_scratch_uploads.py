"""SCRATCH (to be deleted): hostile uploads against the console endpoints; prints a table of outcomes."""
from __future__ import annotations

import copy, html, io, json, re, signal, zipfile

import pytest

from fingerprints.imdf import export_imdf, imdf_zip_bytes, import_imdf
from fingerprints.model import AccessPoint
from portal.auth import AccountStore
from tests.maps.imdf_builder import mall_archive
from tests.maps.test_maps_ap_lists import _esx

OUT = []


class Slow(BaseException):
    pass


def post(client, ops, url, files=None, timeout=25, **data):
    body = {"csrf_token": ops.csrf(), **data}
    for k, (payload, name) in (files or {}).items():
        body[k] = (io.BytesIO(payload), name)

    def alarm(*a):
        raise Slow()
    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(timeout)
    try:
        resp = client.post(url, data=body, content_type="multipart/form-data")
        signal.alarm(0)
        return resp.status_code, html.unescape(resp.get_data(as_text=True))
    except Slow:
        return "HANG", ""
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def get(client, url, timeout=25):
    def alarm(*a):
        raise Slow()
    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(timeout)
    try:
        resp = client.get(url)
        signal.alarm(0)
        return resp.status_code, resp.get_data().decode("utf-8", "replace")
    except Slow:
        return "HANG", ""
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def flash_of(page):
    m = re.findall(r'class="[^"]*(?:error|flash)[^"]*"[^>]*>(.*?)<', page, re.S)
    return " | ".join(x.strip()[:160] for x in m if x.strip())[:300]


def record(name, res):
    status, page = res
    OUT.append((name, status, flash_of(page) if status not in (500, "HANG") else page[:120]))


def rawzip(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, v in files.items():
            zf.writestr(k, v if isinstance(v, (str, bytes)) else json.dumps(v))
    return buf.getvalue()


def ext_archive():
    m = import_imdf(mall_archive(), venue_id="harbour")
    m.aps.append(AccessPoint(bssid="f0:9f:c2:00:00:01", floor=0, x=5, y=5, name="a", height_m=3.0))
    return export_imdf(m)


@pytest.fixture
def harbour_ops(client, console, svc):
    AccountStore(svc.db).create("harbour-ops", "harbour-pass-1", "operator", "harbour")
    console.login("harbour-ops", "harbour-pass-1")
    return console


def imdf_cases():
    base = mall_archive()
    cases = {}
    f = {k: json.dumps(v) for k, v in base.items()}
    f["manifest.json"] = "[" * 100000 + "]" * 100000
    cases["deep JSON manifest"] = rawzip(f)
    f = {k: json.dumps(v) for k, v in base.items()}
    f["unit.geojson"] = f["unit.geojson"].replace("[114.", "[" + "1" + "0" * 400 + ", 114.", 0) if False else None
    u = copy.deepcopy(base["unit.geojson"])
    s = json.dumps(u)
    i = s.index("[114.")
    s = s[:i + 1] + "1" + "0" * 400 + s[s.index(",", i):]
    f["unit.geojson"] = s
    cases["400-digit integer longitude"] = rawzip(f)
    ext = ext_archive()
    for key, val in (("rotation_deg", float("nan")), ("building", float("inf")), ("origin_lon", 10**400)):
        e = copy.deepcopy(ext)
        e["mallportal_venue.geojson"]["features"][0]["properties"][key] = val
        cases[f"ext {key}={val!r:.12}"] = rawzip({k: json.dumps(v) for k, v in e.items()})
    e = copy.deepcopy(ext)
    e["mallportal_venue.geojson"]["features"][0]["properties"]["floors"][0]["width_m"] = 10**400
    cases["ext floors[0].width_m=10**400"] = rawzip({k: json.dumps(v) for k, v in e.items()})
    e = copy.deepcopy(ext)
    e["mallportal_aps.geojson"]["features"][0]["properties"]["height_m"] = 10**400
    cases["ext aps[0].height_m=10**400"] = rawzip({k: json.dumps(v) for k, v in e.items()})
    return cases


def test_scratch_draft_imdf_and_walkways(client, harbour_ops, svc):
    draft = client.post("/console/ops/harbour/drafts", data={"csrf_token": harbour_ops.csrf(), "title": "x"}).headers["Location"]
    for name, data in imdf_cases().items():
        for kind in ("imdf", "walkways"):
            record(f"drafts/steps kind={kind}: {name}", post(client, harbour_ops, draft + "/steps",
                                                               files={"file": (data, "p.zip")}, kind=kind))
    # kind=aps on a draft with the plan
    st = post(client, harbour_ops, draft + "/steps", files={"file": (imdf_zip_bytes(mall_archive()), "p.zip")}, kind="imdf")
    assert st[0] == 303, st
    H = "name,bssids,level,x_m,y_m\n"
    aps = {
        "CSV with CR-only line endings": ((H + "AP,00:11:22:33:44:55,0,5,5\n").replace("\n", "\r").encode(), "a.csv", "csv"),
        "CSV with a 200 000-char field": ((H + "A" * 200_000 + ",00:11:22:33:44:55,0,5,5\n").encode(), "a.csv", "csv"),
        "meraki deep JSON": (b"[" * 100000 + b"]" * 100000, "d.json", "meraki"),
        "unifi deep JSON": (b"[" * 100000 + b"]" * 100000, "d.json", "unifi"),
        "esx deep JSON": (rawzip({"floorPlans.json": "[" * 100000, "accessPoints.json": "{}"}), "p.esx", None),
    }
    for name, (data, fn, fmt) in aps.items():
        extra = {"format": fmt} if fmt else {}
        files = {"file": (data, fn)}
        if fmt == "meraki":
            files["companion"] = (b"[]", "c.json")
        record(f"drafts/steps kind=aps: {name}", post(client, harbour_ops, draft + "/steps", files=files, kind="aps", **extra))
    # floors that do not exist
    record("drafts/steps kind=aps floors='X=999'", post(client, harbour_ops, draft + "/steps",
           files={"file": ((H + "AP,00:11:22:33:44:55,X,5,5\n").encode(), "a.csv")}, kind="aps", floors="X=999"))
    for line in OUT:
        print("ROW", line)


def test_scratch_draft_meraki_corners_on_demo(client, console, svc):
    console.login("ops")
    draft = client.post("/console/ops/demo/drafts", data={"csrf_token": console.csrf(), "title": "x"}).headers["Location"]
    dev = [{"name": "AP", "mac": "00:11:22:33:44:55", "model": "MR46", "lat": 22.2999, "lng": 114.1701, "floorPlanId": "fp"}]
    plans = [{"floorPlanId": "fp", "name": "G", "topLeftCorner": {"lat": 22.3, "lng": 10**400},
              "topRightCorner": {"lat": 22.3, "lng": 114.171}, "bottomLeftCorner": {"lat": 22.299, "lng": 114.17}}]
    record("demo drafts/steps kind=aps format=meraki corner lng=10**400 (int)", post(
        client, console, draft + "/steps", files={"file": (json.dumps(dev).encode(), "d.json"),
                                                  "companion": (json.dumps(plans).encode(), "p.json")},
        kind="aps", format="meraki"))
    for name, data in imdf_cases().items():
        record(f"setup/import-imdf: {name}", post(client, console, "/console/ops/demo/setup/import-imdf",
                                                  files={"imdf": (data, "p.zip")}))
    R = "ts,floor,x,y\n"
    D = "ts,ap,rssi\n"
    ap = svc.venues.get_map("demo").aps[0].bssid
    walks = {
        "route field 200 000 chars": ((R + "1" * 200_000 + ",1,22,30\n").encode(), (D + f"5,{ap},-60\n").encode()),
        "route ts nan": ((R + "nan,1,22,30\n").encode(), (D + f"5,{ap},-60\n").encode()),
        "route ms vs readings s": ((R + "1700000000000,1,22,30\n").encode(), (D + f"1700000000,{ap},-60\n").encode()),
        "route x nan, floor 999": ((R + "10,999,nan,30\n").encode(), (D + f"5,{ap},nan\n").encode()),
    }
    for name, (route, readings) in walks.items():
        record(f"validation: {name}", post(client, console, "/console/ops/demo/validation", timeout=20,
                                           files={"route": (route, "r.csv"), "readings": (readings, "d.csv")}))
    for line in OUT:
        print("ROW", line)


def test_scratch_nan_floor_from_imdf(client, harbour_ops, svc):
    """IMDF accepted with floor width NaN / string metres_per_pixel: what do the pages do afterwards?"""
    ext = ext_archive()
    p = ext["mallportal_venue.geojson"]["features"][0]["properties"]
    p["floors"][0]["width_m"] = float("nan")
    p["floors"][1]["plan_image"] = "abc"
    p["floors"][1]["metres_per_pixel"] = "x"
    data = rawzip({k: json.dumps(v) for k, v in ext.items()})
    draft = client.post("/console/ops/harbour/drafts", data={"csrf_token": harbour_ops.csrf(), "title": "x"}).headers["Location"]
    record("drafts/steps kind=imdf width_m NaN + metres_per_pixel 'x'", post(client, harbour_ops, draft + "/steps",
                                                                            files={"file": (data, "p.zip")}, kind="imdf"))
    for url in (draft, draft + "/preview/0.svg", draft + "/preview/1.svg"):
        record(f"GET {url.split('harbour')[1]}", get(client, url))
    record("apply", post(client, harbour_ops, draft + "/apply"))
    for url in ("/console/ops/harbour/setup", "/console/ops/harbour/setup/floor/0", "/console/ops/harbour/setup/floor/1",
                "/console/ops/harbour/setup/floor/0/overlay.svg", "/console/ops/harbour/setup/floor/1/overlay.svg",
                "/console/ops/harbour/checklist", "/console/ops/harbour/checklist/coverage/0.svg",
                "/console/ops/harbour/survey", "/console/ops/harbour/setup/export.imdf.zip"):
        record(f"GET {url}", get(client, url))
    for line in OUT:
        print("ROW", line)
