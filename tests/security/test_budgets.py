"""Abuse budgets (portal/apps/budgets.py): the store's sliding window, per-venue limits, the CLI, and the
429 answer of every scarce thing (issue 14: "abuse is free because anonymous shopper ids cost one GET")."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import redis

from core.settings import DEFAULT_BUDGETS, Settings, parse_budget
from lightapps.activities.store import ActivityStore
from lightapps.cinema.store import CinemaStore, ShowtimeInput
from lightapps.coupons.store import CouponKeys, CouponStore
from lightapps.queue.store import QueueStore
from portal.apps.budgets import BudgetKeys, BudgetStore, Refusal

HOUR = 3600


@pytest.fixture
def budgets(db):
    return BudgetStore(db, {"t.act.ip": (3, HOUR), "t.act.shopper": (2, HOUR), "t.act.venue": (5, HOUR)}, "k")


# ---- the store ------------------------------------------------------------------------------------


def test_spends_until_a_budget_is_out_then_refuses_with_a_wait(budgets):
    now = 1_000 * HOUR + 10
    assert budgets.spend("v", "t.act", {"ip": "1.2.3.4", "shopper": "a"}, now=now) is None
    assert budgets.spend("v", "t.act", {"ip": "1.2.3.4", "shopper": "a"}, now=now) is None
    refused = budgets.spend("v", "t.act", {"ip": "1.2.3.4", "shopper": "a"}, now=now)
    assert refused.budget == "t.act.shopper" and 0 < refused.retry_after_s <= 2 * HOUR
    # A new shopper on the same address: the IP budget has one left, then none.
    assert budgets.spend("v", "t.act", {"ip": "1.2.3.4", "shopper": "b"}, now=now) is None
    assert budgets.spend("v", "t.act", {"ip": "1.2.3.4", "shopper": "c"}, now=now).budget == "t.act.ip"
    # Another address and shopper: only the venue's budget is shared (5 in all).
    assert budgets.spend("v", "t.act", {"ip": "5.6.7.8", "shopper": "d"}, now=now) is None
    assert budgets.spend("v", "t.act", {"ip": "9.9.9.9", "shopper": "e"}, now=now) is None
    assert budgets.spend("v", "t.act", {"ip": "9.9.9.8", "shopper": "f"}, now=now).budget == "t.act.venue"
    # Another venue counts apart.
    assert budgets.spend("w", "t.act", {"ip": "1.2.3.4", "shopper": "a"}, now=now) is None


def test_a_refusal_spends_nothing(budgets, db):
    now = 2_000 * HOUR
    assert budgets.spend("v", "t.act", {"ip": "1.1.1.1", "shopper": "a"}, cost=2, now=now) is None
    # 2 more on a fresh shopper: the IP has only 1 left, so neither counter moves.
    assert budgets.spend("v", "t.act", {"ip": "1.1.1.1", "shopper": "b"}, cost=2, now=now).budget == "t.act.ip"
    assert budgets.spend("v", "t.act", {"ip": "2.2.2.2", "shopper": "b"}, cost=2, now=now) is None


def test_a_check_answers_as_a_spend_would_and_spends_nothing(budgets):
    now = 3_000 * HOUR
    who = {"ip": "3.3.3.3", "shopper": "a"}
    for _ in range(5):  # checked again and again: the shopper's 2 are still there
        assert budgets.spend("v", "t.act", who, now=now, check_only=True) is None
    assert budgets.spend("v", "t.act", who, now=now) is None and budgets.spend("v", "t.act", who, now=now) is None
    assert budgets.spend("v", "t.act", who, now=now, check_only=True).budget == "t.act.shopper"


def test_a_cost_beyond_a_whole_count_is_refused_for_good_whatever_the_counters_hold(budgets, db):
    """No wait makes room for a cost above a budget's count: the refusal says so (`never`, the count, no wait), and
    says it before a counter with no room just now (its wait would be a promise that does not come true)."""
    now = 4_000 * HOUR
    for shopper in "abc":  # the address's 3 spent: its counter has no room for an hour
        assert budgets.spend("v", "t.act", {"ip": "4.4.4.4", "shopper": shopper}, now=now) is None
    waiting = budgets.spend("v", "t.act", {"ip": "4.4.4.4", "shopper": "d"}, cost=2, now=now)
    assert waiting.budget == "t.act.ip" and not waiting.never and waiting.retry_after_s > 0 and waiting.status == 429
    for check_only in (True, False):
        never = budgets.spend("v", "t.act", {"ip": "4.4.4.4", "shopper": "d"}, cost=3, now=now, check_only=check_only)
        assert never == Refusal("t.act.shopper", 0, 2) and never.never and never.status == 422
    smallest = budgets.spend("v", "t.act", {"ip": "7.7.7.7", "shopper": "g"}, cost=4, now=now)
    assert smallest == Refusal("t.act.shopper", 0, 2)  # the smallest count (the ip's 3 comes first): 2 fit, not 3
    assert budgets.spend("v", "t.act", {"ip": "5.5.5.5", "shopper": "d"}, cost=2, now=now) is None  # nothing spent
    budgets.set_limit("v", "t.act.venue", (0, HOUR))  # the operator switched the action off
    off = budgets.spend("v", "t.act", {"ip": "6.6.6.6", "shopper": "e"}, now=now)
    assert off == Refusal("t.act.venue", 0, 0) and off.status == 403


def test_the_window_slides(budgets):
    start = 3_000 * HOUR
    for _ in range(3):
        assert budgets.spend("v", "t.act", {"ip": "1.1.1.1"}, now=start + 0.9 * HOUR) is None
    refused = budgets.spend("v", "t.act", {"ip": "1.1.1.1"}, now=start + 0.9 * HOUR)
    assert refused is not None
    # Just past the window edge the previous window still weighs almost fully: no double burst.
    assert budgets.spend("v", "t.act", {"ip": "1.1.1.1"}, now=start + 1.05 * HOUR) is not None
    # The wait it named is enough.
    later = start + 0.9 * HOUR + refused.retry_after_s
    assert budgets.spend("v", "t.act", {"ip": "1.1.1.1"}, now=later + 1) is None


@pytest.mark.single_node
def test_keys_carry_the_venue_tag_and_no_raw_ids(budgets, db):
    budgets.spend("v", "t.act", {"ip": "10.1.2.3", "shopper": "s-abc"}, now=time.time())
    keys = [k.decode() for k in db.keys("*")]
    assert keys and all(k.startswith("mp:{v}:budget:") for k in keys)
    assert not any("10.1.2.3" in k or "s-abc" in k for k in keys)


def test_venue_limits_override_the_defaults(budgets):
    budgets.set_limit("v", "t.act.ip", (1, 60))
    assert budgets.limits("v")["t.act.ip"] == ((1, 60), True)
    assert budgets.limits("v")["t.act.shopper"] == ((2, HOUR), False)
    assert budgets.spend("v", "t.act", {"ip": "1.1.1.1"}) is None
    assert budgets.spend("v", "t.act", {"ip": "1.1.1.1"}).retry_after_s <= 2 * 60
    budgets.set_limit("v", "t.act.ip", None)
    assert budgets.limits("v")["t.act.ip"] == ((3, HOUR), False)
    with pytest.raises(KeyError):
        budgets.set_limit("v", "nope.ip", (1, 1))


def test_budget_settings_parse_and_refuse_nonsense():
    assert parse_budget("10/1h") == (10, HOUR) and parse_budget("3/600") == (3, 600)
    assert parse_budget("500/1d") == (500, 86400) and parse_budget("0/1m") == (0, 60)
    for bad in ("", "10", "x/1h", "10/1w", "-1/1h", "10/0", "5/31d"):
        with pytest.raises(ValueError):
            parse_budget(bad)
    settings = Settings.from_env({"BUDGETS": "coupons.claim.ip=2/1m", "DATA_DIR": "/tmp/mp-budget-test"})
    assert settings.budgets["coupons.claim.ip"] == (2, 60)
    assert settings.budgets["cinema.seats.ip"] == DEFAULT_BUDGETS["cinema.seats.ip"]
    with pytest.raises(ValueError):
        Settings.from_env({"BUDGETS": "coupons.nope.ip=2/1m", "DATA_DIR": "/tmp/mp-budget-test"})


def test_cli_lists_sets_and_resets(app, db, demo):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["budgets", "set", "demo", "coupons.claim.ip", "4/10m"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(args=["budgets", "list", "demo"]).output
    assert "coupons.claim.ip" in listed and "4/600s" in listed and "set for this venue" in listed
    assert runner.invoke(args=["budgets", "set", "demo", "coupons.claim.ip", "lots"]).exit_code != 0
    assert runner.invoke(args=["budgets", "set", "demo", "nope.ip", "1/1h"]).exit_code != 0
    assert runner.invoke(args=["budgets", "reset", "demo", "coupons.claim.ip"]).exit_code == 0
    assert not db.hgetall(BudgetKeys("demo").config())


# ---- coupons: one client cannot empty a stock -----------------------------------------------------


def _coupon(svc, stock=30):
    return CouponStore(svc.db).create("demo", "kopi", {
        "title_en": "Rush", "stock": stock, "valid_from": time.time() - 60, "valid_until": time.time() + 3600})


def test_one_client_cannot_claim_30_of_30_coupons(client, svc, demo):
    coupon = _coupon(svc)
    statuses = [client.post(f"/v/demo/zone/kopi/coupons/{coupon.id}/claim").status_code for _ in range(30)]
    claimed = CouponStore(svc.db).get("demo", coupon.id).claimed
    assert claimed == statuses.count(303) <= DEFAULT_BUDGETS["coupons.claim.ip"][0]
    assert statuses.count(429) == 30 - claimed
    # Nothing stored for the refused ones, and other phones still get theirs.
    assert len(svc.db.keys(CouponKeys("demo").code("*"))) == claimed
    other = client.post(f"/v/demo/zone/kopi/coupons/{coupon.id}/claim", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 303


def test_over_budget_is_a_localized_429_with_retry_after(client, svc, demo):
    coupon = _coupon(svc)
    svc_budgets = client.application.extensions["budgets"]
    svc_budgets.set_limit("demo", "coupons.claim.ip", (1, 600))
    assert svc_budgets.spend("demo", "coupons.claim", {"ip": "127.0.0.1"}) is None  # the test client's address
    path = f"/v/demo/zone/kopi/coupons/{coupon.id}/claim"
    page = client.post(path, headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 429 and 0 < int(page.headers["Retry-After"]) <= 2 * 600  # a sliding window
    assert page.mimetype == "text/html" and "请求过多" in page.get_data(as_text=True)
    english = client.post(path + "?lang=en")
    assert english.status_code == 429 and "Too many requests" in english.get_data(as_text=True)
    api = client.post(path, headers={"Accept": "application/json"})
    assert api.status_code == 429 and "Too many" in api.get_json()["error"]
    assert CouponStore(svc.db).get("demo", coupon.id).claimed == 0


def test_a_budget_set_to_0_is_a_localized_403_with_no_retry_after(client, svc, demo):
    """An operator's 0 switches an action off: a 429 would tell the shopper to come back in 10 minutes, and then
    again, for as long as it stays off."""
    coupon = _coupon(svc)
    client.application.extensions["budgets"].set_limit("demo", "coupons.claim.ip", (0, 600))
    path = f"/v/demo/zone/kopi/coupons/{coupon.id}/claim"
    page = client.post(path, headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 403 and "Retry-After" not in page.headers
    assert "此功能目前在此处已关闭" in page.get_data(as_text=True)
    api = client.post(path, headers={"Accept": "application/json"})
    assert api.status_code == 403 and "switched off" in api.get_json()["error"]
    assert CouponStore(svc.db).get("demo", coupon.id).claimed == 0


def test_more_seats_at_once_than_a_budget_holds_are_a_422_that_says_how_many(client, svc, demo):
    """A venue may set the seats' budget below MAX_SEATS_PER_HOLD: a hold of more seats fits no hour."""
    cinema = CinemaStore(svc.db)
    item = ShowtimeInput("Few", "少", "1", int(time.time()) + 3 * 3600, 4000)
    show_id = cinema.upsert_showtimes("demo", "cinema", [item], source="test")["ids"][0]
    run = cinema.showtime("demo", show_id).layout.orphan_runs[0]
    client.application.extensions["budgets"].set_limit("demo", "cinema.seats.shopper", (2, HOUR))
    refused = client.post(f"/v/demo/cinema/cinema/show/{show_id}/hold", data={"seat": list(run[:3])})
    assert refused.status_code == 422 and "Retry-After" not in refused.headers
    assert "You can take at most 2 new seats at a time here" in refused.get_data(as_text=True)  # on the seat page
    assert cinema.occupancy("demo", cinema.showtime("demo", show_id))["held"] == 0
    assert client.post(f"/v/demo/cinema/cinema/show/{show_id}/hold", data={"seat": list(run[:2])}).status_code < 400


