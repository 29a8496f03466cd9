"""The captive portal's Flask views: the gateway's redirect, the grant, the session page, RFC 8908.

Where the shopper lands is the Landing service's decision (portal/captive/landing.py), the same one the
probe lane asks; these views turn it into Flask answers. Every store call goes through the store breaker
(core/store_health.py): while the store is down each view fails open at once."""

from __future__ import annotations

import base64
import json
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, Flask, Response, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.datastructures import MultiDict

from core.addresses import client_address
from core.ids import is_venue_id
from core.security import loads_within
from core.storage import VenueKeys
from portal.apps.budgets import OverBudget, spend_budget
from portal.apps.views import lang_arg
from portal.captive.common import (
    MAX_QUERY_BYTES,
    NO_STORE,
    STORE_ERRORS,
    CaptiveServices,
    ap_from_params,
    captive_services_of,
    client_from_params,
)
from portal.captive.config import PortalConfigStore, address_networks
from portal.captive.gateways import (
    OFFLINE,
    ONLINE,
    REFUSED,
    GatewayContext,
    GatewayError,
    Grant,
    OpenNDS,
    UniFi,
    WiFiDog,
    calls_controller,
    destination_vouched,
    hand_back,
    issues_ticket,
    optional_ip,
    parse_redirect,
    safe_destination,
    tells_length,
)
from portal.captive.landing import Offline, Redirect, VenueCheck, guest_ip
from portal.captive.sessions import Session
from portal.captive.unifi import SiteMismatches
from portal.captive.wifidog import Ticket
from portal.demo import demo_mode_for
from portal.errors import STORE_RETRY_AFTER_S, error_body, error_title, page_venue
from portal.services import services
from portal.shopper import Shopper, current_shopper, shopper_token

log = logging.getLogger(__name__)
bp = Blueprint("captive", __name__)
T = TypeVar("T")
UNIFI_SITES = SiteMismatches()  # per process: a venue's site mismatches warned about every 10 minutes at most


def captive_services() -> CaptiveServices:
    return captive_services_of(current_app)


def store(venue: str, fn: Callable[..., T], *args, **kwargs) -> T:
    """A store call about `venue` through its breaker (the app's one on a single store, the venue's own on a
    cluster): refused at once while that venue's store is down, and only that venue's."""
    return captive_services().breaker.for_venue(venue).call(fn, *args, **kwargs)


def external_url(endpoint: str, **values) -> str:
    """An absolute URL handed out (CAPPORT, grants): on PORTAL_URL, never the request's Host header;
    the request's host only when PORTAL_URL is unset (development)."""
    portal_url = captive_services().portal_url
    if portal_url:
        return portal_url + url_for(endpoint, **values)
    return url_for(endpoint, **values, _external=True)


def landing_url(decision: Redirect) -> str:
    """Absolute on PORTAL_URL when set (the sign-in sheet leaves whatever host it came on), else relative."""
    return captive_services().portal_url + url_for(decision.endpoint, **decision.values, c=decision.token)


# ---- who is this ------------------------------------------------------------------------------------


# The FAS URL's own query (`venue=demo`: plain name=value pairs, no URL in them), then a `?` that starts a
# parameter name: the gateway's own parameters begin there.
_APPENDED = re.compile(r"(?:[\w.~%+-]+=[\w.~%+-]*&)*[\w.~%+-]+=[\w.~%+-]*(?=\?[A-Za-z][\w-]*=)", re.ASCII)


def gateway_args() -> MultiDict:
    """The query as the gateway meant it. openNDS appends its query with a `?` to its FAS URL even when that
    URL has a query already: `/portal?venue=demo?fas=...` (level 0: `?authaction=...`; its authmon in wget mode
    `?auth_get=...`; a client already authenticated: `?clientip=...&status=authenticated`). That second `?`
    is read as `&` only right after the FAS URL's own plain pairs and before a parameter name; a `?` anywhere
    else (inside a URL value) is the value's."""
    query = request.query_string.decode("utf-8", "replace")
    own = _APPENDED.match(query)
    if own:
        query = own.group() + "&" + query[own.end() + 1:]
    return MultiDict(parse_qsl(query, keep_blank_values=True))


def venue_check_of(app: Flask) -> VenueCheck:
    """The app's one VenueCheck (portal/captive/landing.py), the probe lane's and the views', made on first use."""
    check = app.extensions.get("captive.venues")
    if check is None:
        core = app.extensions["mallportal"]
        captive = captive_services_of(app)
        check = app.extensions.setdefault("captive.venues", VenueCheck(
            core.venues, core.settings.default_venue, captive.breaker, captive.landing.fail_open_log))
        app.extensions["captive.fail_open"] = fail_open  # the lost-venue 404's answer (portal/errors.py)
    return check


def venue_param(args: MultiDict | None = None) -> str:
    """The venue the request names (`venue`), else the default one (VenueCheck.default). A malformed name is a
    400; a venue that does not exist, or none named and no default, is answered with its page (venue_refusal)
    before anything is handed out or stored for it. A named one whose store does not answer is returned: the
    caller's own store calls fail open as they do for any venue (portal_entry's page keeps the gateway's redirect,
    an authmon poll gets its 503)."""
    named = (request.args if args is None else args).get("venue")
    check = venue_check_of(current_app)
    if not named:
        venue = check.default()
        if venue is None:
            abort(venue_refusal(None))
        return venue
    if not is_venue_id(named):
        abort(400, _("Unknown venue."))
    if check.known(named) is False:
        abort(venue_refusal(named))
    return named


def venue_refusal(venue: str | None) -> Response:
    """The page for a request about no venue of this portal; nothing is handed out or stored for it. `venue`:
    the one the request named, which does not exist (a 404: a gateway's or a sign's link with a typo); None:
    it named none and the VENUE setting names no venue either (a 503: this portal is not set up yet, most
    likely a new mall's VENUE left at its default). Never a redirect: the page a phone lands on says it."""
    if venue is not None:
        status, title = 404, error_title(404)
        message = _("This WiFi's portal has no venue %(venue)s: the link that brought you here may be wrong. "
                    "Please tell the information desk.", venue=venue)
    else:
        status, title = 503, _("This WiFi's portal is not set up yet")
        message = _("The portal does not know which mall it serves: its VENUE setting names no venue. Please "
                    "tell the information desk. (For the staff: set VENUE to the mall's venue id.)")
    page = render_template("error.html", status=status, title=title, message=message)
    return Response(page, status=status, headers=NO_STORE)


def check_query_size() -> None:
    """Portal URLs come from gateways: a tighter limit than the app-wide one (portal/errors.py
    QueryStringGuard, which also refuses query strings that are not UTF-8)."""
    if len(request.query_string) > MAX_QUERY_BYTES:
        abort(414, "query string too long")


