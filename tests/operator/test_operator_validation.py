"""The set-up checklist's last two steps (issue 16): the validation walk, stored per venue with its date (from the
console page or `flask validation-walk`), and the heatmap of expected error (the live estimate's per-point
errors interpolated over each floor); who may call, bad input."""

from __future__ import annotations

import html
import io
import re

import numpy as np
import pytest

from fingerprints.simulator import RadioSimulator
from portal.auth import AccountStore
from portal.maps.validation import ValidationWalks
from tests.maps.test_maps_setup_drafts import _files

V = "/console/ops/demo"


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def walk_files(venue_map) -> tuple[bytes, bytes]:
    """A phone standing in the cinema (floor 1) for 90 s, the operator marking where she is."""
    sim, rng = RadioSimulator(venue_map), np.random.default_rng(1)
    route = "ts,floor,x,y\n" + "".join(f"{t},1,22,30\n" for t in range(30, 90, 15))
    readings = "ts,ap,rssi\n" + "".join(f"{t},{ap},{v}\n" for t in range(90)
                                         for ap, v in sim.measure(1, 22, 30, rng).items())
    return route.encode(), readings.encode()


def validation_step(page: str) -> str:
    return page.split('<li id="step-validation"', 1)[1].split("</ol>", 1)[0]


def upload(client, console, route: bytes | None, readings: bytes | None, csrf=True):
    data = {"csrf_token": console.csrf()} if csrf else {}
    if route is not None:
        data["route"] = (io.BytesIO(route), "route.csv")
    if readings is not None:
        data["readings"] = (io.BytesIO(readings), "readings.csv")
    return client.post(V + "/validation", data=data, content_type="multipart/form-data")


def test_validation_walk_is_stored_and_shown_in_the_checklist(client, console, svc):
    console.login("ops")
    page = text(client.get(V + "/checklist"))
    step = validation_step(page)
    assert step.startswith(' class="todo"')
    assert "No validation walk recorded yet" in step and "/console/ops/demo/validation" in step
    assert 'id="no-walks"' in text(client.get(V + "/validation"))

    resp = upload(client, console, *walk_files(svc.venues.get_map("demo")))
    assert resp.status_code == 303, text(resp)
    last = ValidationWalks(svc.db).last("demo")
    assert last["points"] == 4 and last["by"] == "ops" and last["version"] == svc.venues.current_version("demo")
    assert last["floor_rate"] == 1.0 and last["mean_error_m"] < 15
    page = text(client.get(V + "/checklist"))
    step = validation_step(page)
    assert step.startswith(' class="done"')
    when = re.search(r"Last walk (\d{4}-\d\d-\d\d \d\d:\d\d) on map v\d+: 4 route points", step).group(1)
    # the same time as the validation walks page shows for it (venue time, not UTC beside local time)
    walks = text(client.get(V + "/validation"))
    assert 'id="walks"' in walks and f"<td>{when}</td>" in walks


def test_cli_walk_is_recorded_too(app, svc, demo, tmp_path):
    route, readings = walk_files(svc.venues.get_map("demo"))
    (tmp_path / "r.csv").write_bytes(route)
    (tmp_path / "x.csv").write_bytes(readings)
    result = app.test_cli_runner().invoke(args=["validation-walk", "demo", str(tmp_path / "r.csv"),
                                                str(tmp_path / "x.csv")])
    assert result.exit_code == 0, result.output
    assert ValidationWalks(svc.db).last("demo")["by"] == "cli"


@pytest.mark.parametrize("route,readings,message", [
    (None, b"ts,ap,rssi\n", "Choose the route CSV"),
    (b"ts,floor,x,y\n1,0,2,3\n", None, "Choose the readings CSV"),
    (b"ts,floor\n1,0\n", b"ts,ap,rssi\n", "missing columns"),
    (b"ts,floor,x,y\n1,0,2,3\n", b"ts,ap,rssi\n1,nope,-60\n", "line 2"),
    (b"\xff\xfe\x00", b"ts,ap,rssi\n", "not UTF-8"),
    (b"ts,floor,x,y\n", b"ts,ap,rssi\n", "no points"),
])
def test_bad_walk_files_store_nothing(client, console, svc, route, readings, message):
    console.login("ops")
    resp = upload(client, console, route, readings)
    assert resp.status_code == 400 and message in text(resp)
    assert ValidationWalks(svc.db).last("demo") is None


def test_who_may_run_a_walk(client, console, svc):
    route, readings = walk_files(svc.venues.get_map("demo"))
    console.login("ops")
    assert upload(client, console, route, readings, csrf=False).status_code == 400
    console.logout()
    console.login("cinema")
    assert client.get(V + "/validation").status_code == 403
    assert upload(client, console, route, readings).status_code == 403
    console.logout()
    assert client.get(V + "/validation").status_code == 302
    AccountStore(svc.db).create("far-ops", "an old long passphrase", "operator", "elsewhere")
    console.login("far-ops", "an old long passphrase")
    assert upload(client, console, route, readings).status_code == 403
    assert ValidationWalks(svc.db).last("demo") is None


def test_expected_error_heatmap_per_floor(client, console, svc, tmp_path):
    """On a small new venue (the checklist's usual case): one PNG per floor from the live estimate."""
    plan, aps, samples = _files(tmp_path)
    runner = client.application.test_cli_runner()
    for args in (["map-import", "harbour", str(plan)], ["ap-import", "harbour", str(aps)],
                 ["samples-import", "harbour", str(samples)]):
        assert runner.invoke(args=args).exit_code == 0
    AccountStore(svc.db).create("harbour-ops", "harbour-pass-1", "operator", "harbour")
    console.login("harbour-ops", "harbour-pass-1")
    page = text(client.get("/console/ops/harbour/checklist"))
    heatmaps = re.findall(r'class="figure error-heatmap"[^>]*src="([^"]+)"', page)
    assert len(heatmaps) == 2
    png = client.get(heatmaps[0])
    assert png.status_code == 200 and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/console/ops/harbour/quality/9/live-heatmap.png").status_code == 404
    console.logout()
    console.login("ops")
    assert client.get("/console/ops/harbour/quality/0/live-heatmap.png").status_code == 403
