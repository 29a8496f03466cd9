"""With the store down every JSON API answers 503 with Retry-After and every page a 503 page (never a 500);
a form body over the limit is a 413 page without the body being read (issue 14)."""

from __future__ import annotations

import socket

import pytest

from portal import create_app


@pytest.fixture
def down(settings, demo, redis_url):
    """The app built while the store was up, then the store gone (connection refused)."""
    app = create_app(settings)
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    svc = app.extensions["mallportal"]
    svc.db.connection_pool.reset()
    svc.db.connection_pool.connection_kwargs.update(port=port, socket_connect_timeout=0.2)
    app.extensions["shopper_tokens"].db = svc.db
    return app.test_client()


@pytest.mark.parametrize("path", ["/api/v1/venues/demo/reports", "/v/demo/route?from=shop:kopi&to=shop:pixel"])
@pytest.mark.single_node
def test_json_apis_answer_503_with_retry_after(down, path):
    if path.startswith("/api/"):
        resp = down.post(path, json={"ap": "f0:9f:c2:1a:00:01", "observations": []},
                         headers={"Authorization": "Bearer x"})
    else:
        resp = down.get(path, headers={"Accept": "application/json"})
    assert resp.status_code == 503, resp.get_data(as_text=True)
    assert int(resp.headers["Retry-After"]) > 0
    assert "error" in resp.get_json()


@pytest.mark.parametrize("path", ["/v/demo/", "/v/demo/shop/kopi", "/v/demo/zone/atrium/activities"])
@pytest.mark.single_node
def test_shopper_pages_answer_a_localized_503_page(down, path):
    resp = down.get(path, headers={"Accept-Language": "zh-CN"})
    assert resp.status_code == 503 and "Retry-After" in resp.headers
    assert resp.mimetype == "text/html"


@pytest.mark.single_node
def test_console_sign_in_answers_503(down):
    resp = down.post("/console/login", data={"username": "ops", "password": "x" * 12})
    assert resp.status_code in (400, 503)  # the CSRF check comes first, and needs no store
    assert down.get("/console/").status_code in (302, 503)


def test_big_form_to_queue_pages_is_413_not_500(client, demo):
    body = {"party": "2", "c": "x", "note": "a" * 1_200_000}
    resp = client.post("/v/demo/queue/foodcourt/take", data=body)
    assert resp.status_code == 413
    resp = client.post("/v/demo/queue/foodcourt/take", data=body, headers={"Accept": "application/json"})
    assert resp.status_code == 413


QUEUE_PAGES = [("GET", "/v/demo/queue/foodcourt"), ("POST", "/v/demo/queue/foodcourt/take"),
               ("POST", "/v/demo/queue/foodcourt/cancel"), ("GET", "/v/demo/queue/jade/reserve"),
               ("POST", "/v/demo/queue/jade/reserve"), ("POST", "/v/demo/queue/jade/reserve/cancel"),
               ("GET", "/v/demo/queue/foodcourt/preorder"), ("POST", "/v/demo/queue/foodcourt/preorder"),
               ("POST", "/v/demo/queue/foodcourt/notify")]


@pytest.mark.parametrize("token", ["demo." + "x" * 43, None])
@pytest.mark.parametrize(("method", "path"), QUEUE_PAGES)
@pytest.mark.single_node
def test_queue_pages_answer_503_not_500(down, method, path, token):
    """The queue blueprint's context processor (the shopper's token for every form) and the page footer run
    for the 503 page too: neither may ask the dead store again and turn the 503 into a 500 (a token that
    needs a look-up; none, a new shopper's, which is sealed, not stored)."""
    form = {"party": "2", "ticket": "A1", **({"c": token} if token else {})}
    resp = down.open(path, method=method, data=form)
    assert resp.status_code == 503, resp.get_data(as_text=True)[:300]
    assert int(resp.headers["Retry-After"]) > 0
    assert resp.mimetype == "text/html"
