"""The ledger is read by day, not whole: a day's page, the reconciliation and the apps' backfills read the stream by
id around the range they want (widened by the gaps between ids and booking times ever written), with plain XRANGE
pages outside any script; the balance is the merchant's day checkpoint (the running total before a UTC day of
stream ids, kept by the step that counts each entry) plus a day of entries, so an old day costs what a recent one
does. Every entry is counted once, in stream order: by the script that appends it when its book has counted all
before it, else by the reads (a ledger the previous release wrote, entries a process of that release appended
during a rolling deploy), in steps. Trimming old entries leaves the balance alone; a book begun on a ledger that had
already lost entries knows nothing before them, and the page says from when it counts."""

from __future__ import annotations

import re
import threading
import time
from datetime import date, timedelta

import pytest

from portal.payments import store as store_module
from portal.payments.ledger import merchant_day
from portal.payments.reconcile import day_bounds_ms, reconcile
from portal.payments.store import LEDGER_ID_MARGIN_MS, LEDGER_KEEP_MS, PaymentKeys, PaymentStore
from tests.payments.test_ledger_page import LEDGER, VENUE, book, today
from tests.store_sends import store_sends

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


def old_entry(db, merchant: str, amount: int | str, at_ms: int | None = None, kind: str = "paid") -> str:
    """An entry as the previous release appended it (to both ledgers, no book, no gaps): at `at_ms` by the store's
    clock too (its id; None: now). An amount that is not fen makes any read outside the count fail on it."""
    keys = PaymentKeys(VENUE)
    seconds, micros = db.time()
    fields = {"kind": kind, "order": f"MP-OLD{time.time_ns()}", "merchant": merchant, "provider": "wechat",
              "purpose": "test", "amount": amount, "txn": "42old", "refund_no": "",
              "ms": at_ms if at_ms is not None else seconds * 1000 + micros // 1000}
    entry_id = "*" if at_ms is None else f"{at_ms}-*"
    db.xadd(keys.ledger(), fields, id=entry_id)
    return db.xadd(keys.merchant_ledger(merchant), fields, id=entry_id).decode()


def previous_release(db, merchant: str) -> None:
    """The store as the previous release left it: the merchant's ledger, no running total, no gaps kept."""
    keys = PaymentKeys(VENUE)
    db.delete(keys.merchant_book(merchant), keys.merchant_days(merchant), keys.ledger_gaps())


def noon(days_ago: int) -> tuple[str, int]:
    """The China day `days_ago` days back and its noon (ms)."""
    day = (date.today() - timedelta(days=days_ago)).isoformat()
    return day, day_bounds_ms(day)[0] + 12 * 3600_000


def count_step(store: PaymentStore, merchant: str, step: int) -> bool:
    """One step of the reads' count (as `merchant_snapshot` makes them): True while entries are left to count."""
    keys = PaymentKeys(VENUE)
    reply = store._read_ledger(keys=[keys.merchant_ledger(merchant), keys.ledger_gaps(), keys.merchant_book(merchant),
                                     keys.merchant_days(merchant)], args=["", "", LEDGER_ID_MARGIN_MS, step])
    return reply == [b"MORE"]


def whole_book(store: PaymentStore, merchant: str):
    """The merchant's book as of now, its whole ledger read with it."""
    return store.merchant_snapshot(VENUE, merchant, 0, int(time.time() * 1000) + DAY_MS)


def book_hash(db, merchant: str) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in db.hgetall(PaymentKeys(VENUE).merchant_book(merchant)).items()}


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


