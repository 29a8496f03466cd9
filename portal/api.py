"""Partner API: RSSI reports in, one URL per feed format.

    POST /api/v1/venues/<venue>/reports                native JSON             bearer token
    POST /api/v1/venues/<venue>/openwrt                hostapd events (relay)  bearer token
    POST /api/v1/venues/<venue>/find3/passive          FIND3 passive scanner   bearer, or basic-auth password
    GET  /api/v1/venues/<venue>/meraki/<network>       Meraki validator handshake
    POST /api/v1/venues/<venue>/meraki/<network>       Meraki Scanning API v2/v3  `secret` in the body (wrong ones
                                                                                   spend an abuse budget)
    POST /api/v1/venues/<venue>/mist/<webhook>         Juniper Mist webhook (raw RSSI topics)  HMAC signature

Tokens, Meraki secrets and Mist webhook secrets belong to one venue, so a source can report only into its own venue.
A token reaches only the APIs of its scopes (portal/ingest/tokens.py): these feeds need `ingest`, a light app's
API the scope it declares with `api_scope`.
Every request is validated whole before anything is stored; a bad one gets a 4xx JSON
{"error": ..., "field": ...} naming the field, and stores nothing."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import weakref
from collections.abc import Callable

import redis
from flask import Blueprint, Response, after_this_request, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from fingerprints.model import normalise_bssid
from portal.apps.budgets import OverBudget, budget_room, client_ip, spend_budget
from portal.errors import AUTH_REALM, BEARER_CHALLENGE, ROOT, ApiError, record_store_failure
from portal.ingest.find3 import parse_find3
from portal.ingest.health import IngestHealth
from portal.ingest.meraki import MerakiNetwork, MerakiStore, parse_meraki
from portal.ingest.mist import MistStore, parse_mist
from portal.ingest.native import native_batch
from portal.ingest.observation import Batch, ClientIds, Limits, ReportError, client_ids
from portal.ingest.openwrt import parse_openwrt
from portal.ingest.tokens import INGEST, declare_scope
from portal.services import services

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api/v1")


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def source_token(allow_basic: bool = False) -> str:
    """The bearer token; where allowed, the password of HTTP basic auth instead (for clients that
    can only be given a URL such as https://scanner:TOKEN@host/..., which keeps it out of access logs)."""
    token = bearer_token()
    if not token and allow_basic:
        auth = request.authorization
        if auth is not None and auth.type == "basic":
            token = auth.password or ""
    return token


def require_venue(venue: str) -> None:
    """404 for a venue that does not exist. Only after the caller proved who it is (its token, its signature):
    answered to anyone, it would confirm the venue names of the malls to a stranger."""
    if not services().venues.exists(venue):
        raise ApiError(404, f"unknown venue {venue!r}")


def api_scope(name: str) -> str:
    """A machine API's scope, declared once at import (`SCOPE = api_scope("parking")` in a light app's
    api.py): tokens can then be issued for it (`issue-token --scope`). The platform knows no app's name."""
    return declare_scope(name)


def require_venue_source(venue: str, scope: str, *, allow_basic: bool = False) -> str:
    """The label of the source owning the bearer token in this venue: 401 for no token or one this venue
    does not know (a token of another venue is simply unknown here, so a source can reach only its own
    venue), whether or not the venue exists: the token is checked first, so a caller without one learns no
    venue's name; 403 for a token without `scope`, so a report source's token cannot call a POS API."""
    source = services().tokens.source_for(venue, source_token(allow_basic), used_for=scope)
    if source is None:
        raise ApiError(401, "missing or invalid bearer token for this venue",
                       headers=token_challenges(allow_basic))
    if not source.allows(scope):
        raise ApiError(403, f"this token lacks the {scope!r} scope this API needs; issue the system a token with "
                            f"`python -m portal flask issue-token {venue} <label> --scope {scope}`", "Authorization",
                       headers=[("WWW-Authenticate", f'{BEARER_CHALLENGE}, error="insufficient_scope", '
                                                     f'scope="{scope}"')])
    require_venue(venue)  # a token names an existing venue, unless the venue was removed since
    return source.label


def token_challenges(allow_basic: bool = False) -> list[tuple[str, str]]:
    """A 401's WWW-Authenticate challenges, one header each (clients parse one challenge a header more
    reliably than a list): Bearer, with RFC 6750's invalid_token when a bearer token was sent (none when the
    request carried no credentials: "SHOULD NOT include an error code"); Basic too where the password of
    HTTP basic auth is taken, as on FIND3's URL."""
    bearer = BEARER_CHALLENGE + (', error="invalid_token"' if bearer_token() else "")
    challenges = [("WWW-Authenticate", bearer)]
    if allow_basic:
        challenges.append(("WWW-Authenticate", f'Basic realm="{AUTH_REALM}", charset="UTF-8"'))
    return challenges


def raw_body(limit: int | None = None) -> bytes:
    """The body's bytes; 413 over `limit` (default: the app's MAX_CONTENT_LENGTH), the one reader of every
    ingest endpoint's body. With a Content-Length, Werkzeug refuses a body over the limit; a streamed
    (chunked) body it only cuts short at `max_content_length`, which would read as a truncated body. So one
    byte more than the limit is read: getting it means the body is over the limit."""
    if limit is None:
        limit = current_app.config["MAX_CONTENT_LENGTH"]
    if limit is not None:
        request.max_content_length = limit + 1  # Werkzeug's cut, one byte past ours
    try:
        data = request.get_data()
    except RequestEntityTooLarge:  # a Content-Length over the limit: nothing read
        data = None
    if data is None or (limit is not None and len(data) > limit):
        raise ApiError(413, f"body is larger than {limit} bytes", ROOT)
    return data


def json_body(*, strict_type: bool = True, limit: int | None = None) -> object:
    """The parsed JSON body. 415 for another content type (where strict), 413 over the body limit,
    400 for anything that is not JSON (malformed, truncated, not UTF-8, nested too deep)."""
    if strict_type and not request.is_json:
        raise ApiError(415, "body must be application/json", ROOT)
    return parse_json(raw_body(limit))


def parse_json(data: bytes) -> object:
    """A body's JSON; 400 for anything that is not JSON, or `null`."""
    try:
        payload = json.loads(data)
    except (ValueError, RecursionError):
        raise ApiError(400, "body is not valid JSON", ROOT) from None
    if payload is None:  # `null`: callers may count on a value (as with request.get_json)
        raise ApiError(400, "body must not be null", ROOT)
    return payload


def limits(max_observations: int | None = None) -> Limits:
    return Limits.of_settings(services().settings, time.time(), max_observations)


def ingest(venue: str, source: str, read: Callable[[], object],
           parse: Callable[[object, ClientIds, Limits], Batch], lim: Limits | None = None, status: int = 202):
    """Read, validate whole, store; count the request for the health view either way."""
    svc = services()
    lim = lim or limits()
    try:
        try:
            batch = parse(read(), client_ids(svc.hasher), lim)
        except ReportError as exc:
            raise ApiError(422, exc.message, exc.field) from None
    except ApiError:
        _count_rejected(venue, source, lim.now)
        raise
    svc.rssi.drop_stale(batch, lim.now)  # out of the window already: stale, not accepted
    extra = IngestHealth.accepted_commands(venue, source, len(batch), lim.now, stale=batch.stale,
                                           ignored=batch.ignored)
    try:
        stored = svc.rssi.write_batch(venue, batch, lim.now, extra)
    except redis.RedisError as exc:
        log.warning("storing %d readings for %s failed: %s", len(batch), venue, type(exc).__name__)
        record_store_failure(exc)
        raise ApiError(503, "the reading store is unavailable; retry later") from None
    skipped = {name: n for name, n in (("stale", batch.stale), ("ignored", batch.ignored)) if n}
    return jsonify({"accepted": stored, **skipped}), status


def _count_rejected(venue: str, source: str, now: float) -> None:
    with contextlib.suppress(redis.RedisError):  # the health counters never turn a 4xx into a 500
        IngestHealth(services().db).record_rejected(venue, source, now)


# ---- native ------------------------------------------------------------------------------------


@bp.post("/venues/<venue>/reports")
def post_reports(venue: str):
    source = require_venue_source(venue, INGEST)
    return ingest(venue, f"native:{source}", json_body, native_batch)


# ---- OpenWrt hostapd relay ---------------------------------------------------------------------


@bp.post("/venues/<venue>/openwrt")
def post_openwrt(venue: str):
    source = require_venue_source(venue, INGEST)
    return ingest(venue, f"openwrt:{source}", json_body, parse_openwrt)


# ---- FIND3 passive scanners --------------------------------------------------------------------

# Per venue store (i.e. per app), per venue: (map version, AP name -> BSSID).
_scanner_names: weakref.WeakKeyDictionary[object, dict[str, tuple[int, dict[str, str]]]] = weakref.WeakKeyDictionary()
_scanner_lock = threading.Lock()


def scanner_resolver(venue: str) -> Callable[[str], str | None]:
    """FIND3 names a scanner by its device name: a BSSID, or the name of an AP in the venue map
    (case-insensitive). The name table is cached per map version."""
    venues = services().venues
    version = venues.current_version(venue, fresh=True)  # the table is the process's, not this request's
    with _scanner_lock:
        per_venue = _scanner_names.setdefault(venues, {})
    cached = per_venue.get(venue)
    if cached is None or cached[0] != version:
        venue_map = venues.get_map(venue, version) if version else None
        names = {ap.name.strip().lower(): ap.bssid for ap in (venue_map.aps if venue_map else []) if ap.name}
        per_venue[venue] = cached = (version, names)
    names = cached[1]

    def resolve(device: str) -> str | None:
        try:
            return normalise_bssid(device)
        except ValueError:
            return names.get(device.strip().lower())

    return resolve


@bp.post("/venues/<venue>/find3/passive")
def post_find3(venue: str):
    after_this_request(find3_answer)  # every answer of this URL, its errors included
    source = require_venue_source(venue, INGEST, allow_basic=True)
    resolve = scanner_resolver(venue)
    return ingest(venue, f"find3:{source}", lambda: json_body(strict_type=False),
                  lambda payload, ids, lim: parse_find3(payload, ids, lim, resolve))


def find3_answer(response: Response) -> Response:
    """FIND3's scanner (find3-cli-scanner) decodes its server's {"success": bool, "message": str} and logs the
    message of a failure: our answer carries both beside its own fields, status codes unchanged."""
    body = response.get_json(silent=True)
    if not isinstance(body, dict):
        return response
    if response.status_code < 400:
        message = f"accepted {body.get('accepted', 0)} readings"
    else:
        message = f"{body['field']}: {body.get('error', '')}" if body.get("field") else str(body.get("error", ""))
    response.set_data(json.dumps({"success": response.status_code < 400, "message": message, **body}))
    return response


# ---- Cisco Meraki Scanning API -----------------------------------------------------------------


def meraki_network(venue: str, network: str) -> MerakiNetwork:
    """The network's configuration; 404 where there is none, the same answer for an unknown venue (the
    receiver URL is public: the validator GET answers anyone, so it must not tell which venues exist)."""
    config = MerakiStore(services().db).get(venue, network)
    if config is None:
        raise ApiError(404, f"no Meraki network {network!r} is configured for venue {venue!r}")
    return config


@bp.get("/venues/<venue>/meraki/<network>")
def meraki_validator(venue: str, network: str):
    """The handshake: Meraki GETs the receiver URL and expects the validator string as the body."""
    config = meraki_network(venue, network)
    return Response(config.validator, mimetype="text/plain")


# Wrong Meraki secrets are an abuse budget ("meraki.secret.ip" / ".network", core/settings.py DEFAULT_BUDGETS):
# the secret travels in the body, so every guess costs reading up to MAX_MERAKI_BYTES. Only a post that turns out
# not to carry the secret spends it, so Meraki's own uploads, however many are in flight, never do; a body is parsed
# only once its raw bytes name the secret (MerakiNetwork.secret_in), so a guess is never parsed.
MERAKI_SECRET = "meraki.secret"


@bp.post("/venues/<venue>/meraki/<network>")
def post_meraki(venue: str, network: str):
    config = meraki_network(venue, network)  # 404 for a network not configured: nothing counted
    settings = services().settings
    guesses = meraki_guess_scopes(venue, network)
    meraki_guess_room(venue, network, guesses)  # a spent budget answers 429 unread

    def read() -> object:  # in ingest(): a refused secret counts as the network's rejection, as a bad body does
        try:
            body = raw_body(settings.max_meraki_bytes)
        except ApiError:  # 413: too large to be a post of this network
            meraki_guess(venue, network, guesses)
            raise
        payload = parse_json(body) if config.secret_in(body) else None  # unparsed: a guess costs no parse
        if not isinstance(payload, dict) or not config.secret_matches(payload.get("secret")):  # not at the top
            meraki_guess(venue, network, guesses)
            raise ApiError(403, "wrong or missing Meraki secret for this network", "secret")
        return payload

    # BLE payloads are valid but hold no Wi-Fi readings: accepted, nothing stored.
    return ingest(venue, f"meraki:{network}", read,
                  lambda body, ids, lim: parse_meraki(body, ids, lim, config)[0],
                  limits(settings.max_meraki_observations))


def meraki_guess_room(venue: str, network: str, guesses: dict[str, str]) -> None:
    """429 where wrong secrets spent the budget, before the body is read; nothing spent (held while the body
    arrives, Meraki's concurrent uploads from one address would spend it as guesses do). Answered before
    ingest(), so counted here as the network's rejection."""
    try:
        meraki_guess(venue, network, guesses, spend=False)
    except ApiError:
        _count_rejected(venue, f"meraki:{network}", time.time())
        raise


def meraki_guess(venue: str, network: str, guesses: dict[str, str], spend: bool = True) -> None:
    """Spend one guess (`spend` False: only check there is room for one); over the budget a 429 worded for the
    integrator reading Meraki's delivery log (the budgets' own 429 speaks to a shopper)."""
    try:
        (spend_budget if spend else budget_room)(MERAKI_SECRET, venue, **guesses)
    except OverBudget as over:
        raise api_over_budget(over, "too many posts with a wrong secret for this Meraki network", "secret") from None


def api_over_budget(over: OverBudget, text: str, field: str | None = None) -> ApiError:
    """A machine API's 429 for a spent budget, worded for the program calling (the budgets' own 429 speaks to a
    shopper): `text`, then when to retry, with Retry-After and no caching. One wording for every API's budget. A cost
    beyond the budget's whole count (`Refusal.never`) is a 422 (403 for a budget set to 0, an action switched off)
    that says so instead of `text` (which tells of too many calls): no wait makes room."""
    refusal = over.refusal
    if not refusal.never:
        return api_retry_later(text, refusal.retry_after_s, field)
    if refusal.most:
        why = f"this asks for more than the budget {refusal.budget} holds ({refusal.most}), so no wait makes room"
    else:
        why = f"switched off for this venue (its budget {refusal.budget} is 0)"
    return ApiError(refusal.status, why, field, headers=[("Cache-Control", "no-store")])


def api_retry_later(text: str, wait_s: int, field: str | None = None) -> ApiError:
    """A machine API's 429: `text`, then when to retry, with Retry-After and no caching (a spent budget's, a
    token's calls still running)."""
    return ApiError(429, f"{text}; retry in {wait_s} seconds", field,
                    headers=[("Retry-After", str(wait_s)), ("Cache-Control", "no-store")])


def meraki_guess_scopes(venue: str, network: str) -> dict[str, str]:
    """Whose wrong secrets one post counts against: the network's, and the client address's (`address_key`) for
    this network. The address per network: Meraki's cloud posts every network from the same few addresses, so
    one network set up with a wrong secret must not spend the budget of the venue's other networks."""
    return {"ip": f"{network} {client_ip(venue)}", "network": network}


# ---- Juniper Mist webhooks ---------------------------------------------------------------------


@bp.post("/venues/<venue>/mist/<webhook>")
def post_mist(venue: str, webhook: str):
    """Mist checks for a 200 (its documentation: "Return a 200 status to indicate that the data was received")."""
    settings = services().settings
    hook = MistStore(services().db, settings.secret_key).get(venue, webhook)
    if hook is None:  # 404 for a webhook not configured, the same for an unknown venue: nothing counted
        raise ApiError(404, f"no Mist webhook {webhook!r} is configured for venue {venue!r}")

    def read() -> object:  # in ingest(): a refused signature counts as the webhook's rejection, as a bad body does
        body = raw_body(settings.max_mist_bytes)
        v2, v1 = request.headers.get("X-Mist-Signature-v2"), request.headers.get("X-Mist-Signature")
        if not hook.signed(body, v2, v1):
            header = "X-Mist-Signature-v2" if v2 is not None or v1 is None else "X-Mist-Signature"
            raise ApiError(403, f"missing or wrong {header} for this webhook", header)
        return parse_json(body)

    return ingest(venue, f"mist:{webhook}", read, parse_mist, limits(settings.max_mist_observations), status=200)
