"""Paid tickets of a showtime the cinema cancels or moves, through the payment sandbox: a cancelled show's
paid tickets are refunded in full through the refund a shopper's own cancellation makes (one refund number per
booking: refunded once, whoever cancels, however often), its open payment orders are closed; a ticket for a
show moved after it was sold may be cancelled for a full refund until the show starts."""

from __future__ import annotations

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from lightapps.cinema.store import CinemaStore
from portal.apps.registry import get as get_app
from portal.notify.outbox import Job, NotifyKeys
from tests.payments.conftest import pay, pay_mall, pay_portal, sandbox, token_for  # noqa: F401 - the sandbox

VENUE, ZONE = "demo", "cinema"
BASE = f"/v/{VENUE}/cinema/{ZONE}"
URL = f"/api/v1/venues/{VENUE}/cinema/showtimes"


@pytest.fixture
def cinema(pay_mall, token_for):  # noqa: F811
    """(client, shopper token, store, API token, push(starts_at, **changes))."""
    app, _map = pay_mall
    svc = app.extensions["mallportal"]
    svc.zone_apps.set(VENUE, ZONE, "cinema", get_app("cinema").default_config())
    api_token = svc.tokens.issue(VENUE, "pos", scopes=["cinema"])
    client = app.test_client()

    def push(starts_at: int, **changes):
        data = {"id": "pos-p1", "film_en": "Paid Film", "film_zh": "付费电影", "auditorium": "1", "price": 45,
                "starts_at": datetime.fromtimestamp(starts_at, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")}
        return client.post(URL, json={"zone": ZONE, "showtimes": [{**data, **changes}]},
                           headers={"Authorization": f"Bearer {api_token}"})

    return client, token_for(app, VENUE, "anon-paid-1"), CinemaStore(svc.db), push


def new_show(cinema, starts_in_s: int = 3 * 3600):
    _client, _c, store, push = cinema
    starts = (int(time.time()) + starts_in_s) // 60 * 60
    assert push(starts).status_code == 201
    [show] = [s for s in store.showtimes(VENUE, ZONE) if s.external_id == "pos-p1"]
    return show


def order_for(client, c, show_id, seats):
    held = client.post(f"{BASE}/show/{show_id}/hold", data={"seat": seats, "c": c})
    assert held.status_code == 303, held.status_code
    token = re.search(r"/hold/([^/?]+)", held.headers["Location"]).group(1)
    paying = client.post(f"{BASE}/hold/{token}/pay", data={"c": c})
    order_id = re.search(r"/pay/(MP[0-9A-F]{24})", paying.headers["Location"]).group(1)
    assert client.post(f"/v/{VENUE}/pay/{order_id}/start", data={"c": c, "method": "alipay:qr"}).status_code == 200
    return token, order_id


def paid_ticket(cinema, sandbox_url, show, seats=("C4", "C5")):  # noqa: F811
    client, c, store, _push = cinema
    token, order_id = order_for(client, c, show.id, list(seats))
    assert requests.post(f"{sandbox_url}/sandbox/pay/alipay/{order_id}/approve", timeout=30).status_code == 200
    code = store.get_hold(VENUE, token).code
    assert code, "the payment confirmed the hold"
    return code, order_id


def refunds(pay_service) -> list:
    return [e for e in pay_service.store.ledger(VENUE) if e.kind == "refund"]


def test_a_cancelled_shows_paid_tickets_are_refunded_once(cinema, sandbox, pay, db):  # noqa: F811
    client, c, store, push = cinema
    show = new_show(cinema)
    code, order_id = paid_ticket(cinema, sandbox[1], show)
    resp = push(show.starts_at, status="cancelled")
    assert resp.status_code == 201 and resp.get_json()["tickets_cancelled"] == 1
    order = pay.order(VENUE, order_id)
    assert (order.status, order.refunded) == ("refunded", 9000)
    assert sandbox[0].trade("alipay", order_id).refunded == 9000
    assert store.booking(VENUE, code).status == "cancelled"
    jobs = [Job.from_json(f[b"job"]) for _i, f in db.xrange(NotifyKeys(VENUE).stream())]
    [notice] = [j for j in jobs if j.event == "cinema.show_cancelled"]
    assert "refunded in full" in notice.data["body_en"]
    # Cancelled again, and the shopper pressing Cancel on the old ticket page: no second refund.
    assert push(show.starts_at, status="cancelled").status_code == 201
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code in (303, 409)
    assert len(refunds(pay)) == 1 and pay.order(VENUE, order_id).refunded == 9000
    ticket = client.get(f"{BASE}/ticket/{code}?c={c}").get_data(as_text=True)
    assert 'id="show-cancelled"' in ticket and 'id="ticket-refunded"' in ticket


def test_a_ticket_the_shopper_cancelled_before_is_not_refunded_again(cinema, sandbox, pay):  # noqa: F811
    client, c, store, push = cinema
    show = new_show(cinema)
    code, order_id = paid_ticket(cinema, sandbox[1], show)
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code == 303
    assert pay.order(VENUE, order_id).status == "refunded"
    assert push(show.starts_at, status="cancelled").get_json()["tickets_cancelled"] == 0
    assert len(refunds(pay)) == 1 and store.booking(VENUE, code).cancelled_by == ""


def test_an_open_order_of_a_hold_on_a_cancelled_show_is_closed(cinema, sandbox, pay):  # noqa: F811
    client, c, store, push = cinema
    show = new_show(cinema)
    token, order_id = order_for(client, c, show.id, ["D4", "D5"])
    assert push(show.starts_at, status="cancelled").status_code == 201
    assert pay.order(VENUE, order_id).status == "closed"
    assert sandbox[0].trade("alipay", order_id).status == "CLOSED"
    assert store.get_hold(VENUE, token).status == "cancelled" and store.seat_states(VENUE, show.id) == {}
    assert refunds(pay) == []


def test_a_ticket_for_a_moved_show_may_be_cancelled_for_a_refund_until_it_starts(cinema, sandbox, pay):  # noqa: F811
    client, c, store, push = cinema
    show = new_show(cinema, starts_in_s=3 * 3600)
    code, order_id = paid_ticket(cinema, sandbox[1], show)
    sooner = (int(time.time()) + 30 * 60) // 60 * 60 + 60  # within the zone's 60-minute refund cut-off
    assert push(sooner).status_code == 409 and store.showtime(VENUE, show.id).starts_at == show.starts_at
    assert push(sooner, confirm_time_change=True).status_code == 201
    # A ticket sold after the move keeps the zone's cut-off: within it, no cancel.
    later_code, later_order = paid_ticket(cinema, sandbox[1], store.showtime(VENUE, show.id), seats=("F4", "F5"))
    assert 'id="cancel-ticket"' not in client.get(f"{BASE}/ticket/{later_code}?c={c}").get_data(as_text=True)
    assert client.post(f"{BASE}/ticket/{later_code}/cancel", data={"c": c}).status_code == 409
    # The ticket sold for the old time: cancellable, refunded in full.
    assert 'id="cancel-ticket"' in client.get(f"{BASE}/ticket/{code}?c={c}").get_data(as_text=True)
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code == 303
    assert pay.order(VENUE, order_id).status == "refunded" and pay.order(VENUE, later_order).status == "paid"