def redirect_no_store(target: str) -> Response:
    """A 302 no cache keeps: the next visit must get a fresh answer."""
    resp = redirect(target, code=302)
    resp.headers.update(NO_STORE)
    return resp


# The venue a fail-open page's context was sealed for (in the context's grant data: sealed, so a page's
# Continue cannot borrow another venue's settings).
OFFLINE_VENUE = "portal_venue"


def fail_open(venue: str, exc: Exception | None, ctx: GatewayContext | None = None) -> Response:
    if exc is not None:  # a line per venue every few seconds (FailOpenLog), not one per page during an outage
        venue_check_of(current_app).fail_open_log(venue, exc)
    bound = replace(ctx, grant={**ctx.grant, OFFLINE_VENUE: venue}) if ctx else None
    sealed = captive_services().sealer.seal(bound).decode() if bound else ""
    return Response(render_template("captive/offline.html", venue=venue, sealed=sealed), status=200, headers=NO_STORE)


@bp.get("/")
def root():
    """The portal's own root (a probe host's root is the probe lane's): the mall home, of the mall whose shopper this
    browser is (a web app installed from a mall before its manifest named it starts here), else the default one."""
    check = venue_check_of(current_app)
    venue = _shoppers_venue(check) or check.default()
    if venue is None:
        return venue_refusal(None)
    return redirect(url_for("directory.home", venue=venue))


def _shoppers_venue(check: VenueCheck) -> str | None:
    """The venue of the request's shopper (its one mall's `mp_c_<venue>` cookie's, or a `c` token's) while it exists;
    None without one, or while the store does not answer (the default venue then, which fails open)."""
    if services().breaker.is_open:
        return None
    try:
        shopper = current_shopper()
    except STORE_ERRORS:
        return None
    return shopper.venue if shopper is not None and check.known(shopper.venue) else None


# ---- the gateway's redirect and the grant ---------------------------------------------------------


@bp.route("/portal", methods=["GET", "POST"])
@bp.get("/guest/s/<site>/")
def portal_entry(site: str | None = None):
    """The URL a gateway sends the shopper's browser to, with its parameters in the query (or posted, as a
    MikroTik hotspot's login page does). openNDS's authmon (levels 3-4) polls this same URL, its FAS URL: a
    request carrying `auth_get` is its poll."""
    check_query_size()
    args = gateway_args()
    if request.method == "POST" and (set(args) <= {"venue"} or "auth_get" in request.form):
        # openNDS's authmon; a MikroTik hotspot's login page posts its variables. Only into a query that holds
        # none: a posted field must not add to a redirect a gateway signed (CoovaChilli's `md`).
        if (request.content_length or 0) > MAX_QUERY_BYTES:
            abort(413)
        args = MultiDict([*args.items(multi=True), *request.form.items(multi=True)])
    venue = venue_param(args) if site is None or args.get("venue") else _unifi_venue(site, args)
    if "auth_get" in args:
        return _authmon_poll(venue, args)
    return _land(venue, args, site=site)


def _unifi_venue(site: str, args: MultiDict) -> str:
    """The venue of a UniFi redirect whose URL names none (its controller cannot add `?venue=`): the one whose
    `unifi_site` the path names, else the default venue (`venue_param`)."""
    # not while the store is down: the fail-open page must not wait on the venues' settings (the default venue's)
    found = None if services().breaker.is_open else captive_services().unifi_sites.venue_for(site)
    return found if found is not None else venue_param(args)


def _land(venue: str, args: MultiDict, gateway: str | None = None, site: str | None = None) -> Response:
    """The gateway's redirect, landed: the phone's zone page, its gateway context kept for the Continue.
    `gateway`: the adapter the URL names (WiFiDog's login/), else the one the parameters name. `site`: the UniFi
    site the URL's path names (/guest/s/<site>/), checked against the venue's."""
    cs = captive_services()
    try:
        config = store(venue, cs.config.get, venue)
    except STORE_ERRORS as exc:  # parsed with the settings last read (a controller's NBI hosts are in no default)
        return fail_open(venue, exc, _parse_or_none(args, cs.config.offline(venue), gateway))
    ctx = _parse(args, config, venue, gateway)
    if site is not None and ctx.gateway == UniFi.name:
        UNIFI_SITES.note(venue, site, config.get("unifi_site", "default"))
    client = client_from_params(services().hasher, {"mac": ctx.client_mac})  # None if missing or malformed
    # A MAC or an IP in a redirect anyone can forge only locates the phone (the token is a new shopper's
    # either way); it is trusted, and the IP table learns from it, only when the gateway vouched for it.
    verified = (ctx.verified or demo_mode_for(venue)) and client is not None
    if client is None and ctx.gateway == "direct":  # the CAPPORT API's user-portal-url: its signed client
        client = _capport_client(venue, args.get("capport", ""))
        verified = client is not None
    if ctx.access == ONLINE:
        return _already_online(venue, ctx, client, verified)
    decision = cs.landing.decide(venue, client, ip=_guest_ip(), verified=verified,
                                 associated_ap=ap_from_params(args))
    if isinstance(decision, Offline):
        return fail_open(venue, None, ctx)
    try:
        if ctx.access in (OFFLINE, REFUSED) and verified:  # the gateway holds the phone back, or refused the
            # login a Continue handed it: CAPPORT and probes must say so (only when it vouched: a forged one
            # must not log others out)
            store(venue, cs.sessions.revoke, venue, client)
        if ctx.verified and ctx.client_ip and client:  # after the revoke, which clears the old session's entry
            store(venue, cs.sessions.remember_ip, venue, ctx.client_ip, client)
        sealed = cs.sealer.seal(ctx)
        if decision.heard or _context_within_budget(venue, ctx):
            store(venue, cs.sessions.save_gateway_context, venue, decision.client, sealed)
        if ctx.verified and client:  # the phone's own gateway, for a Continue that does not come through it
            store(venue, cs.sessions.save_phone_gateway_context, venue, client, sealed)
    except STORE_ERRORS as exc:
        return fail_open(venue, exc, ctx)
    if ctx.access == REFUSED:
        return _refused(venue, ctx, decision.token)
    return redirect_no_store(landing_url(decision))


# What the grant-failed page says of each refusal (gateways.REFUSALS).
REFUSAL_TEXTS = {
    "refused": _l("The WiFi network refused the sign-in."),
    "not-web-auth": _l("The WiFi network is not set up for signing in on this page."),
    "user-unavailable": _l("The WiFi network cannot sign this guest account in right now."),
    "blocked": _l("The WiFi network has blocked this device."),
    "credentials": _l("The WiFi network did not accept the guest credentials."),
}


