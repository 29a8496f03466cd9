"""The queue store against a real Valkey: numbers, calls, transitions, pauses, reservations, menu,
pre-orders; the rules and the wait estimator."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
from queue_fixtures import forget_line

from core.settings import DEFAULT_TIME_ZONE
from lightapps.queue import APP, estimate, rules
from lightapps.queue.store import QueueKeys, QueueStore, service_day

V, Z = "demo", "jade"


@pytest.fixture
def store(db) -> QueueStore:
    return QueueStore(db)


# ---- rules ---------------------------------------------------------------------------------------


def test_table_classes_parse_and_reject():
    classes = rules.parse_table_classes(" a:1-2, B:3-4,C:5+ ")
    assert [(c.label, c.low, c.high) for c in classes] == [("A", 1, 2), ("B", 3, 4), ("C", 5, rules.MAX_PARTY)]
    assert rules.class_for_party(classes, 4).label == "B"
    for bad in ("", "A", "A:0-2", "A:3-1", "A:1-2,A:3-4", "A:1-3,B:3-4", "A:1-99", "AAA:1-2", "A:x-y",
                ",".join(f"{chr(65 + i)}:{i + 1}" for i in range(9))):
        with pytest.raises(ValueError):
            rules.parse_table_classes(bad)


def test_config_schema_validates_table_classes():
    config = APP.validate_config({"table_classes": "a:1-2,b:3-6", "open_hours": "10:00-14:00"})
    assert config["table_classes"] == "A:1-2,B:3-6"
    with pytest.raises(ValueError):
        APP.validate_config({"table_classes": "A:1-4,B:3-6"})
    with pytest.raises(ValueError):
        APP.validate_config({"table_classes": "A:1-2", "open_hours": "22:00-22:00"})
    with pytest.raises(ValueError):
        APP.validate_config({"turn_minutes": "0"})


def test_party_parsing():
    classes = rules.parse_table_classes("A:1-2,B:3-4,C:6-8")
    assert rules.parse_party("3", classes) == 3
    assert rules.parse_party("３", classes) == 3  # full-width, from a Chinese keyboard
    for bad in ("0", "abc", "", None, "-1", "9", "2.5", "1e3", "5", "0003000", "²x", "٣"):
        with pytest.raises(ValueError):
            rules.parse_party(bad, classes)


def test_slots_and_prices():
    assert rules.slots("11:00-13:00", 30) == ["11:00", "11:30", "12:00", "12:30"]
    assert rules.parse_price("12.5") == 1250 and rules.format_price(1250) == "12.50"
    for bad in ("abc", "-1", "1.001", "NaN", "Infinity", "1000001"):
        with pytest.raises(ValueError):
            rules.parse_price(bad)


def test_estimator_uses_prior_then_turns_and_is_monotone():
    """More in test_queue_wait_estimate.py: which seatings are turns, and the range after a rush."""
    assert estimate.estimate(0, [], 10) == estimate.WaitRange(0, 14)  # 0 .. 1 x 12.5 x 1.1
    assert estimate.estimate(2, [], 10) == estimate.WaitRange(15, 42)
    base = 1000.0
    seatings = [(base + 60 * 4 * i, base - 60) for i in range(6)]  # a table every 4 minutes, a line waiting
    samples = estimate.turns(seatings, 2)
    assert samples == [4.0] * 4  # the first 2 tables were filled, not freed
    assert estimate.estimate(2, samples, 10, 2) == estimate.WaitRange(8, 14)
    quiet = estimate.turns([(0, -60), (60, -30), (60 + 3600, 3650)], 1)  # the next party came an hour later
    assert quiet == [1.0]
    ranges = [estimate.estimate(k, samples, 10, 2) for k in range(20)]
    assert all(a.low <= b.low and a.high <= b.high for a, b in zip(ranges, ranges[1:], strict=False))


# ---- numbers ---------------------------------------------------------------------------------------


def test_numbers_are_consecutive_per_class_and_one_active_ticket(store):
    first = store.take(V, Z, "A", 2, "c1")
    assert first.ok and first.value == "A001"
    assert store.take(V, Z, "A", 1, "c2").value == "A002"
    assert store.take(V, Z, "B", 3, "c3").value == "B001"
    again = store.take(V, Z, "B", 4, "c1")  # c1 already holds A001
    assert not again.ok and again.reason == "ACTIVE" and again.value == "A001"
    assert store.last_number(V, Z, "B") == 1  # refused takes use no number
    ticket = store.my_ticket(V, Z, "c2")
    assert ticket["id"] == "A002" and ticket["party"] == 1 and ticket["state"] == "WAITING"
    assert store.parties_ahead(V, Z, ticket) == 1


def test_forgetting_a_line_past_the_malls_midnight_forgets_the_numbers_carried_over(store, db):
    """The tests' reset (queue_fixtures.forget_line) right after midnight: yesterday's live number would have today's
    start after it; forgotten with today's, the line starts at A001 again."""
    midnight = datetime.combine(date.today() + timedelta(days=1), datetime.min.time(),
                                ZoneInfo(DEFAULT_TIME_ZONE)).timestamp()
    assert store.take(V, Z, "A", 2, "before-midnight", now=midnight - 600).value == "A001"
    assert store.take(V, Z, "A", 2, "after-midnight", now=midnight + 60).value == "A002"  # carried over
    forget_line(db, Z, V, now=midnight + 90)
    assert store.take(V, Z, "A", 2, "after-reset", now=midnight + 120).value == "A001"
    assert store.waiting_count(V, Z, "A", now=midnight + 120) == 1


