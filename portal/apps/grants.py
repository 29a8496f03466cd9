"""Grants: one light app gives a shopper something that another app keeps, without importing it.

The app that keeps a kind of thing provides a granter for it from its `init_app` (membership provides
"points": onto the shopper's card); an app that gives one asks by kind (games: a prize of points). The
platform holds only this interface, so neither app names the other and either may be left out of LIGHT_APPS
(then `grant` answers None and the giver falls back to its own way, e.g. a voucher at a desk).

A granter is idempotent by the giver's reference (e.g. "games:<prize code>"): asked again after a crash or a
retry, it grants once and answers ALREADY. It is one atomic step in the keeper's own store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app

EXTENSION = "light_app_grants"  # app.extensions key: {kind: granter}
KINDS = ("points",)


@dataclass(frozen=True)
class Granted:
    status: str  # OK | ALREADY | NO_ACCOUNT (the shopper has nowhere to keep it yet: not a member)
    balance: int | None = None  # the shopper's balance after the grant, when the keeper knows it

    @property
    def done(self) -> bool:
        return self.status in ("OK", "ALREADY")


# (venue, shopper id, amount, reference, source: who gives it, e.g. the game's zone) -> Granted
Granter = Callable[[str, str, int, str, str], Granted]


def provide_grant(flask_app: Flask, kind: str, granter: Granter) -> None:
    """Called by the keeping app's init_app: it keeps `kind` for shoppers."""
    if kind not in KINDS:
        raise ValueError(f"unknown grant kind {kind!r} (known: {', '.join(KINDS)})")
    flask_app.extensions.setdefault(EXTENSION, {})[kind] = granter


def can_grant(kind: str) -> bool:
    return kind in current_app.extensions.get(EXTENSION, {})


def grant(kind: str, venue: str, client: str, amount: int, reference: str, source: str) -> Granted | None:
    """Give `amount` of `kind` to the shopper, once per `reference`; None when no loaded app keeps `kind`.
    A store fault is a redis error like any other (503 in a view)."""
    granter = current_app.extensions.get(EXTENSION, {}).get(kind)
    if granter is None:
        return None
    return granter(venue, client, int(amount), reference, source)
