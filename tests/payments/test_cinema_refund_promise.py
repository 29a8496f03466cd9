"""A paid cinema ticket's "Cancel until HH:MM for a full refund." holds: the refund cut-off is the one in
force when its seats were held (kept with the booking), so an owner who raises the zone's cut-off later
takes nothing away; a lowered cut-off is honoured (the later of the two deadlines)."""

from __future__ import annotations

import re
import time

import pytest
import requests

from lightapps.cinema.store import CinemaStore, ShowtimeInput
from portal.apps.registry import get as get_app

VENUE, ZONE = "demo", "cinema"
BASE = f"/v/{VENUE}/cinema/{ZONE}"
PROMISE = re.compile(r"Cancel until ([0-9:]+) for a full refund\.")


@pytest.fixture
def cinema(pay_mall, token_for):
    """(app's services, a shopper's client, their token, the store), the cinema on with its defaults (60 min)."""
    app, _map = pay_mall
    svc = app.extensions["mallportal"]
    svc.zone_apps.set(VENUE, ZONE, "cinema", get_app("cinema").default_config())
    return svc, app.test_client(), token_for(app, VENUE, "anon-promise-1"), CinemaStore(svc.db)


def set_cutoff(svc, minutes: int) -> None:
    """What the owner's save of the zone's settings stores."""
    svc.zone_apps.set(VENUE, ZONE, "cinema", {**get_app("cinema").default_config(), "refund_cutoff_minutes": minutes})


def buy(client, store, c, sandbox, starts_in_s: int = 3 * 3600) -> tuple[str, str]:
    """A paid ticket for a new show: (booking code, order id)."""
    item = ShowtimeInput("Paid Film", "付费电影", "1", int(time.time()) + starts_in_s, 4500)
    show_id = store.upsert_showtimes(VENUE, ZONE, [item], source="test")["ids"][0]
    held = client.post(f"{BASE}/show/{show_id}/hold", data={"seat": ["D4", "D5"], "c": c})
    token = re.search(r"/hold/([^/?]+)", held.headers["Location"]).group(1)
    paying = client.post(f"{BASE}/hold/{token}/pay", data={"c": c})
    order_id = re.search(r"/pay/(MP[0-9A-F]{24})", paying.headers["Location"]).group(1)
    client.post(f"/v/{VENUE}/pay/{order_id}/start", data={"c": c, "method": "wechat:native"})
    assert requests.post(f"{sandbox[1]}/sandbox/pay/wechat/{order_id}/approve", timeout=30).status_code == 200
    return store.get_hold(VENUE, token).code, order_id


def promise(client, code: str, c: str) -> list[str]:
    return PROMISE.findall(client.get(f"{BASE}/ticket/{code}?c={c}&lang=en").get_data(as_text=True))


def test_a_raised_cutoff_does_not_take_back_the_promised_refund(cinema, sandbox, pay):
    svc, client, c, store = cinema
    code, order_id = buy(client, store, c, sandbox)
    promised = promise(client, code, c)
    assert len(promised) == 1
    set_cutoff(svc, 240)  # 4 hours: the show (in 3) would be past it
    assert promise(client, code, c) == promised
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code == 303
    assert pay.order(VENUE, order_id).status == "refunded"


def test_a_lowered_cutoff_is_honoured_for_tickets_sold_before(cinema, sandbox, pay):
    svc, client, c, store = cinema
    code, _order_id = buy(client, store, c, sandbox, starts_in_s=30 * 60)  # within the 60-minute cut-off
    assert promise(client, code, c) == []  # no cancel offered
    set_cutoff(svc, 10)
    assert len(promise(client, code, c)) == 1  # the later deadline: 10 minutes before the show
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code == 303


def test_new_tickets_get_the_new_cutoff(cinema, sandbox, pay):
    svc, client, c, store = cinema
    set_cutoff(svc, 240)
    code, order_id = buy(client, store, c, sandbox)
    assert promise(client, code, c) == []
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code == 409
    assert pay.order(VENUE, order_id).status == "paid"


def test_a_paid_ticket_is_refunded_after_its_orders_key_by_hold_is_gone(cinema, sandbox, pay):
    """The order's key by hold lasts two days, the ticket up to the show (months ahead): a ticket cancelled later
    was read as unpaid, its seats freed and nothing refunded. The booking keeps its order."""
    from portal.payments.store import PaymentKeys

    svc, client, c, store = cinema
    code, order_id = buy(client, store, c, sandbox, starts_in_s=3 * 86400)
    assert store.booking(VENUE, code).order_id == order_id
    svc.db.delete(PaymentKeys(VENUE).idem(f"cinema:{store.booking(VENUE, code).token}"))  # as two days would
    assert len(promise(client, code, c)) == 1  # still shown as paid, with its refund cut-off
    assert client.post(f"{BASE}/ticket/{code}/cancel", data={"c": c}).status_code == 303
    assert pay.order(VENUE, order_id).status == "refunded"
