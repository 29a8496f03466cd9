"""A cinema cancellation (or move) always finishes, through the payment sandbox: what a store error cuts short
after the show is marked cancelled (or after the shopper's own cancel, before its refund) is finished by the
payments sweep (or the next push), one failing each time holding up no other, refunds that cannot be
made online are told and counted as such, a shopper paying during a time change gets the moved show's free
refund, a cancellation finished is not worked again, and payments racing the cancellation are refunded once
each with no ticket left valid."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

import redis
import requests
from test_cinema_cancel_paid import BASE, URL, VENUE, ZONE, new_show, order_for, paid_ticket, refunds
from test_cinema_cancel_paid import cinema as cinema  # noqa: F401 (the fixture)

from lightapps.cinema import cancellation
from portal.auth import AccountStore, AuditLog
from portal.notify.outbox import Job, NotifyKeys
from portal.payments.service import PaymentError
from tests.payments.conftest import pay, pay_mall, pay_portal, sandbox, token_for  # noqa: F401 - the sandbox


def local(ts: float) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")


def notices(db, event: str) -> list[Job]:
    jobs = (Job.from_json(fields[b"job"]) for _id, fields in db.xrange(NotifyKeys(VENUE).stream()))
    return [job for job in jobs if job.event == event]


def failing_once(real, exc: Exception):
    """`real`, except that its first call raises `exc` (a store error cutting the work short there)."""
    calls = []

    def call(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise exc
        return real(*args, **kwargs)

    return call


def test_a_refund_cut_short_is_finished_by_the_payments_sweep(cinema, sandbox, pay, db, monkeypatch):  # noqa: F811
    client, c, store, push = cinema
    show = new_show(cinema)
    code, order_id = paid_ticket(cinema, sandbox[1], show)
    monkeypatch.setattr(pay, "refund", failing_once(pay.refund, redis.ConnectionError("store gone for a moment")))
    assert push(show.starts_at, status="cancelled").status_code == 503
    client.application.extensions["mallportal"].breaker.record_success()  # the store is back
    assert store.showtime(VENUE, show.id).cancelled and store.booking(VENUE, code).status == "cancelled"
    assert pay.order(VENUE, order_id).status == "paid" and notices(db, "cinema.show_cancelled") == []
    pay.sweep(VENUE)  # the cron's minute
    order = pay.order(VENUE, order_id)
    assert (order.status, order.refunded) == ("refunded", 9000)
    assert store.booking(VENUE, code).refund_outcome == "done" and not store.is_cancelling(VENUE, show.id)
    [notice] = notices(db, "cinema.show_cancelled")
    assert "refunded in full" in notice.data["body_en"] and notice.data["path"] == f"{BASE}/ticket/{code}"
    # Swept and pushed again: nothing more.
    pay.sweep(VENUE)
    assert push(show.starts_at, status="cancelled").get_json()["tickets_cancelled"] == 0
    assert len(refunds(pay)) == 1 and len(notices(db, "cinema.show_cancelled")) == 1


def test_the_shoppers_own_cancel_cut_short_before_its_refund_is_refunded_by_the_sweep_once(cinema, sandbox, pay,  # noqa: F811
                                                                                            monkeypatch):
    """Her own cancel: the store fails after the booking is cancelled (seats freed), before its refund is asked
    for. Her ticket offers no Cancel any more, so the payments sweep refunds it (a minute on), once."""
    client, c, store, _push = cinema
    show = new_show(cinema)
    code, order_id = paid_ticket(cinema, sandbox[1], show)
    monkeypatch.setattr(pay, "refund", failing_once(pay.refund, redis.ConnectionError("store gone for a moment")))
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code == 503
    client.application.extensions["mallportal"].breaker.record_success()  # the store is back
    booking = store.booking(VENUE, code)
    assert (booking.status, booking.cancelled_by, booking.order_id) == ("cancelled", "", order_id)
    assert store.seat_states(VENUE, show.id) == {} and pay.order(VENUE, order_id).status == "paid"
    assert 'id="cancel-ticket"' not in client.get(f"{BASE}/ticket/{code}?c={c}").get_data(as_text=True)
    assert store.cancel_refunds(VENUE) == [code]
    monkeypatch.setattr(pay, "clock", lambda: int(time.time() * 1000) + 120_000)  # the cron's minute, and more
    pay.sweep(VENUE)
    order = pay.order(VENUE, order_id)
    assert (order.status, order.refunded) == ("refunded", order.amount)
    assert store.booking(VENUE, code).refund_outcome == "done" and store.cancel_refunds(VENUE) == []
    pay.sweep(VENUE)
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code == 303  # a resend: nothing more
    assert len(refunds(pay)) == 1


def test_a_refund_that_keeps_failing_does_not_hold_up_the_ones_after_it(cinema, sandbox, pay, monkeypatch):  # noqa: F811
    """Two cancels cut short before their refunds, the older one's failing each time: a try that fails sends it to
    the back of the line, so a sweep with room for one reaches the newer one next."""
    _client, _c, store, _push = cinema
    show = new_show(cinema)
    stuck, stuck_order = paid_ticket(cinema, sandbox[1], show)
    code, order_id = paid_ticket(cinema, sandbox[1], show, seats=("F4", "F5"))
    cancelled_ms = int(time.time() * 1000)
    for step, (booked, paying) in enumerate(((stuck, stuck_order), (code, order_id))):  # cancelled, then the
        # process gone before its refund; a millisecond apart, as two cancels in one millisecond line up by code
        assert store.cancel_booking(VENUE, booked, store.booking(VENUE, booked).client, now_ms=cancelled_ms + step,
                                    owed_order=paying).ok
    assert store.cancel_refunds(VENUE) == [stuck, code]
    real = pay.refund

    def refund(venue: str, order: str, *args, **kwargs) -> str:
        if order == stuck_order:
            raise PaymentError("the provider's answer cannot be read")
        return real(venue, order, *args, **kwargs)

    monkeypatch.setattr(pay, "refund", refund)
    monkeypatch.setattr(cancellation, "SWEEP_LIMIT", 1)
    start_ms = int(time.time() * 1000)
    for minutes in (2, 4):
        monkeypatch.setattr(pay, "clock", lambda minutes=minutes: start_ms + minutes * 60_000)
        pay.sweep(VENUE)
    order = pay.order(VENUE, order_id)
    assert (order.status, order.refunded) == ("refunded", order.amount)
    assert store.booking(VENUE, code).refund_outcome == "done" and store.cancel_refunds(VENUE) == [stuck]
    assert pay.order(VENUE, stuck_order).status == "paid"


def test_an_open_order_left_by_a_cut_short_cancellation_is_closed_by_the_sweep(cinema, sandbox, pay,  # noqa: F811
                                                                                 monkeypatch):
    """The first run released the hold (its seat gone from the seats hash) and then failed: a rerun still finds
    the hold's order to close."""
    client, c, store, push = cinema
    show = new_show(cinema)
    token, order_id = order_for(client, c, show.id, ["D4", "D5"])
    monkeypatch.setattr(pay, "cancel", failing_once(pay.cancel, redis.ConnectionError("store gone for a moment")))
    assert push(show.starts_at, status="cancelled").status_code == 503
    client.application.extensions["mallportal"].breaker.record_success()
    assert store.seat_states(VENUE, show.id) == {} and pay.order(VENUE, order_id).status == "created"
    pay.sweep(VENUE)
    assert pay.order(VENUE, order_id).status == "closed" and sandbox[0].trade("alipay", order_id).status == "CLOSED"
    assert not store.is_cancelling(VENUE, show.id) and refunds(pay) == []


