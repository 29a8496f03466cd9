"""The activities' part of Me: the events, sales and group buys the shopper joined (portal/apps/mine.py).

`paid`: her paid sale units and group-buy deposits, for the privacy centre (portal/apps/paid.py). Neither can be
cancelled by the shopper (views.py: a purchase or a group place is the organiser's to cancel; a deposit comes back
only with the group's failure, deposits.py), so an erasure keeps them for her, with their confirmation codes, for
as long as the code is kept (KEEP_AFTER_END_S after the activity ends), then erases them."""

from __future__ import annotations

from lightapps.activities import APP
from lightapps.activities.deposits import deposit_store
from lightapps.activities.payment import price_fen
from lightapps.activities.store import KEEP_AFTER_END_S, Activity
from portal.apps.mine import MyItem
from portal.apps.paid import PaidThing
from portal.apps.views import app_store, is_zh
from portal.services import services
from portal.shopper import Shopper


def mine(venue: str, shopper: Shopper) -> list[MyItem]:
    zh = is_zh()
    return [MyItem(kind="event", title=item.title(zh), detail=code, when=item.starts_at,
                   endpoint="activities.item", values={"venue": venue, "item_id": item.id})
            for item, code in app_store(APP).mine(venue, shopper.client)]


def paid(venue: str, client: str) -> list[PaidThing]:
    """Her sale units and group places paid online, by the confirmation codes she holds (also a keeper's, whose
    orders name nobody since her erasure): a code of a priced sale or group buy is paid for while payments are on
    (views.py `join`: only a paid order gives one). A group buy that failed or was cancelled is left out: the sweep
    refunds its deposits, whoever holds them."""
    if not services().payments.enabled:
        return []
    found = (paid_item(venue, client, item, code) for item, code in app_store(APP).mine(venue, client))
    return [thing for thing in found if thing is not None]


def paid_item(venue: str, client: str, item: Activity, code: str | None) -> PaidThing | None:
    """One of her places (`code`: her confirmation code for `item`) as a paid thing, by `paid`'s rule; None when it
    is not one paid online. A deposit's amount comes from its order (what is left of it), a unit's is its price."""
    if not (services().payments.enabled and code and item.kind in ("sale", "group")
            and item.outcome not in ("failed", "cancelled") and price_fen(item)):
        return None
    amount = price_fen(item) or 0
    if item.kind == "group" and (order_id := deposit_store().deposit(venue, item.id, client)):
        order = services().payments.order(venue, order_id)
        amount = order.refundable if order is not None else amount
    return PaidThing(kind="deposit" if item.kind == "group" else "order", title=item.title(is_zh()), amount_fen=amount,
                     ref=item.id, endpoint="activities.item", values={"venue": venue, "item_id": item.id},
                     until=item.ends_at + KEEP_AFTER_END_S)
