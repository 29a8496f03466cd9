"""Pre-orders paid online (instead of "pay at the restaurant") when a payment provider or the sandbox is
configured: saving a pre-order opens a payment order for its total (the pre-order records that order, unpaid),
the paid order marks the pre-order paid (one Lua script, only if the ticket or booking still holds that very
pre-order: otherwise the payment service refunds the money), a paid pre-order can no longer be changed, and
giving up the number or booking refunds it in full.

The order's ref names the pre-order's record: `<zone>|<service day YYYYMMDD>|<ticket id or reservation id>`."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask

from lightapps.queue.store import QueueStore
from portal.apps.views import STORES
from portal.payments.service import PaymentService
from portal.payments.store import Order
from portal.services import services

log = logging.getLogger(__name__)
PURPOSE = "preorder"
PAY_WITHIN_S = 15 * 60


def register(flask_app: Flask) -> None:
    """Tell the payment service what a paid pre-order order means (once per process)."""
    store: QueueStore = flask_app.extensions[STORES]["queue"]
    payments: PaymentService = flask_app.extensions["mallportal"].payments

    def on_paid(order: Order) -> bool:
        zone, day, target = order.ref.split("|", 2)
        result = store.mark_preorder_paid(order.venue, zone, target, day, order.id)
        if not result.ok:
            log.info("pre-order payment %s not kept: %s (refunded)", order.id, result.reason)
        return result.ok

    payments.register(PURPOSE, on_paid)


def payments_on() -> bool:
    return services().payments.enabled


def open_order(venue: str, zone: str, day: str, target: str, client: str, doc: dict[str, Any],
               return_url: str) -> Order:
    """A payment order for this pre-order's total; its id goes into the pre-order document."""
    lines = doc["items"]
    names = ", ".join(f"{line['qty']}x {line['name_zh'] or line['name_en']}" for line in lines)
    items = [{"sku": f"menu:{line['id']}", "qty": line["qty"], "price": line["price"]} for line in lines]
    # The provider's description is one text (Chinese first); the payment page shows the dishes in its own
    # language from this pair (templates/payments/order.html), as the cinema's and the activities' orders do.
    items[0].update(description_zh=names,
                    description_en=", ".join(f"{line['qty']}x {line['name_en'] or line['name_zh']}" for line in lines))
    return services().payments.create(
        venue, merchant=zone, shopper=client, amount=int(doc["total"]), purpose=PURPOSE,
        ref=f"{zone}|{day}|{target}", description=names, idem=f"{PURPOSE}:{zone}:{target}:{secrets.token_hex(6)}",
        items=items, ttl_s=PAY_WITHIN_S, return_url=return_url)


def refund_paid_preorder(venue: str, preorder: dict[str, Any] | None) -> str:
    """The shopper gave up the number or booking: a paid pre-order is refunded in full (once)."""
    if not preorder or not preorder.get("paid") or not preorder.get("order"):
        return "none"
    order = services().payments.order(venue, preorder["order"])
    if order is None or order.amount - order.refunded <= 0:
        return "none"
    return services().payments.refund(venue, order.id, order.amount - order.refunded, "pre-order given up",
                                      refund_no=order.id + "C")