def owner_client(app, username: str = "cinema-owner-9"):
    """A test client signed in to the console as a new owner of the cinema zone."""
    AccountStore(app.extensions["mallportal"].db).create(username, "a-long-pass-phrase-73", "owner", VENUE, (ZONE,))
    owner = app.test_client()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', owner.get("/console/login").get_data(as_text=True))
    assert owner.post("/console/login", data={"username": username, "password": "a-long-pass-phrase-73",
                                              "csrf_token": csrf.group(1)}).status_code == 303
    return owner


def test_a_refund_that_cannot_be_made_online_is_told_and_counted_as_such(cinema, sandbox, pay, db,  # noqa: F811
                                                                        monkeypatch):
    client, c, store, push = cinema
    show = new_show(cinema)
    code, order_id = paid_ticket(cinema, sandbox[1], show)
    monkeypatch.setattr(pay, "refund", lambda *args, **kwargs: "refused")  # the provider says no, for good
    owner = owner_client(client.application)
    page_url = f"/console/apps/cinema/{VENUE}/{ZONE}/showtimes/{show.id}"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', owner.get(page_url).get_data(as_text=True)).group(1)
    assert owner.post(f"{page_url}/cancel", data={"confirm": "yes", "csrf_token": csrf}).status_code == 303
    [notice] = notices(db, "cinema.show_cancelled")
    assert "refunded in full" not in notice.data["body_en"] and "the cinema will arrange" in notice.data["body_en"]
    assert code in notice.data["body_zh"]
    [entry] = [e for e in AuditLog(db).recent(VENUE) if e["action"] == "cinema.showtime.cancel"]
    assert (entry["detail"]["tickets"], entry["detail"]["refunds"], entry["detail"]["refunds_to_arrange"]) == (1, 0, 1)
    page = owner.get(page_url).get_data(as_text=True)
    assert 'id="show-cancelled"' in page and "could not be refunded online" in page
    assert 'class="refund-to-arrange"' in page and "paid ones refunded" not in page
    assert store.booking(VENUE, code).refund_outcome == "refused" and pay.order(VENUE, order_id).status == "paid"


