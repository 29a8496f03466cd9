"""The ledger is read by day, not whole: a day's page, the reconciliation and the apps' backfills read the stream by
id around the range they want (widened by the gaps between ids and booking times ever written), and the balance is
the merchant's running total (kept by the script that appends each entry) less what was booked after the day.
A ledger the previous release wrote (entries, no running total) is counted once, by the first read, in steps that
bookings made meanwhile neither miss nor double. Trimming old entries leaves the balance alone, and the page says
from when it counts."""

from __future__ import annotations

import re
import threading
import time
from datetime import date, timedelta

import pytest

from portal.payments import store as store_module
from portal.payments.ledger import merchant_day
from portal.payments.reconcile import day_bounds_ms, reconcile
from portal.payments.store import LEDGER_ID_MARGIN_MS, PaymentKeys, PaymentStore
from tests.payments.test_ledger_page import LEDGER, VENUE, book, today

DAY_MS = 86400 * 1000


def pay(store: PaymentStore, merchant: str, amount: int, at_ms: int | None = None, refund: int = 0) -> str:
    """A payment booked as a verified callback does, at `at_ms` (the booking's clock; None: the store's)."""
    order_id, _new = store.create(VENUE, f"bounded:{time.time_ns()}", 600_000, {
        "merchant": merchant, "shopper": "anon-b", "amount": amount, "currency": "CNY", "items": "[]",
        "purpose": "test", "ref": "r", "description": "d", "return_url": ""}, now_ms=at_ms)
    store.bind(VENUE, order_id, "wechat", "native", now_ms=at_ms)
    assert store.settle(VENUE, order_id, amount, "42" + order_id[2:], "wechat", now_ms=at_ms) == "paid"
    if refund:
        assert store.begin_refund(VENUE, order_id, order_id + "R", refund, "back", now_ms=at_ms) == "ok"
        assert store.end_refund(VENUE, order_id, order_id + "R", "50x", "done", now_ms=at_ms).startswith("ok")
    return order_id


def unreadable(db, key: str, at_ms: int) -> None:
    """An entry any read that reaches it fails on (no amount, no time): far outside the day, it must never be read."""
    db.xadd(key, {"kind": "paid", "order": "MP-FAR", "amount": "not fen"}, id=f"{at_ms}-0")


def previous_release(db, merchant: str) -> None:
    """The store as the previous release left it: the merchant's ledger, no running total, no gaps kept."""
    keys = PaymentKeys(VENUE)
    db.delete(keys.merchant_book(merchant), keys.ledger_gaps())


def test_a_days_page_reads_only_from_that_day_on(client, console, svc):
    """Entries 200 and 300 days old are in the ledgers, unreadable: the page, the store's range, the reconciliation
    and the backfills' venue-wide read (from a day) never fetch them, and the figures are the day's."""
    day = today()
    store = PaymentStore(svc.db)
    keys = PaymentKeys(VENUE)
    store_ms = int(svc.db.time()[0]) * 1000
    for key in (keys.merchant_ledger("cinema"), keys.ledger()):
        for days_ago in (300, 200):  # by hand, before any booking (a stream's ids only grow)
            unreadable(svc.db, key, store_ms - days_ago * DAY_MS)
    order_id = book(svc, "cinema", 2500, refund=500)  # the merchant's first read counts them (no amount: 0)
    since, until = day_bounds_ms(day)
    assert [(e.kind, e.amount) for e in store.ledger(VENUE, "cinema", since, until)] == [("paid", 2500),
                                                                                           ("refund", 500)]
    assert {e.order for e in store.ledger(VENUE, since_ms=since - 2 * DAY_MS)} == {order_id}  # the backfills' read
    assert [line.order_id for line in reconcile(store, VENUE, "cinema", day, []).lines] == [order_id, order_id]
    console.login("ops")
    page = client.get(f"{LEDGER}?lang=en&day={day}")
    assert page.status_code == 200
    row = re.search(r'<tr data-zone="cinema">(.*?)</tr>', page.get_data(as_text=True), re.S).group(1)
    assert "1 · ¥25.00" in row and "1 · ¥5.00" in row and re.search(r'class="balance">¥20\.00', row)
    assert 'class="small balance-since"' in row and 'id="balance-note"' in page.get_data(as_text=True)


