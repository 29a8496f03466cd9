"""Capabilities: what one light app offers the others, with no app importing another. The one owner of the
interfaces between apps (it replaces the member interface and the grants of before).

An app that keeps something names it in its declaration: `LightApp(provides={"points": factory})`, where
`factory(the app's store)` builds the implementation; the platform builds it once per process, after the
app's store (`portal/apps/platform.py`). An app that needs it asks `capability("points")`, which is None
when no loaded app provides it (the asker falls back: a voucher at the desk, no points to redeem).

  points      a member's points: the balance, grant (a game's prize) to a shopper's card or to the card whose
              rotating member code a desk typed, redeem for something another app sells and restore it when
              that did not happen; a stable key naming the member without her number (membership)
  agreements  a member's payment agreement with a provider ("leave first, pay after") (membership)
  members     which member a shopper is, by the number her events carry as `member`: what the host's privacy
              centre exports and erases under her member number too (membership)
  vouchers    a shopper's coupons that another app may take as a discount (coupons): listed for a use
              ("parking"), held while an order is paid, then redeemed or released, each once

Every change is one atomic step in the keeper's own store, idempotent by the caller's reference (a retry
after a crash changes nothing twice). A store fault is a redis error like any other (503 in a view)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from flask import Flask, current_app

EXTENSION = "light_app_capabilities"  # app.extensions key: {name: implementation}
POINTS = "points"
AGREEMENTS = "agreements"
VOUCHERS = "vouchers"
MEMBERS = "members"
NAMES = (POINTS, AGREEMENTS, VOUCHERS, MEMBERS)


@dataclass(frozen=True)
class Granted:
    # OK | ALREADY | NO_ACCOUNT (the shopper has nowhere to keep it yet: not a member). By member code
    # (Points.grant_to_code), the code's checks as at a till: BAD_CODE (not a member code at all), NO_MEMBER (no
    # member has its number), WRONG (wrong or stale), SPENT (the caller's wrong codes are spent) or LOCKED (wrong
    # codes from several callers brake this member), the last two for `retry_after_s`.
    status: str
    balance: int | None = None  # the shopper's balance after the grant, when the keeper knows it
    member: str | None = None  # by member code: the member as the audit log names her (a keyed hash, no number)
    retry_after_s: int = 0

    @property
    def done(self) -> bool:
        return self.status in ("OK", "ALREADY")


class Points(Protocol):
    def balance(self, venue: str, client: str) -> int | None:
        """The member's points; None when this shopper is not a member."""

    def member_key(self, venue: str, client: str) -> str | None:
        """A stable key for the member this shopper is, the same on every device she signed in on (a keyed
        hash: no member number, no phone); None when this shopper is not a member. For "per person" limits."""

    def signup_endpoint(self, venue: str) -> str | None:
        """The shopper page where one joins (it takes `venue`), or None when the venue runs no zone with it."""

    def grant(self, venue: str, client: str, amount: int, reference: str, source: str) -> Granted:
        """Add `amount` points, once per `reference` (e.g. "games:<prize code>")."""

    def grant_to_code(self, venue: str, member_code: str, amount: int, reference: str, source: str,
                      caller: str, winner: str) -> Granted:
        """As `grant`, onto the card of the member whose rotating member code (typed or scanned) a desk's console
        account `caller` gives, only when she is `winner` (a `member_key`: the one who won what is granted; any
        other member answers WRONG, her code unchecked): the code is checked as at the till, on that account's
        budget of wrong codes."""

    def redeem(self, venue: str, client: str, points: int, ref: str, what: str) -> bool:
        """Take `points` at once (all or nothing; the same `ref` again, for the same points while still redeemed,
        answers True and takes nothing more; a `ref` given back or used for other points answers False)."""

    def restore(self, venue: str, client: str, ref: str) -> bool:
        """Give back what `ref` redeemed (the thing it paid for did not happen); once."""


@dataclass(frozen=True)
class PaymentAgreement:
    provider: str  # "alipay"
    agreement_no: str  # the provider's contract id
    signed_at: float


class Agreements(Protocol):
    def may_sign(self, venue: str, client: str) -> bool:
        """Whether this shopper may keep an agreement here (a member)."""

    def agreement(self, venue: str, client: str) -> PaymentAgreement | None: ...

    def save_agreement(self, venue: str, client: str, agreement: PaymentAgreement) -> bool:
        """Keep the member's signed agreement; False when this shopper may not sign one (not a member)."""


@dataclass(frozen=True)
class Voucher:
    """A shopper's coupon as another app sees it: its code, what it takes off (fen), its titles."""

    code: str
    value_fen: int
    title_en: str
    title_zh: str
    valid_until: float

    def title(self, zh: bool) -> str:
        return (self.title_zh or self.title_en) if zh else (self.title_en or self.title_zh)


class Vouchers(Protocol):
    def usable(self, venue: str, client: str, use: str) -> list[Voucher]:
        """The shopper's vouchers that `use` (e.g. "parking") may take now, best first."""

    def hold(self, venue: str, client: str, code: str, use: str, ref: str) -> Voucher | None:
        """Set the shopper's voucher aside for `ref` (an order being paid): nobody else may redeem it now;
        None when it is not theirs, not for this use, used, held or expired. The same ref again: the same."""

    def redeem(self, venue: str, ref: str) -> bool:
        """The held voucher is used (its order was paid); once (again: True, nothing changes)."""

    def release(self, venue: str, ref: str) -> bool:
        """The held voucher is the shopper's again (its order closed unpaid); once."""


class Members(Protocol):
    def member_of(self, venue: str, client: str) -> str | None:
        """The member this shopper is, as the event log and the rules' deliveries name her (the `member` her app's
        events carry); None when she is not one. Her other devices' events and deliveries name that member too:
        the privacy centre finds them by it."""


Factory = Callable[[Any], Any]  # the providing app's store -> the implementation


def wire(flask_app: Flask, app_name: str, provides: Mapping[str, Factory], store: Any) -> None:
    """Called by the platform for each app: build what it provides (one provider per capability)."""
    found = flask_app.extensions.setdefault(EXTENSION, {})
    for name, factory in provides.items():
        if name not in NAMES:
            raise ValueError(f"light app {app_name} provides unknown capability {name!r} (known: {', '.join(NAMES)})")
        if name in found:
            raise ValueError(f"two light apps provide {name!r}")
        found[name] = factory(store)


def capability(name: str, flask_app: Flask | None = None) -> Any:
    """The loaded implementation of `name` (Points, Agreements, Vouchers, Members), or None; of `flask_app` where a
    hook keeps its app, else of the current one."""
    return (flask_app or current_app).extensions.get(EXTENSION, {}).get(name)


def points(flask_app: Flask | None = None) -> Points | None:
    return capability(POINTS, flask_app)


def agreements(flask_app: Flask | None = None) -> Agreements | None:
    return capability(AGREEMENTS, flask_app)


def vouchers(flask_app: Flask | None = None) -> Vouchers | None:
    return capability(VOUCHERS, flask_app)


def members(flask_app: Flask | None = None) -> Members | None:
    return capability(MEMBERS, flask_app)