def test_a_shopper_paying_during_a_time_change_may_cancel_for_a_refund_until_the_show(cinema, sandbox, pay,  # noqa: F811
                                                                                     db):
    """Their hold was made for the old time; the payment (after the move) is not a choice of the new one."""
    client, c, store, push = cinema
    show = new_show(cinema, starts_in_s=3 * 3600)
    token, order_id = order_for(client, c, show.id, ["E4", "E5"])
    sooner = (show.starts_at - 3 * 3600 + 30 * 60) // 60 * 60 + 60  # within the zone's 60-minute refund cut-off
    resp = push(sooner, confirm_time_change=True)
    assert resp.status_code == 201, resp.get_json()
    assert requests.post(f"{sandbox[1]}/sandbox/pay/alipay/{order_id}/approve", timeout=30).status_code == 200
    code = store.get_hold(VENUE, token).code
    assert code and store.booking(VENUE, code).created_ms > store.showtime(VENUE, show.id).moved_ms
    [moved] = notices(db, "cinema.show_moved")  # told of the move too, once the ticket is theirs
    assert moved.shopper == "anon-paid-1" and code in moved.data["body_en"]
    assert 'id="cancel-ticket"' in client.get(f"{BASE}/ticket/{code}?c={c}").get_data(as_text=True)
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code == 303
    assert pay.order(VENUE, order_id).status == "refunded"


def test_a_finished_cancellation_is_not_worked_again(cinema, sandbox, pay, db, monkeypatch):  # noqa: F811
    client, c, store, push = cinema
    show = new_show(cinema)
    paid_ticket(cinema, sandbox[1], show)
    assert push(show.starts_at, status="cancelled").get_json()["tickets_cancelled"] == 1
    asked = []
    monkeypatch.setattr(pay, "refund", lambda *args, **kwargs: asked.append(args) or "dup")
    for _again in range(2):
        assert push(show.starts_at, status="cancelled").status_code == 201
        assert push(show.starts_at).status_code == 201  # the next full sync, no status: ignored
        pay.sweep(VENUE)
    assert asked == [] and len(notices(db, "cinema.show_cancelled")) == 1


# ---- payments racing the cinema's cancellation -------------------------------------------------------


RACERS = 24
PAID_BEFORE = 4  # tickets paid before the race: whatever the race does, some paid tickets are to be refunded