def test_call_seat_noshow_cancel(store):
    for i in range(4):
        store.take(V, Z, "A", 2, f"c{i}")
    assert store.call_next(V, Z, "A").value == "A001"
    assert store.call_next(V, Z, "A").value == "A002"
    assert store.ticket(V, Z, "A001")["state"] == "SERVICE_READY"
    assert store.parties_ahead(V, Z, store.ticket(V, Z, "A004")) == 1
    assert store.seat(V, Z, "A001", "A").ok
    assert store.no_show(V, Z, "A002", "A").ok
    assert store.no_show(V, Z, "A003", "A").reason == "STATE"  # not called yet
    assert store.cancel(V, Z, "A003", "A", "someone-else").reason == "NOT_YOURS"
    assert store.cancel(V, Z, "A003", "A", "c2").ok
    assert store.seat(V, Z, "A003", "A").reason == "STATE"
    assert store.seat(V, Z, "A999", "A").reason == "NOT_FOUND"
    assert [t["id"] for t in store.waiting(V, Z, "A")] == ["A004"]
    assert store.called(V, Z, "A") == []
    assert store.call_next(V, Z, "A").value == "A004"  # the canceled A003 is skipped
    assert not store.call_next(V, Z, "A").ok
    assert store.call_log(V, Z) == ["A001", "A002", "A004"]
    assert len(store.seatings(V, Z, "A")) == 1
    # after the number is over, the shopper may take another
    assert store.take(V, Z, "A", 2, "c0").value == "A005"


def test_pause_refuses_new_numbers(store):
    store.pause(V, Z, "B")
    refused = store.take(V, Z, "B", 3, "c1")
    assert not refused.ok and refused.reason == "PAUSED"
    assert store.take(V, Z, "A", 2, "c1").ok
    store.pause(V, Z)
    assert store.take(V, Z, "A", 2, "c2").reason == "PAUSED"
    store.resume(V, Z)
    assert store.paused(V, Z) == set()
    assert store.take(V, Z, "B", 3, "c2").value == "B001"


def test_keys_carry_the_venue_hash_tag_and_expire(store, db):
    store.take(V, Z, "A", 2, "c1")
    keys = [k.decode() for k in db.keys("*")]
    assert keys and all(k.startswith("mp:{demo}:queue:jade:") for k in keys)
    assert all(0 < db.ttl(k) <= 2 * 86400 for k in keys)


def test_numbers_restart_each_day(store):
    today = time.time()
    tomorrow = today + 86400
    store.take(V, Z, "A", 2, "c1", now=today)
    assert store.take(V, Z, "A", 2, "c1", now=tomorrow).value == "A001"
    assert store.my_ticket(V, Z, "c1", now=tomorrow)["day"] == service_day(tomorrow)


