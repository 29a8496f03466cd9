"""Every route, as anyone can call it, with input nobody meant: never a server error.

The app's own url_map is walked (so a route added tomorrow is walked too): each rule's path variables get
the demo mall's real values and hostile ones, each method it serves gets junk query strings, junk forms
(with a valid CSRF token, so the junk reaches the view) and junk JSON bodies, as an anonymous caller, a
logged-in operator and a zone owner, and with the venue's API token. A 5xx other than 503 (the store is up
here) is a bug: a view that trusted its input. Deterministic: the same junk every run.

A light app's pages with a zone in their URL answer 404 before their view where the zone does not run the app,
so each app's rules (the registry's parts of every loaded app, one added tomorrow too) are walked on a zone that
runs it, switched to it for that walk where the demo runs it nowhere, and on one that does not (its consoles
branch on that)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask, request
from werkzeug.routing import Rule

from core.memo import BoundedMemo
from fingerprints.model import VenueMap
from portal.apps import registry
from portal.operator import live_jobs, quality
from portal.services import Services
from portal.tracking.estimate import live_estimate
from tests.test_light_app_contract import hello_app  # noqa: F401 (a fixture: the tiny app loaded beside the others)

HOSTILE_SEGMENTS = ("demo", "x" * 300, "%00", "-1", "1e309", "%F0%9F%98%80")
JUNK_QUERY = ("?page=-1&limit=99999999&since=nan&until=abc&floor=x&x=1e309&y=-inf&lang=zz&date=2026-13-45"
              "&zone=%00&q=%27%22%3C&level=9999999999999999999999&format=exe&n=-5&day=31-02"
              # digits str.isdigit() takes and int() refuses (superscript two, circled one)
              "&v=%C2%B2&point=%E2%91%A0&hour=%C2%B2&hours=%C2%B2&points=%C2%B2")
JUNK_JSON = ("{", "[]", '"text"',
             '{"name": 5, "zone": [], "floor": "x", "x": "nan", "y": null, "items": "no", "qty": -1e308,'
             ' "phone": {"n": 1}, "when": "yesterday", "amount": "1e309", "rssi": "loud", "observations": 7}')
JUNK_FORM = {"name": "x" * 5000, "floor": "x", "x": "nan", "y": "1e309", "zone": "../", "qty": "-1",
             "amount": "abc", "phone": "+" + "9" * 40, "date": "2026-02-31", "time": "25:61", "email": "@@",
             "seats": "A1,A1,ZZ99", "level": "-9999999", "kind": "<script>", "app": "nope", "point": "\u00b2",
             "hours": "\u2460", "points": "\u00b2", "cap_per_day": "\u00b2", "limit": "\u00b2",
             "events_delete": "\u00b2", "stock": "\u00b2"}
ROLES = ("anonymous", "ops", "cinema")
ZONE_ARGS = ("zone", "zone_id")
VENUE = "demo"


def _paths(rule, values: dict[str, tuple[str, ...]]) -> list[tuple[str, bool]]:
    """The rule's URL with its variables filled in, each with whether all its values are real (the first one
    always counts as real): every variable at its first real value (the first hostile one where none is
    known), then each variable in turn through its other real values and the hostile ones, the others kept
    real, so that a hostile zone or level reaches its view through a venue that exists."""
    names = list(rule.arguments)
    base = {name: (values.get(name) or HOSTILE_SEGMENTS)[0] for name in names}
    assignments = [base]
    for name in names:
        for value in (values.get(name, ()) + HOSTILE_SEGMENTS)[1:]:
            assignments.append({**base, name: value})
    out: dict[str, bool] = {}
    for assignment in assignments:
        filled = rule.rule
        for name, value in assignment.items():
            filled = re.sub(r"<(?:[^:<>]+:)?" + re.escape(name) + r">", value, filled)
        # The base counts as real (every body sent) even where a variable has no real value to fill in.
        out.setdefault(filled, assignment is base or all(value in values.get(name, ()) for name, value in
                                                          assignment.items()))
    return list(out.items())


def _requests(client, path: str, methods: set[str], csrf: str, token: str, every_body: bool = True):
    """GET with and without junk in the query (the junk also with the API token); any other method with a junk
    form, junk JSON (with the token) and junk bytes. A path with a hostile segment (`every_body` False) gets the
    junk query and form and one junk JSON: its view should refuse the segment before it reads a body, and
    every body is tried on the real paths (the cross product doubled the walk's time for no route found)."""
    headers = {"Authorization": f"Bearer {token}"}
    junk = path + JUNK_QUERY
    for method in sorted(methods - {"HEAD", "OPTIONS"}):
        if method == "GET":
            yield method, path, client.get(path)
            yield method, junk, client.get(junk)
            if every_body:
                yield method, junk + " (token)", client.get(junk, headers=headers)
            continue
        yield method, path + " (form)", client.open(path, method=method, data={**JUNK_FORM, "csrf_token": csrf})
        for body in JUNK_JSON if every_body else JUNK_JSON[-1:]:
            yield method, path + f" (json {body[:20]})", client.open(path, method=method, data=body,
                                                                   content_type="application/json", headers=headers)
        if every_body:
            yield method, path + " (bytes)", client.open(path, method=method, data=b"\xff\xfe\x00garbage",
                                                         content_type="application/octet-stream", headers=headers)


def small_estimate(venue_map, assumptions=None, progress=None):
    """The quality page's live estimate on 6 simulated visits, in this process: what the walk needs of it is an
    estimate for the junk to meet (its figures, its heatmap), not the page's full one in a child process (~4.5 s of
    CPU here; tests/operator/test_live_jobs.py has that path)."""
    return live_estimate(venue_map, assumptions, max_points=6, progress=progress)


@pytest.fixture
def small_live_estimates(app, monkeypatch):
    """This app's live estimates small (`small_estimate`), kept from no other test and for none: the process's
    memos of estimates and drawn figures are this test's own."""
    monkeypatch.setattr(app.extensions["live_estimates"], "compute", small_estimate)
    monkeypatch.setattr(live_jobs, "ESTIMATES", BoundedMemo(16))
    monkeypatch.setattr(quality, "figures", BoundedMemo(96))


def app_of_blueprint(flask_app: Flask) -> dict[str, str]:
    """Registered blueprint name -> the light app whose part it is (the registry's parts of every app loaded)."""
    owners = {id(bp): app.name for app in registry.all_apps() for bp in registry.parts(app.name).blueprints}
    return {name: owners[id(bp)] for name, bp in flask_app.blueprints.items() if id(bp) in owners}


def _app_of_rule(rule: Rule, blueprints: dict[str, str]) -> str | None:
    """The light app whose zone-scoped rule this is; None for the host's rules and rules without a zone."""
    if not any(name in rule.arguments for name in ZONE_ARGS):
        return None
    return blueprints.get(rule.endpoint.rpartition(".")[0])


def _apps_of(svc: Services, venue_map: VenueMap) -> dict[str, str]:
    """Zone -> the app it runs now, in the map's order."""
    return {zone.id: svc.zone_apps.get(VENUE, zone.id)[0] for zone in venue_map.zones}


@contextmanager
def zones_for(svc: Services, app: registry.LightApp) -> Iterator[tuple[str, str]]:
    """(a zone that runs the app, one that does not). Where the demo runs it nowhere, a zone it fits is switched
    to it (its defaults) for the walk of its rules, and given back as it was after."""
    venue_map = svc.venues.get_map(VENUE)
    running = _apps_of(svc, venue_map)
    on = next((zone for zone, name in running.items() if name == app.name), None)
    saved = None
    if on is None:
        on = next((z.id for z in venue_map.zones if app.fits(z.kind)), venue_map.zones[0].id)
        saved = svc.zone_apps.get(VENUE, on)
        svc.zone_apps.set(VENUE, on, app.name, app.default_config())
    try:
        yield on, next(zone for zone, name in running.items() if zone != on and name != app.name)
    finally:
        if saved is not None:
            svc.zone_apps.set(VENUE, on, *saved)


def _walk(client, rules, values: dict[str, tuple[str, ...]], role: str, csrf: str, token: str) -> list[str]:
    failures = []
    for rule in rules:
        if role != "anonymous" and "logout" in rule.rule:
            continue  # logging out would turn the rest of the walk into the anonymous one
        for path, real in _paths(rule, values):
            for method, url, resp in _requests(client, path, set(rule.methods or ()), csrf, token, real):
                if resp.status_code >= 500 and resp.status_code != 503:
                    failures.append(f"{resp.status_code} {method} {url}")
    return failures


@pytest.mark.parametrize("role", ROLES)
def test_no_route_answers_junk_with_a_server_error(app, client, svc, demo, console, role, small_live_estimates):
    if role != "anonymous":
        console.login(role)
    csrf = console.csrf()
    # the host's zone-scoped rules: the first zone of each app the demo runs (the cinema owner's own among them)
    host_zones: dict[str, str] = {}
    for zone, name in _apps_of(svc, svc.venues.get_map(VENUE)).items():
        host_zones.setdefault(name, zone)
    values = {"venue": (VENUE,), "venue_id": (VENUE,), "level": ("0", "1"), "floor": ("0",), "lang": ("en", "zh"),
              **dict.fromkeys(ZONE_ARGS, tuple(host_zones.values()))}
    blueprints = app_of_blueprint(app)
    by_app: dict[str | None, list] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint != "static":
            by_app.setdefault(_app_of_rule(rule, blueprints), []).append(rule)
    failures = _walk(client, by_app.pop(None, []), values, role, csrf, demo)
    for name, rules in sorted(by_app.items()):
        with zones_for(svc, registry.get(name)) as zones:
            failures += _walk(client, rules, {**values, **dict.fromkeys(ZONE_ARGS, zones)}, role, csrf, demo)
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} in all)"


