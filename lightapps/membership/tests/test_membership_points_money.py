"""Points and money against the real store and the payment sandbox: a refund takes back what its receipt earned
whichever device the shopper uses now (or none), and earns nothing for a payment that earned nothing; a points
redemption's reference, once given back, pays for nothing; an erased member's number earns, loses and shows
nothing (no husk of a hash is written back); the points history and the card in both languages."""

from __future__ import annotations

import re

import pytest

from lightapps.membership.benefits import MemberBenefitStore
from lightapps.membership.store import MemberKeys, MemberStore
from portal.apps.views import STORES
from portal.shopper import Shopper, shopper_token
from tests.payments.conftest import pay, pay_mall, pay_portal, sandbox  # noqa: F401 - the payment sandbox
from tests.payments.test_points import paid_order

VENUE = "demo"
API = f"/api/v1/venues/{VENUE}/membership"


def token(app, client_id: str) -> str:
    with app.app_context():
        return shopper_token(Shopper(VENUE, client_id))


# ---- refunds of portal payments (lightapps/membership/payment.py) --------------------------------------------


def test_a_refund_after_the_card_left_this_phone_still_takes_its_points_back(pay_mall, pay, sandbox,  # noqa: F811
                                                                             pay_portal):  # noqa: F811
    """The card removed from the phone that paid: the refunds go by the receipt, and what remains paid after a
    partial one is posted to the receipt's member (a free loop otherwise: pay, remove the card, refund)."""
    app, _map = pay_mall
    members = app.extensions[STORES]["membership"]
    card, _new = members.bind(VENUE, "+8613800138123", "anon-forgets")
    order = paid_order(pay, pay_portal, sandbox, "anon-forgets", 50_000)  # ¥500.00: 500 points
    assert members.get(VENUE, card.id).points == 500
    client = app.test_client()
    assert client.post(f"/v/{VENUE}/member/forget", data={"c": token(app, "anon-forgets")}).status_code == 303
    assert members.for_client(VENUE, "anon-forgets") is None
    assert pay.refund(VENUE, order.id, 20_000, "two items") == "done"  # ¥300.00 remain paid
    assert (members.get(VENUE, card.id).points, members.get(VENUE, card.id).lifetime) == (300, 300)
    assert pay.refund(VENUE, order.id, 30_000, "the rest") == "done"
    assert (members.get(VENUE, card.id).points, members.get(VENUE, card.id).lifetime) == (0, 0)
    again, created = members.bind(VENUE, "+8613800138123", "anon-forgets")  # signed in again: nothing kept
    assert not created and again.id == card.id and again.points == 0


def test_a_refund_of_a_payment_made_before_joining_earns_nothing(pay_mall, pay, sandbox, pay_portal):  # noqa: F811
    app, _map = pay_mall
    members = app.extensions[STORES]["membership"]
    order = paid_order(pay, pay_portal, sandbox, "anon-joins-late", 50_000)  # not a member: no receipt
    card, _new = members.bind(VENUE, "+8613800138777", "anon-joins-late")
    assert pay.refund(VENUE, order.id, 100, "one item") == "done"  # ¥499.00 remain paid, but earned nothing
    assert pay.refund(VENUE, order.id, 100, "another") == "done"
    assert members.get(VENUE, card.id).points == 0
    assert [e["type"] for e in members.ledger(VENUE, card.id)] == ["join"]


# ---- redemptions (the points capability, benefits.py) ---------------------------------------------------------


def test_a_redemption_reference_pays_once_and_never_after_its_points_went_back(db):
    members = MemberStore(db, "s", "k")
    card, _new = members.bind(VENUE, "+8613800138002", "anon-redeems")
    members.bind(VENUE, "+8613800138003", "anon-other")
    members.post_purchase(VENUE, card.id, "desk-1", "kopi", 150_000)  # 1,500 points
    keeper = MemberBenefitStore(members)
    assert keeper.redeem(VENUE, "anon-redeems", 100, "parking:foot:x:1", "Parking")
    assert keeper.redeem(VENUE, "anon-redeems", 100, "parking:foot:x:1", "Parking")  # told again: taken once
    assert members.get(VENUE, card.id).points == 1400
    assert not keeper.redeem(VENUE, "anon-redeems", 1400, "parking:foot:x:1", "Parking")  # other points
    assert not keeper.redeem(VENUE, "anon-other", 100, "parking:foot:x:1", "Parking")  # another member
    assert keeper.restore(VENUE, "anon-redeems", "parking:foot:x:1")
    assert members.get(VENUE, card.id).points == 1500
    for points in (100, 1500):  # given back: the reference pays for nothing any more
        assert not keeper.redeem(VENUE, "anon-redeems", points, "parking:foot:x:1", "Parking")
    assert members.get(VENUE, card.id).points == 1500


# ---- erasure --------------------------------------------------------------------------------------------------


