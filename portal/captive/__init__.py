"""The captive portal: OS probes, the gateway's redirect, the grant, sessions and the RFC 8908 API.

Flow: the phone's OS probes a known URL -> the gateway (or our DNS) sends it here -> before access is
granted the probe gets a 302 to the light app of the zone the positioner places the phone in (the
mall home when unsure) -> "Continue to the internet" on any page grants a session the gateway's way
-> from then on each probe gets its OS's exact "online" answer. If the store or the positioner is
down, probes still answer at once (fail open) and the shopper reaches a static page or the internet."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets

from flask import Blueprint, Flask, Response, abort, current_app, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from core.storage import VenueKeys, connect
from portal.captive.cli import portal_config
from portal.captive.common import (
    MAX_QUERY_BYTES,
    NO_STORE,
    STORE_ERRORS,
    CaptiveServices,
    captive_services_of,
    client_from_params,
    is_venue_id,
)
from portal.captive.config import PortalConfigStore
from portal.captive.gateways import (
    BY_NAME,
    ContextSealer,
    GatewayContext,
    GatewayError,
    OpenNDS,
    parse_redirect,
    safe_destination,
)
from portal.captive.landing import landing_page, locate_with_app
from portal.captive.lane import ProbeLane
from portal.captive.probe_state import ProbeStateStore
from portal.captive.probes import is_captive_browser
from portal.captive.sessions import SessionStore
from portal.demo import demo_mode_for
from portal.services import services
from portal.shopper import Shopper, current_shopper, new_shopper, shopper_token, token_store

log = logging.getLogger(__name__)
bp = Blueprint("captive", __name__)

__all__ = ["ProbeLane", "bp", "captive_services", "init_captive"]


def captive_services() -> CaptiveServices:
    return captive_services_of(current_app)


def init_captive(app: Flask) -> None:
    """The portal's stores and views. The OS probes are answered by ProbeLane (portal/captive/lane.py),
    which the app factory puts in front of Flask."""
    core = app.extensions["mallportal"]
    fast_db = connect(core.settings.redis_url, socket_timeout=0.08)
    app.extensions["captive"] = CaptiveServices(
        sessions=SessionStore(fast_db), config=PortalConfigStore(fast_db),
        sealer=ContextSealer(core.settings.secret_key), probe_state=ProbeStateStore(fast_db, core.locator),
        db=fast_db)
    app.register_blueprint(bp)
    app.cli.add_command(portal_config)
    app.jinja_env.globals["in_captive_browser"] = lambda: is_captive_browser(request.headers.get("User-Agent", ""))


# ---- who is this, and where do they go ---------------------------------------------------------


def venue_param() -> str:
    venue = request.args.get("venue") or services().settings.default_venue
    if not is_venue_id(venue):
        abort(400, "venue: not a venue id")
    return venue


def check_query_size() -> None:
    """Portal URLs come from gateways: a tighter limit than the app-wide one (portal/errors.py
    QueryStringGuard, which also refuses query strings that are not UTF-8)."""
    if len(request.query_string) > MAX_QUERY_BYTES:
        abort(414, "query string too long")


def zone_landing(venue: str, client: str | None, token: str, external: bool = False) -> str:
    """The light app of the client's zone, else the mall home (portal/captive/landing.py)."""
    position, app_name = locate_with_app(services(), venue, client) if client else (None, None)
    endpoint, values = landing_page(venue, position, app_name)
    return url_for(endpoint, **values, c=token, _external=external)


def redirect_no_store(target: str) -> Response:
    """A 302 no cache keeps: the next visit must get a fresh answer."""
    resp = redirect(target, code=302)
    resp.headers.update(NO_STORE)
    return resp


def fail_open(venue: str, exc: Exception, ctx: GatewayContext | None = None) -> Response:
    log.error("store unavailable for venue %s, failing open: %s", venue, exc)
    sealed = captive_services().sealer.seal(ctx).decode() if ctx else ""
    return Response(render_template("captive/offline.html", venue=venue, sealed=sealed), status=200, headers=NO_STORE)


@bp.get("/")
def root():
    """The portal's own root (a probe host's root is the probe lane's): the mall home."""
    return redirect(url_for("directory.home", venue=services().settings.default_venue))


# ---- the gateway's redirect and the grant ---------------------------------------------------------


