"""What a shopper has paid for and still holds (a ticket, a paid order, a deposit): what the privacy centre lists
before an erasure, and what an erasure may not take silently (portal/events/mydata.py: keep_paid,
erase_kept_due).

An app that sells things declares in its `me.py` `paid(venue, client) -> list[PaidThing]` (registry.RESOURCE_PATHS
"paid"): the shopper's live paid things, each with what is still paid (not refunded) and its fate if she erased her
data now, `refundable` (she may cancel it on its page for a full refund, until `until`) or kept (it can no longer be
refunded: she needs it to use what she paid for, until `until`). Its store then offers
`hand_over(venue, client, keeper, refs) -> int`: the things named by `refs` (each PaidThing's `ref`) stop naming
`client` and name `keeper` (a new shopper id that holds nothing else), in one step each. Called inside a request (or
the payments sweep's request context), as Me's `mine` is."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from flask import current_app

from portal.apps import registry
from portal.apps.bilingual import Localized
from portal.apps.views import STORES

KINDS = ("ticket", "order", "deposit")


@dataclass(frozen=True)
class PaidThing:
    """One of the shopper's live paid things: its title, what it is (KINDS), the fen paid and not refunded, the app's
    id for it (`ref`: what `hand_over` names), the page that shows it (an endpoint and its values, without the
    shopper's token), and its fate if she erased her data now: `refundable` (she may cancel it on that page, refunded
    in full, until `until`) or kept until `until` (epoch s: when it has been used or has expired). The platform fills
    in `app` and `client` (which of her shopper ids holds it)."""

    kind: str
    title: str | Localized
    amount_fen: int
    ref: str
    endpoint: str
    values: dict[str, Any] = field(default_factory=dict)
    refundable: bool = False
    until: float | None = None
    app: str = ""
    client: str = ""


def collect_paid(venue: str, clients: list[str]) -> list[PaidThing]:
    """Every loaded app's live paid things held by any of these shopper ids, in the apps' order. A store that fails
    raises: an erasure must not go ahead on a list it could not read (the privacy page's store fault page answers)."""
    found, stores = [], current_app.extensions[STORES]
    for app in registry.all_apps():
        paid = registry.parts(app.name).paid
        if paid is None or app.name not in stores:  # an app this process did not load (LIGHT_APPS)
            continue
        for client in clients:
            found += [replace(thing, app=app.name, client=client) for thing in paid(venue, client)]
    return found


def hand_over(venue: str, things: list[PaidThing], keeper: str) -> int:
    """The things stop naming the shopper ids that held them and name `keeper` instead (each app's store's
    `hand_over`); returns how many records changed."""
    stores = current_app.extensions[STORES]
    changed = 0
    for (app, client), refs in _grouped(things).items():
        changed += int(stores[app].hand_over(venue, client, keeper, refs))
    return changed


def _grouped(things: list[PaidThing]) -> dict[tuple[str, str], list[str]]:
    grouped: dict[tuple[str, str], list[str]] = {}
    for thing in things:
        grouped.setdefault((thing.app, thing.client), []).append(thing.ref)
    return grouped