def test_an_erased_members_number_earns_loses_and_shows_nothing(client, demo, app, svc):
    """Erasure on one phone drops the member's other devices' links too; a POS refund of one of its receipts is
    a 409 that writes nothing (no hash comes back holding only points); the number is unknown at the till."""
    members = MemberStore.from_services(svc)
    card, _new = members.bind(VENUE, "+8613900008888", "anon-phone")
    members.bind(VENUE, "+8613900008888", "anon-tablet")  # the same member on a second device
    members.link_wechat(VENUE, card.id, "oERASED0001")
    auth = {"Authorization": f"Bearer {demo}"}
    bought = client.post(f"{API}/purchases", json={"receipt_id": "R-ER", "member": card.id, "amount": "300"},
                         headers=auth)
    assert bought.status_code == 201
    erased = client.post(f"/v/{VENUE}/my-data/erase", data={"confirm": "1", "c": token(app, "anon-phone")})
    assert erased.status_code == 200

    keys = MemberKeys(VENUE)
    assert not svc.db.exists(keys.client("anon-tablet"), keys.wechat("oERASED0001"))
    refund = client.post(f"{API}/refunds", json={"receipt_id": "R-ER"}, headers=auth)
    assert refund.status_code == 409 and refund.get_json()["field"] == "receipt_id"
    assert not svc.db.exists(keys.member(card.id))
    tablet = client.get(f"/v/{VENUE}/member?c={token(app, 'anon-tablet')}")
    assert tablet.status_code == 200 and 'id="member-card"' not in tablet.get_data(as_text=True)  # sign up again
    by_number = client.post(f"{API}/purchases", json={"receipt_id": "R-ER2", "member": card.id, "amount": "10"},
                            headers=auth)
    by_code = client.post(f"{API}/purchases", json={"receipt_id": "R-ER3", "member_code": f"{card.id}-123456",
                                                    "amount": "10"}, headers=auth)
    assert (by_number.status_code, by_code.status_code) == (404, 404)
    assert not svc.db.exists(keys.member(card.id))


def test_a_hash_without_phone_or_secret_is_no_member(client, demo, svc):
    """What an older refund after an erasure left (a hash holding only points): no member, not a 500, and
    nothing is added to it."""
    members = MemberStore.from_services(svc)
    husk = "109999"
    svc.db.hset(MemberKeys(VENUE).member(husk), mapping={"points": -300, "lifetime": -300})
    svc.db.set(MemberKeys(VENUE).client("anon-husk"), husk)
    assert members.get(VENUE, husk) is None and members.for_client(VENUE, "anon-husk") is None
    auth = {"Authorization": f"Bearer {demo}"}
    posted = client.post(f"{API}/purchases", json={"receipt_id": "R-H", "member": husk, "amount": "500"},
                         headers=auth)
    assert posted.status_code == 404
    assert members.grant_points(VENUE, "anon-husk", 50, "games:H1", "prize").status == "NO_ACCOUNT"
    assert not MemberBenefitStore(members).redeem(VENUE, "anon-husk", 1, "parking:foot:h:1", "Parking")
    assert svc.db.hget(MemberKeys(VENUE).member(husk), "points") == b"-300"


# ---- what the shopper reads -----------------------------------------------------------------------------------


def history_rows(client, c: str, lang: str) -> dict[str, str]:
    html = client.get(f"/v/{VENUE}/member/history?c={c}&lang={lang}").get_data(as_text=True)
    rows = re.findall(r'<tr class="entry (\w+)">\s*<td>[^<]*</td>\s*<td>\s*(.*?)\s*</td>', html, flags=re.S)
    return {kind: " ".join(what.split()) for kind, what in rows}


def test_the_points_history_words_redemptions_and_prizes_in_the_pages_language(client, demo, app, svc):
    members = MemberStore.from_services(svc)
    card, _new = members.bind(VENUE, "+8613900006666", "anon-history")
    members.post_purchase(VENUE, card.id, "R-1", "kopi", 20_000)
    keeper = MemberBenefitStore(members)
    keeper.redeem(VENUE, "anon-history", 100, "parking:foot:x:abcdefgh", "Parking")
    keeper.restore(VENUE, "anon-history", "parking:foot:x:abcdefgh")
    keeper.grant(VENUE, "anon-history", 50, "games:G1", "Lucky draw prize · 幸运抽奖奖品")
    c = token(app, "anon-history")
    english = history_rows(client, c, "en")
    assert english["redeem"] == "Parking fee paid with points"
    assert english["restore"] == "Points given back: the parking fee was not paid"
    assert english["grant"] == "Lucky draw prize"
    chinese = history_rows(client, c, "zh")
    assert all(not re.search(r"[A-Za-z]{3,}", chinese[kind]) for kind in ("redeem", "restore", "grant")), chinese


def test_a_history_line_written_before_kinds_were_kept_shows_its_note(client, demo, app, svc):
    members = MemberStore.from_services(svc)
    card, _new = members.bind(VENUE, "+8613900006667", "anon-old-line")
    svc.db.lpush(MemberKeys(VENUE).ledger(card.id),
                 '{"type": "redeem", "note": "Parking", "ref": "parking:foot:x:y", "points": -5, "balance": -5, '
                 '"at": 1790000000}')
    assert history_rows(client, token(app, "anon-old-line"), "en")["redeem"] == "Parking"


@pytest.mark.parametrize("lang, tier", [("en", "Gold"), ("zh", "金卡")])
def test_the_card_says_what_the_next_tier_needs_spent_not_points_beside_the_balance(client, demo, app, svc, lang,
                                                                                    tier):
    """A tier counts purchases (1 point a yuan spent), the balance counts prizes too: 1,200 prize points on a
    new card still need ¥1,000 spent, and the card says so rather than "1000 more points"."""
    members = MemberStore.from_services(svc)
    members.bind(VENUE, "+8613900007777", "anon-tier")
    MemberBenefitStore(members).grant(VENUE, "anon-tier", 1200, "games:G8", "Lucky draw prize")
    html = client.get(f"/v/{VENUE}/member?c={token(app, 'anon-tier')}&lang={lang}").get_data(as_text=True)
    line = re.search(r'id="next-tier">([^<]*)<', html).group(1)
    assert "¥1000.00" in line and tier in line and "1000" not in line.replace("¥1000.00", "")
    assert "points" not in line and "分" not in line
