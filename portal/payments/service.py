"""The payment service: orders for whatever a light app sells, paid through any provider.

A light app registers a purpose ("cinema", "flash") with what to do once an order is paid (fulfil it:
confirm the hold, take the stock) and once it closes unpaid (release it). The service owns the rest:
creating orders idempotently, sending the shopper to the provider, accepting verified callbacks once,
asking the provider itself when a callback is late, closing orders on timeout, and refunding, with
an automatic full refund when money arrives for something that can no longer be delivered (a hold that
expired, a sold-out item). Listeners hear every booked payment and refund (points that earn themselves).

What the store books, the world hears even when the store fails in between: a payment and a refund done go
on the order's list of what its listeners are to hear (in the script that books them), a closed order on the
list of closes its purpose is to hear (in the close script), a late payment's refund is reserved as it is
booked. A provider's callback is acknowledged only once its listeners were told (a store error answers 503:
the provider sends it again, and the replay tells what was left); the sweep finishes the rest."""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis

from core.payment_settings import PaymentSettings
from portal.captive.probes import SIGN_IN_SHEET
from portal.payments.providers.base import (
    Ack,
    ForgedNotification,
    MallNotice,
    PaymentStart,
    Provider,
    ProviderError,
    RefundResult,
)
from portal.payments.providers.registry import ProviderSet
from portal.payments.store import LATE_REFUND_REASON, Order, PaymentStore, late_refund_no

log = logging.getLogger(__name__)


