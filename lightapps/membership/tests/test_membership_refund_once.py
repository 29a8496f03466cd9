"""Refunds of portal orders and WeChat Pay 智慧商圈 purchases take their points back in one write per refund, off
the payment's own receipt (lightapps/membership/payment.py, MemberStore.refund_paid): parts then the rest take
back exactly the receipt's points, a refund told again (a replayed notice, a telling a store fault cut short)
changes nothing, two refunds told at once both count, and payments partly refunded under the old scheme (the
receipt reversed whole, the remainder posted as `<receipt>.<fen refunded>`) are refunded off that remainder."""

from __future__ import annotations

import pytest
import redis

from lightapps.membership.payment import MALL_STORE, mall_points_listener, points_listener
from lightapps.membership.store import RECEIPT_KEEP_S, MemberKeys, MemberStore
from portal.apps.views import STORES
from portal.payments.providers.base import MallNotice
from portal.payments.store import Order
from tests.payments.conftest import pay, pay_portal, sandbox  # noqa: F401 - the payment sandbox
from tests.payments.test_points import paid_order

VENUE = "demo"


@pytest.fixture
def members(db) -> MemberStore:
    return MemberStore(db, "refund-test-secret", "refund-test-phone-key")


def card(members: MemberStore, client: str = "anon-refunds"):
    return members.bind(VENUE, "+8613800139001", client)[0]


def order(amount: int, refunded: int = 0, order_id: str = "MPREFUNDTEST0001") -> Order:
    """The order as the payment service tells it: right after the payment (refunded 0) or a refund."""
    return Order(id=order_id, venue=VENUE, merchant="kopi", shopper="anon-refunds", amount=amount, currency="CNY",
                 items=(), purpose="points-test", ref="x", description="Coffee", status="paid", created_ms=0,
                 expires_ms=0, provider="alipay", txn="T1", refunded=refunded)


def mall(kind: str, amount: int, refund_id: str = "", pay_amount: int = 25_800) -> MallNotice:
    return MallNotice(kind=kind, txn="4200000001", openid="oREFUNDS0001", amount=amount, pay_amount=pay_amount,
                      shop_number="kopi", refund_id=refund_id)


def points(members: MemberStore, member_id: str) -> tuple[int, int]:
    now = members.get(VENUE, member_id)
    return now.points, now.lifetime


def kinds(members: MemberStore, member_id: str) -> list[str]:
    return [entry["type"] for entry in members.ledger(VENUE, member_id)]


# ---- portal orders ------------------------------------------------------------------------------------------



def lose_the_first_reply(monkeypatch, members) -> list:
    """The refund script's first write lands and its reply is lost (a ConnectionError): the store fault between
    the steps. Returns the list the lost reply is put in."""
    script, faults = members._refund, []

    def lands_then_fails(*args, **kwargs):
        answer = script(*args, **kwargs)
        if not faults:
            faults.append(answer)
            raise redis.ConnectionError("connection lost after the write")
        return answer

    monkeypatch.setattr(members, "_refund", lands_then_fails)
    return faults

def test_two_parts_then_the_rest_take_back_exactly_the_receipts_points_each_once(members):
    """¥128.50 (128 points) refunded as ¥30.25, ¥0.50 and the rest: 30 + 1 + 97 points off the one receipt, each
    refund told twice (as after a store error) taking them once."""
    m = card(members)
    told = points_listener(members)
    told("paid", order(12_850), 12_850)
    assert points(members, m.id) == (128, 128)
    for refunded, amount, left in ((3_025, 3_025, 98), (3_075, 50, 97), (12_850, 9_775, 0)):
        for _ in range(2):
            told("refund", order(12_850, refunded), amount)
            assert points(members, m.id) == (left, left)
    assert kinds(members, m.id) == ["reverse", "reverse", "reverse", "earn", "join"]
    receipt = members.receipt(VENUE, "kopi", "MPREFUNDTEST0001")
    assert (receipt["state"], receipt["refunded_amount"], receipt["refunded_points"]) == ("refunded", "12850", "128")


