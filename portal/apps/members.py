"""What one app may ask of the mall's membership without importing it: a member's points (to redeem them
for something, e.g. a parking fee) and the member's payment agreement (a provider's withholding contract,
so a fee can be charged after the fact: "leave first, pay after").

The membership app provides it from its `init_app` (`provide(flask_app, impl)`); an app asks with
`members()`, which is None when no app provides it (then there are no points to redeem and no agreements).
Every call names the shopper by client id; the provider decides whether that client is a member."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flask import Flask, current_app

EXTENSION = "member_benefits"


@dataclass(frozen=True)
class PaymentAgreement:
    provider: str  # "alipay"
    agreement_no: str  # the provider's contract id
    signed_at: float


class MemberBenefits(Protocol):
    def points(self, venue: str, client: str) -> int | None:
        """The member's points balance; None when this shopper is not a member."""

    def redeem(self, venue: str, client: str, points: int, ref: str, what: str) -> bool:
        """Take `points` from the member at once (all or nothing; the same `ref` again takes nothing more)."""

    def restore(self, venue: str, client: str, ref: str) -> bool:
        """Give back what `ref` redeemed (the thing it paid for did not happen); once."""

    def agreement(self, venue: str, client: str) -> PaymentAgreement | None: ...

    def save_agreement(self, venue: str, client: str, agreement: PaymentAgreement) -> bool:
        """Keep the member's signed agreement; False when this shopper is not a member."""


def provide(flask_app: Flask, benefits: MemberBenefits) -> None:
    flask_app.extensions[EXTENSION] = benefits


def members() -> MemberBenefits | None:
    return current_app.extensions.get(EXTENSION)