def test_a_store_fault_in_the_budget_check_is_503_and_claims_nothing(client, svc, demo):
    coupon = _coupon(svc)
    budgets = client.application.extensions["budgets"]

    def stalled(*args, **kwargs):
        raise redis.TimeoutError("stalled")

    budgets._spend = stalled
    resp = client.post(f"/v/demo/zone/kopi/coupons/{coupon.id}/claim")
    assert resp.status_code == 503 and "Retry-After" in resp.headers
    assert CouponStore(svc.db).get("demo", coupon.id).claimed == 0


# ---- cinema seats and queue numbers ---------------------------------------------------------------


def test_11_requests_from_one_client_cannot_hold_a_whole_showing(client, svc, demo):
    cinema = CinemaStore(svc.db)
    item = ShowtimeInput("Rush", "抢", "1", int(time.time()) + 3 * 3600, 4000)
    show_id = cinema.upsert_showtimes("demo", "cinema", [item], source="test")["ids"][0]
    show = cinema.showtime("demo", show_id)
    picks = [run[i:i + 5] for run in show.layout.orphan_runs for i in range(0, len(run), 5)][:11]
    statuses = [client.post(f"/v/demo/cinema/cinema/show/{show_id}/hold", data={"seat": list(seats)}).status_code
                for seats in picks]
    held = cinema.occupancy("demo", cinema.showtime("demo", show_id))["held"]
    assert 0 < held <= DEFAULT_BUDGETS["cinema.seats.ip"][0] < show.layout.capacity
    assert 429 in statuses


