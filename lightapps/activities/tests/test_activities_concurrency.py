"""Concurrency over real HTTP against gunicorn (2 workers x 16 threads): 200 threads at once buy a
flash-sale item with a stock of 20, and sign up for an event with 50 places."""

from __future__ import annotations

import http.client
import re
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.settings import DEFAULT_BUDGETS
from lightapps.activities.store import ActivityKeys, ActivityStore
from portal.apps.budgets import BudgetStore

pytestmark = pytest.mark.slow


def post(base: str, path: str, data: dict):
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.request("POST", path, body=urllib.parse.urlencode(data),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read().decode()
    finally:
        conn.close()


def tokens(live_server, names):
    return live_server.shopper_tokens("demo", names)


def rush(live_server, item, names):
    # 200 phones from one test address: lift the venue's join budgets (tests/security/test_budgets.py).
    BudgetStore(live_server.db(), DEFAULT_BUDGETS, "-").set_action_limit("demo", "activities.join", (10**6, 3600))
    toks = tokens(live_server, names)
    path = f"/v/demo/activities/{item.id}/join"
    with ThreadPoolExecutor(200) as pool:
        return list(pool.map(lambda t: post(live_server.url, path, {"c": t}), toks))


def test_200_shoppers_buy_a_flash_sale_with_stock_20(live_server):
    acts = ActivityStore(live_server.db())
    now = time.time()
    item = acts.create("demo", "atrium", {"kind": "sale", "title_en": f"Rush {time.time_ns()}",
                                          "starts_at": now - 1, "ends_at": now + 3600, "limit": 20})
    results = rush(live_server, item, [f"sale-{item.id}-{i}" for i in range(200)])
    statuses = [s for s, _h, _b in results]
    assert statuses.count(303) == 20, sorted(set(statuses))
    assert statuses.count(409) == 180
    assert all("joined=1" in h["Location"] for s, h, _b in results if s == 303)
    after = acts.get("demo", item.id)
    assert after.taken == 20  # 0 oversold
    assert live_server.db().hlen(ActivityKeys("demo").who(item.id)) == 20


def test_200_shoppers_sign_up_for_an_event_with_50_places(live_server):
    acts = ActivityStore(live_server.db())
    now = time.time()
    item = acts.create("demo", "atrium", {"kind": "event", "title_en": f"Talk {time.time_ns()}",
                                          "starts_at": now + 3600, "ends_at": now + 7200, "limit": 50})
    results = rush(live_server, item, [f"event-{item.id}-{i}" for i in range(200)])
    statuses = [s for s, _h, _b in results]
    assert statuses.count(303) == 50 and statuses.count(409) == 150, sorted(set(statuses))
    assert acts.get("demo", item.id).taken == 50


def test_one_shopper_clicking_four_times_at_once_gets_one_place(live_server):
    acts = ActivityStore(live_server.db())
    now = time.time()
    item = acts.create("demo", "atrium", {"kind": "sale", "title_en": f"Dup {time.time_ns()}",
                                          "starts_at": now - 1, "ends_at": now + 3600, "limit": 100})
    names = [f"dup-{item.id}-{i % 50}" for i in range(200)]
    results = rush(live_server, item, names)
    assert all(s == 303 for s, _h, _b in results)
    assert sum("joined=1" in h["Location"] for _s, h, _b in results) == 50
    assert acts.get("demo", item.id).taken == 50
    for name in set(names):
        assert len(acts.mine("demo", name)) == 1


def test_group_buy_joined_by_200_at_once_then_settled(live_server):
    acts = ActivityStore(live_server.db())
    item = acts.create("demo", "atrium", {"kind": "group", "title_en": f"Group {time.time_ns()}",
                                          "ends_at": time.time() + 30, "needed": 150, "limit": 180})
    results = rush(live_server, item, [f"group-{item.id}-{i}" for i in range(200)])
    statuses = [s for s, _h, _b in results]
    assert statuses.count(303) == 180 and statuses.count(409) == 20
    got = acts.get("demo", item.id)
    assert got.taken == 180 and got.reached_at is not None and got.outcome == ""
    assert acts.get("demo", item.id, now=item.ends_at).outcome == "succeeded"
    status, _h, body = post(live_server.url, f"/v/demo/activities/{item.id}/join",
                            {"c": tokens(live_server, ["latecomer"])[0]})
    assert status == 410 and re.search(r"has ended", body)
