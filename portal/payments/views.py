"""The shopper's payment pages (choose WeChat Pay or Alipay, scan or open, come back) and the providers'
callback endpoint. Plain forms and full-page navigations, every link carrying the shopper's `c` token, except
the one the provider is given to send the shopper back: the provider is a third party, and `c` opens
everything of the shopper (Me, the export, erasure), so that URL carries nothing but the order id and the
browser's own `mp_c_<venue>` cookie (kept when Pay is pressed) says who comes back."""

from __future__ import annotations

import re
from dataclasses import replace

import segno
from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from core.ids import is_venue_id
from portal.apps.budgets import OverBudget, give_back_budget, spend_budget
from portal.apps.views import lang_arg
from portal.payments.money import cny
from portal.payments.service import PaymentError, with_shopper_token
from portal.payments.store import Order
from portal.services import services
from portal.shopper import (
    Shopper,
    current_shopper,
    keep_shopper_in_cookie,
    remember_for_return,
    returning_shopper,
    shopper_token,
    shopper_url,
)

bp = Blueprint("payments", __name__)
ORDER_ID = re.compile(r"^MP[0-9A-F]{24}$")
PROVIDER_NAMES = {"wechat": ("WeChat Pay", "微信支付"), "alipay": ("Alipay", "支付宝")}
# The order page reloads itself every 5 s while it waits: the provider is asked on every other reload at most.
QUERY_SPACING_S = 10
# What fails before a provider order is placed: the Pay press it refused costs no pay.start budget.
NOT_PLACED = ("unknown_provider", "expired", "state", "other_provider")


def _payments():
    return services().payments


def _order(venue: str, order_id: str) -> Order:
    """The order, whoever asks (404 when there is none)."""
    if not is_venue_id(venue) or not ORDER_ID.match(order_id):
        abort(404)
    order = _payments().order(venue, order_id)
    if order is None:
        abort(404)
    return order


def _owner(order: Order) -> Shopper | None:
    """The asking shopper (`c`, else the browser's cookie) if the order is theirs, else None."""
    shopper = current_shopper()
    if shopper is None or shopper.venue != order.venue or shopper.client != order.shopper:
        return None
    return shopper


def _my_order(venue: str, order_id: str):
    """The order, only for the shopper who holds its token (404 for anyone else: no order ids leak)."""
    order = _order(venue, order_id)
    shopper = _owner(order)
    if shopper is None:
        abort(404)
    return order, shopper


def _qr(url: str) -> Markup:
    return Markup(segno.make(url, error="m").svg_inline(scale=5, title=_("Scan to pay")))  # noqa: S704 - segno's SVG


def _page(order, shopper, status: int = 200, error: str | None = None):
    refunds = [{"amount": cny(int(r["amount"])), "status": r["status"]}
               for r in _payments().store.refunds_of(order.venue, order.id)]
    if order.return_url:  # the page's Back link, with this shopper's token (the order keeps none)
        order = replace(order, return_url=with_shopper_token(order.return_url, shopper_token(shopper)))
    # While it waits the page reloads itself: always as this GET page, never as the POST that rendered it (a
    # reload of /start is a 405), and with the code to scan again (`keep_qr`): the shopper may still be scanning.
    refresh_url = url_for("payments.order_page", venue=order.venue, order_id=order.id, c=shopper_token(shopper),
                          **lang_arg())
    # Past its expiry an unpaid order can no longer be paid, though the sweep (or the next query) has not closed
    # it yet: no code to scan, no Pay buttons (the provider's trade expired with it).
    expired = order.status == "created" and order.expires_ms <= _payments().now_ms()
    qr_url = order.qr_url if order.status == "created" and not expired else ""
    return render_template("payments/order.html", order=order, amount=cny(order.amount), refunds=refunds,
                           refunded=cny(order.refunded), methods=_payments().methods(), names=PROVIDER_NAMES,
                           shopper_token=shopper_token(shopper), error=error, qr=_qr(qr_url) if qr_url else None,
                           qr_url=qr_url, refresh_url=refresh_url, expired=expired), status


def _return_to(order: Order, shopper: Shopper):
    """303 to the page the order came from, with the asking shopper's token (the order keeps none)."""
    return redirect(with_shopper_token(order.return_url, shopper_token(shopper)), code=303)


def _ask_provider(order: Order, shopper: Shopper, wait_turn: bool = True) -> Order:
    """The order after asking its provider whether it was paid (the callback may be late), at most once per
    QUERY_SPACING_S per order and within the pay.query budgets of the shopper and their address: providers
    throttle queries per merchant, that is the whole mall, and the sweep's own queries (never budgeted) must
    still get through. Past them the order as stored: its callback books it all the same."""
    if order.status != "created" or not order.provider:
        return order
    if not _payments().store.claim_query(order.venue, order.id, QUERY_SPACING_S, wait_turn):
        return order
    try:
        spend_budget("pay.query", order.venue, shopper=shopper.client)
    except OverBudget:
        return order
    return _payments().refresh(order.venue, order.id) or order