def test_queue_flooding_from_one_client_is_refused(client, svc, demo):
    statuses = [client.post("/v/demo/queue/jade/take", data={"party": "2"}).status_code for _ in range(12)]
    waiting = QueueStore(svc.db).waiting_count("demo", "jade", "A")
    assert waiting == statuses.count(303) == DEFAULT_BUDGETS["queue.take.ip"][0]
    assert statuses.count(429) == 12 - waiting


# ---- sign-up codes (SMS pumping) ------------------------------------------------------------------


def _sender(client):
    from lightapps.membership.sender import EXTENSION

    return client.application.extensions[EXTENSION]


def test_12_signups_to_12_numbers_from_one_client_do_not_all_send_a_code(client, svc, demo):
    statuses = [client.post("/v/demo/member/signup", data={"phone": f"+86138001{i:05d}"}).status_code
                for i in range(12)]
    sent = len(_sender(client).sent)
    assert sent == statuses.count(303) == DEFAULT_BUDGETS["membership.sms.ip"][0]
    assert statuses.count(429) == 12 - sent


def test_one_number_gets_few_codes_whoever_asks(client, svc, demo):
    limit = DEFAULT_BUDGETS["membership.sms.phone"][0]
    answers = [client.post("/v/demo/member/signup", data={"phone": "+8613900000001"},
                           environ_base={"REMOTE_ADDR": f"10.1.0.{i}"}) for i in range(limit + 2)]
    # The first is sent, the next few meet the 30 s cooldown (and count), then the number's budget is out.
    assert answers[0].status_code == 303 and len(_sender(client).sent) == 1
    assert [("Retry-After" in a.headers) for a in answers] == [False] * limit + [True] * 2
    assert all(a.status_code == 429 for a in answers[1:])