def _venue_midnight() -> float:
    """The demo venue's next midnight (Asia/Shanghai: the store's default zone), as epoch seconds."""
    tz = ZoneInfo(DEFAULT_TIME_ZONE)
    return datetime.combine(datetime.now(tz).date() + timedelta(days=1), datetime.min.time(), tz).timestamp()


def test_a_number_outlives_the_venues_midnight(store):
    """A party waiting at midnight keeps its number, its place in line and its cancel; the new day's numbers
    start after the last live one (never a second live A001); call-next serves the earlier day first."""
    midnight = _venue_midnight()
    before, after = midnight - 120, midnight + 120
    assert store.take(V, Z, "A", 2, "c1", now=before).value == "A001"
    assert store.take(V, Z, "A", 2, "c2", now=before).value == "A002"
    mine = store.my_ticket(V, Z, "c1", now=after)
    assert mine["id"] == "A001" and mine["state"] == "WAITING" and mine["day"] == service_day(before)
    assert store.take(V, Z, "A", 2, "c1", now=after).reason == "ACTIVE"  # still one live number each
    assert store.take(V, Z, "A", 2, "c3", now=after).value == "A003"
    assert store.take(V, Z, "B", 3, "c4", now=after).value == "B001"  # no live B number: B restarts
    late = store.my_ticket(V, Z, "c3", now=after)
    assert late["day"] == service_day(after) and store.parties_ahead(V, Z, late, now=after) == 2
    assert store.parties_ahead(V, Z, store.my_ticket(V, Z, "c2", now=after), now=after) == 1
    assert store.waiting_count(V, Z, "A", now=after) == 3
    assert [t["id"] for t in store.waiting(V, Z, "A", now=after)] == ["A001", "A002", "A003"]
    assert [t["id"] for t in store.waiting(V, Z, "A", limit=1, now=after)] == ["A001"]
    called = store.call_next(V, Z, "A", now=after)
    assert (called.value, called.day) == ("A001", service_day(before))
    assert [t["id"] for t in store.called(V, Z, "A", now=after)] == ["A001"]
    canceled = store.cancel(V, Z, "A002", "A", "c2", now=after)
    assert canceled.ok and canceled.day == service_day(before)
    assert store.my_ticket(V, Z, "c2", now=after)["state"] == "CANCELED"  # ended today: the page says so
    assert store.seat(V, Z, "A001", "A", now=after).day == service_day(before)
    assert store.ticket(V, Z, "A001", service_day(before))["state"] == "SEATED"
    assert store.ticket(V, Z, "A003", service_day(after))["state"] == "WAITING"
    assert store.call_next(V, Z, "A", now=after).value == "A003"
    assert store.call_log(V, Z, service_day(after)) == ["A001", "A003"]
    assert len(store.seatings(V, Z, "A", now=after)) == 1


def test_seatings_keep_when_each_party_took_its_number_across_midnight(store, db):
    """The wait estimator's data: each seating with when its party took its number (was it waiting?) and when
    it was called (its table came free then, not when it walked back); the previous service day's only with a
    `since` on that day (hours past midnight), never by default (a slow yesterday says nothing of this
    morning); an entry written before the number's time was kept reads None."""
    midnight = _venue_midnight()
    evening, late = midnight - 3600, midnight + 1800
    store.take(V, Z, "A", 2, "c1", now=evening - 600)
    store.take(V, Z, "A", 2, "c2", now=evening - 300)
    assert store.seat(V, Z, "A001", "A", now=evening).ok  # seated straight from the line: no call
    assert store.call_next(V, Z, "A", now=late - 900).value == "A002"
    assert store.seat(V, Z, "A002", "A", now=late).ok  # a previous-day number, called, seated after midnight
    both = [(evening, evening - 600, None), (late, evening - 300, late - 900)]
    assert store.seatings(V, Z, "A", now=late, since=evening - 7200) == both
    assert store.seatings(V, Z, "A", now=late, since=evening + 1) == both[1:]
    assert store.seatings(V, Z, "A", now=late) == both[1:]  # today's service day only
    assert [s.handed for s in store.seatings(V, Z, "A", now=late)] == [late - 900]
    assert store.seatings(V, Z, "B", now=late, since=evening - 7200) == []
    db.rpush(QueueKeys(V).seats(Z, service_day(late), "A"), repr(late + 60))
    assert store.seatings(V, Z, "A", now=late)[-1] == (late + 60, None, None)
    assert store.seatings(V, Z, "A", now=late + 2 * 86400, since=late + 86400) == []  # days gone