def test_every_apps_zone_pages_are_walked_where_it_runs(app, svc, demo):
    """Each loaded app with zone pages gets a zone that runs it (the games, which the demo runs nowhere,
    included) and one that does not; the zone is given back after."""
    blueprints = app_of_blueprint(app)
    apps = {_app_of_rule(rule, blueprints) for rule in app.url_map.iter_rules()} - {None}
    assert {"games", "cinema", "queue"} <= apps
    before = svc.zone_apps.all(VENUE)
    for name in sorted(apps):
        with zones_for(svc, registry.get(name)) as (on, off):
            assert svc.zone_apps.get(VENUE, on)[0] == name and svc.zone_apps.get(VENUE, off)[0] != name
            if name == "games":
                assert app.test_client().get(f"/v/{VENUE}/zone/{on}/games").status_code == 200
    assert svc.zone_apps.all(VENUE) == before


def test_a_new_apps_server_error_on_junk_is_found(hello_app, monkeypatch):  # noqa: F811 (the fixture)
    """An app the demo runs nowhere (the tiny app of tests/fixtures_apps, taken off its zone) whose page trusts
    its query: the walk of its rules reaches the view, on a zone switched to it, and reports the 500."""
    svc = hello_app.extensions["mallportal"]
    svc.zone_apps.set(VENUE, "books", "coupons", {})
    landing = hello_app.view_functions["hello.landing"]

    def trusting(venue: str, zone: str):
        float(request.args.get("until", "0"))
        return landing(venue, zone)

    monkeypatch.setitem(hello_app.view_functions, "hello.landing", trusting)
    blueprints = app_of_blueprint(hello_app)
    rules = [rule for rule in hello_app.url_map.iter_rules() if _app_of_rule(rule, blueprints) == "hello"]
    with zones_for(svc, registry.get("hello")) as zones:
        failures = _walk(hello_app.test_client(), rules, {"venue": (VENUE,), "zone": zones}, "anonymous", "", "")
    assert failures and all(f.startswith(f"500 GET /v/{VENUE}/hello/{zones[0]}?") for f in failures), failures