def test_the_venue_has_a_daily_sms_budget(client, svc, demo):
    client.application.extensions["budgets"].set_limit("demo", "membership.sms.venue", (3, 86400))
    statuses = [client.post("/v/demo/member/signup", data={"phone": f"+86137000{i:05d}"},
                            environ_base={"REMOTE_ADDR": f"10.2.0.{i}"}).status_code for i in range(5)]
    assert statuses == [303, 303, 303, 429, 429]
    assert len(_sender(client).sent) == 3


# ---- activity sign-ups: one address cannot take every place -----------------------------------------


def _activity(svc, kind="event", limit=30, **over):
    now = time.time()
    starts = now + (3600 if kind == "event" else -60)
    fields = {"kind": kind, "title_en": "Talk", "title_zh": "讲座", "starts_at": starts,
              "ends_at": now + 7200, "limit": limit, **({"needed": 2} if kind == "group" else {}), **over}
    return ActivityStore(svc.db).create("demo", "atrium", fields)


def test_32_anonymous_sign_ups_from_one_address_leave_places_for_others(app, svc, demo):
    item = _activity(svc, limit=30)
    # Each a fresh browser (no cookie, no token): a new anonymous shopper every time, the same address.
    statuses = [app.test_client().post(f"/v/demo/activities/{item.id}/join").status_code for _ in range(32)]
    taken = ActivityStore(svc.db).get("demo", item.id).taken
    assert taken == statuses.count(303) == DEFAULT_BUDGETS["activities.join.ip"][0] < item.limit
    assert statuses.count(429) == 32 - taken
    # A shopper on another address still gets a place.
    other = app.test_client().post(f"/v/demo/activities/{item.id}/join", environ_base={"REMOTE_ADDR": "10.3.0.1"})
    assert other.status_code == 303 and "joined=1" in other.headers["Location"]
    assert ActivityStore(svc.db).get("demo", item.id).taken == taken + 1