@bp.get("/v/<venue>/pay/<order_id>")
def order_page(venue: str, order_id: str):
    order, shopper = _my_order(venue, order_id)
    order = _ask_provider(order, shopper)
    # Paid: on to what it paid for. Not a payment that delivered nothing (late, or the hold or unit was gone): its
    # refund may still be under way (WeChat Pay answers PROCESSING), and only this page says the money comes back.
    undelivered = order.late or order.delivery == "refunded"
    if order.status == "paid" and order.return_url and not undelivered and request.args.get("stay") != "1":
        return _return_to(order, shopper)
    return _page(order, shopper)


@bp.post("/v/<venue>/pay/<order_id>/start")
def start(venue: str, order_id: str):
    order, shopper = _my_order(venue, order_id)
    provider, _sep, method = (request.form.get("method") or "").partition(":")
    # No `c` in what the provider gets (see the module docstring); this browser keeps its shopper instead. The
    # chosen language is no secret: it comes back too (a sign-in sheet has no cookie to keep it in).
    back = url_for("payments.back", venue=venue, order_id=order_id, _external=True, **lang_arg())
    keep_shopper_in_cookie()
    spend_budget("pay.start", venue, shopper=shopper.client)  # each press places an order at the provider
    try:
        begun = _payments().start(venue, order_id, provider, method, request.remote_addr or "",
                                  services().settings.portal_url or request.host_url, back)
    except PaymentError as exc:
        if exc.code in NOT_PLACED:
            give_back_budget("pay.start", venue, shopper=shopper.client)
        messages = {
            "unknown_provider": (_("Please choose a way to pay."), 422),
            "expired": (_("This order has expired. Please start again."), 409),
            "state": (_("This order can no longer be paid."), 409),
            "other_provider": (_("This order is already being paid another way; finish or cancel it there."), 409),
            "unavailable": (_("Payment is not available right now. Please try again in a minute."), 503),
        }
        message, status = messages.get(exc.code, messages["state"])
        return _page(_payments().order(venue, order_id) or order, shopper, status, message)
    if begun.kind == "redirect":
        response = remember_for_return(redirect(begun.url, code=303),
                                       url_for("payments.back", venue=venue, order_id=order_id))
        # WeChat Pay H5 refuses a checkout without a Referer of the registered domain: the origin only (the
        # page's path carries `c`), instead of portal/headers.py's same-origin (no Referer at all).
        response.headers["Referrer-Policy"] = "strict-origin"
        return response
    return _page(_payments().order(venue, order_id) or order, shopper)  # the code to scan, kept with the order


@bp.get("/v/<venue>/pay/<order_id>/back")
def back(venue: str, order_id: str):
    """Where the provider's page sends the shopper back (no `c`: the browser's cookie says who it is): ask the
    provider now (the callback may lag), whatever a reload asked just before, but within the shopper's
    pay.query budget; the order page it sends on to then shows that answer without asking again.
    A browser that does not hold the order's shopper (a captive sheet keeps no cookie; whoever else has the
    URL: the provider) sees only whether it is paid, asked at most as often as a reload asks."""
    order = _order(venue, order_id)
    shopper = _owner(order)
    if shopper is None and (returned := returning_shopper(venue)) is not None and returned.client == order.shopper:
        shopper = returned  # the browser that pressed Pay, whose mp_c_<venue> names another shopper (a message's link)
    if shopper is None:
        order = _ask_provider(order, Shopper(order.venue, order.shopper))
        return render_template("payments/back_status.html", order=order)
    _ask_provider(order, shopper, wait_turn=False)
    return redirect(shopper_url("payments.order_page", venue=venue, order_id=order_id), code=303)


@bp.post("/v/<venue>/pay/<order_id>/cancel")
def cancel(venue: str, order_id: str):
    order, shopper = _my_order(venue, order_id)
    order = _payments().cancel(venue, order_id) or order
    if order.status == "closed" and order.return_url:
        return _return_to(order, shopper)
    return _page(order, shopper, 409 if order.status != "closed" else 200)


@bp.post("/pay/notify/<provider>/<venue>")
def notify(provider: str, venue: str):
    """The providers' callbacks (no shopper token, no CSRF: the provider's signature is the credential)."""
    if provider not in PROVIDER_NAMES or not is_venue_id(venue) or not _payments().enabled:
        abort(404)
    try:
        ack = _payments().notification(provider, venue, request.headers, request.get_data(cache=True),
                                       request.form.to_dict())
    except PaymentError:
        abort(404)
    return Response(ack.body, status=ack.status, content_type=ack.content_type)


@bp.post("/pay/notify/wechat-mall/<venue>")
def mall_notify(venue: str):
    """WeChat Pay 智慧商圈 notifications (the "user consumption callback" configured for the mall): a
    member's payment or refund in any shop of the mall. The platform certificate's signature is the
    credential."""
    if not is_venue_id(venue) or not _payments().enabled:
        abort(404)
    try:
        ack = _payments().mall_notification(venue, request.headers, request.get_data(cache=True))
    except PaymentError:
        abort(404)  # WeChat Pay is not configured
    return Response(ack.body, status=ack.status, content_type=ack.content_type)