def test_a_number_left_at_closing_is_not_carried_into_the_next_morning(store):
    """The carry-over has an end: a party left waiting at 21:00, or called and never seated, is neither shown,
    counted nor called the next morning, and does not hold its shopper's next number."""
    midnight = _venue_midnight()
    evening, morning = midnight - 3 * 3600, midnight + 11 * 3600
    store.take(V, Z, "A", 2, "c1", now=evening)
    store.take(V, Z, "A", 2, "c2", now=evening)
    store.call_next(V, Z, "A", now=evening)  # A001 called, never seated
    assert store.my_ticket(V, Z, "c1", now=morning) is None and store.my_ticket(V, Z, "c2", now=morning) is None
    assert store.waiting_count(V, Z, "A", now=morning) == 0 and store.called(V, Z, "A", now=morning) == []
    assert store.take(V, Z, "A", 2, "c1", now=morning).value == "A001"  # the day's numbers restart
    called = store.call_next(V, Z, "A", now=morning)
    assert (called.value, called.day) == ("A001", service_day(morning))  # yesterday's A002 is dropped
    assert not store.call_next(V, Z, "A", now=morning).ok


def test_concurrent_takes_and_calls_on_separate_connections(store, redis_url):
    """200 threads, each with its own connection, take numbers; then 150 call-next presses race."""
    def take(i):
        own = QueueStore(redis.Redis.from_url(redis_url))
        return own.take(V, Z, "A", 2, f"client-{i}").value

    with ThreadPoolExecutor(50) as pool:
        numbers = list(pool.map(take, range(200)))
    assert sorted(numbers) == [f"A{n:03d}" for n in range(1, 201)]

    barrier = threading.Barrier(50)

    def call(_):
        own = QueueStore(redis.Redis.from_url(redis_url))
        barrier.wait()
        out = []
        for _ in range(3):
            out.append(own.call_next(V, Z, "A").value)
        return out

    with ThreadPoolExecutor(50) as pool:
        called = [t for batch in pool.map(call, range(50)) for t in batch if t]
    assert len(called) == 150 and len(set(called)) == 150
    assert called and sorted(called) == [f"A{n:03d}" for n in range(1, 151)]


# ---- reservations, menu, pre-orders ---------------------------------------------------------------


def test_reservations_respect_capacity_atomically(store, redis_url):
    day = (date.today() + timedelta(days=1)).isoformat()

    def book(i):
        own = QueueStore(redis.Redis.from_url(redis_url))
        return own.reserve(V, Z, day, "12:00", 2, "A", f"client-{i}", capacity=5)

    with ThreadPoolExecutor(40) as pool:
        results = list(pool.map(book, range(40)))
    ok = [r for r in results if r.ok]
    assert len(ok) == 5 and all(r.reason == "FULL" for r in results if not r.ok)
    assert store.slot_counts(V, Z, day) == {"12:00": 5}
    assert len(store.reservations(V, Z, day)) == 5
    holder = store.reservation(V, Z, ok[0].value)
    assert holder["date"] == day and holder["state"] == "BOOKED"
    # one booking per shopper and day
    assert store.reserve(V, Z, day, "13:00", 2, "A", holder["client"], capacity=5).reason == "ACTIVE"
    # cancel frees the place, only once, and only by its holder
    assert store.end_reservation(V, Z, ok[0].value, "CANCELED", client="stranger").reason == "NOT_YOURS"
    assert store.end_reservation(V, Z, ok[0].value, "CANCELED", client=holder["client"]).ok
    assert store.end_reservation(V, Z, ok[0].value, "CANCELED").reason == "STATE"
    assert store.slot_counts(V, Z, day) == {"12:00": 4}
    assert store.reserve(V, Z, day, "12:00", 2, "A", "late", capacity=5).ok
    assert store.my_reservations(V, Z, "late", [day])[0]["slot"] == "12:00"