def test_a_store_fault_after_the_refunds_write_loses_nothing_once_told_again(pay, pay_portal, sandbox,  # noqa: F811
                                                                            monkeypatch):
    """Through the payment service: the first refund's write lands and its answer is lost (a ConnectionError);
    the service tells it again (the sweep's finish_interrupted), which takes nothing twice, and the rest of the
    order is refunded to exactly nothing."""
    app, _url = pay_portal
    members = app.extensions[STORES]["membership"]
    m = members.bind(VENUE, "+8613800139002", "anon-fault")[0]
    paid = paid_order(pay, pay_portal, sandbox, "anon-fault", 50_000)  # ¥500.00: 500 points
    assert points(members, m.id) == (500, 500)
    faults = lose_the_first_reply(monkeypatch, members)
    assert pay.refund(VENUE, paid.id, 20_000, "two items") == "done"  # the telling fails: left for the sweep
    assert faults and points(members, m.id) == (300, 300)  # what remains paid never went without its points
    assert pay.finish_interrupted(VENUE, min_age_ms=0) == 1
    assert points(members, m.id) == (300, 300)
    assert pay.refund(VENUE, paid.id, 30_000, "the rest") == "done"
    assert points(members, m.id) == (0, 0)
    assert kinds(members, m.id) == ["reverse", "reverse", "earn", "join"]


def test_an_order_partly_refunded_under_the_old_scheme_is_refunded_off_its_remainder(members, db):
    """The old scheme's state, made directly: ¥500.00 paid, ¥100.00 then ¥100.00 refunded (the receipt and the
    first remainder reversed whole, ¥300.00 posted as `<order>.20000`). Refunds now come off that remainder, the
    refunds after the first too (which no longer name it), each once."""
    m = card(members)
    oid = "MPLEGACYORDER001"
    members.post_purchase(VENUE, m.id, oid, "kopi", 50_000)
    members.refund(VENUE, "kopi", oid)
    members.post_purchase(VENUE, m.id, f"{oid}.10000", "kopi", 40_000)
    members.refund(VENUE, "kopi", f"{oid}.10000")
    members.post_purchase(VENUE, m.id, f"{oid}.20000", "kopi", 30_000)
    assert points(members, m.id) == (300, 300)
    told = points_listener(members)
    for refunded, amount in ((10_000, 10_000), (20_000, 10_000)):  # the old scheme's refunds, told again
        told("refund", order(50_000, refunded, oid), amount)
    assert points(members, m.id) == (300, 300)
    for refunded, amount, left in ((25_050, 5_050, 249), (30_000, 4_950, 200), (50_000, 20_000, 0)):
        for _ in range(2):
            told("refund", order(50_000, refunded, oid), amount)
            assert points(members, m.id) == (left, left)
    remainder = members.receipt(VENUE, "kopi", f"{oid}.20000")
    assert (remainder["state"], remainder["refunded_amount"]) == ("refunded", "30000")
    assert not db.exists(MemberKeys(VENUE).receipt("kopi", f"{oid}.25050"))  # no receipt posted any more


def test_a_refund_of_an_order_that_earned_nothing_takes_nothing(members):
    m = card(members)
    told = points_listener(members)
    told("refund", order(5_000, 1_000, "MPNOTAMEMBER0001"), 1_000)  # paid before joining: no receipt
    assert points(members, m.id) == (0, 0) and kinds(members, m.id) == ["join"]


def test_a_till_idempotency_key_never_names_a_payments_refund(members):
    """A till's Idempotency-Key is any printable text: one spelled like a portal refund's name is another key."""
    m = card(members)
    members.post_purchase(VENUE, m.id, "TILL-1", "kopi", 10_000)
    assert members.refund(VENUE, "kopi", "TILL-1", idempotency_key="order:MPREFUNDTEST0001@1000",
                          cents=1_000).status == "OK"
    told = points_listener(members)
    told("paid", order(5_000), 5_000)
    told("refund", order(5_000, 1_000), 1_000)
    assert points(members, m.id) == (130, 130)  # 100 + 50 earned, 10 + 10 taken back
    assert members.receipt(VENUE, "kopi", "MPREFUNDTEST0001")["refunded_amount"] == "1000"


# ---- WeChat Pay 智慧商圈 ----------------------------------------------------------------------------------


def test_a_repeated_mall_notice_changes_nothing(members):
    m = card(members)
    members.link_wechat(VENUE, m.id, "oREFUNDS0001")
    told = mall_points_listener(members)
    for _ in range(2):
        assert told(VENUE, mall("paid", 25_800)) == (258, 258)
    for _ in range(3):
        told(VENUE, mall("refund", 5_800, "R1"))
        assert points(members, m.id) == (200, 200)
    for _ in range(2):
        told(VENUE, mall("refund", 20_000, "R2"))
        assert points(members, m.id) == (0, 0)
    assert kinds(members, m.id) == ["reverse", "reverse", "earn", "join"]