def test_the_read_script_returns_where_to_read_and_the_entries_come_in_plain_pages(svc, monkeypatch):
    """The script that takes the book's snapshot answers bounds and figures, never entries (a long range would hold
    the whole store while it ran); the entries come with plain XRANGEs of LEDGER_PAGE each, up to the book's newest
    entry counted, and none is lost or doubled across pages."""
    store = PaymentStore(svc.db)
    keys = PaymentKeys(VENUE)
    orders = [pay(store, "cinema", 100 + n) for n in range(7)]
    since, until = day_bounds_ms(today())
    reply = store._read_ledger(keys=[keys.merchant_ledger("cinema"), keys.ledger_gaps(), keys.merchant_book("cinema"),
                                     keys.merchant_days("cinema")], args=[since, until, LEDGER_ID_MARGIN_MS, 1000])
    assert len(reply) == 7 and not any(isinstance(item, list) for item in reply)
    newest = svc.db.xrevrange(keys.merchant_ledger("cinema"), count=1)[0][0]
    assert reply[1] == newest  # no further than what the total counts
    gaps = {k.decode(): int(v) for k, v in svc.db.hgetall(keys.ledger_gaps()).items()}
    assert store._read_ledger(keys=[keys.ledger(), keys.ledger_gaps()], args=[since, until, LEDGER_ID_MARGIN_MS]) \
        == [str(since + min(gaps["lo"], 0) - LEDGER_ID_MARGIN_MS).encode(),
            str(until + max(gaps["hi"], 0) + LEDGER_ID_MARGIN_MS).encode()]

    pages = []
    real_xrange = svc.db.xrange
    monkeypatch.setattr(store_module, "LEDGER_PAGE", 2)
    monkeypatch.setattr(svc.db, "xrange", lambda *a, **kw: pages.append(kw) or real_xrange(*a, **kw))
    row = merchant_day(store, VENUE, "cinema", today())
    assert [e.order for e in row.entries] == orders and row.balance == sum(100 + n for n in range(7))
    assert len(pages) == 4 and all(kw["count"] == 2 for kw in pages)
    assert [e.order for e in store.ledger(VENUE, None, since, until)] == orders


def test_a_day_long_ago_costs_its_own_entries_not_what_came_after(client, console, svc):
    """A ledger the previous release wrote over 300 days; every entry after the asked-for day is one a read outside
    the count fails on. The page for the day 300 days back reads that day (the balance: its day checkpoint plus the
    day's entries, exact), and never anything after it."""
    store = PaymentStore(svc.db)
    day = noon(300)[0]
    for days_ago, amount in ((302, 1000), (301, 200), (300, 30)):
        old_entry(svc.db, "cinema", amount, noon(days_ago)[1])
    for days_ago in (299, 200, 30, 1):
        old_entry(svc.db, "cinema", "not fen", noon(days_ago)[1])
    with pytest.raises(ValueError):
        store.ledger(VENUE, "cinema")  # what a whole read would do
    row = merchant_day(store, VENUE, "cinema", day)
    assert (row.payments, row.paid, row.balance, row.balance_since_ms) == (1, 30, 1230, noon(302)[1])
    assert merchant_day(store, VENUE, "cinema", noon(301)[0]).balance == 1200
    days = svc.db.hgetall(PaymentKeys(VENUE).merchant_days("cinema"))
    assert len(days) == 7  # one checkpoint a UTC day with entries
    console.login("ops")
    page = client.get(f"{LEDGER}?lang=en&day={day}").get_data(as_text=True)
    assert re.search(r'class="balance">¥12\.30<br>', re.search(r'<tr data-zone="cinema">(.*?)</tr>', page,
                                                                re.S).group(1))


