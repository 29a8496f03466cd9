"""The zone owner cancels one booking at the counter (a customer past her own refund cut-off): only with the box
ticked, through the shopper's own cancel path (seats freed; a paid ticket refunded in full under its one refund
number, through the payment service), once (pressed again: "already cancelled"), audited; bad ids are 404 and only
the zone's owner and the venue's operator may. A refund a store fault cuts short, or one not made online, is kept
on the booking, shown on the showtime's page and the shopper's ticket (as its refund's record says now), and finished
by the payments sweep or Finish refund; one the provider refused for good is arranged by hand, with no Finish
refund."""

from __future__ import annotations

import re
import time

import redis
from cinema_fixtures import store_fixture, token_fixture  # noqa: F401 (the fixtures)
from test_cinema_cancel import book, console_show
from test_cinema_cancel_finish import failing_once
from test_cinema_cancel_paid import BASE, VENUE, cinema, new_show, paid_ticket, refunds  # noqa: F401 (a fixture)

from lightapps.cinema.cancellation import finish_cancel_refunds
from lightapps.cinema.store import CinemaKeys
from portal.auth import AuditLog
from tests.payments.conftest import pay, pay_mall, pay_portal, sandbox, token_for  # noqa: F401 - the sandbox
from tests.payments.test_preorder_refund_shown import restaurant_owner

ZONE = "cinema"
CONSOLE = f"/console/apps/cinema/{VENUE}/{ZONE}"
EN = {"Accept-Language": "en-US,en;q=0.9"}


def cancel_url(show_id: str, code: str) -> str:
    return f"{CONSOLE}/showtimes/{show_id}/bookings/{code}/cancel"


