"""A store that is slow but answers (every call under STORE_TIMEOUT_S) must not hold a worker thread for a page's
every call in turn, with the probes queued behind those pages: each request may wait STORE_REQUEST_BUDGET_S on the
store, all its calls together (the probes and the captive portal's pages half of it), and then fails like a store
fault (a 503 page; a probe fails open to /offline); and the breaker opens when most calls are slow, so the next
requests fail at once. Driven by a clock each reply advances by a fixed step: nothing here depends on the machine's
speed, and the tests count the store's replies, not seconds."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
import redis

from core import storage
from core.storage import WAIT_FLOOR_S, StoreBudget, StoreBudgetSpent, store_budget
from core.store_health import SLOW_CALL_S, SLOW_WINDOW, StoreBreaker

PROBE = "/generate_204?venue=demo&client_mac=02:5e:12:34:56:78"


class StepClock:
    """A clock that moves `step` seconds each time it is read: a budget reads it before and after each reply, so
    every reply costs `step`, and `replies` says how many the store sent."""

    def __init__(self, step: float) -> None:
        self.step, self.now, self.reads = step, 0.0, 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += self.step
        return self.now

    @property
    def replies(self) -> int:
        return self.reads // 2


@pytest.fixture
def slow_store(monkeypatch):
    """Every store reply takes 0.5 s (of the budget's clock), all of it charged (no free floor: exact counts)."""
    clock = StepClock(0.5)
    monkeypatch.setattr(storage, "budget_clock", clock)
    monkeypatch.setattr(storage, "WAIT_FLOOR_S", 0.0)
    return clock


@pytest.fixture(autouse=True)
def breaker_stepped_by_hand(request, monkeypatch):
    """No background prober (as tests/faults/test_faults_breaker_views.py): nothing races a timer."""
    if "svc" in request.fixturenames:
        monkeypatch.setattr(request.getfixturevalue("svc").breaker, "_on_open", None)


@pytest.mark.single_node
def test_a_page_on_a_slow_store_answers_503_once_its_budget_is_spent(client, svc, demo, slow_store):
    resp = client.get("/v/demo/me", headers={"Accept-Language": "zh-CN"})
    assert resp.status_code == 503 and "Retry-After" in resp.headers
    assert "服务暂时繁忙" in resp.get_data(as_text=True)  # the store fault's own page, in the shopper's language
    # STORE_REQUEST_BUDGET_S (3 s) at 0.5 s a reply: 6 replies, then no call went out any more
    assert slow_store.replies == svc.settings.store_request_budget_s / 0.5 == 6


@pytest.mark.single_node
def test_a_probe_on_a_slow_store_fails_open_within_its_smaller_budget(client, svc, demo, slow_store):
    resp = client.get(PROBE)
    assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path == "/offline"
    assert slow_store.replies == 3  # half of 3 s at 0.5 s a reply


@pytest.mark.single_node
def test_slow_pages_open_the_breaker_and_then_nothing_waits_on_the_store(client, svc, demo, monkeypatch):
    slow_store = StepClock(SLOW_CALL_S)  # every reply as slow as the slow-call rule's line
    monkeypatch.setattr(storage, "budget_clock", slow_store)
    pages = 0
    while not svc.breaker.is_open:
        assert client.get("/v/demo/me").status_code == 503
        pages += 1
        assert pages * 3 <= 2 * SLOW_WINDOW  # each page's round trips were all slow: opened within a window
    replies = slow_store.replies
    assert client.get("/v/demo/me").status_code == 503
    probe = client.get(PROBE)
    assert probe.status_code == 302 and urlparse(probe.headers["Location"]).path == "/offline"
    assert slow_store.replies == replies  # neither waited on the store


def test_the_breaker_opens_when_most_recent_calls_are_slow_and_stays_open_while_pings_are_slow():
    ping_takes = [1.0]
    clock = StepClock(0.0)

    def ping():
        clock.now += ping_takes[0]

    breaker = StoreBreaker(ping, background=False, clock=clock)
    for _ in range(SLOW_WINDOW // 2):  # half slow, half fast: not most
        breaker.record_duration(0.001)
        breaker.record_duration(breaker.slow_call_s)
    assert not breaker.is_open
    breaker.record_duration(breaker.slow_call_s)  # 11 of the last 20
    assert breaker.is_open
    assert breaker.probe_once() is False and breaker.is_open  # it answers, slowly
    ping_takes[0] = 0.001
    assert breaker.probe_once() is True and not breaker.is_open


def test_a_call_through_the_breaker_counts_its_time():
    clock = StepClock(0.0)
    breaker = StoreBreaker(lambda: None, background=False, clock=clock)

    def slow_read():
        clock.now += 1.0
        return "answer"

    for _ in range(SLOW_WINDOW):
        assert breaker.call(slow_read) == "answer"
    assert breaker.is_open


@pytest.mark.parametrize("atomic", [False, True])
def test_a_pipeline_stops_at_the_budget_and_leaves_no_reply_behind(db, monkeypatch, atomic):
    """On one store and on a cluster (TEST_STORE=cluster): the pipeline's replies past the budget are never read as
    the next call's."""
    db.set("mp:{demo}:budget:a", "a")
    clock = StepClock(0.5)
    monkeypatch.setattr(storage, "budget_clock", clock)
    monkeypatch.setattr(storage, "WAIT_FLOOR_S", 0.0)
    with store_budget(StoreBudget(1.0)), pytest.raises(StoreBudgetSpent):
        pipe = db.pipeline(transaction=atomic)
        for _ in range(6):
            pipe.get("mp:{demo}:budget:a")
        pipe.execute()
    assert clock.replies <= 3  # MULTI/EXEC: the QUEUED replies first
    with store_budget(StoreBudget(1.0)), pytest.raises(StoreBudgetSpent):
        db.get("mp:{demo}:budget:a")
        db.get("mp:{demo}:budget:a")
        db.get("mp:{demo}:budget:a")  # sent after the budget is spent: never
    assert db.get("mp:{demo}:budget:a") == b"a" and db.incr("mp:{demo}:budget:n") == 1  # no budget: as before


@pytest.mark.single_node
def test_a_reply_waits_at_most_what_is_left_of_the_budget(db):
    """A blocking read the store would hold for 30 s (past the client's own timeout): the budget's end, not the
    socket timeout, ends the wait, and the error is the budget's (a 503, a probe failing open), not a timeout
    redis-py would send again."""
    with store_budget(StoreBudget(0.2)), pytest.raises(StoreBudgetSpent):
        db.blpop(["mp:{demo}:budget:never"], timeout=30)
    assert db.ping()


def test_no_budget_outside_a_request(db):
    assert storage.current_store_budget() is None
    with store_budget(StoreBudget(0.0)), pytest.raises(StoreBudgetSpent):
        db.ping()
    assert storage.current_store_budget() is None and db.ping()
    with pytest.raises(redis.RedisError), store_budget(StoreBudget(0.0)):  # what every store-fault path handles
        db.ping()


def test_a_busy_hosts_short_waits_are_not_charged():
    """Each wait's first WAIT_FLOOR_S is free: 50 round trips of 40 ms (a busy 2-core host) spend nothing, while a
    slow store's 0.3 s calls are charged all but the floor."""
    budget = StoreBudget(3.0)
    for _ in range(50):
        budget.charge(0.04, round_trip=True)
    assert budget.spent == 0.0
    budget.charge(0.3, round_trip=True)
    assert budget.spent == pytest.approx(0.3 - WAIT_FLOOR_S)
