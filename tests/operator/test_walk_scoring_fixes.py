"""Validation walk scoring, review faults: a walk off the venue (a floor it does not have, off a floor's plan,
readings with nothing to replay) is refused with a clear 4xx / exit code 2 and records nothing (the last real
walk stays the checklist's); a route point the phone was never placed at is never right (zone or floor), and
the summary says how many there were; a live walk counts each route point once (its last mark) and says how
many route points were not visited. Against the suite's Valkey; no timing."""

from __future__ import annotations

import html
import io
import math
import re

import numpy as np
import pytest

from fingerprints.quality import WalkResult, read_walk_csv
from fingerprints.simulator import RadioSimulator
from portal.maps.validation import LiveWalks, ValidationWalks
from portal.operator.walks import walk_summary
from portal.tracking.estimate import summarise_walk, validation_walk

V = "/console/ops/demo"
PHONE = "02:00:5e:00:55:07"  # never heard by the demo's APs in these tests
T0 = 1796150000


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def readings_csv(venue_map, floor=1, x=22.0, y=30.0, start=T0, seconds=90) -> bytes:
    """The demo's APs hearing a phone standing at (x, y) for `seconds`, one scan a second."""
    sim, rng = RadioSimulator(venue_map), np.random.default_rng(3)
    return ("ts,ap,rssi\n" + "".join(f"{t},{ap},{v}\n" for t in range(start, start + seconds)
                                     for ap, v in sim.measure(floor, x, y, rng).items())).encode()


def route_csv(*rows: tuple[float, int, float, float]) -> bytes:
    return ("ts,floor,x,y\n" + "".join(f"{t},{f},{x},{y}\n" for t, f, x, y in rows)).encode()


GOOD_ROUTE = route_csv(*[(T0 + t, 1, 22, 30) for t in range(30, 90, 15)])


def upload(client, console, route: bytes, readings: bytes):
    data = {"csrf_token": console.csrf(), "route": (io.BytesIO(route), "route.csv"),
            "readings": (io.BytesIO(readings), "readings.csv")}
    return client.post(V + "/validation", data=data, content_type="multipart/form-data")


# -- fault 1: a walk that is not on the venue ----------------------------------------------------------------


def bad_walks(venue_map) -> list[tuple[bytes, bytes, list[str]]]:
    good = readings_csv(venue_map)
    unknown_ap = b"ts,ap,rssi\n" + b"".join(f"{T0 + t},02:00:00:00:00:{t:02x},-60\n".encode() for t in range(90))
    return [
        (route_csv((T0 + 14, 1, 22, 30), (T0 + 20, 99, 44, 47)), good, ["line 3", "floor 99", "not a floor"]),
        (route_csv((T0 + 14, 1, 5000, 47)), good, ["line 2", "off the plan of floor 1"]),
        (route_csv((T0 + 14, 1, 22, -40)), good, ["line 2", "off the plan"]),
        (GOOD_ROUTE, b"ts,ap,rssi\n", ["no reading"]),
        (GOOD_ROUTE, readings_csv(venue_map, start=T0 + 3600), ["no reading falls within the route's time"]),
        (GOOD_ROUTE, unknown_ap, ["no reading within the route's time is from an AP of demo"]),
    ]


def test_a_walk_off_the_venue_is_a_400_and_the_last_real_walk_stays(client, console, svc):
    console.login("ops")
    venue_map = svc.venues.get_map("demo")
    assert upload(client, console, GOOD_ROUTE, readings_csv(venue_map)).status_code == 303
    real = ValidationWalks(svc.db).recent("demo")
    assert len(real) == 1 and real[0]["points"] == 4
    for route, readings, messages in bad_walks(venue_map):
        resp = upload(client, console, route, readings)
        page = text(resp)
        assert resp.status_code == 400, (messages, page[:300])
        assert "The walk was not recorded." in page and all(m in page for m in messages), (messages, page)
        assert ValidationWalks(svc.db).recent("demo") == real  # nothing recorded: the checklist keeps the real one
    checklist = text(client.get(V + "/checklist"))
    assert re.search(r"Last walk [^<]*: 4 route points", checklist)


def test_the_cli_refuses_a_walk_off_the_venue_with_exit_code_2(app, svc, demo, tmp_path):
    venue_map = svc.venues.get_map("demo")
    for route, readings, messages in bad_walks(venue_map):
        (tmp_path / "route.csv").write_bytes(route)
        (tmp_path / "readings.csv").write_bytes(readings)
        result = app.test_cli_runner().invoke(args=["validation-walk", "demo", str(tmp_path / "route.csv"),
                                                    str(tmp_path / "readings.csv")])
        assert result.exit_code == 2, (messages, result.output)
        assert all(m in result.output for m in messages), (messages, result.output)
        assert ValidationWalks(svc.db).last("demo") is None