@bp.get("/portal")
@bp.get("/guest/s/<site>/")
def portal_entry(site: str | None = None):
    """The URL a gateway sends the shopper's browser to, with its parameters."""
    check_query_size()
    venue = venue_param()
    cs = captive_services()
    try:
        config = cs.config.get(venue)
    except STORE_ERRORS as exc:
        config = PortalConfigStore.defaults()
        return fail_open(venue, exc, _parse_or_none(config))
    ctx = _parse(config)
    # A MAC or IP in a redirect anyone can forge only locates the phone; it is trusted (and the IP table
    # learns from it) only when the gateway vouched for it. The token is always a new shopper's.
    client = client_from_params(services().hasher, {"mac": ctx.client_mac})  # None if missing or malformed
    try:
        verified = (ctx.verified or demo_mode_for(venue)) and client is not None
        if client is None:
            client = cs.sessions.client_for_ip(venue, request.remote_addr)
            verified = client is not None
        shopper = new_shopper(venue, client, phone_verified=verified)
        if ctx.verified and ctx.client_ip and client:
            cs.sessions.remember_ip(venue, ctx.client_ip, client)
        cs.sessions.save_gateway_context(venue, shopper.client, cs.sealer.seal(ctx))
        target = zone_landing(venue, client, token_store().mint(shopper, handout=True))
    except STORE_ERRORS as exc:
        return fail_open(venue, exc, ctx)
    return redirect_no_store(target)


def _request_url() -> str:
    """The URL as the gateway built it (CoovaChilli signs it byte for byte)."""
    return request.base_url + "?" + request.query_string.decode("utf-8", "replace")


def _parse(config: dict[str, str]) -> GatewayContext:
    try:
        ctx = parse_redirect(request.args, _request_url(), config)
    except GatewayError as exc:
        abort(exc.status, f"{exc.field}: {exc.message}")
    ctx.destination = safe_destination(ctx.destination, (request.host,))
    return ctx


def _parse_or_none(config: dict[str, str]) -> GatewayContext | None:
    try:
        return _parse(config)
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
        abort(400, "c: missing or invalid shopper token")
    venue = shopper.venue
    try:
        config = cs.config.get(venue)
        raw = cs.sessions.gateway_context(venue, shopper.client)
        ctx = cs.sealer.open(raw) if raw else GatewayContext(gateway="direct")
        seconds = int(config["session_minutes"]) * 60
        cs.sessions.grant(venue, _session_client(shopper), seconds, ctx.gateway)
        if ctx.gateway == "opennds" and ctx.grant.get("level", 0) >= 3:
            rhid = ctx.grant["rhid"]
            cs.db.hset(AuthmonKeys(venue).pending(), rhid, OpenNDS.authmon_entry(rhid, seconds))
    except GatewayError as exc:
        abort(exc.status, exc.message)
    except STORE_ERRORS as exc:
        return fail_open(venue, exc)
    destination = ctx.destination or url_for("captive.status", c=shopper_token(shopper), _external=True)
    return _hand_back(ctx, seconds, destination, config)


def _session_client(shopper: Shopper) -> str:
    """Access sessions belong to the phone (the probes ask by its MAC or IP), else to the shopper."""
    return shopper.phone or shopper.client


def _hand_back(ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str]):
    try:
        grant = BY_NAME[ctx.gateway].grant(ctx, seconds, destination, config)
    except GatewayError as exc:
        log.error("grant through %s failed: %s", ctx.gateway, exc)
        abort(exc.status, exc.message)
    if grant.redirect_to:
        return redirect(grant.redirect_to, code=303)
    return render_template("captive/grant_form.html", action=grant.form_action, fields=grant.form_fields)


def _grant_offline(sealed: str):
    cs = captive_services()
    try:
        ctx = cs.sealer.open(sealed)
    except GatewayError as exc:
        abort(400, exc.message)
    config = PortalConfigStore.defaults()
    seconds = int(config["session_minutes"]) * 60
    return _hand_back(ctx, seconds, ctx.destination or url_for("captive.offline", _external=True), config)


@bp.get("/portal/status")
def status():
    shopper = current_shopper()
    if shopper is None:
        abort(400, "c: missing or invalid shopper token")
    cs = captive_services()
    session = cs.sessions.get(shopper.venue, _session_client(shopper))
    config = cs.config.get(shopper.venue)
    can_extend = session is not None and session.extensions < int(config["max_extensions"])
    return render_template("captive/status.html", session=session, can_extend=can_extend, venue=shopper.venue,
                           token=shopper_token(shopper))


