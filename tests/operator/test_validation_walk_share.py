"""Honest validation-walk figures: a live walk of 30 route points with only the first one marked was shown as
"✓ Validation walk … 1 route points, right zone 100%" and "Route points 1" on the walks page. The stored walk now
keeps its route's length (and the points not visited / not placed), the checklist says "N of M route points
visited" and what each rate is over, and the step is done only once the walk visited WALK_VISITED_GOAL of its
route. A walk stored before the route's length was kept reads as unknown, never as complete. Against the suite's
Valkey; no timing."""

from __future__ import annotations

import html
import json
import re

import pytest

from fingerprints.model import Floor, VenueMap
from fingerprints.quality import ValidationWalk, WalkResult
from portal.maps.checklist import WALK_VISITED_GOAL, _validation
from portal.maps.validation import ValidationKeys, ValidationWalks

V = "/console/ops/demo"
PHONE = "02:00:5e:00:55:08"  # never heard by the demo's APs in these tests


def walk(visited: int, route: int | None, placed: int | None = None, version: int = 3) -> ValidationWalk:
    """`visited` route points scored, the first `placed` of them placed on the right zone (all by default)."""
    placed = visited if placed is None else placed
    points = [WalkResult(float(i), 0, 10.0, 10.0, "kopi", 0 if i < placed else None, 10.0, 10.0,
                         "kopi" if i < placed else None, 0.0 if i < placed else float("nan"))
              for i in range(visited)]
    nan = float("nan")
    return ValidationWalk("v", version, points, placed / visited, placed / visited, 0.0 if placed else nan,
                          0.0 if placed else nan, 0.0 if placed else nan, route_points=route)


def step(app, svc, version: int = 3):
    with app.test_request_context("/?lang=en"):
        return _validation(svc, "v", VenueMap("v", "V", "", [Floor(0, "G", 40, 40)], version=version))


def test_a_live_walk_that_stopped_after_one_point_is_stored_with_its_route(svc):
    entry = ValidationWalks(svc.db).record("v", walk(1, 30), "ops")
    assert (entry["points"], entry["route_points"], entry["not_visited"], entry["not_placed"]) == (1, 30, 29, 0)
    uploaded = ValidationWalks(svc.db).record("v", walk(4, None, placed=3), "ops")  # every uploaded row walked
    assert (uploaded["points"], uploaded["route_points"], uploaded["not_visited"], uploaded["not_placed"]) == (
        4, 4, 0, 1)
    assert ValidationWalks(svc.db).recent("v") == [uploaded, entry]


def test_one_point_of_thirty_is_not_a_validation_walk(app, svc):
    ValidationWalks(svc.db).record("v", walk(1, 30), "ops")
    s = step(app, svc)
    assert not s.done
    assert ": 1 of 30 route points visited. Of the points visited: right zone 100%, right floor 100%; live error " \
           "over the 1 placed: mean 0.0 m" in s.detail
    assert "The step is done once a walk visits at least 80% of its route." in s.detail
    assert s.missing == ["the walk visited 3% of its route (goal 80%): walk the route to its end, marking every point"]


@pytest.mark.parametrize("visited,done", [(23, False), (24, True), (30, True)])
def test_the_step_is_done_from_the_goal_share_of_the_route(app, svc, visited, done):
    assert WALK_VISITED_GOAL == 0.8
    ValidationWalks(svc.db).record("v", walk(visited, 30), "ops")
    s = step(app, svc)
    assert s.done is done and (s.missing == []) is done
    assert ("30 route points, all visited" if visited == 30 else f"{visited} of 30 route points visited") in s.detail
    if not done:
        assert s.missing[0].startswith("the walk visited 76% of its route (goal 80%)")


def test_an_uploaded_walk_visited_its_whole_route(app, svc):
    ValidationWalks(svc.db).record("v", walk(4, None, placed=3), "ops")
    s = step(app, svc, version=4)  # the map changed since: said, as before, without undoing the walk
    assert s.done
    assert ": 4 route points, all visited. Of the points visited: right zone 75%" in s.detail
    assert "over the 3 placed" in s.detail
    assert s.missing == ["the map changed since (now v4): walk again to measure this version"]


def old_entry(svc, points: int = 1, located: int = 1) -> None:
    """A walk as stored before the route's length was kept."""
    svc.db.lpush(ValidationKeys("v").walks(), json.dumps({
        "at": 1796150000.0, "by": "ops", "source": "live walk x", "version": 3, "points": points,
        "located": located, "zone_rate": 1.0, "floor_rate": 1.0, "mean_error_m": 0.0, "median_error_m": 0.0,
        "p95_error_m": 0.0}))


def test_a_walk_stored_before_the_route_was_kept_is_unknown_not_complete(app, svc):
    old_entry(svc, points=2, located=1)
    last = ValidationWalks(svc.db).last("v")
    assert (last["route_points"], last["not_visited"], last["not_placed"]) == (None, None, 1)
    s = step(app, svc)
    assert not s.done
    assert ": 2 route points visited (the route's length was not recorded). Of the points visited" in s.detail
    assert s.missing == ["the route's length was not recorded with this walk (an older one): walk again to "
                         "measure the whole route"]


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def test_the_pages_show_the_points_visited_of_the_route(client, console, svc):
    """The auditor's walk, through the console: a route of 30 points, the first marked, finished."""
    console.login("ops")
    points = "\n".join(f"1,{20 + 2 * (i % 15)},{30 + 10 * (i // 15)}" for i in range(30))
    resp = client.post(V + "/walk", data={"csrf_token": console.csrf(), "phone": PHONE, "points": points})
    assert resp.status_code == 303, text(resp)
    wid = re.search(r"/walk/([\w-]+)$", resp.headers["Location"]).group(1)
    assert client.post(f"{V}/walk/{wid}/mark", data={"csrf_token": console.csrf(), "point": "0"}).status_code == 303
    assert client.post(f"{V}/walk/{wid}/finish", data={"csrf_token": console.csrf()}).status_code == 303
    page = text(client.get(V + "/checklist"))
    step_html = page.split('<li id="step-validation"', 1)[1].split('<li id="step-', 1)[0]
    assert step_html.startswith(' class="todo"'), step_html
    assert "1 of 30 route points visited" in step_html and "the walk visited 3% of its route (goal 80%)" in step_html
    svc.db.rpush(ValidationKeys("demo").walks(), json.dumps({  # an older walk, stored without its route
        "at": 1796150000.0, "by": "ops", "source": "r.csv + x.csv", "version": 1, "points": 4, "located": 4,
        "zone_rate": 1.0, "floor_rate": 1.0, "mean_error_m": 2.0, "median_error_m": 2.0, "p95_error_m": 3.0}))
    walks = text(client.get(V + "/validation"))
    # an older uploaded walk walked every row of its files: its route is its points
    assert [c.strip() for c in re.findall(r'<td class="visited">(.*?)</td>', walks)] == ["1 / 30", "4 / 4"]
    assert "Route points visited" in walks and "shares of the route points visited" in walks
