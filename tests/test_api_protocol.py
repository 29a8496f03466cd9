"""HTTP protocol details of the machine APIs (/api/, /capport/), which clients act on as the RFCs say:

- a 401 carries a WWW-Authenticate challenge (RFC 9110 11.6.1: it MUST), Bearer on every token API
  (RFC 6750 section 3, `invalid_token` once a token was sent), Basic too where the basic-auth password
  is taken (FIND3's URL); a token without the API's scope gets `insufficient_scope` on its 403;
- errors on API paths are JSON, never the shoppers' HTML page (the CAPPORT API's 405 included, its Allow kept);
- Flask's automatic OPTIONS answer on an API path is a 204 with Allow, not an empty `text/html` page."""

from __future__ import annotations

import base64
import time

import pytest

from core.store_health import StoreUnavailable
from portal import errors

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


def test_options_while_the_store_is_down_keeps_its_503(client, demo, monkeypatch):
    """The OPTIONS rewrite touches only Flask's own answer (200 with Allow): the store breaker's 503 stays one."""

    class Open:
        def check(self):
            raise StoreUnavailable("breaker open")

        def record_failure(self, exc):
            pass

    monkeypatch.setattr(errors, "views_breaker", lambda recording=False: Open())
    resp = client.options("/api/v1/venues/demo/reports")
    assert resp.status_code == 503 and resp.headers.get("Retry-After")