def test_the_balance_is_the_running_total_at_the_days_end_and_survives_trimming(client, console, svc):
    """Booked over three days (the booking's clock moved back: its ids are today's, a gap the reads widen by): each
    day's balance counts what was booked to its end. Once the old entries are trimmed from the ledger the balance
    still counts them (it dropped by their amount before) and says since when it counts; a day before the entries
    still kept has no balance to show (None: what came after it is gone), rather than a wrong one."""
    store = PaymentStore(svc.db)
    first = (date.today() - timedelta(days=10)).isoformat()
    days = [first, (date.fromisoformat(first) + timedelta(days=1)).isoformat(),
            (date.fromisoformat(first) + timedelta(days=2)).isoformat()]
    noon = [day_bounds_ms(day)[0] + 12 * 3600_000 for day in days]
    pay(store, "garage", 1000, noon[0])
    pay(store, "garage", 500, noon[1], refund=200)
    pay(store, "garage", 250, noon[2])
    balances = [merchant_day(store, VENUE, "garage", day).balance for day in days]
    assert balances == [1000, 1300, 1550]
    second = merchant_day(store, VENUE, "garage", days[1])
    assert (second.payments, second.paid, second.refunds, second.refunded) == (1, 500, 1, 200)
    assert second.balance_since_ms == noon[0]

    keys = PaymentKeys(VENUE)
    newest = svc.db.xrevrange(keys.merchant_ledger("garage"), count=1)[0][0]
    assert svc.db.xtrim(keys.merchant_ledger("garage"), minid=newest, approximate=False) == 3  # as LEDGER_KEEP_MS does
    after = [merchant_day(store, VENUE, "garage", day) for day in [*days, date.today().isoformat()]]
    assert [row.balance for row in after] == [None, None, 1550, 1550]
    assert after[1].entries == () and after[2].paid == 250  # the list is what the ledger still holds
    assert {row.balance_since_ms for row in after} == {noon[0]}
    before = merchant_day(store, VENUE, "garage", (date.fromisoformat(first) - timedelta(days=1)).isoformat())
    assert before.balance == 0  # a day before the first booking counted
    console.login("ops")
    for day, shown in ((days[0], '"balance">—</td>'), (days[2], '"balance">¥15.50<br>')):
        page = client.get(f"{LEDGER}?lang=en&day={day}").get_data(as_text=True)
        assert shown in re.search(r'<tr data-zone="garage">(.*?)</tr>', page, re.S).group(1)


def test_a_ledger_the_previous_release_wrote_is_counted_once_by_the_first_read(svc, monkeypatch):
    """No running total yet: the first read counts the ledger back from its newest entry (here 2 a step), and makes
    the gaps of its entries known; reads after it count nothing again, and a later booking adds itself once."""
    monkeypatch.setattr(store_module, "LEDGER_CATCH_UP", 2)
    store = PaymentStore(svc.db)
    day = (date.today() - timedelta(days=5)).isoformat()
    noon = day_bounds_ms(day)[0] + 12 * 3600_000
    for n in range(5):
        pay(store, "cinema", 100 * (n + 1), noon + n * 60_000, refund=50 if n == 0 else 0)
    previous_release(svc.db, "cinema")
    row = merchant_day(store, VENUE, "cinema", day)
    assert (row.paid, row.refunded, row.balance, row.balance_since_ms) == (1500, 50, 1450, noon)
    book_key = PaymentKeys(VENUE).merchant_book("cinema")
    assert svc.db.hgetall(book_key) == {b"total": b"1450", b"n": b"6", b"from_ms": str(noon).encode(),
                                        b"complete": b"1"}
    assert merchant_day(store, VENUE, "cinema", day).balance == 1450  # counted once
    pay(store, "cinema", 7, noon + 3600_000)
    assert merchant_day(store, VENUE, "cinema", day).balance == 1457
    assert int(svc.db.hget(book_key, "total")) == 1457


def test_bookings_made_while_the_first_count_runs_are_counted_once(svc):
    """The count of an old ledger goes a step at a time: payments and refunds booked between its steps count
    themselves (the book exists from the first step), and the steps never reach them."""
    store = PaymentStore(svc.db)
    keys = PaymentKeys(VENUE)
    for amount in (100, 200, 300, 400):
        pay(store, "cinema", amount)
    previous_release(svc.db, "cinema")
    pay(store, "cinema", 1000)  # booked before any read: no book, so it is left for the count
    step = [keys.merchant_ledger("cinema"), keys.merchant_book("cinema"), keys.ledger_gaps()]
    assert store._catch_up(keys=step, args=[2]) == 0  # the newest two are counted
    pay(store, "cinema", 5000, refund=1234)
    pay(store, "cinema", 20000)
    assert store._catch_up(keys=step, args=[2]) == 0
    book_, _entries = store.merchant_from(VENUE, "cinema", 0)  # finishes the count
    streamed = sum(e.fen for e in store.ledger(VENUE, "cinema"))
    assert book_.total == streamed == 100 + 200 + 300 + 400 + 1000 + 5000 - 1234 + 20000