def test_the_balance_is_the_total_at_the_days_end_and_survives_trimming(client, console, svc):
    """Booked over three days: each day's balance counts what was booked to its end. Once the oldest entry is trimmed
    from the ledger (as LEDGER_KEEP_MS does, by id) the later days' balances still count it; the day it was booked
    has none to show (None: its entries are gone), rather than a wrong one; a day before the book began had 0."""
    store = PaymentStore(svc.db)
    days = [noon(12), noon(11), noon(10)]
    first = old_entry(svc.db, "garage", 1000, days[0][1])
    second = old_entry(svc.db, "garage", 500, days[1][1])
    old_entry(svc.db, "garage", 200, days[1][1] + 60_000, kind="refund")
    old_entry(svc.db, "garage", 250, days[2][1])
    balances = [merchant_day(store, VENUE, "garage", day).balance for day, _ms in days]
    assert balances == [1000, 1300, 1550]
    row = merchant_day(store, VENUE, "garage", days[1][0])
    assert (row.payments, row.paid, row.refunds, row.refunded, row.balance_since_ms) == (1, 500, 1, 200, days[0][1])

    keys = PaymentKeys(VENUE)
    assert svc.db.xtrim(keys.merchant_ledger("garage"), minid=second, approximate=False) == 1
    assert not svc.db.xrange(keys.merchant_ledger("garage"), min=first, max=first)
    after = [merchant_day(store, VENUE, "garage", day) for day in [d for d, _ms in days] + [date.today().isoformat()]]
    assert [row.balance for row in after] == [None, 1300, 1550, 1550]
    assert after[0].entries == () and after[1].paid == 500  # the list is what the ledger still holds
    assert {row.balance_since_ms for row in after} == {days[0][1]}
    assert merchant_day(store, VENUE, "garage", noon(13)[0]).balance == 0  # before the first booking counted
    console.login("ops")
    for day, shown in ((days[0][0], '"balance">—</td>'), (days[2][0], '"balance">¥15.50<br>')):
        page = client.get(f"{LEDGER}?lang=en&day={day}").get_data(as_text=True)
        assert shown in re.search(r'<tr data-zone="garage">(.*?)</tr>', page, re.S).group(1)


def test_a_book_begun_on_an_already_trimmed_ledger_knows_nothing_before_it(client, console, svc):
    """The previous release trimmed the merchant's oldest entry before any book: the book counts what is left and
    says it lost entries, so a day before its first entry has no balance (None, "—"), not 0; the days after count
    from that entry, and the page says since when."""
    store = PaymentStore(svc.db)
    days = [noon(12), noon(11), noon(10)]
    old_entry(svc.db, "garage", 1000, days[0][1])
    second = old_entry(svc.db, "garage", 500, days[1][1])
    old_entry(svc.db, "garage", 250, days[2][1])
    svc.db.xtrim(PaymentKeys(VENUE).merchant_ledger("garage"), minid=second, approximate=False)
    rows = [merchant_day(store, VENUE, "garage", day) for day in (noon(13)[0], days[0][0], days[1][0], days[2][0])]
    assert [row.balance for row in rows] == [None, None, 500, 750]
    assert rows[2].balance_since_ms == days[1][1] and book_hash(svc.db, "garage")["lost"] == "1"
    console.login("ops")
    page = client.get(f"{LEDGER}?lang=en&day={days[0][0]}").get_data(as_text=True)
    assert '"balance">—</td>' in re.search(r'<tr data-zone="garage">(.*?)</tr>', page, re.S).group(1)


def test_a_ledger_trimmed_empty_before_any_book_opens_one_that_lost_entries(svc):
    """A merchant the previous release booked for, every entry since trimmed: its next booking opens the book, which
    counts from it and knows nothing before (None), where a merchant never booked for had 0."""
    store = PaymentStore(svc.db)
    keys = PaymentKeys(VENUE)
    old_entry(svc.db, "garage", 1000, noon(12)[1])
    svc.db.xtrim(keys.merchant_ledger("garage"), maxlen=0, approximate=False)
    pay(store, "garage", 300)
    assert merchant_day(store, VENUE, "garage", noon(12)[0]).balance is None
    assert merchant_day(store, VENUE, "garage", today()).balance == 300
    pay(store, "kopi", 300)
    assert merchant_day(store, VENUE, "kopi", noon(12)[0]).balance == 0