def test_menu_and_preorders(store):
    added = store.put_menu_item(V, Z, "Har gow", "虾饺", 3200)
    assert added.ok and added.value == "m1"
    assert store.put_menu_item(V, Z, "Har gow", "虾饺", 3000, available=False, item_id="m1").ok
    assert store.put_menu_item(V, Z, "x", "x", 1, item_id="m99").reason == "NOT_FOUND"
    assert store.menu(V, Z) == [{"name_en": "Har gow", "name_zh": "虾饺", "price": 3000, "available": False,
                                 "id": "m1"}]
    store.take(V, Z, "A", 2, "c1")
    doc = {"items": [{"id": "m1", "qty": 2, "price": 3000}], "total": 6000}
    assert store.attach_preorder_to_ticket(V, Z, "A001", "other", doc).reason == "NOT_YOURS"
    assert store.attach_preorder_to_ticket(V, Z, "A001", "c1", doc).ok
    assert '"total": 6000' in store.ticket(V, Z, "A001")["preorder"]
    store.seat(V, Z, "A001", "A")
    assert store.attach_preorder_to_ticket(V, Z, "A001", "c1", doc).reason == "STATE"
    day = date.today().isoformat()
    rid = store.reserve(V, Z, day, "20:00", 2, "A", "c1", capacity=2).value
    assert store.attach_preorder_to_reservation(V, Z, rid, "c1", doc).ok
    assert store.attach_preorder_to_reservation(V, Z, "garbage", "c1", doc).reason == "NOT_FOUND"
    assert store.delete_menu_item(V, Z, "m1") and not store.delete_menu_item(V, Z, "m1")


def test_a_paid_preorder_goes_on_the_sweeps_list_once_until_settled(store):
    store.take(V, Z, "A", 2, "c1")
    doc = {"items": [{"id": "m1", "qty": 2, "price": 3000}], "total": 6000, "order": "MP1", "paid": False}
    assert store.attach_preorder_to_ticket(V, Z, "A001", "c1", doc).ok
    assert store.paid_preorders_due(V, time.time(), 10) == []  # not paid: nothing for the sweep
    day = store.today(V)
    assert store.mark_preorder_paid(V, Z, "A001", day, "MP2").reason == "CHANGED"  # another order: refunded
    assert store.mark_preorder_paid(V, Z, "A001", day, "MP1").ok
    assert store.paid_preorders_due(V, 0, 10) == ["MP1"]  # due at once
    later = time.time() + 3600
    store.look_again_at(V, "MP1", later)
    assert store.paid_preorders_due(V, later - 1, 10) == [] and store.paid_preorders_due(V, later, 10) == ["MP1"]
    store.settled(V, "MP1")
    store.look_again_at(V, "MP1", later)  # a sweep that read it before another settled it puts nothing back
    assert store.mark_preorder_paid(V, Z, "A001", day, "MP1").ok  # the callback replayed: still paid, not listed
    assert store.paid_preorders_due(V, later, 10) == []
    end = datetime.fromtimestamp(store.day_end(V, day), ZoneInfo(DEFAULT_TIME_ZONE))
    assert (end.strftime("%Y%m%d"), end.hour, end.minute) == (service_day(time.time() + 86400), 0, 0)


def test_pre_orders_paid_before_the_list_are_enlisted_once(store):
    """The backfill's store side: listed to look at now, NX (one on the list keeps its time), and the venue
    marked so that the sweep reads the ledger for it once."""
    later = time.time() + 3600
    assert store.enlist_paid_preorders(V, []) == 0
    assert store.enlist_paid_preorders(V, ["MP1"]) == 1
    store.look_again_at(V, "MP1", later)
    assert store.enlist_paid_preorders(V, ["MP1", "MP2"]) == 1  # MP1 keeps its time
    assert store.paid_preorders_due(V, 0, 10) == ["MP2"] and store.paid_preorders_due(V, later, 10) == ["MP2", "MP1"]
    assert not store.backfilled(V)
    store.mark_backfilled(V, time.time())
    assert store.backfilled(V) and not store.backfilled("elsewhere")


def test_menu_is_capped(store, db):
    from lightapps.queue import store as store_module

    for i in range(store_module.MAX_MENU_ITEMS):
        assert store.put_menu_item(V, Z, f"item {i}", "", 100).ok
    assert store.put_menu_item(V, Z, "one too many", "", 100).reason == "FULL"
    assert db.hlen(QueueKeys(V).menu(Z)) == store_module.MAX_MENU_ITEMS