def test_one_shopper_joins_a_few_and_a_double_tap_costs_nothing(app, svc, demo):
    limit = DEFAULT_BUDGETS["activities.join.shopper"][0]
    items = [_activity(svc, limit=5) for _ in range(limit + 1)]
    client = app.test_client()
    first = client.post(f"/v/demo/activities/{items[0].id}/join")
    token = parse_qs(urlsplit(first.headers["Location"]).query)["c"][0]
    again = client.post(f"/v/demo/activities/{items[0].id}/join", data={"c": token})
    assert (first.status_code, again.status_code) == (303, 303)  # the second tap spent nothing
    statuses = [client.post(f"/v/demo/activities/{i.id}/join", data={"c": token}).status_code for i in items[1:]]
    assert statuses == [303] * (limit - 1) + [429]
    assert ActivityStore(svc.db).get("demo", items[-1].id).taken == 0


@pytest.mark.parametrize("kind", ["sale", "group"])
def test_paid_holds_and_group_deposits_are_budgeted_too(app, svc, demo, monkeypatch, kind):
    """A paid sale reserves a unit for its order and a group buy's deposit order a seat: the same budget
    comes before either (the payment itself is stubbed here: only whether the hold is attempted counts)."""
    from lightapps.activities import views
    from portal.payments.service import PaymentService

    attempts = []
    monkeypatch.setattr(PaymentService, "enabled", property(lambda self: True))
    monkeypatch.setattr(views, "buy" if kind == "sale" else "pay_deposit",
                        lambda venue, item, client, *args: attempts.append(client) or "FULL")
    item = _activity(svc, kind=kind, price="¥30")
    statuses = [app.test_client().post(f"/v/demo/activities/{item.id}/join").status_code for _ in range(14)]
    ip_limit = DEFAULT_BUDGETS["activities.join.ip"][0]
    assert len(attempts) == ip_limit and statuses == [409] * ip_limit + [429] * (14 - ip_limit)


def test_give_back_takes_a_spend_back_never_below_zero(app, svc):
    from portal.apps.budgets import budget_store

    with app.app_context():
        store = budget_store()
        action = "cinema.seats"
        limit = store.defaults[f"{action}.shopper"][0]
        assert store.spend("demo", action, {"shopper": "s1"}, cost=limit) is None
        assert store.spend("demo", action, {"shopper": "s1"}, cost=1) is not None  # full
        store.give_back("demo", action, {"shopper": "s1"}, cost=3)
        assert store.spend("demo", action, {"shopper": "s1"}, cost=3) is None  # room for exactly three again
        assert store.spend("demo", action, {"shopper": "s1"}, cost=1) is not None
        store.give_back("demo", action, {"shopper": "s2"}, cost=5)  # never spent: nothing goes below zero
        assert store.spend("demo", action, {"shopper": "s2"}, cost=limit + 1) is not None
        assert store.spend("demo", action, {"shopper": "s2"}, cost=limit) is None