def test_a_store_fault_after_a_mall_refunds_write_loses_nothing_once_sent_again(members, monkeypatch):
    """The refund's write lands and its answer is lost: the notice is not acknowledged (the error goes up to the
    payment service), WeChat Pay sends it again, and that takes nothing twice."""
    m = card(members)
    members.link_wechat(VENUE, m.id, "oREFUNDS0001")
    told = mall_points_listener(members)
    told(VENUE, mall("paid", 25_800))
    lose_the_first_reply(monkeypatch, members)
    with pytest.raises(redis.ConnectionError):
        told(VENUE, mall("refund", 5_800, "R1"))
    assert points(members, m.id) == (200, 200)  # what remains paid never went without its points
    told(VENUE, mall("refund", 5_800, "R1"))
    assert points(members, m.id) == (200, 200)
    told(VENUE, mall("refund", 20_000, "R2"))
    assert points(members, m.id) == (0, 0)


def test_two_mall_refunds_told_at_once_both_count(members, monkeypatch):
    """WeChat Pay sends each refund's notice on its own: the second arrives while the first is being told (here:
    right after the first's write). Both come off the one receipt; neither is lost."""
    m = card(members)
    members.link_wechat(VENUE, m.id, "oREFUNDS0001")
    told = mall_points_listener(members)
    told(VENUE, mall("paid", 25_800))
    script = members._refund
    nested = []

    def then_the_other(*args, **kwargs):
        answer = script(*args, **kwargs)
        if not nested:
            nested.append(True)
            told(VENUE, mall("refund", 10_000, "R-B"))
        return answer

    monkeypatch.setattr(members, "_refund", then_the_other)
    told(VENUE, mall("refund", 5_800, "R-A"))
    assert nested and points(members, m.id) == (100, 100)  # ¥100.00 remain paid
    told(VENUE, mall("refund", 10_000, "R-C"))
    assert points(members, m.id) == (0, 0)


def test_a_mall_purchase_partly_refunded_under_the_old_scheme_is_refunded_off_its_remainder(members, db):
    """The old scheme's state, made directly: ¥258.00 paid, R1 ¥58.00 refunded (the receipt reversed, ¥200.00
    posted as `wx<txn>.5800`, the purchase's refunded count 5800), and R2 (¥50.00) cut short after it was
    counted (5800 before it): told again now, R2 comes off the remainder, and R3 after it too."""
    m = card(members)
    members.link_wechat(VENUE, m.id, "oREFUNDS0001")
    keys = MemberKeys(VENUE)
    members.post_purchase(VENUE, m.id, "wx4200000001", MALL_STORE, 25_800)
    members.refund(VENUE, MALL_STORE, "wx4200000001")
    members.post_purchase(VENUE, m.id, "wx4200000001.5800", MALL_STORE, 20_000)
    db.set(keys.wechat_refund("R1"), 0)
    db.set(keys.wechat_refund("R2"), 5_800)
    db.hset(keys.wechat_txn("4200000001"), "refunded", 10_800)
    assert points(members, m.id) == (200, 200)
    told = mall_points_listener(members)
    for _ in range(2):
        told(VENUE, mall("refund", 5_000, "R2"))
        assert points(members, m.id) == (150, 150)
    told(VENUE, mall("refund", 5_800, "R1"))  # the old scheme's own refund, told again: nothing more
    assert points(members, m.id) == (150, 150)
    told(VENUE, mall("refund", 15_000, "R3"))
    assert points(members, m.id) == (0, 0)
    assert members.receipt(VENUE, MALL_STORE, "wx4200000001.5800")["state"] == "refunded"
    assert not db.exists(keys.receipt(MALL_STORE, "wx4200000001.10800"))  # no receipt posted any more


# ---- receipts written before they expired -------------------------------------------------------------------


def test_a_receipt_without_a_ttl_gets_what_remains_of_its_keep_when_refunded(members, db):
    m = card(members)
    members.post_purchase(VENUE, m.id, "OLD-1", "kopi", 10_000, now=1_000_000.0)
    key = MemberKeys(VENUE).receipt("kopi", "OLD-1")
    db.persist(key)  # as written before receipts expired
    refund_at = 1_000_000.0 + RECEIPT_KEEP_S - 5_000
    assert members.refund(VENUE, "kopi", "OLD-1", idempotency_key="k-old", cents=1_000, now=refund_at).status == "OK"
    assert 0 < db.ttl(key) <= 5_000


def test_a_receipt_with_a_ttl_keeps_it_when_refunded(members, db):
    m = card(members)
    members.post_purchase(VENUE, m.id, "NEW-1", "kopi", 10_000)
    key = MemberKeys(VENUE).receipt("kopi", "NEW-1")
    later = db.ttl(key)
    assert members.refund(VENUE, "kopi", "NEW-1", idempotency_key="k-new", cents=1_000, now=1_000_000.0).status == "OK"
    assert later - 3_600 < db.ttl(key) <= later
