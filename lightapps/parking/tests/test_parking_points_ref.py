"""The fee paid with member points through the pages and the payment sandbox: the same fee form sent again with
other points replaces the first order (its points given back) and takes the new points for real; the
redemption's reference is built on the server, never from the form alone."""

from __future__ import annotations

from lightapps.parking import fees
from lightapps.parking.store import Stay
from portal.apps.views import STORES
from tests.payments.conftest import pay, pay_portal, sandbox  # noqa: F401 - the payment sandbox
from tests.payments.test_parking_fee import VENUE, _stay_hashes, fee_session, garage, page, pay_form, shopper  # noqa: F401


def test_the_same_form_with_more_points_takes_them_and_the_first_order_gives_its_own_back(garage, sandbox,  # noqa: F811
                                                                                         pay):  # noqa: F811
    app, client, _token, store, entered = garage
    members = app.extensions[STORES]["membership"]
    card, _new = members.bind(VENUE, "+8613800138002", "anon-points-twice")
    members.post_purchase(VENUE, card.id, "desk-1", "kopi", 150_000)  # 1,500 points at the desk
    c = shopper(app, "anon-points-twice")
    location = fee_session(app, client, c, entered)
    path, _q, query = location.partition("?")
    form = {**pay_form(page(client, location)), "c": c}
    first = client.post(f"{path}/pay?{query}", data={**form, "points": "100"})  # ¥1.00 off: an order for the rest
    assert first.status_code == 303 and "/pay/MP" in first.headers["Location"]
    assert members.get(VENUE, card.id).points == 1400
    second = client.post(f"{path}/pay?{query}", data={**form, "points": "1500"})  # the same attempt, all of it
    assert second.status_code == 303
    stay = store.stay(VENUE, _stay_hashes(store)[0])
    assert stay.paid_fen == 1500  # ¥15.00 paid with 1,500 points...
    assert members.get(VENUE, card.id).points == 0  # ...that were taken (the first order's 100 came back first)
    assert [e["type"] for e in members.ledger(VENUE, card.id)][:3] == ["redeem", "restore", "redeem"]
    third = client.post(f"{path}/pay?{query}", data={**form, "points": "1500"})  # nothing owed now
    assert third.status_code in (303, 409) and members.get(VENUE, card.id).points == 0


def test_a_payments_reference_changes_with_what_the_stay_had_paid_and_its_last_order():
    stay = Stay("h" * 64, 1_790_000_000_000, "garage", "in")
    ref = fees.foot_ref(stay, "attempt-1", 100, "")
    assert ref == fees.foot_ref(stay, "attempt-1", 100, "")  # the same form sent twice: one payment
    others = {fees.foot_ref(Stay("h" * 64, 1_790_000_000_000, "garage", "in", open_order="MP1"), "attempt-1", 100, ""),
              fees.foot_ref(Stay("h" * 64, 1_790_000_000_000, "garage", "in", paid_fen=500), "attempt-1", 100, ""),
              fees.foot_ref(stay, "attempt-1", 1500, ""), fees.foot_ref(stay, "attempt-1", 100, "COUPON1")}
    assert ref not in others and len(others) == 4