def _refused(venue: str, ctx: GatewayContext, token: str) -> Response:
    """The gateway refused the login a Continue handed it and sent the phone back: the grant-failed page, in the
    shopper's language, with Try again (a Continue through this redirect's context, kept for `token`)."""
    # Not the gateway's own words: they may name the phone or the guest account.
    log.warning("gateway %s refused the sign-in (%s)", ctx.gateway, ctx.refusal)
    page = render_template("captive/grant_failed.html", retry={"c": token}, said=ctx.said,
                           reason=REFUSAL_TEXTS.get(ctx.refusal, REFUSAL_TEXTS["refused"]),
                           venue=page_venue(409, venue))
    return Response(page, status=409, headers=NO_STORE)


def _already_online(venue: str, ctx: GatewayContext, client: str | None, verified: bool) -> Response:
    """The gateway let this phone out already: on to where it was going, when the gateway vouched for the
    redirect (CoovaChilli's md); else the status page, which says so and shows the destination as a link (an
    unsigned redirect is anyone's link: following it would make the portal an open redirect). No landing again,
    nothing stored."""
    if ctx.destination and ctx.verified:
        return redirect_no_store(ctx.destination)
    landing = captive_services().landing
    if not verified:  # a MAC anyone could type: the status page must not show a stranger that phone's session
        try:
            client = landing.placeable(venue, client, _guest_ip())
        except STORE_ERRORS:
            client = None
    _, token = landing.handout(venue, client, verified)
    onward = {"to": ctx.destination} if ctx.destination else {}
    return redirect_no_store(external_url("captive.status", c=token, gateway=ONLINE, **onward))


def _request_url() -> str:
    """The URL as the gateway built it (CoovaChilli signs it byte for byte)."""
    return request.base_url + "?" + request.query_string.decode("utf-8", "replace")


def _parse(args: MultiDict, config: dict[str, str], venue: str | None = None,
           gateway: str | None = None) -> GatewayContext:
    """The redirect, read; the venue's controller is called at landing (SmartZone's MAC decryption) only
    within the captive.decrypt budget, and not at all without a `venue` (the store is down: no budget)."""
    allowed = (lambda: _decrypt_within_budget(venue)) if venue is not None else (lambda: False)
    try:
        ctx = parse_redirect(args, _request_url(), config, controller_allowed=allowed, gateway=gateway)
    except GatewayError as exc:  # a redirect we cannot use: the shopper is told so; the detail is for the staff
        abort(exc.status, _("The WiFi network sent you here with a link this portal cannot use. Please ask at the "
                            "information desk. (For the staff: %(detail)s)", detail=f"{exc.field}: {exc.message}"))
    ctx.destination = _safe_destination(ctx.destination)
    return ctx


def _context_within_budget(venue: str, ctx: GatewayContext) -> bool:
    """Whether this landing's gateway context is kept for its Continue (an hour, ~0.5 kB). Every landing hands
    out a new shopper, so each redirect would store one: a gateway's signed redirect is kept always, and so is
    one for a phone the venue's APs hear (the caller checks: a made-up MAC is heard by none); an unsigned one
    for an unheard phone (anyone can send it, with any MAC) within the captive.context budget. Over it the phone
    still lands on its zone's page; its Continue then finds no context (as after the hour): a flood of made-up
    redirects costs only the unheard phones' Continue, never that of the shoppers the mall's APs hear (per
    venue, not per address: a hosted portal may see a whole mall behind one NAT address). A store fault is the
    caller's (fail open)."""
    if ctx.verified:
        return True
    try:
        store(venue, spend_budget, "captive.context", venue)
    except OverBudget:
        log.info("captive.context budget spent for venue %s: the landing's gateway context is not kept", venue)
        return False
    return True


def _decrypt_within_budget(venue: str) -> bool:
    """One captive.decrypt spent for this landing's call to the venue's controller; over the budget (a flood
    of made-up encrypted MACs) or with the store down, no call: the phone lands unknown."""
    try:
        store(venue, spend_budget, "captive.decrypt", venue)
    except OverBudget:
        log.info("captive.decrypt budget spent for venue %s: landing without the controller", venue)
        return False
    except STORE_ERRORS:
        return False
    return True


def _safe_destination(raw: str | None) -> str | None:
    """gateways.safe_destination, with this portal's own host (no look-alikes of it)."""
    own = urlsplit(captive_services().portal_url).hostname or request.host
    return safe_destination(raw, (own,))


def _parse_or_none(args: MultiDict, config: dict[str, str], gateway: str | None = None) -> GatewayContext | None:
    try:
        return _parse(args, config, gateway=gateway)
    except Exception:  # noqa: BLE001 - a fail-open page without a gateway context still works
        return None


@bp.post("/portal/continue")
def continue_to_internet():
    """"Continue to the internet": grant a session and hand the browser back to the gateway."""
    cs = captive_services()
    sealed = request.form.get("g", "")
    if sealed:  # the fail-open page carries the gateway context itself
        return _grant_offline(sealed)
    shopper = current_shopper()
    if shopper is None:
        abort(400, _("Your session has expired. Please open the page again from the mall's WiFi."))
    venue = shopper.venue
    try:
        config = store(venue, cs.config.get, venue)
        ctx = _gateway_context(venue, shopper)
        seconds = int(config["session_minutes"]) * 60
        if ctx.gateway == "direct" and (refusal := _direct_grant(venue, shopper, seconds)):
            return _not_granted(shopper, ctx, refusal)
        if calls_controller(ctx):  # each one a login to the venue's controller, which locks a flood of them out
            # per phone granted where its gateway vouched for it (a MAC in an unsigned redirect is anyone's to
            # make up, and typing a victim's would spend hers); behind a mall's NAT the venue's ceiling is the brake
            store(venue, spend_budget, "captive.grant", venue, device=shopper.own_phone)  # OverBudget: 429
        if issues_ticket(ctx):  # each one a token stored until the gateway's auth call (WiFiDog)
            store(venue, spend_budget, "captive.ticket", venue, shopper=shopper.client)
    except GatewayError as exc:
        log.warning("continue: %s", exc)
        abort(exc.status, _expired_text())
    except STORE_ERRORS as exc:
        return fail_open(venue, exc)
    # The status page in the language chosen (the sign-in sheet keeps no cookie: the form carries it), with the
    # shopper's original URL as a link on it when the portal would otherwise redirect there itself.
    shown = {"to": ctx.destination} if ctx.destination else {}
    status_url = external_url("captive.status", c=shopper_token(shopper), **lang_arg(), **shown)
    grant = _grant(ctx, seconds, ctx.destination or status_url, config)
    if isinstance(grant, Response):
        return grant
    if grant.redirect_to and grant.redirect_to == ctx.destination and not destination_vouched(ctx):
        # The portal's own redirect to the original URL (direct mode; a controller's grant: UniFi, Omada,
        # SmartZone): unsigned, it is anyone's link, and following it would make the portal an open redirect, so
        # the status page shows it instead (as for a phone online already, _already_online). A grant that hands
        # it to the gateway (Meraki's continue_url, a WLC's form...) leaves following it to the gateway.
        grant = replace(grant, redirect_to=status_url)
    try:
        _record_grant(venue, shopper, ctx, seconds, grant)
    except STORE_ERRORS as exc:  # as when the store fails earlier (a controller's grant stands: only our record
        return fail_open(venue, exc)  # of it is missing, and the probes fail open while the store is down)
    return _answer(grant)


