"""Me: each app's part of "my things", collected by the platform.

An app that keeps things for a shopper (a ticket, a coupon, a queue number, a booking, a membership card, a
parked car) declares an optional `me.py` with `mine(venue, shopper) -> list[MyItem]` (registry.RESOURCE_PATHS
"mine"). It is called inside a request (the app's store, `_()` and the venue's time zone work as in a view)
and returns plain data: the platform renders Me from it, so adding an app touches no other app. An app
returns only what belongs to `shopper` (the bearer of the request's token), newest first."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import redis

from portal.apps import registry
from portal.apps.bilingual import Localized
from portal.shopper import Shopper

log = logging.getLogger(__name__)

KINDS = ("ticket", "coupon", "queue", "booking", "card", "car", "event", "other")


@dataclass(frozen=True)
class MyItem:
    """One of the shopper's things as Me lists it: a title, a line of detail, and the app page that shows it
    (an endpoint and its values; the platform adds the shopper's token)."""

    kind: str
    title: str | Localized  # an owner's text may be in the other language, marked (portal/apps/bilingual.py)
    detail: str = ""
    endpoint: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    when: float | None = None  # the moment that matters (a showtime, a validity end), shown in venue time


@dataclass(frozen=True)
class MySection:
    app: registry.LightApp
    items: tuple[MyItem, ...]
    failed: bool = False  # the app's store did not answer: Me says so for this app and shows the rest


def collect_mine(apps: list[registry.LightApp], venue: str, shopper: Shopper) -> list[MySection]:
    """Every app's part of Me for this shopper, in the apps' order; apps with nothing are left out. One app's
    store failing fails only its section (Me stays up: the rest is the shopper's and readable)."""
    sections = []
    for app in apps:
        mine = registry.parts(app.name).mine
        if mine is None:
            continue
        try:
            items = tuple(mine(venue, shopper))
        except redis.RedisError as exc:
            log.warning("me: %s unavailable: %s", app.name, type(exc).__name__)
            sections.append(MySection(app, (), failed=True))
            continue
        if items:
            sections.append(MySection(app, items))
    return sections
