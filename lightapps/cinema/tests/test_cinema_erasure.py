"""Erasing a shopper ("erase my data") while they hold seats and are paying for them: the live hold is
cancelled and its seats are free again for others; the order, paid after all, books no ticket for nobody but
is refunded by the payment service. Afterwards no key names the shopper, in its name or its value (a hold the
shopper replaced by re-picking included)."""

from __future__ import annotations

import re
import time

import requests

from lightapps.cinema.store import CinemaStore, ShowtimeInput
from portal.apps.registry import get as get_app
from tests.events.test_erasure_everywhere import mentions
from tests.payments.conftest import pay, pay_mall, pay_portal, sandbox, token_for  # noqa: F401 - the sandbox

VENUE, ZONE = "demo", "cinema"
BASE = f"/v/{VENUE}/cinema/{ZONE}"
CLIENT = "s-erase-cinema-4b7e"


def test_erased_shoppers_hold_is_released_and_their_late_payment_refunded(pay_mall, pay, sandbox,  # noqa: F811
                                                                          token_for):  # noqa: F811
    app, _map = pay_mall
    svc = app.extensions["mallportal"]
    svc.zone_apps.set(VENUE, ZONE, "cinema", get_app("cinema").default_config())
    store, client, c = CinemaStore(svc.db), app.test_client(), token_for(app, VENUE, CLIENT)
    show_id = store.upsert_showtimes(VENUE, ZONE, [ShowtimeInput("Paid Film", "付费电影", "1",
                                                                 int(time.time()) + 3 * 3600, 4500)],
                                     source="test")["ids"][0]
    # A hold, replaced by re-picking (the first hold's record stays, naming the shopper), then paid for.
    client.post(f"{BASE}/show/{show_id}/hold", data={"seat": ["C4", "C5"], "c": c})
    held = client.post(f"{BASE}/show/{show_id}/hold", data={"seat": ["D4", "D5"], "c": c})
    token = re.search(r"/hold/([^/?]+)", held.headers["Location"]).group(1)
    paying = client.post(f"{BASE}/hold/{token}/pay", data={"c": c})
    order_id = re.search(r"/pay/(MP[0-9A-F]{24})", paying.headers["Location"]).group(1)
    assert client.post(f"/v/{VENUE}/pay/{order_id}/start", data={"c": c, "method": "wechat:native"}).status_code
    assert set(store.seat_states(VENUE, show_id)) == {"D4", "D5"}

    assert client.post(f"/v/{VENUE}/my-data/erase", data={"confirm": "1", "c": c}).status_code == 200

    assert mentions(svc.db, (CLIENT,)) == []
    assert store.seat_states(VENUE, show_id) == {}  # the seats are free for others at once
    assert store.get_hold(VENUE, token).status == "cancelled"
    # The shopper pays on the provider's page after all: nobody to issue the ticket to, so it is refunded.
    assert requests.post(f"{sandbox[1]}/sandbox/pay/wechat/{order_id}/approve", timeout=60).status_code == 200
    order = pay.order(VENUE, order_id)
    assert order.status == "refunded" and order.refunded == 9000
    assert sandbox[0].trade("wechat", order_id).refunded == 9000
    assert store.show_bookings(VENUE, show_id) == [] and store.seat_states(VENUE, show_id) == {}
    assert [(e.kind, e.amount) for e in pay.store.ledger(VENUE, ZONE)] == [("paid", 9000), ("refund", 9000)]
    assert store.forget_shopper(VENUE, CLIENT) == 0  # a second erasure finds nothing


def test_a_hold_naming_nobody_is_never_confirmed(db):
    """An order whose shopper was erased names nobody (""): confirming a hold for "" books nothing, even a
    hold whose shopper was blanked while it was still live (as erasures before holds were cancelled left it),
    so the payment service refunds."""
    store = CinemaStore(db)
    show = store.showtime(VENUE, store.upsert_showtimes(VENUE, ZONE, [ShowtimeInput(
        "Film", "电影", "1", int(time.time()) + 3600, 4500)], source="test")["ids"][0])
    held = store.hold(VENUE, show, CLIENT, ["E4", "E5"], ttl_s=300)
    db.hset(f"mp:{{{VENUE}}}:cinema:hold:{held.token}", "client", "")
    assert store.confirm(VENUE, held.token, "", ZONE).status == "nohold"
    assert store.show_bookings(VENUE, show.id) == []