def _expired_text() -> str:
    """A sealed gateway context that no longer opens (expired, or sealed under another SECRET_KEY)."""
    return _("This sign-in page has expired. Please open any web page again: the WiFi network brings you back here.")


def _record_grant(venue: str, shopper: Shopper, ctx: GatewayContext, seconds: int, grant: Grant) -> None:
    """Only once the grant succeeded (a controller's grant, or the redirect or form the browser now follows to
    the gateway): the session, so that no probe or CAPPORT answer says "online" for a grant that failed. For
    openNDS 3-4 the authmon entry is the grant itself: queued first. A grant with a ticket (WiFiDog) has not
    succeeded yet: its ticket is stored, and the session starts when the gateway redeems it (wifidog_auth)."""
    cs = captive_services()
    if grant.ticket:
        _issue_ticket(venue, shopper.client, ctx, seconds, grant.ticket)
        return
    if ctx.gateway == "opennds" and ctx.grant.get("level", 0) >= 3:
        rhid = ctx.grant["rhid"]
        store(venue, cs.db.hset, AuthmonKeys(venue).pending(), rhid, OpenNDS.authmon_entry(rhid, seconds))
    if ctx.gateway != "direct":  # a direct grant is the session itself (_direct_grant)
        # The session holds the address only a verified gateway named: it points the IP table at this phone. A
        # live session is kept (the gateway may have dropped the phone: handed to it again all the same), its
        # end only moved later; it is this shopper's now (its status page says "online").
        store(venue, cs.sessions.grant, venue, session_client(shopper), seconds, ctx.gateway, granted_by=shopper.client,
              ip=ctx.client_ip if ctx.verified else None, timed=tells_length(ctx))


def _issue_ticket(venue: str, granted_by: str, ctx: GatewayContext, seconds: int, token: str) -> None:
    """WiFiDog's token stored (hashed) for the gateway's auth call, bound to the MAC and the gw_id the redirect
    named; to its client address where it named no MAC (the gateway's auth call names the MAC then)."""
    phone = client_from_params(services().hasher, {"mac": ctx.client_mac or ""}) or ""
    ticket = Ticket(phone=phone, granted_by=granted_by, seconds=seconds, timed=tells_length(ctx),
                    gw_id=str(ctx.grant.get("gw_id", "")), ip="" if phone else ctx.client_ip or "")
    store(venue, captive_services().tickets.issue, venue, token, ticket)


def _gateway_context(venue: str, shopper: Shopper) -> GatewayContext:
    """The gateway context this Continue grants through: the one of the redirect this shopper's page came
    from; else, for a phone the portal knows as this browser's (a verified gateway, our signed URI, or the
    IP table that only verified gateways fill), the last one its gateway vouched for (a Continue from the
    CAPPORT API's user-portal-url or the venue-info page never came through the gateway); else "direct"."""
    cs = captive_services()
    raw = store(venue, cs.sessions.gateway_context, venue, shopper.client)
    ctx = cs.sealer.open(raw) if raw else GatewayContext(gateway="direct")
    if ctx.gateway != "direct" or not (shopper.phone and shopper.phone_verified):
        return ctx
    raw = store(venue, cs.sessions.phone_gateway_context, venue, shopper.phone)
    try:
        return cs.sealer.open(raw) if raw else ctx
    except GatewayError:  # sealed under another key (SECRET_KEY changed): as if none
        return ctx


# Why a direct session was refused (the not-granted page says what to do).
UNKNOWN_PHONE, GATEWAY_PHONE = "unknown", "gateway"


def _direct_grant(venue: str, shopper: Shopper, seconds: int) -> str | None:
    """No gateway context: a session only where the next probe will find it, and only where no gateway
    holds the phone back; None when granted, else why not. "gateway" mode (the portal host is the network's
    gateway, so the address it sees is the phone's own): bind the session to that IP. "honest" mode: only the
    demo's phones, whose MACs are simulated. A phone no one vouched for (a MAC typed into a probe's or the
    portal's URL) is anyone's to name; a phone known through its gateway (verified: the gateway vouched, the
    IP table, our signed URI) has no gateway context left here, and a session of ours would only tell its
    probes and CAPPORT "online" while the gateway still holds it back."""
    cs = captive_services()
    ip = _guest_ip() if cs.direct_mode == "gateway" else None  # grant() binds the IP table to it
    if not ip and (shopper.phone is None or not demo_mode_for(venue)):
        return GATEWAY_PHONE if shopper.phone and shopper.phone_verified else UNKNOWN_PHONE
    # A live session is kept as it is (a second Continue is no extension, nor resets the count of them).
    store(venue, cs.sessions.grant, venue, session_client(shopper), seconds, "direct", granted_by=shopper.client, ip=ip,
          handed_to_gateway=False)
    return None


def own_session(shopper: Shopper, session: Session | None) -> Session | None:
    """`session` (the one of `session_client(shopper)`) when this shopper may see and extend it: a session of
    its own client, of a phone it is known to be on (verified), or one its own Continue granted. A token
    minted for a MAC anyone typed into a URL names that phone too, and must not show a stranger whether the
    phone is online, nor extend its time."""
    if session is None or shopper.phone is None or shopper.phone_verified or session.granted_by == shopper.client:
        return session
    return None


def session_client(shopper: Shopper) -> str:
    """Access sessions belong to the phone (the probes ask by its MAC or IP), else to the shopper."""
    return shopper.phone or shopper.client


def _not_granted(shopper: Shopper, ctx: GatewayContext, reason: str) -> Response:
    return Response(render_template("captive/not_granted.html", venue=shopper.venue, token=shopper_token(shopper),
                                    destination=ctx.destination, reason=reason), headers=NO_STORE)