def test_a_point_just_past_the_plans_edge_is_still_on_it(svc, demo):
    """The plan's margin: a point a metre past the drawn edge (a doorway) is scored, one 10 m past is not."""
    venue_map = svc.venues.get_map("demo")
    plan = venue_map.floor(1)
    readings = readings_csv(venue_map)
    route, _ = read_walk_csv(route_csv((T0 + 30, 1, plan.width_m + 1, 30)), readings, venue_map)
    assert route == [(T0 + 30, 1, plan.width_m + 1, 30.0)]
    with pytest.raises(ValueError, match="line 2: .*off the plan"):
        read_walk_csv(route_csv((T0 + 30, 1, plan.width_m + 10, 30)), readings, venue_map)


def test_validation_walk_itself_refuses_a_point_off_the_venue(svc, demo):
    venue_map = svc.venues.get_map("demo")
    with pytest.raises(ValueError, match=r"route point 2 \(ts \d+\): floor 99 is not a floor of demo"):
        validation_walk(venue_map, [(T0 + 1.0, 1, 22.0, 30.0), (T0 + 2.0, 99, 44.0, 47.0)], [])
    with pytest.raises(ValueError, match="route point 1 .*off the plan"):
        validation_walk(venue_map, [(T0 + 1.0, 0, 5000.0, 47.0)], [])


# -- fault 2: a phone never placed is never right --------------------------------------------------------------


def unplaced(zone: str | None, floor: int = 1) -> WalkResult:
    return WalkResult(T0, floor, 40.0, 30.0, zone, None, math.nan, math.nan, None, math.nan)


def placed(zone: str | None, landed: str | None, floor: int = 1, est_floor: int = 1, error_m: float = 3.0):
    return WalkResult(T0, floor, 40.0, 30.0, zone, est_floor, 40.0 + error_m, 30.0, landed, error_m)


def test_a_point_not_placed_is_never_right():
    """Over a void (no zone) the unplaced phone's est_zone None used to equal the point's zone None."""
    walk = summarise_walk("demo", 1, [unplaced(None), unplaced(None)])
    assert walk.zone_rate == 0.0 and walk.floor_rate == 0.0 and walk.not_placed == 2
    assert math.isnan(walk.mean_error_m)
    assert "2 route points, 2 not placed" in walk.summary_lines()[0]
    # rates over all points: one placed right, one placed wrong, one over a void placed (lands on the home
    # page there: right), one not placed
    walk = summarise_walk("demo", 1, [placed("cinema", "cinema"), placed("cinema", "jade"), placed(None, None),
                                      unplaced("cinema")])
    assert walk.zone_rate == 0.5 and walk.floor_rate == 0.75 and walk.not_placed == 1
    assert walk.mean_error_m == pytest.approx(3.0)


def test_an_uploaded_walk_of_a_phone_never_placed_is_not_right(client, console, svc, monkeypatch):
    """The phone heard for a second at the first point and never again: placed there, not placed at the second
    point, 200 s later over a void (no zone: the demo has none, so one is made), which used to count as right."""
    from positioning.zones import ZoneMap

    real = ZoneMap.zone_at
    monkeypatch.setattr(ZoneMap, "zone_at",
                        lambda self, f, x, y: None if (f, x, y) == (1, 60.0, 30.0) else real(self, f, x, y))
    console.login("ops")
    venue_map = svc.venues.get_map("demo")
    window = svc.settings.rssi_window_s
    readings = readings_csv(venue_map, start=T0, seconds=1)
    route = route_csv((T0 + window, 1, 22, 30), (T0 + window + 200, 1, 60, 30))
    resp = upload(client, console, route, readings)
    assert resp.status_code == 303, text(resp)
    last = ValidationWalks(svc.db).last("demo")
    assert (last["points"], last["located"], last["zone_rate"], last["floor_rate"]) == (2, 1, 0.5, 0.5)
    page = text(client.get(V + "/validation"))
    assert "Validation walk recorded: 2 route points (1 not placed), right zone 50%." in page


def void_at(monkeypatch, svc, spot: tuple[int, float, float]) -> None:
    """The demo mall has no void; make `spot` one (no zone there), as an atrium's void is."""
    zones = svc.models.get("demo").zones
    real = zones.zone_at
    monkeypatch.setattr(zones, "zone_at", lambda f, x, y: None if (f, x, y) == spot else real(f, x, y))


