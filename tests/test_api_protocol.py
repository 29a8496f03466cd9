"""HTTP protocol details of the machine APIs (/api/, /capport/), which clients act on as the RFCs say:

- a 401 carries a WWW-Authenticate challenge (RFC 9110 11.6.1: it MUST), Bearer on every token API
  (RFC 6750 section 3, `invalid_token` once a token was sent), Basic too where the basic-auth password
  is taken (FIND3's URL); a token without the API's scope gets `insufficient_scope` on its 403;
- errors on API paths are JSON, never the shoppers' HTML page (the CAPPORT API's 405 included, its Allow kept),
  always {"error", "field"} (`field` null when no one field is at fault), the Meraki 429 included;
- a caller without credentials gets the same answer for a venue that does not exist as for one that does;
- Flask's automatic OPTIONS answer on an API path is a 204 with Allow, not an empty `text/html` page."""

from __future__ import annotations

import base64
import re
import time

import pytest

from core.store_health import StoreUnavailable
from portal import errors
from portal.apps.budgets import budget_store
from portal.ingest.meraki import MerakiStore

V = "/api/v1/venues/demo"
BEARER = 'Bearer realm="mallportal"'
INVALID = 'Bearer realm="mallportal", error="invalid_token"'
BASIC = 'Basic realm="mallportal", charset="UTF-8"'

# Every API that authenticates with require_venue_source: the feeds and the light apps' machine APIs.
TOKEN_APIS = [
    ("post", "/reports"), ("post", "/openwrt"),
    ("post", "/membership/purchases"), ("post", "/membership/refunds"), ("post", "/membership/identify"),
    ("post", "/membership/wechat-links"), ("post", "/parking/events"), ("get", "/parking/availability"),
    ("post", "/cinema/showtimes"), ("get", "/cinema/showtimes"),
]
FIND3 = V + "/find3/passive"


def challenges(resp) -> list[str]:
    return resp.headers.getlist("WWW-Authenticate")


def basic(password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"scanner:{password}".encode()).decode()}


# ---- 401 and 403 challenges -----------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), TOKEN_APIS, ids=[f"{m}:{p}" for m, p in TOKEN_APIS])
def test_a_401_challenges_for_a_bearer_token(client, demo, method, path):
    call = getattr(client, method)
    missing = call(V + path, json={})
    assert missing.status_code == 401 and missing.mimetype == "application/json"
    assert challenges(missing) == [BEARER]  # no credentials: no error code (RFC 6750 3.1)
    wrong = call(V + path, json={}, headers={"Authorization": "Bearer not-a-token"})
    assert wrong.status_code == 401 and challenges(wrong) == [INVALID]


def test_find3s_401_offers_basic_auth_beside_bearer(client, demo):
    missing = client.post(FIND3, json={})
    assert missing.status_code == 401 and challenges(missing) == [BEARER, BASIC]
    assert missing.get_json()["success"] is False  # FIND3's own fields stay
    wrong = client.post(FIND3, json={}, headers=basic("not-a-token"))
    assert wrong.status_code == 401 and challenges(wrong) == [BEARER, BASIC]


def test_an_accepted_token_gets_no_challenge(client, demo):
    body = {"d": "AP-G01", "f": "mall", "t": int((time.time() - 5) * 1000), "s": {"wifi": {"70:4d:7b:11:3a:c8": -81}}}
    resp = client.post(FIND3, json=body, headers=basic(demo))
    assert resp.status_code == 202 and "WWW-Authenticate" not in resp.headers


def test_a_token_without_the_scope_is_told_which_scope(client, svc, demo):
    ap_token = svc.tokens.issue("demo", "ap-relay")  # ingest only
    resp = client.get(V + "/parking/availability", headers={"Authorization": f"Bearer {ap_token}"})
    assert resp.status_code == 403
    assert challenges(resp) == [BEARER + ', error="insufficient_scope", scope="parking"']


def test_every_api_401_has_a_challenge_by_default(client, demo):
    """A 401 raised without a challenge of its own (the shopper-token push API) still carries Bearer."""
    resp = client.delete(V + "/notify/push/abc")
    assert resp.status_code == 401 and challenges(resp) == [BEARER]


# ---- JSON, never HTML, on API paths -------------------------------------------------------------------


def test_capport_405_is_json_with_allow(client, demo):
    resp = client.post("/capport/api?venue=demo")
    assert resp.status_code == 405 and resp.mimetype == "application/json"
    assert "error" in resp.get_json() and b"<html" not in resp.data
    assert "GET" in resp.headers["Allow"] and "POST" not in resp.headers["Allow"]


def test_an_unknown_capport_path_is_a_json_404(client, demo):
    resp = client.get("/capport/api/a/b", headers={"Accept": "text/html"})
    assert resp.status_code == 404 and resp.mimetype == "application/json"


def test_a_shopper_page_still_gets_its_html_error(client, demo):
    resp = client.post("/offline")
    assert resp.status_code == 405 and resp.mimetype == "text/html"


# ---- automatic OPTIONS --------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "allowed"), [(V + "/reports", "POST"), (V + "/parking/availability", "GET"),
                                               ("/capport/api?venue=demo", "GET"), ("/capport/api/x", "GET")])
