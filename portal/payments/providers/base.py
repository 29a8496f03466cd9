"""What every payment provider offers the payment service: one interface, two real implementations
(WeChat Pay API v3 in wechat.py, Alipay in alipay.py), both through community-maintained SDKs
(wechatpayv3, python-alipay-sdk)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol

CHINA = timezone(timedelta(hours=8))  # both providers' clock (bills, RFC 3339 times)


class ProviderError(Exception):
    """The provider refused a call or could not be reached (the order is left as it was)."""


class ForgedNotification(Exception):
    """A callback whose signature does not verify (or that cannot be decrypted): refused, nothing stored."""


@dataclass(frozen=True)
class PaymentStart:
    """Where the shopper pays: a page to open (H5 / WAP), a code to scan (Native / precreate), or WeChat's own
    pay sheet, which the page opens through WeixinJSBridge with `params` (JSAPI)."""

    kind: str  # "redirect" | "qr" | "bridge"
    url: str
    params: dict[str, str] = field(default_factory=dict)  # "bridge": getBrandWCPayRequest's, signed


@dataclass(frozen=True)
class Notice:
    """A verified callback: which order, and what the provider says happened."""

    order_id: str
    paid: bool  # a successful payment
    amount: int = 0  # fen (a refund result: the refund's amount, 0 where the provider states none)
    txn: str = ""  # the provider's transaction id
    refund_no: str = ""  # a refund result: our refund number (out_refund_no / out_request_no)
    refund_state: str = ""  # a refund result: done | failed | processing
    refund_id: str = ""  # a refund result: the provider's refund id
    currency: str = "CNY"  # a payment: the currency of `amount`, as the provider states it
    problem: str = ""  # a refund result that is not done: the provider's code (ABNORMAL: stuck there; CLOSED)
    paid_ms: int = 0  # a payment: when the provider says it was paid (epoch ms; 0: not stated)

    @property
    def is_refund(self) -> bool:
        return bool(self.refund_no)


@dataclass(frozen=True)
class MallNotice:
    """A verified WeChat Pay 智慧商圈 (smart business district) notification: a member who authorised the
    mall's points service paid (kind "paid") in a shop of the mall, or was refunded (kind "refund"); money
    that never went through the portal's own orders."""

    kind: str  # "paid" | "refund"
    txn: str  # WeChat Pay's transaction id (one purchase)
    openid: str  # the member, as WeChat knows them in the mall's app
    amount: int  # fen: paid, or this refund's amount
    pay_amount: int  # fen: what the purchase paid in all
    shop_number: str = ""
    shop_name: str = ""
    refund_id: str = ""
    when: str = ""  # RFC 3339, as WeChat Pay sent it


@dataclass(frozen=True)
class TradeState:
    """The provider's answer to an active query."""

    state: str  # "paid" | "unpaid" | "failed" | "closed" | "refunded" | "unknown" (no such trade)
    amount: int = 0
    txn: str = ""
    currency: str = "CNY"
    paid_ms: int = 0  # when the provider says it was paid (epoch ms; 0: not stated)


@dataclass(frozen=True)
class RefundResult:
    """The provider's answer to a refund (or a refund query): accepted and final = done; accepted, not
    final = processing (the result comes later by callback or query); not accepted = refused / failed.
    `problem` (the provider's code) marks a refund stuck at the provider, not a final one: refused for now
    (the merchant's balance: "pending", asked again under the same number) or accepted and held (WeChat Pay's
    ABNORMAL: "processing", asked about again); both are retried with back-off and shown to operators."""

    accepted: bool
    refund_id: str = ""
    message: str = ""
    final: bool = True
    problem: str = ""

    @property
    def state(self) -> str:
        if not self.accepted:
            return "pending" if self.problem else "failed"
        return "done" if self.final else "processing"


@dataclass(frozen=True)
class BillRow:
    """One line of a provider's daily trade bill, in the provider-neutral form reconciliation uses."""

    provider: str
    order_id: str  # our out_trade_no
    txn: str
    kind: str  # "paid" | "refund"
    amount: int  # fen, positive
    refund_no: str = ""
    at_ms: int = 0  # when the provider says it happened (its bill's time, China time); 0 = not given


def iso_time_ms(text: object) -> int:
    """WeChat Pay's "2026-11-30T18:05:09+08:00" -> epoch ms; 0 when missing or malformed (or without an offset)."""
    try:
        at = datetime.fromisoformat(str(text or "").strip())
    except ValueError:
        return 0
    return int(at.timestamp() * 1000) if at.tzinfo is not None else 0


def bill_time_ms(text: str) -> int:
    """A bill's "2026-11-30 18:05:09" (China time, the providers' clock) -> epoch ms; 0 when missing or malformed."""
    try:
        return int(datetime.strptime(text.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA).timestamp() * 1000)
    except ValueError:
        return 0


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
              client_ip: str, notify_url: str, return_url: str, payer: str = "") -> PaymentStart: ...

    def verify(self, headers, body: bytes, form: dict[str, str]) -> Notice: ...

    def ack(self, ok: bool) -> Ack: ...

    def query(self, order_id: str) -> TradeState: ...

    def close(self, order_id: str) -> None: ...

    def refund(self, order_id: str, txn: str, refund_no: str, amount: int, total: int, reason: str,
               notify_url: str) -> RefundResult: ...

    def refund_query(self, order_id: str, refund_no: str) -> RefundResult | None: ...  # None: no such refund

    def bill(self, day: str) -> list[BillRow]: ...
