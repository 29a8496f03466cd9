"""Me: each app's part of "my things", collected by the platform.

An app that keeps things for a shopper (a ticket, a coupon, a queue number, a booking, a membership card, a
parked car) declares an optional `me.py` with `mine(venue, shopper) -> list[MyItem]` (registry.RESOURCE_PATHS
"mine"). It is called inside a request (the app's store, `_()` and the venue's time zone work as in a view)
and returns plain data: the platform renders Me from it, so adding an app touches no other app. An app
returns only what belongs to `shopper` (the bearer of the request's token), newest first."""

from __future__ import annotations

import logging
from collections.abc import Iterator
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
    # False for a way in rather than a thing of hers ("Become a member", "Find my car"): nothing to lose when a
    # sign-in sheet closes, so no keep offer for it (holds_anything)
    held: bool = True


@dataclass(frozen=True)
class MySection:
    app: registry.LightApp
    items: tuple[MyItem, ...]
    failed: bool = False  # the app's store did not answer: Me says so for this app and shows the rest


def collect_mine(apps: list[registry.LightApp], venue: str, shopper: Shopper) -> list[MySection]:
    """Every app's part of Me for this shopper, in the apps' order; apps with nothing are left out. One app's
    store failing fails only its section (Me stays up: the rest is the shopper's and readable)."""
    return [section for section in _sections(apps, venue, shopper) if section.failed or section.items]


def holds_anything(apps: list[registry.LightApp], venue: str, shopper: Shopper) -> bool:
    """The shopper holds something in one of these apps (a ticket, a coupon, a queue number...), asked app by
    app until one says so. A store failing ends the asking, as nothing held: the venue's keys share one slot, so
    the next apps' would fail too (a page of the store's own fault would wait out a timeout per app)."""
    for section in _sections(apps, venue, shopper):
        if section.failed:
            return False
        if any(item.held for item in section.items):
            return True
    return False


def _sections(apps: list[registry.LightApp], venue: str, shopper: Shopper) -> Iterator[MySection]:
    """Each app's part, as it is asked for (a caller that stops early asks the remaining apps nothing)."""
    for app in apps:
        mine = registry.parts(app.name).mine
        if mine is None:
            continue
        try:
            items = tuple(mine(venue, shopper))
        except redis.RedisError as exc:
            log.warning("me: %s unavailable: %s", app.name, type(exc).__name__)
            yield MySection(app, (), failed=True)
            continue
        yield MySection(app, items)