def test_a_ledger_the_previous_release_wrote_is_counted_once_by_the_first_read(svc, monkeypatch):
    """No running total yet: the first read counts the ledger from its oldest entry (here 2 a step), and makes the
    gaps of its entries known; reads after it count nothing again, and a later booking adds itself once."""
    monkeypatch.setattr(store_module, "LEDGER_CATCH_UP", 2)
    store = PaymentStore(svc.db)
    day, at = noon(5)
    for n in range(5):
        pay(store, "cinema", 100 * (n + 1), at + n * 60_000, refund=50 if n == 0 else 0)
    previous_release(svc.db, "cinema")
    row = merchant_day(store, VENUE, "cinema", day)
    assert (row.paid, row.refunded, row.balance, row.balance_since_ms) == (1500, 50, 1450, at)
    newest = svc.db.xrevrange(PaymentKeys(VENUE).merchant_ledger("cinema"), count=1)[0][0].decode()
    assert book_hash(svc.db, "cinema") == {"total": "1450", "n": "6", "from_ms": str(at), "last": newest, "lost": "0"}
    assert merchant_day(store, VENUE, "cinema", day).balance == 1450  # counted once
    pay(store, "cinema", 7, at + 3600_000)
    assert merchant_day(store, VENUE, "cinema", day).balance == 1457
    assert book_hash(svc.db, "cinema")["total"] == "1457"


def test_entries_a_previous_release_process_appends_into_a_book_are_counted_once(svc):
    """A rolling deploy: the book exists (this release's bookings), then a process still on the previous release
    appends entries without counting them. A booking of this release after them waits for them (it does not count
    itself past uncounted entries), and the next read counts them all, each once: the total heals itself."""
    store = PaymentStore(svc.db)
    keys = PaymentKeys(VENUE)
    pay(store, "cinema", 1000)
    pay(store, "cinema", 2000, refund=500)
    assert book_hash(svc.db, "cinema")["total"] == "2500"
    old_entry(svc.db, "cinema", 300)
    old_entry(svc.db, "cinema", 40, kind="refund")
    pay(store, "cinema", 5)
    assert book_hash(svc.db, "cinema")["total"] == "2500"  # left to the read
    assert merchant_day(store, VENUE, "cinema", today()).balance == 2500 + 300 - 40 + 5
    assert merchant_day(store, VENUE, "cinema", today()).balance == 2765  # once
    pay(store, "cinema", 1)  # caught up again: it counts itself
    counted = book_hash(svc.db, "cinema")
    assert counted["total"] == "2766" and int(counted["n"]) == svc.db.xlen(keys.merchant_ledger("cinema")) == 7
    assert counted["last"] == svc.db.xrevrange(keys.merchant_ledger("cinema"), count=1)[0][0].decode()


def test_a_book_without_a_last_entry_is_counted_afresh(svc):
    """A book the release before kept (a total, no `last`) cannot say which entries it counted: the next booking does
    not count itself into it, and the next read counts the whole ledger again."""
    store = PaymentStore(svc.db)
    pay(store, "cinema", 1000)
    book_key = PaymentKeys(VENUE).merchant_book("cinema")
    svc.db.hdel(book_key, "last", "lost")
    svc.db.hset(book_key, "complete", "1")
    pay(store, "cinema", 20)
    assert book_hash(svc.db, "cinema")["total"] == "1000"
    assert merchant_day(store, VENUE, "cinema", today()).balance == 1020
    assert set(book_hash(svc.db, "cinema")) == {"total", "n", "from_ms", "last", "lost"}


def test_bookings_made_while_the_first_count_runs_are_counted_once(svc):
    """The count of an old ledger goes a step at a time, oldest first: payments and refunds booked between its steps
    wait for it (they are newer than what it counted), and it counts them in their turn."""
    store = PaymentStore(svc.db)
    for amount in (100, 200, 300, 400):
        pay(store, "cinema", amount)
    previous_release(svc.db, "cinema")
    pay(store, "cinema", 1000)  # booked before any read: no book, so it is left for the count
    assert count_step(store, "cinema", 2)  # the oldest two are counted
    pay(store, "cinema", 5000, refund=1234)
    pay(store, "cinema", 20000)
    assert count_step(store, "cinema", 2)
    book_, entries = whole_book(store, "cinema")  # finishes the count
    assert book_.total == sum(e.fen for e in entries) == 100 + 200 + 300 + 400 + 1000 + 5000 - 1234 + 20000
    assert int(book_hash(svc.db, "cinema")["n"]) == len(entries) == 8