@bp.post("/portal/extend")
def extend():
    shopper = current_shopper()
    if shopper is None:
        abort(400, "c: missing or invalid shopper token")
    cs = captive_services()
    config = cs.config.get(shopper.venue)
    try:
        session = cs.sessions.extend(shopper.venue, _session_client(shopper), int(config["session_minutes"]) * 60,
                                     int(config["max_extensions"]))
    except LookupError as exc:
        abort(409, str(exc))
    if session is None:
        abort(409, "there is no active session to extend")
    return redirect(url_for("captive.status", c=shopper_token(shopper)), code=303)


@bp.get("/offline")
def offline():
    """The fail-open page: rendered without touching the store."""
    return Response(render_template("captive/offline.html", venue=request.args.get("venue", "")[:64], sealed=""),
                    headers=NO_STORE)


# ---- RFC 8908 Captive Portal API ------------------------------------------------------------------


def _capport_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="capport")


def capport_url(shopper: Shopper) -> str:
    """The per-client API URI (RFC 8908 section 4: distinct per client where the server cannot see the
    enforcement device's identifier)."""
    token = _capport_serializer().dumps([shopper.venue, _session_client(shopper)])
    return url_for("captive.capport_client", token=token, _external=True)


@bp.get("/capport/api")
def capport_by_ip():
    """For DHCP option 114 / RA option 37 with one URI for everyone: the client is the requester's IP."""
    venue = venue_param()
    client = captive_services().sessions.client_for_ip(venue, request.remote_addr)
    return _capport_answer(venue, client)


@bp.get("/capport/api/<token>")
def capport_client(token: str):
    try:
        venue, client = _capport_serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return _capport_json({"error": "unknown client"}, 404)
    return _capport_answer(venue, client)


def _capport_answer(venue: str, client: str | None) -> Response:
    try:
        token = shopper_token(new_shopper(venue, client, phone_verified=True))  # the IP table or our own URI
        session = captive_services().sessions.get(venue, client) if client else None
        config = captive_services().config.get(venue)
        venue_info = zone_landing(venue, client, token, external=True)
    except STORE_ERRORS as exc:
        log.error("capport: store unavailable: %s", exc)
        return _capport_json({"captive": True, "user-portal-url": url_for("captive.offline", venue=venue,
                                                                         _external=True)}, 200)
    body: dict = {"captive": session is None,
                  "user-portal-url": url_for("captive.portal_entry", venue=venue, _external=True),
                  "venue-info-url": venue_info}
    if session is not None:
        body["seconds-remaining"] = session.seconds_remaining()
        body["can-extend-session"] = session.extensions < int(config["max_extensions"])
    return _capport_json(body, 200)


def _capport_json(body: dict, status: int) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/captive+json; charset=utf-8",
                    headers={"Cache-Control": "private, no-store"})


# ---- openNDS authmon (fas_secure_enabled 3 and 4) ---------------------------------------------------


class AuthmonKeys(VenueKeys):
    def pending(self) -> str:
        return self.key("opennds", "authlist")


@bp.post("/opennds/authmon/<venue>")
def opennds_authmon(venue: str):
    """openNDS's authmon polls here (POST auth_get, gatewayhash, payload) for clients to authenticate;
    answers '*' then the url-encoded entries, and drops the entries it acknowledges."""
    cs = captive_services()
    config = cs.config.get(venue)
    expected = OpenNDS.gateway_hash(config["opennds_gatewayname"], config["opennds_faskey"])
    given = request.form.get("gatewayhash", "")
    if not config["opennds_faskey"] or not secrets.compare_digest(given.encode(), expected.encode()):
        return Response("ERROR: gatewayhash does not match this venue\n", status=403, content_type="text/plain")
    action = request.form.get("auth_get", "view")
    key = AuthmonKeys(venue).pending()
    payload = request.form.get("payload", "none")
    if action == "clear":
        cs.db.delete(key)
        return Response("*", content_type="text/plain")
    if action not in ("view", "list"):
        return Response(f"ERROR: unknown auth_get {action[:20]!r}\n", status=400, content_type="text/plain")
    if action == "view" and payload not in ("none", "*", ""):
        acked = [rhid for rhid in _decode_payload(payload).split() if rhid != "*"]
        if acked:
            cs.db.hdel(key, *acked)
        return Response("ack", content_type="text/plain")
    entries = [v.decode() for v in cs.db.hvals(key)]
    if action == "list":
        cs.db.delete(key)
    return Response("* " + " ".join(entries), content_type="text/plain")


def _decode_payload(payload: str) -> str:
    if payload.startswith("*"):
        return payload
    try:
        return base64.b64decode(payload, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return payload
