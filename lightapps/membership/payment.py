"""Points that earn themselves: a member who pays in the mall through the portal earns points without a
receipt at the service desk, and a refund takes them back. Every paid order is posted through the POS path
(MemberStore.post_purchase: one receipt per payment, counted once however often it is told), with the
order's merchant (zone) as the store; a refund reverses that receipt (for the member it names, whichever
device the shopper now uses) and, when part of the order remains paid, posts the remainder as the next
receipt for that member (the POS path reverses whole receipts only); an order that earned no receipt (paid
before joining) earns nothing on a refund either."""

from __future__ import annotations

import logging

from flask import Flask

from lightapps.membership.store import MemberStore
from portal.apps.views import STORES
from portal.payments.providers.base import MallNotice
from portal.payments.store import Order

log = logging.getLogger(__name__)
APP_NAME = "membership"


def receipt_id(order: Order, refunded_before: int) -> str:
    """The receipt standing for what remains paid after `refunded_before` fen were refunded."""
    return order.id if refunded_before == 0 else f"{order.id}.{refunded_before}"


def points_listener(members: MemberStore):
    """The payment service tells it each payment and refund done once, in the order they were booked, with the
    order as it was right after (`order.refunded`: the total refunded once this refund was done), and again,
    the same way, after a store error cut the telling short: each step posts or reverses one receipt once (a
    repeat answers DUPLICATE and changes nothing), so telling it again earns or takes nothing twice."""

    def on_money(kind: str, order: Order, amount: int) -> None:
        store = order.merchant or "mall"
        if kind == "paid":
            member = members.for_client(order.venue, order.shopper)
            if member is not None:  # not a member (yet): nothing to earn
                members.post_purchase(order.venue, member.id, receipt_id(order, 0), store, order.amount)
            return
        # A refund goes by the receipt, not by the shopper's device: the card removed from this phone (or
        # another phone's card now) must not keep the points of money given back; and no receipt (paid
        # before joining, or the member erased since) means nothing was earned, so no remainder is posted.
        before = order.refunded - amount
        reversed_ = members.refund(order.venue, store, receipt_id(order, before))
        remaining = order.amount - order.refunded
        if reversed_.applied and reversed_.member_id and remaining > 0:
            members.post_purchase(order.venue, reversed_.member_id, receipt_id(order, order.refunded), store,
                                  remaining)

    return on_money


MALL_STORE = "wechat-mall"  # the POS "store" of 智慧商圈 purchases (the shop is named in the ledger's receipt)


def mall_receipt(txn: str, refunded_before: int) -> str:
    return f"wx{txn}" if refunded_before == 0 else f"wx{txn}.{refunded_before}"


def mall_points_listener(members: MemberStore):
    """WeChat Pay 智慧商圈: a member who authorised the mall's points service paid in any shop of the mall
    (no portal order, no receipt at the desk): the purchase is posted through the same POS path (one receipt
    per transaction, so a replayed notification counts once); a refund reverses it and posts what remains
    paid, once per refund id. Returns (points earned, points total) for WeChat Pay's points sync."""

    def on_mall(venue: str, notice: MallNotice) -> tuple[int, int] | None:
        if notice.kind == "paid":
            member = members.for_wechat(venue, notice.openid)
            if member is None:
                return None  # authorised at WeChat but not (yet) linked to a member here: nothing to credit
            posted = members.post_purchase(venue, member.id, mall_receipt(notice.txn, 0), MALL_STORE, notice.amount)
            return (posted.points, posted.balance) if posted.status in ("OK", "DUPLICATE") else None
        if members.receipt(venue, MALL_STORE, mall_receipt(notice.txn, 0)) is None:
            return None  # the purchase earned nothing here (paid before the member was linked)
        # as for portal orders: the receipt names the member (the WeChat identity may have been linked
        # to another member since)
        before = members.mall_refund_before(venue, notice.txn, notice.refund_id, notice.amount)
        reversed_ = members.refund(venue, MALL_STORE, mall_receipt(notice.txn, before))
        remaining = notice.pay_amount - before - notice.amount
        if reversed_.applied and reversed_.member_id and remaining > 0:
            members.post_purchase(venue, reversed_.member_id, mall_receipt(notice.txn, before + notice.amount),
                                  MALL_STORE, remaining)
        return None

    return on_mall


def register(flask_app: Flask) -> None:
    members: MemberStore = flask_app.extensions[STORES][APP_NAME]
    payments = flask_app.extensions["mallportal"].payments
    payments.listen(points_listener(members))
    payments.listen_mall(mall_points_listener(members))