def _grant(ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str],
           unknown_venue: str | None = None) -> Grant | Response:
    """The gateway's grant, or the page that says it failed. `unknown_venue`: the store is down and this
    process never read that venue's settings, so the grant ran on the defaults."""
    try:
        return hand_back(ctx, seconds, destination, config)
    except GatewayError as exc:
        # The detail is for the operator's log; the shopper gets a clear page, never internal text.
        retry = {name: request.form[name] for name in ("c", "g") if request.form.get(name)}
        page = render_template("captive/grant_failed.html", retry=retry)
        if unknown_venue is not None:  # the settings are missing, not wrong: say so, and "try again later"
            log.error("grant through %s failed: the settings of venue %s are unknown while the store is down "
                      "(this process has read none since it started; the grant needed %s)", ctx.gateway,
                      unknown_venue or "(none named)", exc.field)
            return Response(page, status=503, headers={**NO_STORE, "Retry-After": str(STORE_RETRY_AFTER_S)})
        log.error("grant through %s failed: %s", ctx.gateway, exc)
        return Response(page, status=502 if exc.status >= 500 else exc.status, headers=NO_STORE)


def _answer(grant: Grant) -> Response | str:
    """The browser back to the gateway: a redirect, or the form it posts there."""
    if grant.redirect_to:
        return redirect(grant.redirect_to, code=303)
    return render_template("captive/grant_form.html", action=grant.form_action, fields=grant.form_fields)


def _grant_offline(sealed: str):
    """The fail-open page's Continue: the store is down, so the venue's settings are the ones this process
    last read (PortalConfigStore.last_known), for the venue the page's context was sealed for."""
    cs = captive_services()
    try:
        ctx = cs.sealer.open(sealed)
    except GatewayError as exc:
        log.warning("continue from the fail-open page: %s", exc)
        abort(400, _expired_text())
    venue = ctx.grant.pop(OFFLINE_VENUE, "")
    known = cs.config.last_known.get(venue) if isinstance(venue, str) and is_venue_id(venue) else None
    config = known or PortalConfigStore.defaults()
    seconds = int(config["session_minutes"]) * 60
    offline_page = external_url("captive.offline", **({"venue": venue} if known else {}))
    grant = _grant(ctx, seconds, ctx.destination or offline_page, config, unknown_venue=None if known else str(venue))
    if isinstance(grant, Grant) and grant.redirect_to and grant.redirect_to == ctx.destination \
            and not destination_vouched(ctx):
        # as continue_to_internet: an unsigned original URL is anyone's link (the sealed context is the page's for
        # hours, and needs no store), so the portal does not redirect there itself
        grant = replace(grant, redirect_to=offline_page)
    if isinstance(grant, Grant) and grant.ticket and not _ticket_stored_offline(venue, ctx, seconds, grant.ticket):
        log.error("grant through %s failed: its token cannot be stored while the store is down", ctx.gateway)
        page = render_template("captive/grant_failed.html", retry={"g": sealed})
        return Response(page, status=503, headers={**NO_STORE, "Retry-After": str(STORE_RETRY_AFTER_S)})
    return grant if isinstance(grant, Response) else _answer(grant)


def _ticket_stored_offline(venue: object, ctx: GatewayContext, seconds: int, token: str) -> bool:
    """WiFiDog from the fail-open page: the gateway will ask for the token, so it must be stored; the store may
    be back by now (this page's Try again comes here too). No shopper is known here: the session is the phone's."""
    if not (isinstance(venue, str) and is_venue_id(venue)):
        return False
    try:
        _issue_ticket(venue, "", ctx, seconds, token)
    except STORE_ERRORS:
        return False
    return True


@bp.get("/portal/status")
def status():
    shopper = current_shopper()
    if shopper is None:
        abort(400, _("Your session has expired. Please open the page again from the mall's WiFi."))
    cs = captive_services()
    try:
        session = own_session(shopper, store(shopper.venue, cs.sessions.get, shopper.venue, session_client(shopper)))
        config = store(shopper.venue, cs.config.get, shopper.venue)
    except STORE_ERRORS as exc:
        return fail_open(shopper.venue, exc)
    can_extend = session is not None and session.extendable and session.extensions < int(config["max_extensions"])
    # The gateway said the phone is online (portal_entry's _already_online) though no session of ours is
    # live (granted some other way, or ours ended first): say so, not "ended". Only text, on the shopper's page.
    gateway_online = session is None and request.args.get("gateway") == ONLINE
    # Where the phone was going, from a redirect no gateway vouched for (_already_online): a link, never followed.
    onward = _safe_destination(request.args.get("to")) if session or gateway_online else None
    return render_template("captive/status.html", session=session, can_extend=can_extend, venue=shopper.venue,
                           token=shopper_token(shopper), gateway_online=gateway_online, destination=onward)


@bp.post("/portal/extend")
def extend():
    shopper = current_shopper()
    if shopper is None:
        abort(400, _("Your session has expired. Please open the page again from the mall's WiFi."))
    cs = captive_services()
    try:
        config = store(shopper.venue, cs.config.get, shopper.venue)
        current = own_session(shopper, store(shopper.venue, cs.sessions.get, shopper.venue, session_client(shopper)))
        if current is None:
            abort(409, _("There is no WiFi session to extend. Please connect again."))
        if not current.extendable:  # the gateway holds the length: a longer record of ours would only mislead
            abort(409, _("The WiFi network sets how long your session lasts: it cannot be extended here."))
        session = store(shopper.venue, cs.sessions.extend, shopper.venue, session_client(shopper),
                        int(config["session_minutes"]) * 60, int(config["max_extensions"]))
    except LookupError:  # the store's words are for the log, not the shopper: in the page's language
        abort(409, _("This WiFi session has been extended as often as it can be."))
    except STORE_ERRORS as exc:
        return fail_open(shopper.venue, exc)
    if session is None:
        abort(409, _("There is no WiFi session to extend. Please connect again."))
    return redirect(url_for("captive.status", c=shopper_token(shopper), **lang_arg()), code=303)


@bp.get("/offline")
def offline():
    """The fail-open page: rendered without touching the store. Its Continue (no gateway context here,
    e.g. a bare probe) goes through the gateway entry again: the normal flow once the store is back."""
    venue = request.args.get("venue", "")[:64]
    return Response(render_template("captive/offline.html", venue=venue if is_venue_id(venue) else "", sealed=""),
                    headers=NO_STORE)


# ---- RFC 8908 Captive Portal API ------------------------------------------------------------------


def capport_url(shopper: Shopper) -> str:
    """The per-client API URI (RFC 8908 section 4: distinct per client where the server cannot see the
    enforcement device's identifier), on PORTAL_URL."""
    return client_capport_url(shopper.venue, session_client(shopper))


def client_capport_url(venue: str, client: str) -> str:
    """`capport_url` for a client id (a phone's: MacHasher.client_id), as `flask capport-uri` hands it to a DHCP
    server's hook."""
    return external_url("captive.capport_client", token=_capport_serializer().dumps([venue, client]))


