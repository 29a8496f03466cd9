"""Concurrency over real HTTP against gunicorn (live_server): 200 shoppers taking numbers at once get
200 consecutive numbers; 50 "call next" presses at once call each party at most once; parallel taps of one
shopper take one number and spend one unit of the budget."""

from __future__ import annotations

import http.cookiejar
import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from queue_fixtures import forget_line

from core.settings import DEFAULT_BUDGETS
from lightapps.queue.store import QueueStore
from portal.apps.budgets import BudgetKeys, BudgetStore

ZONE = "jade"


def reset_queue(db) -> None:
    forget_line(db, ZONE)
    # 200 phones from one test address: lift the venue's queue budgets (tests/security/test_budgets.py).
    BudgetStore(db, DEFAULT_BUDGETS, "-").set_action_limit("demo", "queue.take", (10**6, 3600))


def new_shopper_take(base: str, party: int, barrier: threading.Barrier | None = None) -> str:
    """One phone: open the landing page (no cookies kept), take a number, return the ticket shown."""
    opener = urllib.request.build_opener()  # no cookie jar: like the iOS captive browser
    with opener.open(f"{base}/v/demo/queue/{ZONE}", timeout=30) as resp:
        page = resp.read().decode()
    token = re.search(r'name="c" value="([^"]+)"', page).group(1)
    if barrier is not None:
        barrier.wait(timeout=60)
    data = urllib.parse.urlencode({"party": party, "c": token}).encode()
    with opener.open(f"{base}/v/demo/queue/{ZONE}/take", data=data, timeout=60) as resp:  # 303 -> GET
        assert f"c={token}" in resp.geturl()
        page = resp.read().decode()
    return re.search(r'id="ticket-number">([A-Z]+\d+)<', page).group(1)


def login(base: str, username: str) -> tuple[urllib.request.OpenerDirector, http.cookiejar.CookieJar]:
    """Log in through the real login form (CSRF token from the page); a cookie-keeping opener."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/console/login", timeout=30).read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": username, "password": "mallportal-demo", "csrf_token": csrf})
    opener.open(f"{base}/console/login", data=form.encode(), timeout=30).read()
    return opener, jar


def console_session(base: str, username: str) -> tuple[str, str]:
    """(Cookie header, CSRF token) of a logged-in console session, for posts from many threads."""
    opener, jar = login(base, username)
    page = opener.open(f"{base}/console/apps/queue/demo/{ZONE}/", timeout=30).read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return "; ".join(f"{c.name}={c.value}" for c in jar), csrf


def test_200_concurrent_shoppers_get_consecutive_numbers(live_server):
    db = live_server.db()
    reset_queue(db)
    barrier = threading.Barrier(200)
    with ThreadPoolExecutor(200) as pool:
        futures = [pool.submit(new_shopper_take, live_server.url, 2, barrier) for _ in range(200)]
        tickets = [f.result() for f in futures]
    assert len(set(tickets)) == 200
    assert sorted(tickets) == [f"A{n:03d}" for n in range(1, 201)]  # no gap, no duplicate
    store = QueueStore(db)
    assert store.last_number("demo", ZONE, "A") == 200
    assert store.waiting_count("demo", ZONE, "A") == 200
    assert len({t["client"] for t in store.waiting("demo", ZONE, "A", limit=500)}) == 200


@pytest.mark.parametrize("waiting", [30])
def test_50_concurrent_call_next_presses_call_each_party_once(live_server, waiting):
    db = live_server.db()
    reset_queue(db)
    store = QueueStore(db)
    for i in range(waiting):
        assert store.take("demo", ZONE, "B", 3, f"party-{i}").ok
    cookie, csrf = console_session(live_server.url, "jade")
    barrier = threading.Barrier(50)
    body = urllib.parse.urlencode({"cls": "B", "csrf_token": csrf}).encode()

    def press(_):
        request = urllib.request.Request(f"{live_server.url}/console/apps/queue/demo/{ZONE}/call-next", data=body,
                                         headers={"Cookie": cookie, "Accept": "application/json"})
        barrier.wait(timeout=60)
        with urllib.request.urlopen(request, timeout=60) as resp:
            assert resp.status == 200
            return json.loads(resp.read())["called"]

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(press, range(50)))
    called = [r for r in results if r]
    assert len(called) == len(set(called)) == waiting  # each party called once, nobody twice
    assert sorted(called) == [f"B{n:03d}" for n in range(1, waiting + 1)]
    assert results.count(None) == 50 - waiting
    log = store.call_log("demo", ZONE)
    assert len(log) == len(set(log)) == waiting
    assert all(store.ticket("demo", ZONE, t)["state"] == "SERVICE_READY" for t in called)


def test_logged_out_and_wrong_owner_over_http(live_server):
    url = f"{live_server.url}/console/apps/queue/demo/{ZONE}/"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(url, timeout=30) as resp:
        assert "/console/login" in resp.geturl()
    kopi, _jar = login(live_server.url, "kopi")
    with pytest.raises(urllib.error.HTTPError) as err:
        kopi.open(url, timeout=30)
    assert err.value.code == 403



def test_parallel_taps_of_one_shopper_take_one_number_and_spend_once(live_server):
    """Taps sent together (a double tap, a flaky connection's retries) give one number and spend the shopper's
    "queue.take" budget once: each tap checks, only a NEW answer spends, and what a tap beaten by another
    spent is given back. Several shoppers at once, so a race is all but sure to happen."""
    db = live_server.db()
    reset_queue(db)
    shoppers = [f"tapper-{i}-{time.time_ns()}" for i in range(5)]
    tokens = live_server.shopper_tokens("demo", shoppers)
    barrier = threading.Barrier(len(shoppers) * 3)

    def tap(token: str) -> int:
        data = urllib.parse.urlencode({"party": 2, "c": token}).encode()
        barrier.wait(timeout=60)
        with urllib.request.urlopen(f"{live_server.url}/v/demo/queue/{ZONE}/take", data=data, timeout=60) as resp:
            return resp.status  # after the 303, the landing

    with ThreadPoolExecutor(len(shoppers) * 3) as pool:
        statuses = list(pool.map(tap, tokens * 3))
    assert statuses == [200] * len(statuses)
    store, budgets = QueueStore(db), BudgetStore(db, DEFAULT_BUDGETS, live_server.settings.mac_hash_key)
    assert store.waiting_count("demo", ZONE, "A") == len(shoppers)
    for shopper in shoppers:
        assert store.my_ticket("demo", ZONE, shopper)["state"] == "WAITING"
        key = BudgetKeys("demo").counter("queue.take.shopper", budgets.hashed("shopper", shopper))
        assert int(db.hget(key, "c")) == 1, shopper