def test_payments_racing_the_cancellation_are_refunded_once_each_and_no_ticket_stands(cinema, sandbox, pay,  # noqa: F811
                                                                                      pay_portal, token_for):  # noqa: F811
    """Shoppers' payments confirming holds while the cinema system cancels the show (twice) and the payments sweep
    runs, all at once over HTTP (the sandbox's callbacks reach the portal's threaded server): whatever order they
    land in, each payment that went
    through is refunded exactly once (its ticket's cancellation refund, or the refund of a payment whose hold was
    cancelled first), the others are closed, and no ticket is left booked."""
    client, _c, store, _push = cinema
    app, portal_url = pay_portal
    show = new_show(cinema)
    api_token = app.extensions["mallportal"].tokens.issue(VENUE, "pos-race", scopes=["cinema"])
    pairs = [[f"{row}{n}", f"{row}{n + 1}"] for row in "ABCDEFGH" for n in (1, 3, 5, 7)][:PAID_BEFORE + RACERS]
    orders = []
    for i, seats in enumerate(pairs):  # holds made in the store: the seat budget per address is not under test
        shopper = f"racer-{i}"
        held = store.hold(VENUE, show, shopper, seats, ttl_s=480, refund_cutoff_s=3600)
        assert held.ok, (seats, held)
        c = token_for(app, VENUE, shopper)
        paying = client.post(f"{BASE}/hold/{held.token}/pay", data={"c": c})
        order_id = re.search(r"/pay/(MP[0-9A-F]{24})", paying.headers["Location"]).group(1)
        assert client.post(f"/v/{VENUE}/pay/{order_id}/start", data={"c": c, "method": "alipay:qr"}).status_code == 200
        orders.append(order_id)
        if i < PAID_BEFORE:
            assert requests.post(f"{sandbox[1]}/sandbox/pay/alipay/{order_id}/approve", timeout=60).status_code == 200
            assert store.get_hold(VENUE, held.token).code, "the payment confirmed the hold"
    barrier = threading.Barrier(RACERS + 3)

    def approve(order_id: str) -> int:
        barrier.wait(timeout=60)
        return requests.post(f"{sandbox[1]}/sandbox/pay/alipay/{order_id}/approve", timeout=60).status_code

    def cancel() -> int:
        barrier.wait(timeout=60)
        item = {"id": "pos-p1", "film_en": "Paid Film", "film_zh": "付费电影", "auditorium": "1", "price": 45,
                "starts_at": local(show.starts_at), "status": "cancelled"}
        return requests.post(f"{portal_url}{URL}", json={"zone": ZONE, "showtimes": [item]}, timeout=60,
                             headers={"Authorization": f"Bearer {api_token}"}).status_code

    def sweep() -> int:  # the payments sweep's minute comes in the middle of it all
        barrier.wait(timeout=60)
        return pay.sweep(VENUE)

    with ThreadPoolExecutor(max_workers=RACERS + 3) as pool:
        approvals = [pool.submit(approve, order_id) for order_id in orders[PAID_BEFORE:]]
        cancels = [pool.submit(cancel), pool.submit(cancel)]  # the cinema system sends it twice
        swept = pool.submit(sweep)
        statuses = [f.result() for f in approvals]
        assert [f.result() for f in cancels] == [201, 201]
        swept.result()
    assert set(statuses) <= {200, 409}, statuses
    for order_id in orders:  # a callback that did not get through is asked about, as the sweep would
        pay.refresh(VENUE, order_id)
    pay.sweep(VENUE)
    ledger = refunds(pay)
    paid = [pay.order(VENUE, order_id) for order_id in orders if pay.order(VENUE, order_id).is_paid]
    assert {o.id for o in paid} >= set(orders[:PAID_BEFORE])
    for order in paid:
        assert (order.status, order.refunded) == ("refunded", 9000), order
        assert len([e for e in ledger if e.order == order.id]) == 1, order.id
        assert len(pay.store.refunds_of(VENUE, order.id)) == 1
    assert len(ledger) == len(paid)
    for order_id in orders:
        if not pay.order(VENUE, order_id).is_paid:
            assert pay.order(VENUE, order_id).status == "closed"
    assert [b.code for b in store.show_bookings(VENUE, show.id) if b.status == "booked"] == []
    assert store.seat_states(VENUE, show.id) == {} and not store.is_cancelling(VENUE, show.id)