# How long a per-client URI names its phone. A DHCP server's hook asks for the URI again at each lease (guest
# networks lease for hours); an older one is refused (a 404: the OS falls back to its probes), so a URI that leaked
# (a proxy's log, a screenshot) stops naming the phone within a day.
CAPPORT_URI_MAX_AGE_S = 24 * 3600


def _capport_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="capport")


def _capport_read(token: str) -> tuple[str, str] | None:
    """(venue, client) of a per-client URI's token; None when it is not the portal's, or older than a day."""
    try:
        venue, client = loads_within(_capport_serializer(), token, CAPPORT_URI_MAX_AGE_S,
                                     services().settings.max_clock_skew_s)  # signed by a host whose clock runs ahead
    except (BadSignature, ValueError, TypeError):  # SignatureExpired is a BadSignature
        return None
    return venue, client


def _capport_placed(token: str) -> tuple[str, str | None] | None:
    """(venue, the client) a per-client CAPPORT URI's token names, the client None where this request may not name
    it (the venue's `client_networks`, as for a MAC in a redirect: a URI seen elsewhere must not place the phone
    from outside); None for a token that is not the portal's or is too old. Raises the store's errors."""
    found = _capport_read(token) if token else None
    if found is None:
        return None
    venue, client = found
    return venue, captive_services().landing.placeable(venue, client, _guest_ip())


def _capport_client(venue: str, token: str) -> str | None:
    """The client a per-client CAPPORT URI's token names, when it is this venue's and the request may name it
    (`_capport_placed`): the user-portal-url that API answers carries it, so the page it opens (behind a NAT, where
    no address tells phones apart) is that phone's, and its Continue grants through the phone's gateway."""
    try:
        placed = _capport_placed(token)
    except STORE_ERRORS:
        return None
    return placed[1] if placed is not None and placed[0] == venue else None


@bp.get("/capport/api")
def capport_by_ip():
    """For DHCP option 114 / RA option 37 with one URI for everyone: the client is the requester's IP."""
    venue = request.args.get("venue") or venue_check_of(current_app).default()
    if venue is None:  # none named, and the VENUE setting names no venue: as for an unknown one
        return _capport_error("unknown venue", 404)
    if not is_venue_id(venue):
        return _capport_error("venue: not a venue id", 400)
    return _capport_answer(venue, None)


@bp.get("/capport/api/<token>")
def capport_client(token: str):
    try:  # as the page it opens (_capport_client): a URI seen elsewhere names no phone from outside the venue
        placed = _capport_placed(token)
    except STORE_ERRORS:
        return _capport_unavailable()
    if placed is None or placed[1] is None:
        return _capport_error("unknown client", 404)
    return _capport_answer(*placed, token=token)


def _capport_unavailable() -> Response:
    """Not "captive": the API is authoritative (Android 11+, iOS 14+), and it would put every phone that is online
    already behind a portal for the whole outage. A 503 is no usable answer: the OS falls back to its own probes,
    which the gateway answers (RFC 8908: a client may ignore a failing API)."""
    return _capport_error("the portal's store is unavailable; try again shortly", 503,
                          {"Retry-After": str(STORE_RETRY_AFTER_S)})


def _capport_answer(venue: str, client: str | None, token: str | None = None) -> Response:
    """`token`: the per-client URI's, handed on in user-portal-url (portal_entry reads it back)."""
    cs = captive_services()
    known = venue_check_of(current_app).known(venue)
    if known is False:
        # Not "captive" with links that 404: a typo in DHCP option 114 would put every phone behind a sign-in
        # sheet showing "page not found". A 404 is no usable answer: the OS falls back to its own probes.
        return _capport_error("unknown venue", 404)
    # The client comes from our own signed URI or from the IP table (which only verified gateways fill).
    decision = Offline(venue) if known is None else cs.landing.decide(
        venue, client, ip=None if client else _guest_ip(), verified=True, counted=False)
    if isinstance(decision, Offline):
        return _capport_unavailable()
    if not decision.known and cs.direct_mode != "gateway":
        # No gateway named this address: only those that vouch for their redirects fill the IP table (Meraki's,
        # UniFi's and most others' are anyone's to forge). "captive" would then stay true after a grant the
        # portal never learns of, and the OS takes the API's word over its probes; a 404 is no usable answer, so
        # it falls back to its probes, which the gateway itself answers. (Where the portal is the gateway, an
        # address it has not granted is captive: its answer stands.)
        return _capport_error("unknown client: no gateway has named this address to the portal", 404)
    session = decision.session
    body: dict = {"captive": session is None,
                  "user-portal-url": external_url("captive.portal_entry", venue=venue,
                                                  **({"capport": token} if token else {})),
                  "venue-info-url": external_url(decision.endpoint, **decision.values, c=decision.token)}
    if session is not None:
        try:
            config = store(venue, cs.config.get, venue)
        except STORE_ERRORS:
            config = cs.config.offline(venue)
        if session.counts_down:  # else the gateway keeps a length we do not know: none is said (RFC 8908: optional)
            body["seconds-remaining"] = session.seconds_remaining()
        body["can-extend-session"] = session.extendable and session.extensions < int(config["max_extensions"])
    return _capport_json(body, 200)


def _capport_json(body: dict, status: int) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/captive+json; charset=utf-8",
                    headers={"Cache-Control": "private, no-store"})