def test_entries_trimmed_while_the_first_count_runs(svc):
    """Trimming drops the oldest entries, which the count, going from the oldest, reaches first: one dropped after it
    was counted stays in the total. Trimming that takes entries not yet counted (the count began at the trim
    horizon) starts the book again from what the ledger holds, as one that lost entries."""
    store = PaymentStore(svc.db)
    keys = PaymentKeys(VENUE)
    for amount in (1, 20, 300, 4000):
        pay(store, "kopi", amount)
    ids = [entry_id for entry_id, _f in svc.db.xrange(keys.merchant_ledger("kopi"))]
    kept_ms = [int(f[b"ms"]) for _id, f in svc.db.xrange(keys.merchant_ledger("kopi"))]
    previous_release(svc.db, "kopi")
    assert count_step(store, "kopi", 2)
    svc.db.xtrim(keys.merchant_ledger("kopi"), minid=ids[1], approximate=False)  # a counted one goes
    book_, _entries = whole_book(store, "kopi")
    assert (book_.total, book_.since_ms, book_.partial) == (4321, kept_ms[0], False)

    for amount in (1, 20, 300, 4000):
        pay(store, "cafe", amount)
    ids = [entry_id for entry_id, _f in svc.db.xrange(keys.merchant_ledger("cafe"))]
    newest_ms = int(svc.db.xrevrange(keys.merchant_ledger("cafe"), count=1)[0][1][b"ms"])
    previous_release(svc.db, "cafe")
    assert count_step(store, "cafe", 2)
    svc.db.xtrim(keys.merchant_ledger("cafe"), minid=ids[3], approximate=False)  # and one not counted yet
    book_, _entries = whole_book(store, "cafe")
    assert (book_.total, book_.since_ms, book_.partial) == (4000, newest_ms, True)
    assert book_.balance_at(book_.since_ms, []) is None


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
    book_, entries = whole_book(store, "cinema")
    assert book_.total == sum(e.fen for e in entries) == sum(e.fen for e in store.ledger(VENUE, "cinema"))
    assert len(entries) == 60 + 40 + 16  # 4 refunds a thread


