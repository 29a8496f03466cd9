"""The zone owner cancels one booking at the counter (a customer past her own refund cut-off): only with the box
ticked, through the shopper's own cancel path (seats freed; a paid ticket refunded in full under its one refund
number, through the payment service), once (pressed again: "already cancelled"), audited; bad ids are 404 and only
the zone's owner and the venue's operator may."""

from __future__ import annotations

import re

from cinema_fixtures import store_fixture, token_fixture  # noqa: F401 (the fixtures)
from test_cinema_cancel import book, console_show
from test_cinema_cancel_paid import BASE, VENUE, cinema, new_show, paid_ticket, refunds  # noqa: F401 (a fixture)

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


def counter_audits(db) -> list[dict]:
    return [e for e in AuditLog(db).recent(VENUE) if e["action"] == "cinema.booking.cancel"]


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
    [entry] = counter_audits(pay.store.db)
    assert (entry["user"], entry["detail"]["refund"]) == ("box-office", "done")
    again = owner.post(url, data={"confirm": "yes", "csrf_token": csrf_of(owner)}, headers=EN)
    assert again.status_code == 303 and len(refunds(pay)) == 1
    assert pay.order(VENUE, order_id).refunded == order.amount and len(counter_audits(pay.store.db)) == 1
    ticket = client.get(f"{BASE}/ticket/{code}?c={c}").get_data(as_text=True)
    assert 'id="cancelled"' in ticket and 'id="show-cancelled"' not in ticket  # her ticket: cancelled, not the show