def _capport_error(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    """No captive+json object (that type says what "captive" is): a plain JSON error, as every API path's."""
    return Response(json.dumps(error_body(message)), status=status, content_type="application/json",
                    headers={"Cache-Control": "no-store", **(headers or {})})


# ---- openNDS authmon (fas_secure_enabled 3 and 4) ---------------------------------------------------


class AuthmonKeys(VenueKeys):
    def pending(self) -> str:
        return self.key("opennds", "authlist")


@bp.route("/opennds/authmon/<venue>", methods=["GET", "POST"])
def opennds_authmon(venue: str):
    """openNDS's authmon poll (auth_get, gatewayhash, payload: POSTed by post-request.php, or in the query in its
    wget mode) for clients to authenticate; answers '*' then the url-encoded entries, and drops the entries it
    acknowledges (../shared/reference/captive-portals.md 3.1; openNDS libs/authmon.sh). A stock openNDS polls
    its FAS URL, /portal (portal_entry hands the poll here); this route is the same for a custom setup."""
    if not is_venue_id(venue):
        abort(400, _("Unknown venue."))
    return _authmon_poll(venue, request.values)


def _authmon_poll(venue: str, values) -> Response:
    cs = captive_services()
    try:
        return _authmon(cs, venue, values)
    except STORE_ERRORS as exc:
        log.error("authmon: store unavailable for venue %s: %s", venue, exc)
        return Response("ERROR: store unavailable, try again\n", status=503, content_type="text/plain",
                        headers={"Retry-After": "5"})


def _authmon_refusal(config: dict[str, str], given: str) -> str | None:
    """Why this poll is not this venue's gateway's, or None. The gatewayhash is sha256 of the gateway's name,
    which a level-4 redirect shows anyone: the venue's `opennds_authmon_from` (the routers' addresses) keeps
    the internet from reading or clearing the list, though not the guests behind the routers' NAT. None may poll
    while it is empty (as WiFiDog's `wifidog_gateways`): anyone who read the name could clear the list, and the
    routers would never learn of their guests' sign-ins."""
    allowed = address_networks(config.get("opennds_authmon_from", ""))
    if not allowed:
        return "this venue's opennds_authmon_from is not set: no address may poll its authmon list"
    source = client_address(request.remote_addr)
    if source is None or not any(source in net for net in allowed):
        return "this address may not poll this venue's authmon list"  # before the hash: says nothing of it
    expected = OpenNDS.gateway_hashes(config["opennds_gatewayname"], config.get("opennds_gatewayhashes", ""))
    if not config["opennds_faskey"] or not expected:
        return "this venue has no openNDS faskey and gateway name or hash"
    if not any(secrets.compare_digest(given.encode(), e.encode()) for e in expected):
        return "gatewayhash does not match this venue"
    return None


def _authmon(cs: CaptiveServices, venue: str, form) -> Response:
    config = store(venue, cs.config.get, venue)
    refusal = _authmon_refusal(config, form.get("gatewayhash", ""))
    if refusal:
        return Response(f"ERROR: {refusal}\n", status=403, content_type="text/plain")
    action = form.get("auth_get", "view")
    key = AuthmonKeys(venue).pending()
    if action in ("deauthed", "custom"):  # notices for the FAS; openNDS's sample FAS acknowledges them
        return Response("ack", content_type="text/plain")
    if action == "clear":
        store(venue, cs.db.delete, key)
        return Response("*", content_type="text/plain")
    if action not in ("view", "list"):
        return Response(f"ERROR: unknown auth_get {action[:20]!r}\n", status=400, content_type="text/plain")
    payload = _decode_payload(form.get("payload", ""))
    if action == "view" and payload.strip() not in ("none", "*", ""):
        acked = [rhid for rhid in payload.split() if rhid != "*"]
        if acked:
            store(venue, cs.db.hdel, key, *acked)
        return Response("ack", content_type="text/plain")
    entries = [v.decode() for v in store(venue, cs.db.hvals, key)]
    if action == "list":
        store(venue, cs.db.delete, key)
    return Response("".join(["*", *(" " + e for e in entries)]), content_type="text/plain")


def _decode_payload(payload: str) -> str:
    """authmon's payload, base64 (post-request.php and the wget mode both encode it); taken as it is when it
    is not base64 text."""
    if payload.startswith("*"):
        return payload
    try:
        return base64.b64decode(payload, validate=True).decode()
    except (ValueError, UnicodeDecodeError):  # binascii.Error; non-ASCII input raises a plain ValueError
        return payload


# ---- WiFiDog auth server (wifidog-gateway: src/http.c, src/auth.c, src/centralserver.c, src/ping_thread.c) ----
# The gateway's AuthServer Path is /wifidog/ (the default venue) or /wifidog/<venue>/; it appends login/?,
# auth/?, ping/?, portal/? and gw_message.php? to it (src/conf.h).


def _wifidog_venue(venue: str | None) -> str:
    """The venue the auth server path names, else `?venue=`, else the default one (venue_param's answers)."""
    return venue_param(MultiDict({"venue": venue}) if venue is not None else None)


@bp.get("/wifidog/login/")
@bp.get("/wifidog/<venue>/login/")
def wifidog_login(venue: str | None = None):
    """The gateway's redirect: lands the phone as /portal does, through the WiFiDog adapter whatever came."""
    check_query_size()
    return _land(_wifidog_venue(venue), gateway_args(), gateway=WiFiDog.name)


@bp.get("/wifidog/auth/")
@bp.get("/wifidog/<venue>/auth/")
def wifidog_auth(venue: str | None = None):
    """The gateway's own call (not the browser's): stage=login with the token a Continue handed the browser,
    stage=counters every CheckInterval for each phone it lets out, stage=logout when it drops one. Answers
    `Auth: 1` (let out) or `Auth: 0` (hold back, or drop). An answer without an `Auth:` line is an error to
    the gateway, which then leaves its phones as they are (src/firewall.c): so are the refusals and faults,
    never an `Auth: 0` that would log a venue's phones off."""
    venue = _wifidog_venue(venue)
    cs = captive_services()
    try:
        config = store(venue, cs.config.get, venue)
        if refusal := _wifidog_refusal(venue, config):
            return _wifidog_text(f"ERROR: {refusal}\n", 403)
        stage = request.args.get("stage", "")
        if stage not in ("login", "counters", "logout"):
            return _wifidog_text("ERROR: stage must be login, counters or logout\n", 400)
        phone = client_from_params(services().hasher, {"mac": request.args.get("mac", "")})
        allowed = phone is not None and _wifidog_stage(cs, venue, stage, phone)
    except STORE_ERRORS as exc:
        log.error("wifidog auth: store unavailable for venue %s: %s", venue, exc)
        return _wifidog_text("ERROR: store unavailable, try again\n", 503)
    if allowed is None:
        return _wifidog_text("ERROR: not the token this device signed in with\n", 403)
    return _wifidog_text(f"Auth: {int(allowed)}\n")


def _wifidog_stage(cs: CaptiveServices, venue: str, stage: str, phone: str) -> bool | None:
    """Whether the phone may be out after this stage (the gateway's `Auth:`); None: a call about a phone that
    does not bring the token it logged in with, answered with no `Auth:` line (the gateway changes nothing).
    Every stage names the token (src/centralserver.c), so an address allowed to call (the venue's
    `wifidog_gateways`: a guest's too where guests and gateways share an address) cannot log another phone off,
    nor ask about it, without that phone's token."""
    token = request.args.get("token", "")
    if stage == "login":
        if store(venue, cs.tickets.holds, venue, phone, token):  # its own token again (the browser reloaded
            return _session_lives(cs, venue, phone)  # the gateway's auth page): out while its session lives
        return _wifidog_redeem(cs, venue, phone, token)
    if not store(venue, cs.tickets.holds, venue, phone, token):
        return None
    if stage == "logout":  # the gateway dropped it (logged off, or idle): CAPPORT and probes must say so
        store(venue, cs.sessions.revoke, venue, phone)  # its token stays held: logging in with it again says 0
        return False
    # counters: out while its session lives (its token kept as long); once it ended the gateway logs it off
    session = store(venue, cs.sessions.get, venue, phone)
    if session is not None:
        store(venue, cs.tickets.hold_for, venue, phone, session.seconds_remaining())
    return session is not None


def _session_lives(cs: CaptiveServices, venue: str, phone: str) -> bool:
    """The gateway asks again for a phone out with its own token (its auth page reloaded, or a retry after our
    503): out while its session lives, the IP table's entry written if a fault after the redemption left it
    unwritten (probes and CAPPORT by address would say captive all session long)."""
    session = store(venue, cs.sessions.get, venue, phone)
    if session is not None:
        store(venue, cs.sessions.restore_ip, venue, session)
    return session is not None


def _wifidog_redeem(cs: CaptiveServices, venue: str, phone: str, token: str) -> bool:
    """stage=login: the token, once, for the phone (or the address) and the gateway (gw_id) it was issued to; the
    session starts with it, in the same step (as _record_grant starts the other gateways'), at the address the
    gateway names: the gateway vouches for that pair."""
    ticket = store(venue, cs.tickets.redeem, venue, token, phone, request.args.get("gw_id", ""),
                   _named_ip(request.args))
    if ticket is None:  # never the token nor the MAC in the log
        log.info("wifidog auth for venue %s: a token unknown, used, expired, or issued to another device, address "
                 "or gateway", venue)
        store(venue, spend_budget, "captive.ticket_miss", venue)  # OverBudget: a 429, no Auth: line
        return False
    return True


def _named_ip(args) -> str | None:
    """The client's address the gateway's call names, normalised; None when it names none that is one."""
    try:
        return optional_ip(args, "ip")
    except GatewayError:
        return None


def _wifidog_refusal(venue: str, config: dict[str, str]) -> str | None:
    """Why this caller may not speak for the venue's WiFiDog gateways, or None: its address is in the venue's
    `wifidog_gateways`. None are allowed while that is empty: a private address is a guest's too on a network
    routed to the portal, and a guest who may call could redeem tokens, ask whether a MAC is online or log
    phones off. Logged at most once per venue every 10 s (gateways ping every minute), without the caller's
    address (a phone's, perhaps)."""
    allowed = address_networks(config.get("wifidog_gateways", ""))
    warn = captive_services().landing.fail_open_log.warn
    if not allowed:
        warn(venue, "wifidog auth server refused a call: wifidog_gateways is not set")
        return "this venue's wifidog_gateways is not set: no address may call its WiFiDog auth server"
    source = client_address(request.remote_addr)
    if source is not None and any(source in net for net in allowed):
        return None
    warn(venue, "wifidog auth server refused a call from an address not in wifidog_gateways")
    return "this address may not call this venue's WiFiDog auth server (its wifidog_gateways)"


def _wifidog_text(body: str, status: int = 200) -> Response:
    return Response(body, status=status, content_type="text/plain; charset=utf-8", headers=NO_STORE)


@bp.get("/wifidog/ping/")
@bp.get("/wifidog/<venue>/ping/")
def wifidog_ping(venue: str | None = None):
    """The gateway's heartbeat (gw_id, sys_uptime, sys_memfree, sys_load, wifidog_uptime): `Pong`. None while
    the store is down: no token can be stored then, and a gateway without its Pong shows new phones its own
    "login screen unavailable" page instead of a sign-in that cannot end in a grant."""
    venue = _wifidog_venue(venue)
    cs = captive_services()
    try:
        config = store(venue, cs.config.get, venue)
    except STORE_ERRORS as exc:
        cs.landing.fail_open_log(venue, exc, "answering WiFiDog pings 503")  # once per venue every 10 s
        return _wifidog_text("ERROR: store unavailable, try again\n", 503)
    if refusal := _wifidog_refusal(venue, config):
        return _wifidog_text(f"ERROR: {refusal}\n", 403)
    return _wifidog_text("Pong")


@bp.get("/wifidog/portal/")
@bp.get("/wifidog/<venue>/portal/")
def wifidog_portal(venue: str | None = None):
    """Where the gateway sends the browser once auth/ let the phone out (`gw_id`, `token`): the status page,
    "online", for the shopper this browser has (its cookie), else a new one; with the original URL of the
    redirect that shopper landed from as a link on it, never followed (WiFiDog signs nothing: anyone's link)."""
    venue = _wifidog_venue(venue)
    shopper = _browser_shopper(venue)
    onward = _kept_destination(venue, shopper) if shopper else None
    return redirect_no_store(external_url("captive.status", c=_browser_token(venue, shopper), gateway=ONLINE,
                                          **({"to": onward} if onward else {})))


def _kept_destination(venue: str, shopper: Shopper) -> str | None:
    """The original URL of the WiFiDog redirect this shopper's Continue went through (its kept gateway context);
    None when there is none, or the store cannot say (the page goes without the link)."""
    try:
        ctx = _gateway_context(venue, shopper)
    except (*STORE_ERRORS, GatewayError):
        return None
    return ctx.destination if ctx.gateway == WiFiDog.name else None


@bp.get("/wifidog/gw_message.php")
@bp.get("/wifidog/<venue>/gw_message.php")
def wifidog_message(venue: str | None = None):
    """Where the gateway sends the browser when auth/ said `Auth: 0` at login (`message=denied`, `token`): the
    grant-failed page, with Try again (a Continue through the landing's context, kept an hour)."""
    venue = _wifidog_venue(venue)
    page = render_template("captive/grant_failed.html", retry={"c": _browser_token(venue)},
                           reason=REFUSAL_TEXTS["refused"], venue=page_venue(409, venue))
    return Response(page, status=409, headers=NO_STORE)


def _browser_shopper(venue: str) -> Shopper | None:
    """This browser's shopper of `venue` (the cookie's), if any (None too while the store cannot say)."""
    try:
        shopper = current_shopper()
    except STORE_ERRORS:
        return None
    return shopper if shopper is not None and shopper.venue == venue else None


def _browser_token(venue: str, shopper: Shopper | None = None) -> str:
    """The token of this browser's shopper of `venue` (`shopper`, else the cookie's), else of a new one (writes
    nothing)."""
    shopper = shopper or _browser_shopper(venue)
    if shopper is not None:
        return shopper_token(shopper)
    return captive_services().landing.handout(venue, None)[1]


def _guest_ip() -> str | None:
    """This request's address as the landing may use it (`landing.guest_ip`: not a proxy's own, PROXY_HOPS unset)."""
    return guest_ip(request.remote_addr, request.headers.get("X-Forwarded-For"), services().settings.proxy_hops)