def csrf_of(client) -> str:
    page = client.get("/console/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def flashes(page: str) -> list[str]:
    return re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', page, re.S)


def counter_audits(db, action: str = "cinema.booking.cancel") -> list[dict]:
    return [e for e in AuditLog(db).recent(VENUE) if e["action"] == action]


def refund_url(show_id: str, code: str) -> str:
    return f"{CONSOLE}/showtimes/{show_id}/bookings/{code}/refund"


def counter_line(client, c: str, code: str) -> str:
    """What the shopper's own ticket page says of a ticket cancelled at the counter."""
    page = client.get(f"{BASE}/ticket/{code}?c={c}", headers=EN).get_data(as_text=True)
    assert 'id="cancelled"' in page and 'id="show-cancelled"' not in page
    return re.search(r'<p id="counter-cancelled">(.*?)</p>', page, re.S).group(1)


def test_the_owner_cancels_an_unpaid_booking_and_its_seats_are_free(client, console, store, db):
    show = console_show(store)
    code = book(store, show)
    other = book(store, show, "shopper-2", ("B4", "B5"))
    console.login("cinema")
    page = client.get(f"{CONSOLE}/showtimes/{show.id}").get_data(as_text=True)
    assert f'id="cancel-{code}"' in page and f'id="confirm-cancel-{code}"' in page
    resp = client.post(cancel_url(show.id, code), data={"confirm": "yes", "csrf_token": console.csrf()}, headers=EN)
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/showtimes/{show.id}")
    assert store.booking(VENUE, code).status == "cancelled" and store.booking(VENUE, other).status == "booked"
    assert set(store.seat_states(VENUE, show.id)) == {"B4", "B5"}  # A4, A5 free again
    shown = client.get(resp.headers["Location"], headers=EN).get_data(as_text=True)
    assert any(f"Booking {code} cancelled: seats A4, A5 are free again" in f and "nothing to refund" in f
               for f in flashes(shown)), flashes(shown)
    assert f'id="cancel-{code}"' not in shown and f'id="cancel-{other}"' in shown
    [entry] = counter_audits(db)
    assert (entry["user"], entry["detail"]["booking"], entry["detail"]["zone"], entry["detail"]["refund"]) == (
        "cinema", code, ZONE, "none")
    # pressed again (a double tap, another phone): already cancelled, nothing more done or audited
    again = client.post(cancel_url(show.id, code), data={"confirm": "yes", "csrf_token": console.csrf()}, headers=EN)
    assert again.status_code == 303
    assert f"Booking {code} was already cancelled." in flashes(client.get(again.headers["Location"]).get_data(
        as_text=True))
    assert len(counter_audits(db)) == 1 and set(store.seat_states(VENUE, show.id)) == {"B4", "B5"}
    history = client.get(f"/console/owner/{VENUE}/zone/{ZONE}?lang=en").get_data(as_text=True)
    assert f"Booking {code} cancelled at the counter: Console Film" in history.split('id="history"')[1]


def test_without_the_box_ticked_nothing_is_cancelled(client, console, store, db):
    show = console_show(store)
    code = book(store, show)
    console.login("cinema")
    for data in ({}, {"confirm": "no"}, {"confirm": ""}):
        resp = client.post(cancel_url(show.id, code), data={**data, "csrf_token": console.csrf()})
        page = resp.get_data(as_text=True)
        assert resp.status_code == 422, data
        assert 'data-field="confirm"' in page and code in page
        box = re.search(rf'<input[^>]*id="confirm-cancel-{code}"[^>]*>', page).group(0)
        assert 'aria-invalid="true"' in box
    assert store.booking(VENUE, code).status == "booked" and set(store.seat_states(VENUE, show.id)) == {"A4", "A5"}
    assert counter_audits(db) == []


def test_a_bad_or_foreign_booking_is_404(client, console, store):
    show, elsewhere = console_show(store), console_show(store, starts_in_s=5 * 3600)
    code, foreign = book(store, show), book(store, elsewhere, "shopper-2")
    console.login("cinema")
    for path in (cancel_url(show.id, "NOSUCHCODE"), cancel_url(show.id, "bad%20id"), cancel_url(show.id, foreign),
                 cancel_url("s0000000000", code)):
        for data in ({"confirm": "yes"}, {}):
            resp = client.post(path, data={**data, "csrf_token": console.csrf()})
            assert resp.status_code == 404, (path, data)
    assert store.booking(VENUE, code).status == "booked" and store.booking(VENUE, foreign).status == "booked"


def test_only_the_zones_owner_and_the_operator_may_cancel_a_booking(client, console, store, token):
    show = console_show(store)
    code = book(store, show)
    ticked = {"confirm": "yes", "csrf_token": console.csrf()}
    as_shopper = client.post(f"{cancel_url(show.id, code)}?c={token()}", data={**ticked, "c": token()})
    assert as_shopper.status_code in (302, 303) and "/console/login" in as_shopper.headers["Location"]
    console.login("kopi")  # another zone's owner
    assert client.post(cancel_url(show.id, code), data={**ticked, "csrf_token": console.csrf()}).status_code == 403
    console.login("cinema")
    assert client.post(cancel_url(show.id, code), data={"confirm": "yes"}).status_code == 400  # no CSRF token
    assert store.booking(VENUE, code).status == "booked"
    console.login("ops")
    assert client.post(cancel_url(show.id, code), data={**ticked, "csrf_token": console.csrf()}).status_code == 303
    assert store.booking(VENUE, code).status == "cancelled"


def test_a_paid_ticket_past_the_shoppers_cut_off_is_refunded_in_full_once(cinema, pay_mall, sandbox, pay):  # noqa: F811
    client, c, store, _push = cinema
    show = new_show(cinema, starts_in_s=30 * 60)  # within the zone's 60-minute refund cut-off
    code, order_id = paid_ticket(cinema, sandbox[1], show)
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code == 409  # too late for her
    owner = restaurant_owner(pay_mall[0], pay, "box-office", zones=(ZONE,))
    url = cancel_url(show.id, code)
    assert owner.post(url, data={"csrf_token": csrf_of(owner)}).status_code == 422
    assert refunds(pay) == [] and store.booking(VENUE, code).status == "booked"
    resp = owner.post(url, data={"confirm": "yes", "csrf_token": csrf_of(owner)}, headers=EN)
    assert resp.status_code == 303
    assert store.booking(VENUE, code).status == "cancelled" and store.seat_states(VENUE, show.id) == {}
    order = pay.order(VENUE, order_id)
    assert (order.status, order.refunded) == ("refunded", order.amount)
    assert pay.store.refund_record(VENUE, order_id + "C")["status"] == "done"
    assert sandbox[0].trade("alipay", order_id).refunded == order.amount
    page = owner.get(resp.headers["Location"], headers=EN).get_data(as_text=True)
    assert any("its payment is refunded in full" in f for f in flashes(page)), flashes(page)
    [entry] = counter_audits(pay.store.db)  # audited once cancelled, as the refund was asked for
    assert (entry["user"], entry["detail"]["refund"]) == ("box-office", "asked")
    again = owner.post(url, data={"confirm": "yes", "csrf_token": csrf_of(owner)}, headers=EN)
    assert again.status_code == 303 and len(refunds(pay)) == 1
    assert pay.order(VENUE, order_id).refunded == order.amount and len(counter_audits(pay.store.db)) == 1
    # her ticket: cancelled at the counter (not the show), refunded
    assert counter_line(client, c, code) == "Cancelled at the cinema's counter: what you paid is refunded in full."
    assert store.booking(VENUE, code).refund_outcome == "done" and not store.cancel_refunds(VENUE)
    assert 'id="finish-refund-' not in page and 'class="refund-' not in page


def refused_for_good(pay_service):
    """`PaymentService.refund` as it goes when the provider refuses the refund for good: the refund is reserved
    under its number and its record booked "failed" (the provider's no), the caller told "refused"."""
    def refund(venue: str, order_id: str, amount: int, reason: str, refund_no: str | None = None) -> str:
        assert pay_service.store.begin_refund(venue, order_id, refund_no, amount, reason) == "ok"
        assert pay_service.store.end_refund(venue, order_id, refund_no, "", "failed").startswith("ok")
        return "refused"

    return refund


def a_minute_later(monkeypatch, pay, minutes: int = 2) -> None:  # noqa: F811
    """The payments' clock (the sweep's "now") moved on: what a failure left is a sweep's to finish."""
    monkeypatch.setattr(pay, "clock", lambda: int(time.time() * 1000) + minutes * 60_000)


def test_a_refund_the_provider_refuses_is_arranged_by_hand_with_no_finish_refund(cinema, pay_mall, sandbox, pay,  # noqa: F811
                                                                                  monkeypatch):
    """The provider will not make the refund, for good: the booking is cancelled at the counter with its refund to
    arrange by hand, on the showtime's page (no Finish refund: asked again under its one refund number, it is
    refused again) and on her ticket; a press all the same (a page open from before) changes nothing."""
    client, c, store, _push = cinema
    show = new_show(cinema)
    code, order_id = paid_ticket(cinema, sandbox[1], show)
    owner = restaurant_owner(pay_mall[0], pay, "box-office", zones=(ZONE,))
    with monkeypatch.context() as patch:
        patch.setattr(pay, "refund", refused_for_good(pay))
        resp = owner.post(cancel_url(show.id, code), data={"confirm": "yes", "csrf_token": csrf_of(owner)},
                          headers=EN)
    assert resp.status_code == 303 and pay.store.refund_record(VENUE, order_id + "C")["status"] == "failed"
    page = owner.get(resp.headers["Location"], headers=EN).get_data(as_text=True)
    assert any("its refund could not be made online" in f for f in flashes(page)), flashes(page)
    booking = store.booking(VENUE, code)
    assert (booking.status, booking.cancelled_by, booking.refund_outcome) == ("cancelled", "counter", "refused")
    arrange = re.search(rf'<strong[^>]*id="refund-to-arrange-{code}">(.*?)</strong>', page).group(1)
    assert arrange == "refund to arrange by hand" and f'id="finish-refund-{code}"' not in page
    assert f'id="cancel-{code}"' not in page and "cancelled at the counter" in page
    assert "still to be arranged" in counter_line(client, c, code)
    a_minute_later(monkeypatch, pay)
    pay.sweep(VENUE)  # the sweep leaves a refund refused for good to the owner
    press = owner.post(refund_url(show.id, code), data={"csrf_token": csrf_of(owner)}, headers=EN)
    assert press.status_code == 303
    assert f"Booking {code} has no refund left to finish." in flashes(
        owner.get(press.headers["Location"], headers=EN).get_data(as_text=True))
    order = pay.order(VENUE, order_id)
    assert (order.status, order.refunded, refunds(pay)) == ("paid", 0, [])
    assert store.booking(VENUE, code).refund_outcome == "refused" and store.cancel_refunds(VENUE) == []
    assert pay.store.refund_record(VENUE, order_id + "C")["status"] == "failed"
    assert counter_audits(pay.store.db, "cinema.booking.refund") == []


def test_a_refund_the_order_could_not_take_then_is_finished_by_finish_refund(cinema, pay_mall, sandbox, pay,  # noqa: F811
                                                                             monkeypatch):
    """The order could not take the refund then (more than it had left: another refund held it, say): nothing was
    reserved under its refund number, so Finish refund is offered and, once the order can, makes it, once."""
    client, c, store, _push = cinema
    show = new_show(cinema)
    code, order_id = paid_ticket(cinema, sandbox[1], show)
    owner = restaurant_owner(pay_mall[0], pay, "box-office", zones=(ZONE,))
    with monkeypatch.context() as patch:
        patch.setattr(pay, "refund", lambda *args, **kwargs: "exceeds")  # what the refund's reservation answers
        resp = owner.post(cancel_url(show.id, code), data={"confirm": "yes", "csrf_token": csrf_of(owner)},
                          headers=EN)
    page = owner.get(resp.headers["Location"], headers=EN).get_data(as_text=True)
    assert store.booking(VENUE, code).refund_outcome == "exceeds"
    arrange = re.search(rf'<strong[^>]*id="refund-to-arrange-{code}">(.*?)</strong>', page).group(1)
    assert arrange == "refund to arrange" and f'id="finish-refund-{code}"' in page
    assert "still to be arranged" in counter_line(client, c, code)
    finish = owner.post(refund_url(show.id, code), data={"csrf_token": csrf_of(owner)}, headers=EN)
    page = owner.get(finish.headers["Location"], headers=EN).get_data(as_text=True)
    assert any(f"Booking {code}: its payment is refunded in full." in f for f in flashes(page)), flashes(page)
    order = pay.order(VENUE, order_id)
    assert (order.status, order.refunded) == ("refunded", order.amount)
    assert store.booking(VENUE, code).refund_outcome == "done"
    assert f'id="finish-refund-{code}"' not in page and f'id="refund-to-arrange-{code}"' not in page
    assert counter_line(client, c, code) == "Cancelled at the cinema's counter: what you paid is refunded in full."
    [entry] = counter_audits(pay.store.db, "cinema.booking.refund")
    assert (entry["user"], entry["detail"]["booking"], entry["detail"]["refund"]) == ("box-office", code, "done")
    # Pressed again (a double tap): nothing left to finish, nothing refunded twice or audited.
    again = owner.post(refund_url(show.id, code), data={"csrf_token": csrf_of(owner)}, headers=EN)
    assert f"Booking {code} has no refund left to finish." in flashes(
        owner.get(again.headers["Location"], headers=EN).get_data(as_text=True))
    assert len(refunds(pay)) == 1 and len(counter_audits(pay.store.db, "cinema.booking.refund")) == 1


def test_a_pending_refund_that_fails_for_good_later_reads_to_arrange(cinema, pay_mall, sandbox, pay):  # noqa: F811
    """The provider did not answer (the refund pending, kept so on the booking) and refuses it for good later: her
    ticket and the showtime's page read the refund's record, so neither says refunded in full any more."""
    client, c, store, _push = cinema
    show = new_show(cinema)
    code, order_id = paid_ticket(cinema, sandbox[1], show)
    owner = restaurant_owner(pay_mall[0], pay, "box-office", zones=(ZONE,))
    sandbox[0].refund_mode = "down"
    try:
        assert owner.post(cancel_url(show.id, code), data={"confirm": "yes", "csrf_token": csrf_of(owner)},
                          headers=EN).status_code == 303
    finally:
        sandbox[0].refund_mode = "success"
    assert store.booking(VENUE, code).refund_outcome == "pending"
    assert counter_line(client, c, code) == "Cancelled at the cinema's counter: what you paid is refunded in full."
    # The provider's final word, later (its callback, or the payments sweep's query): refused.
    assert pay.store.end_refund(VENUE, order_id, order_id + "C", "", "failed").startswith("ok")
    assert "still to be arranged" in counter_line(client, c, code)
    page = owner.get(f"{CONSOLE}/showtimes/{show.id}", headers=EN).get_data(as_text=True)
    assert f'id="refund-to-arrange-{code}">refund to arrange by hand<' in page
    assert f'id="finish-refund-{code}"' not in page
    assert store.booking(VENUE, code).refund_outcome == "pending"  # read, not written: the record is the truth


def test_a_store_fault_between_cancel_and_refund_is_finished_by_the_sweep(cinema, pay_mall, sandbox, pay,  # noqa: F811
                                                                         monkeypatch):
    """The store fails after the booking is cancelled, before its refund is asked for: the seats are free and
    the money not yet back, so the booking shows "still to refund" (and Finish refund) and her ticket says so,
    until the payments sweep refunds it (a minute on: never beside the request still asking), once."""
    client, c, store, _push = cinema
    show = new_show(cinema)
    code, order_id = paid_ticket(cinema, sandbox[1], show)
    owner = restaurant_owner(pay_mall[0], pay, "box-office", zones=(ZONE,))
    monkeypatch.setattr(pay, "refund", failing_once(pay.refund, redis.ConnectionError("store gone for a moment")))
    resp = owner.post(cancel_url(show.id, code), data={"confirm": "yes", "csrf_token": csrf_of(owner)}, headers=EN)
    assert resp.status_code == 503
    client.application.extensions["mallportal"].breaker.record_success()  # the store is back
    [entry] = counter_audits(pay.store.db)  # the cancel is audited though its refund was cut short
    assert (entry["user"], entry["detail"]["booking"], entry["detail"]["refund"]) == ("box-office", code, "asked")
    booking = store.booking(VENUE, code)
    assert (booking.status, booking.cancelled_by, booking.refund_outcome) == ("cancelled", "counter", "")
    assert store.seat_states(VENUE, show.id) == {} and pay.order(VENUE, order_id).status == "paid"
    assert store.cancel_refunds(VENUE) == [code]
    page = owner.get(f"{CONSOLE}/showtimes/{show.id}", headers=EN).get_data(as_text=True)
    assert f'id="refund-left-{code}"' in page and f'id="finish-refund-{code}"' in page
    assert "still to be arranged" in counter_line(client, c, code)
    pay.sweep(VENUE)  # at once: the cancel's own request may still be asking the provider
    assert store.cancel_refunds(VENUE) == [code] and pay.order(VENUE, order_id).status == "paid"
    a_minute_later(monkeypatch, pay)
    pay.sweep(VENUE)  # the cron's minute
    order = pay.order(VENUE, order_id)
    assert (order.status, order.refunded) == ("refunded", order.amount)
    assert store.booking(VENUE, code).refund_outcome == "done" and store.cancel_refunds(VENUE) == []
    page = owner.get(f"{CONSOLE}/showtimes/{show.id}", headers=EN).get_data(as_text=True)
    assert f'id="refund-left-{code}"' not in page and f'id="finish-refund-{code}"' not in page
    assert counter_line(client, c, code) == "Cancelled at the cinema's counter: what you paid is refunded in full."
    pay.sweep(VENUE)
    assert len(refunds(pay)) == 1


def test_a_refund_cut_short_is_finished_by_finish_refund(cinema, pay_mall, sandbox, pay, monkeypatch):  # noqa: F811
    client, c, store, _push = cinema
    show = new_show(cinema)
    code, order_id = paid_ticket(cinema, sandbox[1], show)
    owner = restaurant_owner(pay_mall[0], pay, "box-office", zones=(ZONE,))
    monkeypatch.setattr(pay, "refund", failing_once(pay.refund, redis.ConnectionError("store gone for a moment")))
    assert owner.post(cancel_url(show.id, code), data={"confirm": "yes", "csrf_token": csrf_of(owner)}).status_code \
        == 503
    client.application.extensions["mallportal"].breaker.record_success()
    assert owner.post(refund_url(show.id, code), data={"csrf_token": csrf_of(owner)}).status_code == 303
    assert pay.order(VENUE, order_id).status == "refunded" and store.cancel_refunds(VENUE) == []
    assert store.booking(VENUE, code).refund_outcome == "done" and len(refunds(pay)) == 1


def test_finish_refund_is_for_the_zones_owner_and_a_booking_of_the_show(client, console, store):
    show, elsewhere = console_show(store), console_show(store, starts_in_s=5 * 3600)
    code, foreign = book(store, show), book(store, elsewhere, "shopper-2")
    as_nobody = client.post(refund_url(show.id, code), data={"csrf_token": console.csrf()})
    assert as_nobody.status_code in (302, 303) and "/console/login" in as_nobody.headers["Location"]
    console.login("kopi")  # another zone's owner
    assert client.post(refund_url(show.id, code), data={"csrf_token": console.csrf()}).status_code == 403
    console.login("cinema")
    assert client.post(refund_url(show.id, code), data={}).status_code == 400  # no CSRF token
    for path in (refund_url(show.id, "NOSUCHCODE"), refund_url(show.id, "bad%20id"), refund_url(show.id, foreign)):
        assert client.post(path, data={"csrf_token": console.csrf()}).status_code == 404, path
    # A booking still booked, or cancelled unpaid: nothing to finish, nothing changed.
    resp = client.post(refund_url(show.id, code), data={"csrf_token": console.csrf()}, headers=EN)
    assert resp.status_code == 303 and store.booking(VENUE, code).status == "booked"
    assert client.post(cancel_url(show.id, code), data={"confirm": "yes", "csrf_token": console.csrf()}).status_code \
        == 303
    assert store.booking(VENUE, code).refund_outcome == "none" and store.cancel_refunds(VENUE) == []
    resp = client.post(refund_url(show.id, code), data={"csrf_token": console.csrf()}, headers=EN)
    assert f"Booking {code} has no refund left to finish." in flashes(client.get(resp.headers["Location"]).get_data(
        as_text=True))
    assert counter_audits(store.db, "cinema.booking.refund") == []


def test_her_own_cancel_whose_refund_failed_is_shown_and_not_counted(cinema, pay_mall, sandbox, pay):  # noqa: F811
    """Her own cancel, its refund pending and then refused for good: her ticket and the showtime's page say it is to
    be arranged (the outcome the cancel-refunds set keeps was shown nowhere); when the cinema then cancels the show,
    its banner counts only the tickets the show's cancellation could not refund, not hers."""
    client, c, store, push = cinema
    show = new_show(cinema)
    code, order_id = paid_ticket(cinema, sandbox[1], show)
    sandbox[0].refund_mode = "down"
    try:
        assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code == 303
    finally:
        sandbox[0].refund_mode = "success"
    assert pay.store.end_refund(VENUE, order_id, order_id + "C", "", "failed").startswith("ok")
    ticket = client.get(f"{BASE}/ticket/{code}?c={c}", headers=EN).get_data(as_text=True)
    assert re.search(r'<p id="refund-to-arrange">Your refund could not be made online', ticket)
    owner = restaurant_owner(pay_mall[0], pay, "box-office", zones=(ZONE,))
    page = owner.get(f"{CONSOLE}/showtimes/{show.id}", headers=EN).get_data(as_text=True)
    assert f'id="refund-to-arrange-{code}">refund to arrange by hand<' in page
    assert push(show.starts_at, status="cancelled").get_json()["tickets_cancelled"] == 0
    page = owner.get(f"{CONSOLE}/showtimes/{show.id}", headers=EN).get_data(as_text=True)
    banner = re.search(r'<p class="error" id="show-cancelled">(.*?)</p>', page, re.S).group(1)
    assert banner == "Cancelled: its tickets were cancelled, paid ones refunded, and their holders told."


def test_a_lapsed_tickets_refund_left_on_the_sweeps_set_is_taken_off_and_counted(cinema, pay):  # noqa: F811
    """A ticket whose booking lapsed with its show (30 days on) while its refund was still to finish: the sweep takes
    it off the set and counts it as done, rather than sending a code no longer on the set to the back of the line."""
    client, _c, store, _push = cinema
    store.db.zadd(CinemaKeys(VENUE).cancel_refunds(), {"GONE0001": 0})
    with client.application.test_request_context():
        assert finish_cancel_refunds(VENUE, pay.now_ms()) == 1
    assert store.cancel_refunds(VENUE) == []
