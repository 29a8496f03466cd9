"""Every route, as anyone can call it, with input nobody meant: never a server error.

The app's own url_map is walked (so a route added tomorrow is walked too): each rule's path variables get
the demo mall's real values and hostile ones, each method it serves gets junk query strings, junk forms
(with a valid CSRF token, so the junk reaches the view) and junk JSON bodies, as an anonymous caller, a
logged-in operator and a zone owner, and with the venue's API token. A 5xx other than 503 (the store is up
here) is a bug: a view that trusted its input. Deterministic: the same junk every run."""

from __future__ import annotations

import re

import pytest

from core.memo import BoundedMemo
from portal.operator import live_jobs, quality
from portal.tracking.estimate import live_estimate

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
# One demo zone per kind of light app (portal/seed.py DEMO_ZONE_APPS), the cinema owner's own among them.
ZONES = ("cinema", "kopi", "foodcourt", "garage", "pixel", "atrium")


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


@pytest.mark.parametrize("role", ROLES)
def test_no_route_answers_junk_with_a_server_error(app, client, demo, console, role, small_live_estimates):
    if role != "anonymous":
        console.login(role)
    csrf = console.csrf()
    values = {"venue": ("demo",), "venue_id": ("demo",), "zone": ZONES, "zone_id": ZONES, "level": ("0", "1"),
              "floor": ("0",), "lang": ("en", "zh")}
    failures = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        if role != "anonymous" and "logout" in rule.rule:
            continue  # logging out would turn the rest of the walk into the anonymous one
        for path, real in _paths(rule, values):
            for method, url, resp in _requests(client, path, set(rule.methods or ()), csrf, demo, real):
                if resp.status_code >= 500 and resp.status_code != 503:
                    failures.append(f"{resp.status_code} {method} {url}")
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} in all)"