def test_options_on_an_api_path_is_a_204_with_allow(client, demo, path, allowed):
    resp = client.options(path)
    assert resp.status_code == 204 and resp.data == b""
    assert "Content-Type" not in resp.headers and "Content-Length" not in resp.headers
    assert allowed in resp.headers["Allow"] and "OPTIONS" in resp.headers["Allow"]


def test_options_elsewhere_is_left_to_flask(client, demo):
    resp = client.options("/offline")
    assert resp.status_code == 200 and "GET" in resp.headers["Allow"]


class OpenBreaker:
    """The views' store breaker, open: every view answers its 503."""

    def check(self):
        raise StoreUnavailable("breaker open")

    def record_failure(self, exc):
        pass


def test_options_while_the_store_is_down_keeps_its_503(client, demo, monkeypatch):
    """The OPTIONS rewrite touches only Flask's own answer (200 with Allow): the store breaker's 503 stays one."""

    monkeypatch.setattr(errors, "views_breaker", lambda recording=False: OpenBreaker())
    resp = client.options("/api/v1/venues/demo/reports")
    assert resp.status_code == 503 and resp.headers.get("Retry-After")


# ---- every API error carries "field"; no venue's name is confirmed to a stranger -------------------------------


def api_rules(app) -> list:
    return sorted((r for r in app.url_map.iter_rules() if errors.is_api_path(r.rule)), key=lambda r: r.rule)


def filled(rule, venue: str) -> str:
    """The rule's path with `venue` for <venue> and a harmless value for every other part."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: venue if m.group(1) == "venue" else "x", rule.rule)


def calls(app, venue: str = "demo"):
    """(what, path, method) for every method of every API rule, and a method none takes (a 405)."""
    for rule in api_rules(app):
        path = filled(rule, venue)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}) + ["PATCH"]:
            yield f"{method} {rule.rule}", path, method


def assert_error_shape(what: str, resp) -> None:
    if resp.status_code >= 400:
        assert resp.mimetype == "application/json", what
        body = resp.get_json()
        assert "error" in body and "field" in body, (what, resp.status_code, body)  # `field` null when there is none
        assert body["field"] is None or isinstance(body["field"], str), what


def test_the_walk_covers_every_kind_of_api(app):
    rules = {r.rule for r in api_rules(app)}
    for path in ("/api/v1/venues/<venue>/reports", "/api/v1/venues/<venue>/meraki/<network>",
                 "/api/v1/venues/<venue>/mist/<webhook>", "/api/v1/venues/<venue>/notify/push",
                 "/api/v1/venues/<venue>/cinema/showtimes", "/capport/api"):
        assert path in rules


def test_every_api_error_names_its_field_even_when_none(client, demo, app):
    """401, 403, 404, 405, 415, 422...: whatever answers it (a view, the router, the framework), the body is
    {"error", "field"}; a client reading body["field"] never meets a KeyError."""
    seen = set()
    for what, path, method in calls(app):
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            resp = client.open(path, method=method, json={}, headers=headers)
            assert_error_shape(what, resp)
            seen.add(resp.status_code)
    assert {401, 404, 405} <= seen


def test_every_api_error_while_the_store_is_down_names_its_field(client, demo, app, monkeypatch):
    monkeypatch.setattr(errors, "views_breaker", lambda recording=False: OpenBreaker())
    for what, path, method in calls(app):
        resp = client.open(path, method=method, json={})
        assert_error_shape(what, resp)
    assert client.get(V + "/parking/availability").get_json() == {
        "error": "The service is busy for a moment. Please try again in a few seconds.", "field": None}


def test_an_unknown_api_path_and_a_bad_query_string_name_no_field(client, demo):
    for resp in (client.get("/api/v1/nothing-here"), client.get(V + "/reports?" + "x" * 20_000),
                 client.get("/capport/api?venue=demo&%ff")):
        assert_error_shape(resp.request.path, resp)
        assert resp.status_code in (400, 404, 405, 414) and resp.get_json()["field"] is None


def test_a_stranger_cannot_tell_a_venue_that_exists_from_one_that_does_not(client, demo, app):
    """Every URL naming a venue answers a caller without its credentials the same for `demo` and for a venue that
    does not exist: a token API's 401, an unconfigured Meraki network's or Mist webhook's 404, the push key."""
    compared = 0
    for (what, known_path, method), (_, unknown_path, _) in zip(calls(app), calls(app, "nowhere"), strict=True):
        if known_path == unknown_path:  # no <venue> in it (CAPPORT)
            continue
        known = client.open(known_path, method=method, json={})
        unknown = client.open(unknown_path, method=method, json={})
        assert unknown.status_code == known.status_code, what
        assert unknown.get_data(as_text=True).replace("nowhere", "demo") == known.get_data(as_text=True), what
        compared += 1
    assert compared > 20


def test_the_meraki_429_speaks_to_an_integrator(client, demo, app, db):
    """Wrong secrets past their budget: the API's own 429 (field "secret", Retry-After), not the shoppers' text."""
    MerakiStore(db).configure("demo", "main", "validator", "supersecret")
    budget_store(app).set_limit("demo", "meraki.secret.network", (1, 600))
    url = V + "/meraki/main"
    assert client.post(url, json={"secret": "guess", "type": "DevicesSeen"}).status_code == 403
    resp = client.post(url, json={"secret": "guess", "type": "DevicesSeen"}, headers={"Accept-Language": "zh"})
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
    body = resp.get_json()
    assert body["field"] == "secret" and body["error"].startswith("too many posts with a wrong secret")
