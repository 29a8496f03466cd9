"""Every route, as anyone can call it, with input nobody meant: never a server error.

The app's own url_map is walked (so a route added tomorrow is walked too): each rule's path variables get
the demo mall's real values and hostile ones, each method it serves gets junk query strings, junk forms
(with a valid CSRF token, so the junk reaches the view) and junk JSON bodies, as an anonymous caller, a
logged-in operator and a zone owner, and with the venue's API token. A 5xx other than 503 (the store is up
here) is a bug: a view that trusted its input. Deterministic: the same junk every run."""

from __future__ import annotations

import re

import pytest

HOSTILE_SEGMENTS = ("demo", "x" * 300, "%00", "-1", "1e309", "%F0%9F%98%80")
JUNK_QUERIES = ("", "?page=-1&limit=99999999&since=nan&until=abc&floor=x&x=1e309&y=-inf&lang=zz&date=2026-13-45"
                    "&zone=%00&q=%27%22%3C&level=9999999999999999999999&format=exe&n=-5&day=31-02")
JUNK_JSON = ("{", "[]", '"text"',
             '{"name": 5, "zone": [], "floor": "x", "x": "nan", "y": null, "items": "no", "qty": -1e308,'
             ' "phone": {"n": 1}, "when": "yesterday", "amount": "1e309", "rssi": "loud", "observations": 7}')
JUNK_FORMS = ({"name": "x" * 5000, "floor": "x", "x": "nan", "y": "1e309", "zone": "../", "qty": "-1",
               "amount": "abc", "phone": "+" + "9" * 40, "date": "2026-02-31", "time": "25:61", "email": "@@",
               "seats": "A1,A1,ZZ99", "level": "-9999999", "kind": "<script>", "app": "nope"},)
ROLES = ("anonymous", "ops", "cinema")


def _zone_ids(svc) -> list[str]:
    venue = svc.venues.get_map("demo")
    return [z.id for z in venue.zones][:2]


def _paths(rule, values: dict[str, tuple[str, ...]]) -> list[str]:
    """The rule's URL with its variables filled in: the real values, then each hostile one in turn."""
    names = list(rule.arguments)
    if not names:
        return [rule.rule]
    out = []
    for n in range(len(HOSTILE_SEGMENTS)):
        filled = rule.rule
        for name in names:
            pool = values.get(name, ()) + HOSTILE_SEGMENTS
            value = pool[n % len(pool)]
            filled = re.sub(r"<(?:[^:<>]+:)?" + re.escape(name) + r">", value, filled)
        out.append(filled)
    return list(dict.fromkeys(out))


def _requests(client, path: str, methods: set[str], csrf: str, token: str):
    headers = {"Authorization": f"Bearer {token}"}
    for method in sorted(methods - {"HEAD", "OPTIONS"}):
        for query in JUNK_QUERIES:
            url = path + query
            if method == "GET":
                yield method, url, client.get(url)
                yield method, url + " (token)", client.get(url, headers=headers)
                continue
            for form in JUNK_FORMS:
                yield method, url + " (form)", client.open(url, method=method, data={**form, "csrf_token": csrf})
            for body in JUNK_JSON:
                yield method, url + f" (json {body[:20]})", client.open(url, method=method, data=body,
                                                                      content_type="application/json",
                                                                      headers=headers)
            yield method, url + " (bytes)", client.open(url, method=method, data=b"\xff\xfe\x00garbage",
                                                        content_type="application/octet-stream", headers=headers)


@pytest.mark.parametrize("role", ROLES)
def test_no_route_answers_junk_with_a_server_error(app, client, demo, console, svc, role):
    if role != "anonymous":
        console.login(role)
    csrf = console.csrf()
    values = {"venue": ("demo",), "venue_id": ("demo",), "zone": tuple(_zone_ids(svc)),
              "zone_id": tuple(_zone_ids(svc)), "lang": ("en", "zh")}
    failures = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static":
            continue
        if role != "anonymous" and "logout" in rule.rule:
            continue  # logging out would turn the rest of the walk into the anonymous one
        for path in _paths(rule, values):
            for method, url, resp in _requests(client, path, set(rule.methods or ()), csrf, demo):
                if resp.status_code >= 500 and resp.status_code != 503:
                    failures.append(f"{resp.status_code} {method} {url}")
    assert not failures, "\n".join(failures[:40]) + f"\n({len(failures)} in all)"
