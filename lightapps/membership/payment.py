"""Points that earn themselves: a member who pays in the mall through the portal earns points without a
receipt at the service desk, and a refund takes them back. Every paid order is posted through the POS path
(MemberStore.post_purchase: one receipt per payment, counted once however often it is told), with the
order's merchant (zone) as the store; a refund reverses that receipt and, when part of the order remains
paid, posts the remainder as the next receipt (the POS path reverses whole receipts only)."""

from __future__ import annotations

import logging

from flask import Flask

from lightapps.membership.store import MemberStore
from portal.apps.views import STORES
from portal.payments.store import Order

log = logging.getLogger(__name__)
APP_NAME = "membership"


def receipt_id(order: Order, refunded_before: int) -> str:
    """The receipt standing for what remains paid after `refunded_before` fen were refunded."""
    return order.id if refunded_before == 0 else f"{order.id}.{refunded_before}"


def points_listener(members: MemberStore):
    def on_money(kind: str, order: Order, amount: int) -> None:
        member = members.for_client(order.venue, order.shopper)
        if member is None:
            return  # not a member (yet): nothing to earn
        store = order.merchant or "mall"
        if kind == "paid":
            members.post_purchase(order.venue, member.id, receipt_id(order, 0), store, order.amount)
            return
        before = order.refunded - amount
        members.refund(order.venue, store, receipt_id(order, before))
        remaining = order.amount - order.refunded
        if remaining > 0:
            members.post_purchase(order.venue, member.id, receipt_id(order, order.refunded), store, remaining)

    return on_money


def register(flask_app: Flask) -> None:
    members: MemberStore = flask_app.extensions[STORES][APP_NAME]
    flask_app.extensions["mallportal"].payments.listen(points_listener(members))