class PaymentError(Exception):
    """A request the service refuses: `code` says why (unknown_provider, expired, state, other_provider,
    unavailable)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


@dataclass(frozen=True)
class Purpose:
    """What a light app does when its order is paid (True: delivered; False: cannot deliver, refund it)
    and when it closes unpaid (release what was reserved)."""

    on_paid: Callable[[Order], bool]
    on_closed: Callable[[Order], None] | None = None


# (kind "paid"|"refund", order, amount fen). Told once per payment and refund done, in the order they were booked,
# with the order as it was then (its refunded total right after that refund); told again (resumed at the listener
# that failed) after a store error, so it must be idempotent per order and refund. A store error it raises is
# retried; a ValueError is logged and skipped.
MoneyListener = Callable[[str, Order, int], None]
# (venue, a 智慧商圈 notice) -> (points earned, member's points total) when a paid one earned points
MallListener = Callable[[str, MallNotice], "tuple[int, int] | None"]


def _bind_refused(bound: str) -> PaymentError:
    """PaymentError for what `PaymentStore.bind` answered instead of "ok" ("expired", "other:<provider>",
    "state:<status>"): its code is what the views word ("other_provider" for an order bound elsewhere)."""
    return PaymentError("other_provider" if bound.startswith("other") else bound.split(":")[0], bound)


class PaymentService:
    def __init__(self, store: PaymentStore, settings: PaymentSettings, data_dir: Path,
                 providers: dict[str, Provider] | None = None,
                 clock: Callable[[], int | None] = lambda: None, notify_base: str = "") -> None:
        """providers: given by tests; else built from the settings on first use (the sandbox may start
        after the portal). clock: "now" in ms for the store scripts (None = the store's own clock).
        notify_base: the portal's public URL, where the providers send refund results."""
        self.store = store
        self.notify_base = notify_base
        self.settings = settings
        self.data_dir = data_dir
        self._providers = None if providers is None else ProviderSet.of(providers)
        self._providers_lock = threading.Lock()
        self.clock = clock
        self.purposes: dict[str, Purpose] = {}
        self.listeners: list[MoneyListener] = []
        self.sweepers: list[Callable[[str], int]] = []
        self.mall_listeners: list[MallListener] = []

    def now_ms(self) -> int:
        """"Now" in ms as the store scripts see it: the clock given (tests move it), else the store's own."""
        now = self.clock()
        return now if now is not None else _store_now_ms(self.store.db)

    # ---- wiring ----

    @property
    def enabled(self) -> bool:
        return self._providers is not None or self.settings.enabled

    def register(self, purpose: str, on_paid: Callable[[Order], bool],
                 on_closed: Callable[[Order], None] | None = None) -> None:
        self.purposes[purpose] = Purpose(on_paid, on_closed)

    def listen(self, listener: MoneyListener) -> None:
        self.listeners.append(listener)

    def listen_mall(self, listener: MallListener) -> None:
        """Hear WeChat Pay's 智慧商圈 notifications (payments in the mall's shops by members: points)."""
        self.mall_listeners.append(listener)

    def add_sweeper(self, sweeper: Callable[[str], int]) -> None:
        """A light app's periodic duty on its orders (refund the deposits of a failed group buy), run by
        `sweep` (the cron's `flask payments sweep VENUE`); it must be idempotent."""
        self.sweepers.append(sweeper)

    def _provider_set(self) -> ProviderSet:
        if self._providers is None:
            with self._providers_lock:
                if self._providers is None:
                    # lazy: the providers' SDKs (and the sandbox's keys) are needed only once someone pays
                    from portal.payments.config import build_providers

                    self._providers = build_providers(self.settings, self.data_dir)
        return self._providers

    def providers(self) -> dict[str, Provider]:
        """The providers set up (one whose set-up fails is left out, tried again later); ProviderError when none."""
        return self._provider_set().current()

    def provider(self, name: str) -> Provider:
        try:
            return self._provider_set().get(name)
        except ProviderError as exc:
            raise PaymentError("unavailable", str(exc)) from exc
        except KeyError:
            raise PaymentError("unknown_provider", name) from None

    def methods(self, browser: str = "") -> list[tuple[str, str]]:
        """(provider, method) pairs the shopper may choose from in `browser` (`browser_kind`'s name of it),
        best first (`methods_for`)."""
        try:
            offered = [(name, m) for name, p in self.providers().items() for m in p.methods]
        except ProviderError:
            return []
        return methods_for(browser, offered)

    def wechat_sign_in_url(self, redirect_uri: str, state: str) -> str:
        """Where WeChat's browser signs the shopper in for JSAPI (the official account's snsapi_base)."""
        provider = self.provider("wechat")
        if "jsapi" not in provider.methods:
            raise PaymentError("unknown_provider", "wechat/jsapi")
        return provider.authorize_url(redirect_uri, state)

    def wechat_payer(self, code: str) -> str:
        """The shopper's openid for the sign-in's code; PaymentError "payer" when WeChat refuses the code (used,
        expired), "unavailable" when it cannot answer."""
        try:
            openid = self.provider("wechat").openid(code)
        except ProviderError as exc:
            raise PaymentError("unavailable", str(exc)) from exc
        if not openid:
            raise PaymentError("payer")
        return openid

    # ---- orders ----

    def create(self, venue: str, *, merchant: str, shopper: str, amount: int, purpose: str, ref: str,
               description: str, idem: str, items: list[dict] | None = None, ttl_s: float | None = None,
               return_url: str = "") -> Order:
        """An order (or the one this idempotency key made before). Amount in fen, currency CNY. `return_url` is
        kept without the shopper's `c` token (see `without_shopper_token`)."""
        if not 0 < int(amount) <= 100_000_000:
            raise PaymentError("amount", str(amount))
        ttl_ms = int((ttl_s if ttl_s is not None else self.settings.order_ttl_s) * 1000)
        order_id, _new = self.store.create(venue, idem, ttl_ms, {
            "merchant": merchant, "shopper": shopper, "amount": int(amount), "currency": "CNY",
            "items": _json(items or []), "purpose": purpose, "ref": ref, "description": description[:120],
            "return_url": without_shopper_token(return_url)}, now_ms=self.clock())
        order = self.store.order(venue, order_id)
        assert order is not None
        return order

    def order(self, venue: str, order_id: str) -> Order | None:
        return self.store.order(venue, order_id)

    def start(self, venue: str, order_id: str, provider_name: str, method: str, client_ip: str,
              notify_base: str, return_url: str, payer: str = "") -> PaymentStart:
        """`payer`: WeChat Pay JSAPI's openid (`wechat_payer`), which that method needs and no other uses."""
        provider = self.provider(provider_name)
        if method not in provider.methods or (method == "jsapi") != bool(payer):
            raise PaymentError("unknown_provider", f"{provider_name}/{method}")
        bound = self.store.bind(venue, order_id, provider_name, method, now_ms=self.clock())
        if bound != "ok":
            raise _bind_refused(bound)
        order = self.store.order(venue, order_id)
        try:
            begun = provider.start(order.id, order.amount, order.description, method, order.expires_ms, client_ip,
                                   notify_url(notify_base, provider_name, venue), return_url, payer=payer)
        except ProviderError as exc:
            raise PaymentError("unavailable", str(exc)) from exc
        self.store.keep_qr(venue, order_id, begun.url if begun.kind == "qr" else "")
        return begun

    # ---- money arrives ----

    def notification(self, provider_name: str, venue: str, headers, body: bytes, form: dict[str, str]) -> Ack:
        """A provider's callback: verified, booked once, acknowledged in the provider's own format."""
        provider = self.provider(provider_name)
        try:
            notice = provider.verify(headers, body, form)
        except ForgedNotification as exc:
            log.warning("payment callback refused (%s, venue %s): %s", provider_name, venue, exc)
            return provider.ack(False)
        if notice.is_refund:
            return provider.ack(self.refund_notice(venue, notice))
        if not notice.paid:
            return provider.ack(True)  # other events: nothing to book
        outcome = self.book(venue, notice.order_id, notice.amount, notice.txn, provider_name, notice.currency,
                            notice.paid_ms)
        return provider.ack(outcome in ("paid", "dup", "late"))

    def refund_notice(self, venue: str, notice) -> bool:
        """A verified refund result: booked once (a replay finds it final and changes nothing). False (not
        acknowledged, the provider tries again) for a refund this venue never asked for or another amount."""
        record = self.store.refund_record(venue, notice.refund_no)
        if not record or record.get("order") != notice.order_id:
            log.error("refund callback for unknown refund %s (venue %s)", notice.refund_no[-6:], venue)
            return False
        if notice.amount and notice.amount != int(record["amount"]):
            log.error("refund callback for %s with another amount: refused", notice.refund_no[-6:])
            return False
        outcome = self._end_refund(venue, notice.order_id, notice.refund_no, notice.refund_id, notice.refund_state,
                                   notice.problem)
        if outcome == "unknown":
            return False
        # Raises on a store error (the provider sends the result again; its replay tells what was left).
        self._tell_pending(venue, notice.order_id)
        return True

    def mall_notification(self, venue: str, headers, body: bytes) -> Ack:
        """A 智慧商圈 notification (verified like any WeChat Pay callback), passed to the mall listeners, which
        must be idempotent (WeChat Pay sends the same one again until acknowledged). Points a payment earned
        are synced back to WeChat Pay (which then sends that purchase's refunds)."""
        provider = self.provider("wechat")
        try:
            notice = provider.mall_notice(provider.event(headers, body))
        except ForgedNotification as exc:
            log.warning("mall notification refused (venue %s): %s", venue, exc)
            return provider.ack(False)
        if notice is None:
            return provider.ack(True)
        try:
            for listener in self.mall_listeners:
                earned = listener(venue, notice)
                if earned is not None and notice.kind == "paid":
                    self._sync_points(provider, notice, *earned)
        except redis.RedisError as exc:  # not booked: WeChat Pay sends it again
            log.warning("mall notification for venue %s not booked: %s", venue, exc)
            return provider.ack(False)
        return provider.ack(True)

    def _sync_points(self, provider, notice: MallNotice, points: int, total: int) -> None:
        try:
            provider.sync_mall_points(notice, points, total, self.now_ms())
        except ProviderError as exc:  # the points stand; WeChat Pay shows them once a later sync succeeds
            log.warning("points sync for %s failed: %s", notice.txn[-6:], exc)

    def book(self, venue: str, order_id: str, amount: int, txn: str, provider_name: str,
             currency: str = "CNY", paid_ms: int = 0) -> str:
        """Book a payment the provider confirmed (callback or query) and deliver what it pays for. `paid_ms`: when
        the provider says it was paid (lateness is judged by it). Returns the store's outcome: paid, dup, late,
        unknown or mismatch (amount, currency or provider)."""
        outcome = self.store.settle(venue, order_id, amount, txn, provider_name, now_ms=self.clock(),
                                    currency=currency, paid_ms=paid_ms)
        if outcome in ("unknown", "mismatch"):
            log.error("payment %s for order %s (venue %s) not booked: %s", txn[-6:], order_id, venue, outcome)
            return outcome
        order = self.store.order(venue, order_id)
        if outcome in ("late", "late_open"):  # its refund was reserved with the booking: the sweep sends it if
            # this is cut short
            self._ask_refund(venue, order, late_refund_no(order_id), order.amount, LATE_REFUND_REASON)
            if outcome == "late_open":  # this booking closed it (the sweep had not): what it held is released, once
                self._tell_closed(order)
            outcome = "late"
        elif outcome == "dup" and order.late:
            self._reserve_late_refund(order)
        elif order.status == "paid" and not order.delivery:
            # A replay ("dup") delivers only while no delivery finished: the first one was cut short (a store
            # error, a crash) and the provider sent the callback again because it was not acknowledged. Once
            # delivered, the world moves on (the car left and came back, the hold was used): asking the purpose
            # again could find it undeliverable and refund what was paid and used.
            self._deliver(order)
        # After the delivery (what the shopper paid for comes first). Raises on a store error, so the callback
        # is not acknowledged: its replay ("dup") tells the listeners what was left.
        self._tell_pending(venue, order_id)
        return outcome

    def _reserve_late_refund(self, order: Order) -> None:
        """A replayed late payment booked before its refund was reserved with it (by an older release): the
        refund is reserved now (once: a refund number is reserved once) unless the money was given back."""
        if order.refundable > 0 and not self.store.refund_record(order.venue, late_refund_no(order.id)):
            self.refund(order.venue, order.id, order.refundable, LATE_REFUND_REASON,
                        refund_no=late_refund_no(order.id))

    def _deliver(self, order: Order) -> None:
        """Fulfil a paid order, and record once what became of it (purposes are idempotent, so a replay after
        an interrupted delivery finishes it). Raises on a store error, so the callback is not acknowledged and
        the provider sends it again."""
        if order.late:
            # Paid after its hold expired: refunded in full when booked. Delivering on a replayed callback
            # or a query (while the refund is still processing, the order stays `paid`) would hand over
            # the item and the whole refund.
            return
        purpose = self.purposes.get(order.purpose)
        if purpose is None or purpose.on_paid(order):
            self.store.mark_delivered(order.venue, order.id, "done")
            return
        self.refund(order.venue, order.id, order.refundable, "could not be delivered", refund_no=order.id + "X")
        self.store.mark_delivered(order.venue, order.id, "refunded")

    def refresh(self, venue: str, order_id: str) -> Order | None:
        """The active query: an unpaid order whose callback may be late is asked about at the provider
        (paid: booked as if the callback had come; failed: closed); one past its expiry is closed there and
        here, and its purpose told."""
        order = self.store.order(venue, order_id)
        if order is None or order.status != "created":
            return order
        now = self.clock()
        expired = order.expires_ms <= self.now_ms()
        if order.provider:
            try:
                state = self.provider(order.provider).query(order_id)
            except (ProviderError, PaymentError) as exc:
                log.warning("payment query failed for %s: %s", order_id, exc)
                return order  # ask again later; never close what may have been paid
            if state.state in ("paid", "refunded"):
                self.book(venue, order_id, state.amount, state.txn, order.provider, state.currency, state.paid_ms)
                return self.store.order(venue, order_id)
            if state.state == "failed":
                return self.cancel(venue, order_id, "declined")
            if not expired or (state.state == "unpaid" and not self._close_at_provider(order)):
                return order
        if expired and self.store.close(venue, order_id, "timeout", now_ms=now) == "closed":
            self._closed(self.store.order(venue, order_id))
        return self.store.order(venue, order_id)

    def cancel(self, venue: str, order_id: str, reason: str = "cancelled") -> Order | None:
        """The shopper gives up (or the provider reports the payment failed): closed at the provider first,
        so it can no longer be paid, then here."""
        order = self.store.order(venue, order_id)
        if order is not None and (order.status == "closed" or order.late) and self.store.is_closing(venue, order_id):
            self._tell_closed(order)  # closed, but its purpose was not told (a store error): again now
        if order is None or order.status != "created":
            return order
        if order.provider and not self._close_at_provider(order):
            return order  # the provider would not close it (perhaps paid just now): the callback decides
        if self.store.close(venue, order_id, reason, force=True, now_ms=self.clock()) == "closed":
            self._closed(self.store.order(venue, order_id))
        return self.store.order(venue, order_id)

    def _close_at_provider(self, order: Order) -> bool:
        try:
            self.provider(order.provider).close(order.id)
        except (ProviderError, PaymentError) as exc:
            log.warning("provider close failed for %s: %s", order.id, exc)
            return False
        return True

    def _closed(self, order: Order | None) -> None:
        if order is not None and order.status == "closed":
            self._tell_closed(order)

    def _tell_closed(self, order: Order) -> None:
        """Tell the purpose of an order that closed (idempotent: told again after a store error), then take it
        off the closing set the close script put it on. Told even if the order was paid since (late: refunded
        in full, never delivered): what it held is released all the same."""
        purpose = self.purposes.get(order.purpose)
        if purpose and purpose.on_closed:
            purpose.on_closed(order)
        self.store.closed_told(order.venue, order.id)

    def sweep(self, venue: str, limit: int = 200) -> int:
        """Close (or book, when the provider says paid) the unpaid orders past their expiry."""
        now_ms = self.now_ms()
        ids = self.store.expired_open(venue, now_ms, limit)
        for order_id in ids:
            if self.refresh(venue, order_id) is None:  # gone: never bound, and the sweep was down past its keep
                self.store.forget_open(venue, order_id)
        self.retry_refunds(venue, now_ms)
        self.finish_interrupted(venue, now_ms)
        self.store.trim_ledgers(venue)  # once a day: a ledger no entry is added to is trimmed only here
        for sweeper in self.sweepers:
            try:
                sweeper(venue)
            except (redis.RedisError, PaymentError) as exc:  # one duty failing never stops the others
                log.warning("payment sweeper %s failed for venue %s: %s", sweeper, venue, exc)
            except Exception:  # noqa: BLE001 - nor does a bug in one app's duty (a record it cannot read)
                log.exception("payment sweeper %s failed for venue %s", sweeper, venue)
        return len(ids)

    def finish_interrupted(self, venue: str, now_ms: int | None = None, min_age_ms: int = 60_000,
                           limit: int = 100) -> int:
        """What a store error cut short a minute ago or more (the sweep's duty): closed orders whose purpose
        was not told, payments and refunds done whose listeners were not all told. Returns how many it
        finished. A store outage stops it (the next sweep goes on); another error is logged and skipped, so one
        order that keeps failing never holds up the others."""
        if now_ms is None:
            now_ms = self.now_ms()
        finished = 0
        for order_id in self.store.closing(venue, now_ms - min_age_ms, limit):
            finished += self._finish(venue, order_id, self._finish_closing)
        for order_id in self.store.untold(venue, now_ms - min_age_ms, limit):
            finished += self._finish(venue, order_id, self._finish_telling)
        return finished

    def _finish(self, venue: str, order_id: str, step: Callable[[str, str], None]) -> bool:
        try:
            step(venue, order_id)
        except (redis.ConnectionError, redis.TimeoutError):
            raise
        except (redis.RedisError, PaymentError, ValueError) as exc:
            log.warning("unfinished order %s (venue %s) still not finished: %s", order_id, venue, exc)
            return False
        return True

    def _finish_closing(self, venue: str, order_id: str) -> None:
        order = self.store.order(venue, order_id)
        if order is None:
            self.store.closed_told(venue, order_id)
        else:
            self._tell_closed(order)

    def _finish_telling(self, venue: str, order_id: str) -> None:
        # Off the untold set only when nothing was left: not while another caller is telling it (if that one
        # fails, what it leaves must still be here for the next sweep).
        if self._tell_pending(venue, order_id) is False:
            self.store.forget_untold(venue, order_id)

    # ---- payment agreements: charged with no shopper present ("leave first, pay after") ----

    def agreement_providers(self) -> list[str]:
        """Providers that can sign and charge payment agreements (Alipay's 商户代扣 here)."""
        try:
            return [name for name, p in self.providers().items() if hasattr(p, "charge_agreement")]
        except ProviderError:
            return []

    def agreement_sign_url(self, provider_name: str, external_no: str, return_url: str, notify_base: str,
                           venue: str) -> str:
        provider = self._agreement_provider(provider_name)
        try:
            return provider.agreement_sign_url(external_no, return_url, notify_url(notify_base, provider_name, venue))
        except ProviderError as exc:
            raise PaymentError("unavailable", str(exc)) from exc

    def agreement_active(self, provider_name: str, agreement_no: str, external_no: str) -> bool:
        """Whether the provider says this agreement is signed, in force and the one we asked for."""
        provider = self._agreement_provider(provider_name)
        try:
            status, external = provider.agreement_status(agreement_no)
        except ProviderError as exc:
            raise PaymentError("unavailable", str(exc)) from exc
        return status == "active" and external == external_no

    def charge_agreement(self, venue: str, order_id: str, provider_name: str, agreement_no: str,
                         notify_base: str) -> Order:
        """Charge an order to a signed agreement now. Booked like any payment (the callback that follows is
        a replay); charging the same order again asks the provider about the same trade: never twice."""
        provider = self._agreement_provider(provider_name)
        bound = self.store.bind(venue, order_id, provider_name, "agreement", now_ms=self.clock())
        if bound not in ("ok", "state:paid"):
            raise _bind_refused(bound)
        order = self.store.order(venue, order_id)
        if order.status == "created":
            try:
                state = provider.charge_agreement(order.id, order.amount, order.description, agreement_no,
                                                  notify_url(notify_base, provider_name, venue))
            except ProviderError as exc:
                raise PaymentError("unavailable", str(exc)) from exc
            if state.state == "paid":
                self.book(venue, order_id, state.amount, state.txn, provider_name, state.currency, state.paid_ms)
            elif state.state == "failed":
                return self.cancel(venue, order_id, "declined") or order
        return self.store.order(venue, order_id)

    def _agreement_provider(self, name: str):
        provider = self.provider(name)
        if not hasattr(provider, "charge_agreement"):
            raise PaymentError("unknown_provider", f"{name} signs no agreements here")
        return provider

    # ---- refunds ----

    def refund(self, venue: str, order_id: str, amount: int, reason: str, refund_no: str | None = None) -> str:
        """Refund `amount` fen of a paid order: "done", "dup" (this refund number was handled before),
        "refused" (the provider said no for good), "processing" (accepted, the result comes by callback or
        query), "pending" (no answer, or refused for now, e.g. the merchant's balance: the sweep sends the same
        refund number again), or "state"/"exceeds"."""
        refund_no = refund_no or f"{order_id[:24]}R{secrets.token_hex(3).upper()}"
        begun = self.store.begin_refund(venue, order_id, refund_no, amount, reason, now_ms=self.clock())
        if begun.startswith("dup"):
            return "dup"
        if begun != "ok":
            return begun.split(":")[0]
        return self._ask_refund(venue, self.store.order(venue, order_id), refund_no, amount, reason)

    def _ask_refund(self, venue: str, order: Order, refund_no: str, amount: int, reason: str) -> str:
        """Send a reserved refund to the provider (again, under the same number: the providers treat it as
        the same refund): "done", "processing", "refused" or "pending" (no answer, or refused for now)."""
        try:
            result = self.provider(order.provider).refund(order.id, order.txn, refund_no, amount, order.amount,
                                                          reason, self._notify_url(order.provider, venue))
        except (ProviderError, PaymentError) as exc:
            log.warning("refund %s pending, provider unreachable: %s", refund_no[-6:], exc)
            return "pending"
        if not result.accepted:
            log.warning("refund %s refused by %s%s: %s", refund_no[-6:], order.provider,
                        " for now (asked again later)" if result.problem else "", result.message)
        outcome = self._end_refund(venue, order.id, refund_no, result.refund_id, result.state, _problem(result))
        if outcome == "dup":  # its callback was faster than the answer: what it booked stands
            outcome = self.store.refund_record(venue, refund_no).get("status", "pending")
        self._tell_quietly(venue, order.id)
        return refund_outcome(outcome)

    def _end_refund(self, venue: str, order_id: str, refund_no: str, refund_id: str, state: str,
                    problem: str = "") -> str:
        """Book the provider's word on a refund once: "done", "processing", "pending", "failed", "dup" or
        "unknown"; a refund done goes on the order's list for the listeners (points clawed back: the caller
        tells them). `problem`: the provider's code (with pending or processing: stuck there, asked again
        later; with failed: why)."""
        ended = self.store.end_refund(venue, order_id, refund_no, refund_id, state, now_ms=self.clock(),
                                      problem=problem)
        if ended == "unknown" or ended.startswith("dup"):
            return ended.split(":")[0]
        return state

    def retry_refunds(self, venue: str, now_ms: int | None = None, min_age_ms: int = 60_000, limit: int = 100) -> int:
        """Refunds still not final a minute after they were asked for: a pending one (the provider did not
        answer, or refused it for now) is sent again under its number, a processing one is queried; one stuck
        at the provider comes due later each time (store.REFUND_BACKOFF_MS). Returns how many became final."""
        if now_ms is None:
            now_ms = self.now_ms()
        final = 0
        for refund_no in self.store.open_refunds(venue, now_ms - min_age_ms, limit):
            record = self.store.refund_record(venue, refund_no)
            order = self.store.order(venue, record.get("order", ""))
            if order is None:
                continue
            self.store.count_attempt(venue, refund_no)
            if record["status"] == "pending":
                outcome = self._ask_refund(venue, order, refund_no, int(record["amount"]), record.get("reason", ""))
            else:
                outcome = self._query_refund(venue, order, refund_no)
            final += outcome in ("done", "refused", "failed")
        return final

    def _query_refund(self, venue: str, order: Order, refund_no: str) -> str:
        try:
            result = self.provider(order.provider).refund_query(order.id, refund_no)
        except (ProviderError, PaymentError) as exc:
            log.warning("refund query %s failed: %s", refund_no[-6:], exc)
            return "processing"
        if result is None:  # the provider never got it: ask again under the same number
            record = self.store.refund_record(venue, refund_no)
            return self._ask_refund(venue, order, refund_no, int(record["amount"]), record.get("reason", ""))
        outcome = self._end_refund(venue, order.id, refund_no, result.refund_id, result.state, _problem(result))
        self._tell_quietly(venue, order.id)
        return outcome

    def _notify_url(self, provider: str, venue: str) -> str:
        return notify_url(self.notify_base, provider, venue) if self.notify_base else ""

    def _tell_pending(self, venue: str, order_id: str) -> bool | None:
        """Tell the money listeners, in order, the payment and refunds of the order they have not all heard
        of, resuming at the listener that failed last time. One teller at a time: a caller that finds another
        telling the order leaves it to that one (what it cannot finish stays on the untold set, for the sweep).
        Raises the store's error (a listener's, or on recording the progress): what is left is told by the
        next call. False when nothing was left to tell; None when another caller is telling it."""
        holder = secrets.token_hex(8)
        if not self.store.start_telling(venue, order_id, holder):
            return None
        try:
            told = False
            while self._tell_once(venue, order_id):  # again: an entry booked meanwhile by a caller that left it
                told = True
            return told
        finally:
            with contextlib.suppress(redis.RedisError):  # the mark expires on its own
                self.store.end_telling(venue, order_id, holder)

    def _tell_once(self, venue: str, order_id: str) -> bool:
        progress = self.store.tell_progress(venue, order_id)
        order = self.store.order(venue, order_id) if progress.pending else None
        if order is None:
            return False
        for index in range(progress.told, len(progress.entries)):
            kind, as_then, amount = self._money_event(order, progress.entries[index])
            first = progress.part if index == progress.told else 0
            for number in range(first, len(self.listeners)):
                try:
                    self.listeners[number](kind, as_then, amount)
                except ValueError as exc:  # a listener's bug never undoes (nor holds up) a payment
                    log.warning("payment listener failed on %s %s: %s", kind, order_id, exc)
                if number + 1 < len(self.listeners):
                    self.store.mark_told(venue, order_id, index, number + 1)
            self.store.mark_told(venue, order_id, index + 1, 0)
        return True

    def _money_event(self, order: Order, entry: str) -> tuple[str, Order, int]:
        """(kind, the order as it was right after that payment or refund, amount) of a `tell` entry."""
        if entry == "paid":
            return "paid", replace(order, status="paid", refunded=0), order.amount
        record = self.store.refund_record(order.venue, entry)
        refunded = int(record.get("refunded_after") or order.refunded)
        status = "refunded" if refunded >= order.amount else "partially_refunded"
        return "refund", replace(order, status=status, refunded=refunded), int(record.get("amount") or 0)

    def _tell_quietly(self, venue: str, order_id: str) -> None:
        """Tell what is left, on a path no provider retries (a refund asked for here, the sweep): a store
        error leaves it to the sweep rather than failing a refund the provider already made."""
        try:
            self._tell_pending(venue, order_id)
        except redis.RedisError as exc:
            log.warning("payment listeners of %s not told yet (the sweep tells them): %s", order_id, exc)


# Ways to pay that open on the phone showing the page (the others show a code for another phone to scan).
ON_THIS_PHONE = ("jsapi", "h5", "wap")
_PAID_HERE = frozenset({("wechat", "jsapi"), ("wechat", "h5"), ("alipay", "wap")})


@dataclass(frozen=True)
class BrowserWays:
    """How one browser may pay: `first` the way shown first (None: as offered), `hidden` the ways that fail there,
    `notice` what the payment page says beside the ways (templates/payments/order.html words each), `stuck` what it
    says instead where none of the ways shown pays on this phone."""

    first: tuple[str, str] | None
    hidden: frozenset[tuple[str, str]]
    notice: str = ""
    stuck: str = ""


# What a browser can pay with, by `portal.captive.probes.browser_kind`'s name of it. WeChat Pay refuses H5 inside
# WeChat ("请在微信外打开订单"), WeChat blocks Alipay's pages and Alipay's browser opens no weixin:// link; JSAPI opens
# WeChat's own pay sheet, which exists in WeChat's browser only, and not in a mini program's web-view, whose domain
# whitelist also blocks Alipay's pages. The WiFi sign-in sheet opens no app link, and the providers' sites are
# hijacked until the shopper is online: "sign-in" leads with the keep link (pay in her browser) and the codes.
# Another app's browser pays H5/wap, but WeChat Pay discourages H5 in apps and the return may open in Safari without
# her cookie: "in-app" gives the page's address for her browser beside them. "leave": only that address pays here.
BROWSER_METHODS = {
    "wechat": BrowserWays(("wechat", "jsapi"), frozenset({("wechat", "h5"), ("alipay", "wap")}), stuck="leave"),
    "alipay": BrowserWays(("alipay", "wap"), frozenset({("wechat", "h5"), ("wechat", "jsapi")}), stuck="leave"),
    "miniprogram": BrowserWays(None, _PAID_HERE, notice="miniprogram"),
    SIGN_IN_SHEET: BrowserWays(None, _PAID_HERE, notice="sign-in"),
    "other": BrowserWays(None, frozenset({("wechat", "jsapi")}), notice="in-app", stuck="leave"),
}
ELSEWHERE = BrowserWays(None, frozenset({("wechat", "jsapi")}))


def _ways(browser: str) -> BrowserWays:
    return BROWSER_METHODS.get(browser, ELSEWHERE)


def methods_for(browser: str, offered: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The ways to pay `offered` that work in `browser`, its own app's first, the rest in their order."""
    ways = _ways(browser)
    return sorted((m for m in offered if m not in ways.hidden), key=lambda m: m != ways.first)


def offered_in(browser: str, provider: str, method: str) -> bool:
    """Whether `browser` may be offered this way to pay (whether the provider has it is the service's to say)."""
    return (provider, method) not in _ways(browser).hidden


def pays_on_this_phone(browser: str) -> bool:
    """Whether any way to pay may open on this phone in `browser` (a QR code's own link too): not in a sign-in sheet
    nor a mini program's web-view."""
    return not _ways(browser).hidden >= _PAID_HERE


def notice_for(browser: str, methods: list[tuple[str, str]]) -> str:
    """What the payment page says in `browser` beside `methods` (the ways it shows): "" (nothing), "sign-in",
    "miniprogram", "in-app" or "leave" (open this page in the phone's browser: none of them pays on this phone)."""
    ways = _ways(browser)
    if ways.stuck and not any(m in ON_THIS_PHONE for _provider, m in methods):
        return ways.stuck
    return ways.notice


def without_shopper_token(url: str) -> str:
    """`url` without its `c` query parameter. The shopper's token is a bearer secret the token store keeps only
    as a hash, for 30 days after its last use (portal/shopper.py): a copy in the order (kept 400 days once paid)
    would hand it out to whoever reads the store. The views add the asking shopper's back (`with_shopper_token`)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "c"]
    return urlunsplit(parts._replace(query=urlencode(query)))


def with_shopper_token(url: str, token: str) -> str:
    """`url` carrying `token` as its `c` (in place of any it had: orders stored before tokens were stripped)."""
    parts = urlsplit(without_shopper_token(url))
    query = parse_qsl(parts.query, keep_blank_values=True) + [("c", token)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def notify_url(base: str, provider: str, venue: str) -> str:
    return f"{base.rstrip('/')}/pay/notify/{provider}/{venue}"


def refund_outcome(record_status: str) -> str:
    """A refund record's status as the outcome its caller is told: the record's "failed" is refused for good; the
    others ("pending", "done", ...) as they are. The one reading `refund` and the cinema's tickets share."""
    return {"failed": "refused"}.get(record_status, record_status)


def _problem(result: RefundResult) -> str:
    """What operators are shown of a refund that is not done: the provider's code, or why it failed."""
    return result.problem or (result.message if result.state == "failed" else "")


def _store_now_ms(db: redis.Redis) -> int:
    seconds, micros = db.time()
    return int(seconds) * 1000 + int(micros) // 1000


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
