"""The shopper's payment pages (choose WeChat Pay or Alipay, scan or open, come back) and the providers'
callback endpoint. Plain forms and full-page navigations, every link carrying the shopper's `c` token, except
the ones a third party is given to send the shopper back (the provider's return, WeChat's sign-in return): `c`
opens everything of the shopper (Me, the export, erasure), so those URLs carry nothing but the order id and the
browser's own `mp_c_<venue>` cookie (kept when Pay is pressed) says who comes back.

The ways to pay offered, and the notice beside them, depend on the browser showing the page (an app's, a mini
program's, the WiFi sign-in sheet: `PaymentService.methods`, `notice_for`). In WeChat's,
WeChat Pay JSAPI: Pay sends the browser through WeChat's silent sign-in (`payer`, with a signed `state`:
portal/payments/signin.py) for the shopper's openid, and the page it comes back to opens WeChat's pay sheet
(WeixinJSBridge), then goes to the provider's return (`back`), which asks WeChat Pay: the callback books it."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import segno
from flask import Blueprint, Response, abort, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from core.ids import is_venue_id
from portal.apps.budgets import OverBudget, give_back_budget, spend_budget
from portal.apps.views import lang_arg
from portal.captive.probes import browser_kind
from portal.payments.money import cny
from portal.payments.service import (
    ON_THIS_PHONE,
    PaymentError,
    notice_for,
    offered_in,
    pays_on_this_phone,
    with_shopper_token,
)
from portal.payments.signin import sign_in_state, state_problem
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
NOT_PLACED = ("unknown_provider", "expired", "state", "other_provider", "payer")
# The notices (`notice_for`) that give the page's address to open in the phone's own browser. The sign-in sheet's
# gives the keep link instead: it also keeps her in that browser, which the sheet's address alone would not.
WITH_OWN_BROWSER_LINK = ("leave", "in-app", "miniprogram")


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


def _paying_shopper(order: Order) -> Shopper | None:
    """The order's shopper if this browser holds them: `c` or the venue's cookie, else the one the Pay press
    remembered for this return path (`remember_for_return`: the venue's cookie may name another shopper, one who
    opened a message's link)."""
    shopper = _owner(order)
    if shopper is None and (returned := returning_shopper(order.venue)) is not None:
        shopper = returned if returned.client == order.shopper else None
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


def _page(order, shopper, status: int = 200, error: str | None = None, bridge: dict[str, str] | None = None):
    """The order's page; `bridge`: WeChat Pay JSAPI's parameters, for the page to open WeChat's pay sheet with."""
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
                           refunded=cny(order.refunded), on_this_phone=ON_THIS_PHONE, names=PROVIDER_NAMES,
                           shopper_token=shopper_token(shopper), error=error, qr=_qr(qr_url) if qr_url else None,
                           qr_url=qr_url, refresh_url=refresh_url, expired=expired, **_ways_to_pay(order, shopper),
                           bridge=bridge if order.status == "created" and not expired else None,
                           bridge_back=url_for("payments.back", venue=order.venue, order_id=order.id,
                                               **lang_arg())), status


def _ways_to_pay(order: Order, shopper: Shopper) -> dict:
    """What the page offers this browser: `methods`, the ways to pay (those of the provider the order is bound to,
    if any); `notice`, what it says beside them (`notice_for`); `own_browser`, the page's address for the phone's own
    browser where the notice gives it (with `c`: that browser has no cookie of hers), else ""; `code_link`, whether a
    QR code's own link may open here; `in_wechat`, whether this is WeChat's browser (the JSAPI fallback's words)."""
    browser = browser_kind(request.user_agent.string)
    methods = [m for m in _payments().methods(browser) if not order.provider or m[0] == order.provider]
    notice = notice_for(browser, methods)
    own_browser = url_for("payments.order_page", venue=order.venue, order_id=order.id, c=shopper_token(shopper),
                          _external=True, **lang_arg()) if notice in WITH_OWN_BROWSER_LINK else ""
    return {"methods": methods, "notice": notice, "own_browser": own_browser,
            "code_link": pays_on_this_phone(browser), "in_wechat": browser == "wechat"}


