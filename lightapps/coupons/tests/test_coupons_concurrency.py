"""Concurrency over real HTTP against gunicorn (2 workers x 16 threads): 200 threads at once."""

from __future__ import annotations

import http.client
import re
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.settings import DEFAULT_BUDGETS
from lightapps.coupons.store import CouponKeys, CouponStore
from portal.apps.budgets import BudgetKeys, BudgetStore

pytestmark = pytest.mark.slow


def request(base: str, method: str, path: str, data: dict | None = None, headers: dict | None = None):
    """One request on its own connection, redirects not followed: (status, headers, body)."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    body = urllib.parse.urlencode(data) if data is not None else None
    hdrs = dict(headers or {})
    if body is not None:
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read().decode()
    finally:
        conn.close()


def tokens(live_server, names):
    return live_server.shopper_tokens("demo", names)


def live_coupon(live_server, stock: int, zone: str = "kopi"):
    # 200 phones from one test address: lift the venue's claim budgets (tests/security/test_budgets.py).
    BudgetStore(live_server.db(), DEFAULT_BUDGETS, "-").set_action_limit("demo", "coupons.claim", (10**6, 3600))
    return CouponStore(live_server.db()).create("demo", zone, {
        "title_en": f"Rush {time.time_ns()}", "stock": stock, "valid_from": time.time() - 60,
        "valid_until": time.time() + 3600})


def claim_path(coupon, zone="kopi"):
    return f"/v/demo/zone/{zone}/coupons/{coupon.id}/claim"


def console_session(live_server, username: str) -> tuple[str, str]:
    """Log in over HTTP: (cookie header, CSRF token of that session)."""
    status, headers, page = request(live_server.url, "GET", "/console/login")
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    status, headers, _ = request(live_server.url, "POST", "/console/login",
                                 {"username": username, "password": "mallportal-demo", "csrf_token": csrf},
                                 {"Cookie": cookie})
    assert status == 303, status
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    status, headers, page = request(live_server.url, "GET", f"/console/apps/coupons/demo/{username}/",
                                    headers={"Cookie": cookie})
    assert status == 200, status
    if headers.get("Set-Cookie"):
        cookie = headers["Set-Cookie"].split(";", 1)[0]
    return cookie, re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_200_shoppers_claim_a_stock_of_50(live_server):
    coupon = live_coupon(live_server, stock=50)
    toks = tokens(live_server, [f"rush-{coupon.id}-{i}" for i in range(200)])
    with ThreadPoolExecutor(200) as pool:
        results = list(pool.map(lambda t: request(live_server.url, "POST", claim_path(coupon), {"c": t}), toks))
    statuses = [s for s, _h, _b in results]
    assert statuses.count(303) == 50, sorted(set(statuses))
    assert statuses.count(410) == 150
    codes = {re.search(r"/coupons/mine/(\w+)", h["Location"]).group(1) for s, h, _b in results if s == 303}
    assert len(codes) == 50
    after = CouponStore(live_server.db()).get("demo", coupon.id)
    assert (after.left, after.claimed) == (0, 50)  # 0 oversold
    assert live_server.db().hlen(CouponKeys("demo").holders(coupon.id)) == 50


def test_one_shopper_claiming_twice_at_once_gets_one_coupon(live_server):
    coupon = live_coupon(live_server, stock=100)
    # 50 shoppers, each firing 4 claims at the same time (200 requests).
    names = [f"twice-{coupon.id}-{i % 50}" for i in range(200)]
    toks = tokens(live_server, names)
    with ThreadPoolExecutor(200) as pool:
        results = list(pool.map(lambda t: request(live_server.url, "POST", claim_path(coupon), {"c": t}), toks))
    assert all(s == 303 for s, _h, _b in results)
    by_shopper: dict[str, set[str]] = {}
    for name, (_s, headers, _b) in zip(names, results, strict=True):
        by_shopper.setdefault(name, set()).add(re.search(r"/coupons/mine/(\w+)", headers["Location"]).group(1))
    assert all(len(codes) == 1 for codes in by_shopper.values())
    store = CouponStore(live_server.db())
    assert store.get("demo", coupon.id).claimed == 50
    # Each shopper's taps spend the budget once: only a tap whose check says NEW spends, and one beaten to the
    # claim by a parallel tap gives its unit back.
    budgets = BudgetStore(live_server.db(), DEFAULT_BUDGETS, live_server.settings.mac_hash_key)
    for name in by_shopper:
        assert len(store.wallet("demo", name)) == 1
        key = BudgetKeys("demo").counter("coupons.claim.shopper", budgets.hashed("shopper", name))
        assert int(live_server.db().hget(key, "c")) == 1, name


def test_200_tills_redeem_one_code_once(live_server):
    coupon = live_coupon(live_server, stock=5)
    store = CouponStore(live_server.db())
    code = store.claim("demo", "kopi", coupon.id, f"redeem-{coupon.id}").code
    cookie, csrf = console_session(live_server, "kopi")
    path = "/console/apps/coupons/demo/kopi/redeem"
    with ThreadPoolExecutor(200) as pool:
        results = list(pool.map(
            lambda _i: request(live_server.url, "POST", path, {"code": code, "csrf_token": csrf}, {"Cookie": cookie}),
            range(200)))
    statuses = [s for s, _h, _b in results]
    assert statuses.count(200) == 1, sorted(set(statuses))
    assert statuses.count(409) == 199
    assert all("Already redeemed at" in b for s, _h, b in results if s == 409)
    assert store.get("demo", coupon.id).redeemed == 1
    assert store.issued("demo", code).state == "redeemed"
