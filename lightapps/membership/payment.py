"""Points that earn themselves: a member who pays in the mall through the portal earns points without a
receipt at the service desk, and a refund takes them back. Every paid order is posted through the POS path
(MemberStore.post_purchase: one receipt per payment, counted once however often it is told), with the
order's merchant (zone) as the store; a refund takes its fen off that receipt in one step (MemberStore.refund_paid:
what remains paid keeps the points it earns on its own), for the member the receipt names (whichever device the
shopper now uses), once per refund however often it is told; an order that earned no receipt (paid before
joining) loses nothing on a refund either."""

from __future__ import annotations

import logging

from flask import Flask

from lightapps.membership.store import MemberStore, PostResult
from portal.apps.views import STORES
from portal.payments.providers.base import MallNotice
from portal.payments.store import Order

log = logging.getLogger(__name__)
APP_NAME = "membership"


def _refunded(what: str, result: PostResult) -> None:
    """A refund that took nothing back where its receipt earned (more refunded than the receipt holds: a payment
    the old scheme left without its remainder, or a receipt that shows another amount) is logged, not retried."""
    if result.status in ("TOO_MUCH", "IDEM_CONFLICT"):
        log.warning("points of refund %s not taken back: %s", what, result.status)


def points_listener(members: MemberStore):
    """The payment service tells it each payment and refund done once, in the order they were booked, with the
    order as it was right after (`order.refunded`: the total refunded once this refund was done, which names
    the refund: each adds to it), and again, the same way, after a store error cut the telling short: each step
    is one write, done once (a repeat answers DUPLICATE and changes nothing), so telling it again earns or
    takes nothing twice."""

    def on_money(kind: str, order: Order, amount: int) -> None:
        store = order.merchant or "mall"
        if kind == "paid":
            member = members.for_client(order.venue, order.shopper)
            if member is not None:  # not a member (yet): nothing to earn
                members.post_purchase(order.venue, member.id, order.id, store, order.amount)
            return
        if amount > 0:
            # by the receipt, not by the shopper's device: the card removed from this phone (or another phone's
            # card now) must not keep the points of money given back
            done = members.refund_paid(order.venue, store, order.id, f"order:{order.id}@{order.refunded}", amount,
                                       order.refunded - amount)
            _refunded(order.id[-6:], done)

    return on_money


MALL_STORE = "wechat-mall"  # the POS "store" of 智慧商圈 purchases (the shop is named in the ledger's receipt)


def mall_receipt(txn: str) -> str:
    return f"wx{txn}"


def mall_points_listener(members: MemberStore):
    """WeChat Pay 智慧商圈: a member who authorised the mall's points service paid in any shop of the mall
    (no portal order, no receipt at the desk): the purchase is posted through the same POS path (one receipt
    per transaction, so a replayed notification counts once); a refund takes its fen off that receipt, once per
    refund id. Returns (points earned, points total) for WeChat Pay's points sync."""

    def on_mall(venue: str, notice: MallNotice) -> tuple[int, int] | None:
        if notice.kind == "paid":
            member = members.for_wechat(venue, notice.openid)
            if member is None:
                return None  # authorised at WeChat but not (yet) linked to a member here: nothing to credit
            posted = members.post_purchase(venue, member.id, mall_receipt(notice.txn), MALL_STORE, notice.amount)
            return (posted.points, posted.balance) if posted.status in ("OK", "DUPLICATE") else None
        if notice.amount > 0:
            # as for portal orders, by the receipt (the WeChat identity may have been linked to another member
            # since); one that earned nothing (paid before the member was linked) answers NO_RECEIPT
            before = members.mall_refunded_before(venue, notice.txn, notice.refund_id)
            done = members.refund_paid(venue, MALL_STORE, mall_receipt(notice.txn), f"wx:{notice.refund_id}",
                                       notice.amount, before)
            _refunded(notice.refund_id[-6:], done)
        return None

    return on_mall


def register(flask_app: Flask) -> None:
    members: MemberStore = flask_app.extensions[STORES][APP_NAME]
    payments = flask_app.extensions["mallportal"].payments
    payments.listen(points_listener(members))
    payments.listen_mall(mall_points_listener(members))