def test_day_checkpoints_are_one_a_day_and_kept_as_long_as_the_entries(svc):
    """The first entry counted of a UTC day of ids writes that day's checkpoint; later ones write none. Writing one
    drops those older than LEDGER_KEEP_MS, as the entries go."""
    store = PaymentStore(svc.db)
    days_key = PaymentKeys(VENUE).merchant_days("cinema")
    if int(svc.db.time()[0]) % 86400 > 86400 - 60:
        pytest.skip("too close to midnight UTC for one day of stream ids")
    pay(store, "cinema", 100)
    pay(store, "cinema", 20)
    (today_field, first_value), = svc.db.hgetall(days_key).items()
    assert first_value == b"0 0"
    store_ms = int(svc.db.time()[0]) * 1000
    svc.db.hset(days_key, str((store_ms - LEDGER_KEEP_MS) // DAY_MS - 2), "0 0")  # a day past keeping
    svc.db.hdel(days_key, today_field)  # as if today's first entry were still to come
    pay(store, "cinema", 3)
    assert svc.db.hgetall(days_key) == {today_field: b"120 2"}


def test_a_range_is_widened_by_the_gaps_written_and_the_margin(svc):
    """An entry booked on a clock 3 days behind the store's (a test's, a batch's) is found by its booking time: the
    gap is kept with the ledger, so the read by id widens by it; without any gap kept (an entry of the release
    before the gaps), by LEDGER_ID_MARGIN_MS: one whose id is 30 minutes off its booking time is found."""
    store = PaymentStore(svc.db)
    store_ms = int(svc.db.time()[0]) * 1000
    at = store_ms - 3 * DAY_MS
    order_id = pay(store, "cinema", 900, at)
    assert [e.order for e in store.ledger(VENUE, "cinema", at, at + 1)] == [order_id]
    assert [e.order for e in store.ledger(VENUE, None, at, at + 1)] == [order_id]
    gaps = {k.decode(): int(v) for k, v in svc.db.hgetall(PaymentKeys(VENUE).ledger_gaps()).items()}
    assert gaps["hi"] >= 3 * DAY_MS - 60_000 and gaps["lo"] <= gaps["hi"]
    keys = PaymentKeys(VENUE)
    svc.db.delete(keys.ledger_gaps())
    booked = store_ms - DAY_MS  # its id half an hour after its booking time, in a ledger of its own
    svc.db.xadd(keys.merchant_ledger("kiosk"), {"kind": "paid", "order": "MP-OFF30", "merchant": "kiosk",
                                                "provider": "wechat", "purpose": "test", "amount": 300, "txn": "42off",
                                                "refund_no": "", "ms": booked}, id=f"{booked + 30 * 60_000}-0")
    assert [e.order for e in store.ledger(VENUE, "kiosk", booked, booked + 1)] == ["MP-OFF30"]


@pytest.mark.parametrize("merchant", ["cinema", None])
def test_an_empty_ledger_reads_as_nothing(svc, merchant):
    store = PaymentStore(svc.db)
    assert store.ledger(VENUE, merchant, 0, None) == []
    if merchant:
        row = merchant_day(store, VENUE, merchant, date.today().isoformat())
        assert (row.balance, row.balance_since_ms, row.entries) == (0, None, ())
        assert not svc.db.exists(PaymentKeys(VENUE).merchant_book(merchant))  # a read writes no book for nothing


def test_a_bills_orders_are_read_a_chunk_at_a_time_not_one_each(svc, monkeypatch):
    """The reconciliation pairs a bill's rows with the merchant's orders: each order's merchant, a thousand orders a
    round trip (a day's bill names thousands), "" for an order the store does not hold."""
    store = svc.payments.store
    mine, theirs = pay(store, "kopi", 100), pay(store, "cinema", 200)
    ids = [mine, "no-such-order", theirs, mine]
    with store_sends(monkeypatch) as sent:
        assert store.merchants_of(VENUE, ids) == {mine: "kopi", "no-such-order": "", theirs: "cinema"}
    assert len(sent) == 1
    with store_sends(monkeypatch) as sent:
        assert store.merchants_of(VENUE, ids, chunk=2) == {mine: "kopi", "no-such-order": "", theirs: "cinema"}
    assert len(sent) == 2 and store.merchants_of(VENUE, []) == {}
    svc.db.hset(PaymentKeys(VENUE).order("blank"), mapping={"status": "", "merchant": "kopi"})  # as `order` reads them:
    svc.db.hset(PaymentKeys(VENUE).order("husk"), mapping={"merchant": "kopi"})  # a status, even blank; none, no order
    assert store.merchants_of(VENUE, ["blank", "husk"]) == {"blank": "kopi", "husk": ""}


@pytest.mark.parametrize("chunk", [1, 2, 1000])
def test_a_shoppers_orders_are_found_whatever_the_chunk_her_orders_are_read_in(svc, chunk):
    """The privacy centre's export and erasure scan the venue's orders and read each one's shopper a chunk a round
    trip: hers and only hers, across the chunks' bounds."""
    store = svc.payments.store
    hers = {pay(store, "kopi", 100 + n) for n in range(3)}
    other, _new = store.create(VENUE, f"other:{time.time_ns()}", 600_000, {
        "merchant": "kopi", "shopper": "anon-other", "amount": 5, "currency": "CNY", "items": "[]",
        "purpose": "test", "ref": "r", "description": "d", "return_url": ""})
    assert {order.id for order in store._orders_of(VENUE, "anon-b", chunk=chunk)} == hers
    assert [order.id for order in store._orders_of(VENUE, "anon-other", chunk=chunk)] == [other]
