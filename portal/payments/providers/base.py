"""What every payment provider offers the payment service: one interface, two real implementations
(WeChat Pay API v3 in wechat.py, Alipay in alipay.py), both through the providers' own SDKs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class ProviderError(Exception):
    """The provider refused a call or could not be reached (the order is left as it was)."""


class ForgedNotification(Exception):
    """A callback whose signature does not verify (or that cannot be decrypted): refused, nothing stored."""


@dataclass(frozen=True)
class PaymentStart:
    """Where the shopper pays: a page to open (H5 / WAP) or a code to scan (Native / precreate)."""

    kind: str  # "redirect" | "qr"
    url: str


@dataclass(frozen=True)
class Notice:
    """A verified callback: which order, and what the provider says happened."""

    order_id: str
    paid: bool  # a successful payment (others, e.g. refund results, are acknowledged only)
    amount: int = 0  # fen
    txn: str = ""  # the provider's transaction id


@dataclass(frozen=True)
class TradeState:
    """The provider's answer to an active query."""

    state: str  # "paid" | "unpaid" | "failed" | "closed" | "refunded" | "unknown" (no such trade)
    amount: int = 0
    txn: str = ""


@dataclass(frozen=True)
class RefundResult:
    accepted: bool
    refund_id: str = ""
    message: str = ""


@dataclass(frozen=True)
class BillRow:
    """One line of a provider's daily trade bill, in the provider-neutral form reconciliation uses."""

    provider: str
    order_id: str  # our out_trade_no
    txn: str
    kind: str  # "paid" | "refund"
    amount: int  # fen, positive
    refund_no: str = ""


@dataclass(frozen=True)
class Ack:
    """The exact HTTP answer a provider expects to a callback."""

    status: int
    body: str
    content_type: str


class Provider(Protocol):
    name: str
    methods: tuple[str, ...]

    def start(self, order_id: str, amount: int, description: str, method: str, expires_ms: int,
              client_ip: str, notify_url: str, return_url: str) -> PaymentStart: ...

    def verify(self, headers, body: bytes, form: dict[str, str]) -> Notice: ...

    def ack(self, ok: bool) -> Ack: ...

    def query(self, order_id: str) -> TradeState: ...

    def close(self, order_id: str) -> None: ...

    def refund(self, order_id: str, txn: str, refund_no: str, amount: int, total: int, reason: str,
               notify_url: str) -> RefundResult: ...

    def bill(self, day: str) -> list[BillRow]: ...