def _refusal(exc: PaymentError) -> tuple[str, int]:
    """What the page says, and its status, for a Pay press (or a sign-in's return) the service refused."""
    messages = {
        "unknown_provider": (_("Please choose a way to pay."), 422),
        "expired": (_("This order has expired. Please start again."), 409),
        "state": (_("This order can no longer be paid."), 409),
        "other_provider": (_("This order is already being paid another way; finish or cancel it there."), 409),
        "unavailable": (_("Payment is not available right now. Please try again in a minute."), 503),
        "payer": (_("WeChat could not confirm who is paying. Please press Pay again."), 400),
    }
    return messages.get(exc.code, messages["state"])


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
    if not offered_in(browser_kind(request.user_agent.string), provider, method):  # a page from another browser
        return _page(order, shopper, 422, _("Please choose a way to pay."))
    # No `c` in what the provider gets (see the module docstring); this browser keeps its shopper instead. The
    # chosen language is no secret: it comes back too (a sign-in sheet has no cookie to keep it in).
    back = url_for("payments.back", venue=venue, order_id=order_id, _external=True, **lang_arg())
    keep_shopper_in_cookie()
    if (provider, method) == ("wechat", "jsapi"):
        return _sign_in(order, shopper)
    spend_budget("pay.start", venue, shopper=shopper.client)  # each press places an order at the provider
    try:
        begun = _payments().start(venue, order_id, provider, method, request.remote_addr or "",
                                  services().settings.portal_url or request.host_url, back)
    except PaymentError as exc:
        return _refused(order, shopper, exc)
    if begun.kind == "redirect":
        response = remember_for_return(redirect(begun.url, code=303),
                                       url_for("payments.back", venue=venue, order_id=order_id))
        # WeChat Pay H5 refuses a checkout without a Referer of the registered domain: the origin only (the
        # page's path carries `c`), instead of portal/headers.py's same-origin (no Referer at all).
        response.headers["Referrer-Policy"] = "strict-origin"
        return response
    return _page(_payments().order(venue, order_id) or order, shopper)  # the code to scan, kept with the order


def _refused(order: Order, shopper: Shopper, exc: PaymentError):
    """The order's page saying why the service refused; a refusal before any provider order was placed gives
    back the pay.start budget its press spent."""
    if exc.code in NOT_PLACED:
        give_back_budget("pay.start", order.venue, shopper=shopper.client)
    message, status = _refusal(exc)
    return _page(_payments().order(order.venue, order.id) or order, shopper, status, message)


def _sign_in(order: Order, shopper: Shopper):
    """JSAPI pays as the shopper's openid: first WeChat's silent sign-in, whose return (`payer`) places the order.
    The redirect names no `c` (WeChat is a third party): the state binds the return to this order and shopper,
    and the cookie kept here for that path says who comes back. Nothing is placed yet: no pay.start spent."""
    payer_path = url_for("payments.payer", venue=order.venue, order_id=order.id)
    redirect_uri = url_for("payments.payer", venue=order.venue, order_id=order.id, _external=True, **lang_arg())
    state = sign_in_state(services().settings.secret_key, order.venue, order.id, shopper.client, time.time())
    try:
        url = _payments().wechat_sign_in_url(redirect_uri, state)
    except PaymentError as exc:
        message, status = _refusal(exc)
        return _page(order, shopper, status, message)
    return remember_for_return(redirect(url, code=303), payer_path)


@bp.get("/v/<venue>/pay/<order_id>/payer")
def payer(venue: str, order_id: str):
    """Where WeChat's sign-in sends the shopper back with `code` and `state` (no `c`: the cookie the Pay press kept
    says who). The state first: one made up, made for another order or shopper, or expired places nothing and
    spends nothing (400). Then her openid for the code, a JSAPI order for it (the openid goes to WeChat Pay and
    nowhere else), and the page that opens WeChat's pay sheet; its answer goes to `back`, which asks WeChat Pay.
    A browser that does not hold the order's shopper: 404, as for any order not hers."""
    order = _order(venue, order_id)
    shopper = _paying_shopper(order)
    if shopper is None:
        abort(404)
    problem = state_problem(services().settings.secret_key, request.args.get("state", ""), venue, order_id,
                            shopper.client, time.time())
    if problem or not request.args.get("code"):
        message = (_("This payment link has expired. Please press Pay again.") if problem == "expired"
                   else _("This payment link is not valid. Please press Pay again."))
        return _page(order, shopper, 400, message)
    spend_budget("pay.start", venue, shopper=shopper.client)  # the code exchange and the order placed
    back_url = url_for("payments.back", venue=venue, order_id=order_id, _external=True, **lang_arg())
    try:
        openid = _payments().wechat_payer(request.args["code"])
        begun = _payments().start(venue, order_id, "wechat", "jsapi", request.remote_addr or "",
                                  services().settings.portal_url or request.host_url, back_url, payer=openid)
    except PaymentError as exc:
        return _refused(order, shopper, exc)
    page = make_response(_page(_payments().order(venue, order_id) or order, shopper, bridge=begun.params))
    return remember_for_return(page, url_for("payments.back", venue=venue, order_id=order_id))


@bp.get("/v/<venue>/pay/<order_id>/back")
def back(venue: str, order_id: str):
    """Where the provider's page sends the shopper back (no `c`: the browser's cookie says who it is): ask the
    provider now (the callback may lag), whatever a reload asked just before, but within the shopper's
    pay.query budget; the order page it sends on to then shows that answer without asking again.
    A browser that does not hold the order's shopper (a captive sheet keeps no cookie; whoever else has the
    URL: the provider) sees only whether it is paid, asked at most as often as a reload asks."""
    order = _order(venue, order_id)
    shopper = _paying_shopper(order)
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