def test_entries_trimmed_while_the_first_count_runs_are_left_out_of_it(svc):
    """Trimming drops the oldest entries, which the count, going back from the newest, reaches last: one dropped
    between its steps is not counted and the book says it counts from the oldest entry it did count."""
    store = PaymentStore(svc.db)
    keys = PaymentKeys(VENUE)
    for amount in (1, 20, 300, 4000):
        pay(store, "kopi", amount)
    ids = [entry_id for entry_id, _f in svc.db.xrange(keys.merchant_ledger("kopi"))]
    kept_ms = [int(f[b"ms"]) for _id, f in svc.db.xrange(keys.merchant_ledger("kopi"))]
    previous_release(svc.db, "kopi")
    step = [keys.merchant_ledger("kopi"), keys.merchant_book("kopi"), keys.ledger_gaps()]
    assert store._catch_up(keys=step, args=[2]) == 0
    svc.db.xtrim(keys.merchant_ledger("kopi"), minid=ids[1], approximate=False)  # the oldest goes meanwhile
    book_, _entries = store.merchant_from(VENUE, "kopi", 0)
    assert (book_.total, book_.since_ms) == (4320, kept_ms[1])


def test_many_bookings_at_once_with_the_first_read_count_each_once(svc, monkeypatch):
    """Threads booking into an old ledger while the first page read counts it, a step of 3 at a time: the total is
    the ledger's sum, whatever the interleaving."""
    monkeypatch.setattr(store_module, "LEDGER_CATCH_UP", 3)
    store = PaymentStore(svc.db)
    for n in range(60):
        pay(store, "cinema", n + 1)
    previous_release(svc.db, "cinema")
    failures: list[BaseException] = []

    def booker(base: int) -> None:
        try:
            for n in range(10):
                pay(PaymentStore(svc.db), "cinema", base + n, refund=1 if n % 3 == 0 else 0)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=booker, args=(1000 * (t + 1),)) for t in range(4)]
    for thread in threads:
        thread.start()
    readers = [merchant_day(store, VENUE, "cinema", date.today().isoformat()) for _ in range(3)]
    for thread in threads:
        thread.join()
    assert not failures and readers
    book_, _entries = store.merchant_from(VENUE, "cinema", 0)
    assert book_.total == sum(e.fen for e in store.ledger(VENUE, "cinema"))
    assert len(store.ledger(VENUE, "cinema")) == 60 + 40 + 16  # 4 refunds a thread


def test_a_range_is_widened_by_the_gaps_written_and_the_margin(svc):
    """An entry booked on a clock 3 days behind the store's (a test's, a batch's) is found by its booking time: the
    gap is kept with the ledger, so the read by id widens by it; without any gap kept, by LEDGER_ID_MARGIN_MS."""
    store = PaymentStore(svc.db)
    store_ms = int(svc.db.time()[0]) * 1000
    at = store_ms - 3 * DAY_MS
    order_id = pay(store, "cinema", 900, at)
    assert [e.order for e in store.ledger(VENUE, "cinema", at, at + 1)] == [order_id]
    assert [e.order for e in store.ledger(VENUE, None, at, at + 1)] == [order_id]
    gaps = {k.decode(): int(v) for k, v in svc.db.hgetall(PaymentKeys(VENUE).ledger_gaps()).items()}
    assert gaps["hi"] >= 3 * DAY_MS - 60_000 and gaps["lo"] <= gaps["hi"]
    assert LEDGER_ID_MARGIN_MS > 0


@pytest.mark.parametrize("merchant", ["cinema", None])
def test_an_empty_ledger_reads_as_nothing(svc, merchant):
    store = PaymentStore(svc.db)
    assert store.ledger(VENUE, merchant, 0, None) == []
    if merchant:
        row = merchant_day(store, VENUE, merchant, date.today().isoformat())
        assert (row.balance, row.balance_since_ms, row.entries) == (0, None, ())
        assert not svc.db.exists(PaymentKeys(VENUE).merchant_book(merchant))  # a read writes no book for nothing