def start(client, console, points: str) -> str:
    resp = client.post(V + "/walk", data={"csrf_token": console.csrf(), "phone": PHONE, "points": points})
    assert resp.status_code == 303, text(resp)
    return re.search(r"/walk/([\w-]+)$", resp.headers["Location"]).group(1)


def mark(client, console, wid: str, point: int) -> None:
    resp = client.post(f"{V}/walk/{wid}/mark", data={"csrf_token": console.csrf(), "point": str(point)})
    assert resp.status_code == 303, text(resp)


def summary_json(client, wid: str) -> dict:
    return client.get(f"{V}/walk/{wid}", headers={"Accept": "application/json"}).get_json()["summary"]


def test_a_live_walk_over_a_void_with_a_phone_never_heard_is_not_right(client, console, svc, monkeypatch):
    console.login("ops")
    void_at(monkeypatch, svc, (1, 60.0, 30.0))
    wid = start(client, console, "1,60,30\n1,60,30")
    mark(client, console, wid, 0)
    mark(client, console, wid, 1)
    marks = LiveWalks(svc.db).get("demo", wid)["marks"]
    assert [(m["zone"], m["est_floor"], m["landed"]) for m in marks] == [(None, None, None)] * 2
    summary = summary_json(client, wid)
    assert summary["zone_rate"] == 0.0 and summary["floor_rate"] == 0.0 and summary["mean_error_m"] is None
    assert summary["not_placed"] == 2
    page = text(client.get(f"{V}/walk/{wid}"))
    assert re.search(r'id="walk-zone-rate">0%<', page) and re.search(r'id="walk-not-placed">2<', page)
    resp = client.post(f"{V}/walk/{wid}/finish", data={"csrf_token": console.csrf()}, follow_redirects=True)
    assert "2 not placed), right zone 0%" in text(resp)
    last = ValidationWalks(svc.db).last("demo")
    assert last["zone_rate"] == 0.0 and last["floor_rate"] == 0.0 and last["located"] == 0


# -- fault 3: live marks are not route points ------------------------------------------------------------------


def test_a_route_point_marked_three_times_counts_once(client, console, svc):
    console.login("ops")
    wid = start(client, console, "1,20,30\n1,40,30\n1,65,30")
    for _ in range(3):
        mark(client, console, wid, 0)
    summary = summary_json(client, wid)
    assert summary["marks"] == 3
    assert (summary["route_points"], summary["visited"], summary["not_visited"]) == (3, 1, 2)
    page = text(client.get(f"{V}/walk/{wid}"))
    assert re.search(r'id="walk-visited">1 / 3<', page)
    resp = client.post(f"{V}/walk/{wid}/finish", data={"csrf_token": console.csrf()}, follow_redirects=True)
    assert "Validation walk recorded: 1 of 3 route points visited (2 not visited, 1 not placed)" in text(resp)
    assert not re.search(r"recorded: 3 route points", text(resp))
    assert ValidationWalks(svc.db).last("demo")["points"] == 1


def _mark(point: int, at: float, error_m: float | None, landed: str | None, zone: str = "cinema") -> dict:
    x, y = 20.0 + 20 * point, 30.0
    est = {} if error_m is None else {"est_floor": 1, "est_x": x + error_m, "est_y": y, "landed": landed,
                                      "error_m": error_m}
    return {"point": point, "at": at, "floor": 1, "x": x, "y": y, "zone": zone, "est_floor": None, "est_x": None,
            "est_y": None, "landed": None, "error_m": None, **est}


def test_a_route_point_counts_by_its_last_mark():
    """Marked too early (not placed, then placed on the wrong shop 30 m off) and again at the point: the
    point counts once, as its last mark; the second point is scored once; the third was never visited."""
    walk = {"venue": "demo", "route": [(1, 20.0, 30.0), (1, 40.0, 30.0), (1, 60.0, 30.0)], "marks": [
        _mark(0, T0, None, None), _mark(0, T0 + 5, 30.0, "jade"), _mark(1, T0 + 20, 4.0, "cinema"),
        _mark(0, T0 + 30, 2.0, "cinema")]}
    summary = walk_summary(walk, 7)
    assert [p.ts for p in summary.points] == [T0 + 30, T0 + 20]  # route order, one each
    assert summary.zone_rate == 1.0 and summary.floor_rate == 1.0 and summary.not_placed == 0
    assert summary.mean_error_m == pytest.approx(3.0)
    assert (summary.route_points, summary.not_visited) == (3, 1)
    assert summary.summary_lines()[0] == ("validation walk on demo map v7: 2 of 3 route points visited "
                                          "(1 not visited), 0 not placed")
