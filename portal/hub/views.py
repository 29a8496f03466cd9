"""The hub's pages: Me (`/v/<venue>/me`), the privacy notice and choices (`/v/<venue>/privacy`), the keep
link (`/v/<venue>/keep`); and the template globals every shopper page's header uses.

Me shows only the bearer's own things: the shopper comes from the request's token (`c`, or the venue's cookie
`mp_c_<venue>` of a real browser); a request without one gets an empty Me for a new shopper, never anyone's data.

A browser that keeps a shopper and is then handed another by a keep link (today's sign-in sheet's, in a browser
that kept Monday's) keeps the earlier token too, in `mp_e` (EARLIER_COOKIE: sent to that venue's pages only, a
few tokens): Me lists the earlier shoppers' things under "Kept earlier in this browser", each link carrying the
earlier token. Nothing is lost, and each shopper's things are still reached only by a secret the browser holds.
What Me lists as hers her export shows and her erasure erases (`earlier_shoppers`, portal/events/mydata.py)."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode, urlsplit

import redis
from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from core.settings import yes_or_no
from portal.apps import registry
from portal.apps.locale import request_venue
from portal.apps.mine import MyItem, MySection, collect_mine
from portal.apps.views import is_zh, lang_arg, venue_or_404
from portal.captive.probes import is_captive_browser
from portal.consent import KEEP_S, NOTICE_VERSION, Consent
from portal.demo import demo_mode_for, venue_arg
from portal.errors import store_fault_page
from portal.hub.keep import CODE_TTL_S, KeepStore, new_nonce, well_formed
from portal.payments.store import ORDER_KEEP_MS
from portal.services import services
from portal.shopper import (
    MAX_TOKEN_LENGTH,
    Shopper,
    cookie_token,
    current_shopper,
    current_shopper_token,
    from_own_origin,
    her_phones,
    is_preview_shopper,
    keep_shopper_in_cookie,
    set_shopper_cookie,
    shopper_for_venue,
    shopper_token,
    shopper_url,
    token_store,
)

bp = Blueprint("hub", __name__, url_prefix="/v/<venue>")

HOME_ENDPOINT = "directory.home"  # the mall home (the default app's page, as the probe lane's fallback)
NOT_SHOPPER_PAGES = ("/console", "/api/", "/demo", "/static")
MAX_NEXT = 500
EARLIER_COOKIE = "mp_e"
MAX_EARLIER = 3  # earlier shoppers a browser keeps per venue: Me collects each one's things
EARLIER_SEP = "~"  # in no token (`<venue>.<URL-safe base64>`) and sent unquoted in a cookie
NONCE_COOKIE = "mp_k"  # the confirm page's nonce, so that a reload of the page hands out the same (`_page_nonce`)


def _keep_store() -> KeepStore:
    return current_app.extensions["hub_keep"]


# ---- Me ------------------------------------------------------------------------------------------


@bp.get("/me")
def me(venue: str):
    venue_map = venue_or_404(venue)
    shopper = shopper_for_venue(venue)
    keep_shopper_in_cookie()  # a real browser that opened Me keeps its shopper
    sections = collect_mine(registry.all_apps(), venue, shopper)
    kept = _kept_in_this_browser(venue)
    earlier = [SimpleNamespace(token=token, sections=held) for who, token in earlier_shoppers(venue, shopper.client)
               if (held := _held_sections(venue, who))]
    # A shopper new in this request (no token of this venue: a bookmark, a bot) has nothing to keep yet, and
    # an anonymous GET stores nothing (portal/shopper.py): no code, a link to Me with the page's token instead,
    # which issues one once that token is used.
    fresh = g.get("new_shopper") is shopper
    return render_template("hub/me.html", venue=venue_map, sections=sections, consent=_consent_of(shopper),
                           kept=kept, keep_later=fresh and not kept, earlier=earlier,
                           keep_url=None if kept or fresh else keep_url(shopper))


def _held_sections(venue: str, shopper: Shopper) -> list[MySection]:
    """Me's sections of an earlier shopper: her things only (not the ways in, "Become a member"), or the apps that
    could not say."""
    sections = (replace(s, items=tuple(i for i in s.items if i.held))
                for s in collect_mine(registry.all_apps(), venue, shopper))
    return [section for section in sections if section.items or section.failed]


def _kept_in_this_browser(venue: str) -> bool:
    """This browser keeps the shopper: its cookie of the venue holds this request's token. Never in a captive sign-in
    sheet: the sheet takes the cookie too, but drops it when it closes (and Android's closes by itself once
    the network validates), so there the keep link is always offered."""
    if is_captive_browser(request.headers.get("User-Agent", "")):
        return False
    return bool(g.get("shopper_token")) and cookie_token(venue) == g.shopper_token


def item_url(item: MyItem, token: str | None = None) -> str:
    """The app page showing one of the shopper's things, with the shopper's token and language; `token`: an earlier
    shopper's this browser holds (Me's "kept earlier"), not the page's."""
    return shopper_url(item.endpoint, **{**item.values, **lang_arg(), **({"c": token} if token else {})})


def _earlier_tokens(venue: str) -> list[str]:
    """The earlier tokens this browser sent for this venue (outside input: a few of this venue's only)."""
    raw = request.cookies.get(EARLIER_COOKIE, "")[: MAX_EARLIER * (MAX_TOKEN_LENGTH + 1)]
    return [token for token in raw.split(EARLIER_SEP) if token.startswith(venue + ".")][:MAX_EARLIER]


def earlier_shoppers(venue: str, current: str | None) -> list[tuple[Shopper, str]]:
    """The shoppers this browser kept earlier in this venue (`EARLIER_COOKIE`), with their tokens, never `current`:
    Me lists their things as hers, so her export shows them and her erasure erases them (portal/events/mydata.py)."""
    return _earlier(venue, current, _earlier_tokens(venue))


def forget_earlier(response: Response, venue: str) -> None:
    """This browser keeps no earlier shopper of the venue any more (they were erased)."""
    if EARLIER_COOKIE in request.cookies:
        response.delete_cookie(EARLIER_COOKIE, path=_venue_path(venue))


def _venue_path(venue: str) -> str:
    """The path of the venue's pages: its cookies are sent to those only."""
    return url_for("hub.me", venue=venue).rsplit("/", 1)[0]


def _earlier(venue: str, current: str | None, tokens: list[str | None]) -> list[tuple[Shopper, str]]:
    """The live shoppers of this venue these tokens stand for, with their tokens: each once, never `current` (the
    page's shopper) nor a preview."""
    seen, found = {current}, []
    for token in tokens:
        who = token_store().resolve(token) if token else None
        if who is not None and who.venue == venue and who.client not in seen and not is_preview_shopper(who):
            seen.add(who.client)
            found.append((who, token))
    return found


def _keep_earlier(response: Response, venue: str, kept: str) -> None:
    """The shopper this browser kept until now goes first on its earlier list (`EARLIER_COOKIE`), so keeping
    another (`kept`) loses nothing; the list drops `kept` itself, and tokens that no longer open anyone. A token a
    probe or a page handed out is listed as a minted one of its shopper: in a link, a handed-out token gives way to
    the cookie's shopper (current_shopper), so it would open today's shopper, not hers."""
    tokens = [token_store().mint(who) if who.handout else token for who, token in
              _earlier(venue, kept, [cookie_token(venue), *_earlier_tokens(venue)])]
    value, path = EARLIER_SEP.join(tokens[:MAX_EARLIER]), _venue_path(venue)
    if value == request.cookies.get(EARLIER_COOKIE, ""):
        return
    if not value:
        response.delete_cookie(EARLIER_COOKIE, path=path)
        return
    set_shopper_cookie(response, EARLIER_COOKIE, value, token_store().ttl_s, path)


def keep_url(shopper: Shopper) -> str | None:
    """The one-time link that opens this shopper in the phone's real browser (absolute on PORTAL_URL)."""
    try:
        # The phone only from the token the gateway's redirect or probe handed out (the sign-in sheet's): a browser
        # a keep code opened is not seen by the gateway, so its own keep codes hand on no phone (no chain of
        # browsers each vouched for a phone none of them was seen on)
        code = _keep_store().issue(shopper.venue, shopper.client, shopper.own_phone if shopper.handout else None)
    except redis.RedisError:
        return None
    # the language she chose goes along: the real browser has no cookie of it, so Me would speak the browser's
    path = url_for("hub.keep", venue=shopper.venue, k=code, **lang_arg())
    base = services().settings.portal_url
    return base + path if base else url_for("hub.keep", venue=shopper.venue, k=code, _external=True, **lang_arg())


def current_keep_url() -> str | None:
    """The keep link for this page's shopper (the "you are online" page offers it)."""
    shopper = current_shopper()
    return keep_url(shopper) if shopper is not None else None


def _keep_code(source) -> str:
    """The keep code of a GET (?k=) or the confirm form (k): 400 when it is missing or not one we hand out."""
    code = source.get("k", "")
    if not code:
        abort(400, _("This link is incomplete: the code at its end is missing. "
                     "Copy the whole link, or open Me on the mall's WiFi page to get a new one."))
    if not well_formed(code):
        abort(400, _("This link is damaged. Copy the whole link, or open Me on the mall's WiFi page to get a new one."))
    return code


def _used_or_expired() -> None:
    abort(404, _("This link has already been used or has expired. "
                 "Open Me on the mall's WiFi page to get a new one."))


@bp.get("/keep")
def keep(venue: str):
    """The keep link opened: a page asking to keep the shopper in this browser. Nothing is spent here (a
    sign-in sheet that follows the link in place, or a link preview, leaves the code usable); its button
    POSTs the code to `redeem_keep`, with the page's nonce: only a POST carrying it repeats (KeepStore.redeem)."""
    venue_map = venue_or_404(venue)
    code, nonce = _keep_code(request.args), _page_nonce()
    try:
        kept = _keep_store().peek(venue, code, nonce)
        if kept is None:
            _used_or_expired()
        # this browser keeps another shopper of this venue (not the code's own: a reload after the tap)
        replaces = bool(_earlier(venue, kept.client, [cookie_token(venue)]))
    except redis.RedisError:
        replaces = False  # the form still works once the store is back; the POST answers for the code
    response = make_response(render_template("hub/keep.html", venue=venue_map, code=code, nonce=nonce,
                                             link=request.url, replaces=replaces))
    response.headers["Cache-Control"] = "no-store"
    if nonce != request.cookies.get(NONCE_COOKIE):
        set_shopper_cookie(response, NONCE_COOKIE, nonce, CODE_TTL_S, url_for("hub.keep", venue=venue))
    return response


def _page_nonce() -> str:
    """The confirm page's nonce: the one this browser was handed before (`NONCE_COOKIE`), so that a reload after an
    answer lost on the way still repeats, else a new one."""
    kept = request.cookies.get(NONCE_COOKIE, "")
    return kept if well_formed(kept) else new_nonce()


@bp.post("/keep")
def redeem_keep(venue: str):
    """Redeem a keep code (once; a repeat moments later carrying the confirm page's nonce `n` gets the same answer:
    KeepStore.redeem): a new token for its shopper, kept in this browser's cookie, the shopper it kept before on its
    earlier list (`_keep_earlier`); on to Me, with no secret left in the address bar. The code is no secret from the
    page that posts it: another page can hold a keep code of its own shopper's, and posting it would plant that
    shopper in this browser (the victim's phone then linked to the attacker's Me). So the POST must come from the
    portal's own page (`from_own_origin`: Sec-Fetch-Site same-origin, or the portal's own Origin where a browser sends
    no Fetch Metadata)."""
    venue_or_404(venue)
    if not from_own_origin():
        abort(403, _("Open the link yourself and tap the button on its page."))
    code = _keep_code(request.form)
    kept = _keep_store().redeem(venue, code, request.form.get("n", ""))
    if kept is None:
        _used_or_expired()
    # the phone the sign-in sheet's token was vouched for (the code carries it): this browser is on that phone
    shopper = Shopper(venue=venue, client=kept.client, phone=kept.phone, phone_verified=kept.phone is not None)
    response = redirect(url_for("hub.me", venue=venue, **lang_arg()), code=303)
    _keep_earlier(response, venue, kept.client)
    g.shopper, g.shopper_token = shopper, token_store().mint(shopper)
    keep_shopper_in_cookie()
    return response


# ---- privacy notice and consent ---------------------------------------------------------------------


def _consent_of(shopper: Shopper | None) -> Consent | None:
    if shopper is None:
        return None
    return services().consent.get(shopper.venue, shopper.client)


@bp.get("/privacy")
def privacy(venue: str):
    venue_map = venue_or_404(venue)
    shopper = shopper_for_venue(venue)
    return render_template("hub/privacy.html", venue=venue_map, consent=_consent_of(shopper),
                           next=_safe_next(request.args.get("next", "")), notice_version=NOTICE_VERSION,
                           kept=_kept_days(venue))


def _kept_days(venue: str) -> SimpleNamespace:
    """How long each kind of data is kept, as the notice tells it: the venue's retention setting for its events
    (portal/events/privacy.py), the footfall roll-up's setting, the payments' and the consent record's own."""
    svc = services()
    return SimpleNamespace(**svc.privacy.retention(venue), counts=svc.settings.footfall_daily_days,
                           payments=ORDER_KEEP_MS // 86_400_000, choices=KEEP_S // 86_400)


@bp.post("/privacy")
def save_privacy(venue: str):
    """Record the shopper's two separate choices (unticked boxes mean no), then back where they were."""
    venue_or_404(venue)
    shopper = current_shopper()
    if shopper is None or shopper.venue != venue:
        abort(400, _("Your session has expired. Please open the page again from the mall's WiFi."))
    # her verified phones (this token's, and those of her other tokens) follow her location answer: a phone whose
    # shopper declined is not placed by its probe nor tracked (portal/consent.py)
    services().consent.record(venue, shopper.client, location=_ticked("location"), marketing=_ticked("marketing"),
                              phones=her_phones(shopper))
    return redirect(_back_to(request.form.get("next", ""), venue, shopper), code=303)


def _ticked(name: str) -> bool:
    return yes_or_no(request.form.get(name)) is True


def _safe_next(raw: str) -> str:
    """A path of this site only (the form sends it back; _back_to rebuilds it with url_for)."""
    path = urlsplit(raw[:MAX_NEXT]).path
    return path if path.startswith("/") and not path.startswith("//") else ""


def _back_to(raw_next: str, venue: str, shopper: Shopper) -> str:
    """The shopper page the notice was answered on, rebuilt with url_for from the URL map (never a URL
    taken from the request): a GET page of the same venue, else Me."""
    token = shopper_token(shopper)
    path = _safe_next(raw_next)
    if path:
        try:
            endpoint, values = current_app.url_map.bind("portal").match(path, method="GET")
        except HTTPException:
            endpoint, values = None, {}
        if endpoint and values.get("venue") == venue and endpoint not in ("hub.keep", "hub.privacy"):
            return url_for(endpoint, **values, c=token, **lang_arg())
    return url_for("hub.me", venue=venue, c=token, **lang_arg())


# ---- what every shopper page's header and footer use -------------------------------------------------


def hub_venue() -> str | None:
    """The venue whose hub this page shows (None on consoles, APIs, the demo and the captive pages that
    name no venue)."""
    if request.path.startswith(NOT_SHOPPER_PAGES):
        return None
    if "hub_venue" not in g:
        try:
            g.hub_venue = request_venue()
        except redis.RedisError:
            g.hub_venue = None
    return g.hub_venue


def consent_needed() -> bool:
    """Show the privacy notice: a shopper of this venue who has not answered the current notice. A store
    error shows no notice (fail open: the page itself still works)."""
    if store_fault_page():  # the 503 page of a store fault must not wait for the store again
        return False
    venue = hub_venue()
    shopper = current_shopper() if venue else None
    if shopper is None or shopper.venue != venue or request.endpoint in ("hub.privacy", "hub.save_privacy"):
        return False
    try:
        consent = _consent_of(shopper)
    except redis.RedisError:
        return False
    return consent is None or not consent.current


def hub_links() -> dict[str, str] | None:
    """The header's Home / Search / Me links for this page's venue, and its name in the page's language for the
    header's brand (None where no venue's hub applies)."""
    venue = hub_venue()
    if not venue:
        return None
    try:
        # the name only while the store may be asked: the 503 page of an outage must not wait for it
        store_down = services().breaker.is_open or store_fault_page()
        venue_map = None if store_down else services().venues.get_map(venue)
        links = {"me": shopper_url("hub.me", venue=venue, **lang_arg()),
                 "name": venue_map.label(is_zh()) if venue_map else ""}
        if HOME_ENDPOINT in current_app.view_functions:
            links["home"] = shopper_url(HOME_ENDPOINT, venue=venue, **lang_arg())
            links["search"] = links["home"] + "#q"
    except redis.RedisError:  # the 503 page itself: no hub rather than a second error
        return None
    return links


def demo_back_url() -> str | None:
    """On a demo venue's shopper pages in demo mode: the way back to /demo (a first-time visitor came
    from there and has no other way back once the portal page opened)."""
    venue = hub_venue()
    if services().breaker.is_open or store_fault_page():  # the store is down: the 503 page must not wait for it
        return None
    try:
        return url_for("demo.page", **venue_arg(venue)) if venue and demo_mode_for(venue) else None
    except redis.RedisError:
        return None


def here() -> str:
    """This page's path, for the notice form to come back to (GET pages only; else Me)."""
    return request.path if request.method == "GET" else ""


def venue_apps(venue: str) -> list[dict[str, Any]]:
    """The mall home's list: every app the venue runs somewhere, each with its zones (the directory and
    navigation are the home and its search themselves, so they are not listed)."""
    venue_map = services().venues.get_map(venue)
    if venue_map is None:
        return []
    zh = is_zh()
    by_app: dict[str, list[dict[str, str]]] = {}
    for zone_id, (app_name, _config) in sorted(services().zone_apps.all(venue).items()):
        app, zone = registry.get(app_name), venue_map.zone(zone_id)
        if app is None or zone is None or app_name in ("directory", "navigation"):
            continue
        try:
            floor = venue_map.floor(zone.floor).label(zh)
        except KeyError:
            floor = ""
        by_app.setdefault(app_name, []).append({
            "name": zone.label(zh), "floor": floor,
            "url": shopper_url(app.landing_endpoint, venue=venue, zone=zone_id, **lang_arg())})
    return [{"name": name, "title": registry.get(name).title_zh if zh else registry.get(name).title_en,
             "zones": zones} for name, zones in sorted(by_app.items())]


def init_hub(app: Flask) -> None:
    app.extensions["hub_keep"] = KeepStore(app.extensions["mallportal"].db, app.config["SECRET_KEY"])
    app.jinja_env.globals.update(hub_links=hub_links, consent_needed=consent_needed, hub_venue=hub_venue,
                                 hub_here=here, venue_apps=venue_apps,
                                 lang_url=lang_url, lang_arg=lang_arg,
                                 item_url=item_url, demo_back_url=demo_back_url,
                                 hub_keep_url=current_keep_url)


def lang_url(lang: str) -> str:
    """The language switch: always a GET URL that keeps the shopper's `c`. On a GET page, this page in the
    other language; after a POST (a form shown again with an error) the same path when it answers GET,
    else the venue's home."""
    try:
        token = current_shopper_token()
    except redis.RedisError:
        token = ""
    if request.method == "GET":
        pairs = [(k, v) for k, v in request.args.items(multi=True) if k not in ("lang", "c")]
        if token:  # also a token minted for this page (an anonymous shopper's first view), not in the query
            pairs.append(("c", token))
        return request.path + "?" + urlencode([*pairs, ("lang", lang)])
    values: dict[str, str] = {"lang": lang}
    if token:
        values["c"] = token
    try:
        current_app.url_map.bind("portal").match(request.path, method="GET")
        return request.path + "?" + urlencode(values)
    except HTTPException:
        pass
    venue = hub_venue()
    if venue and HOME_ENDPOINT in current_app.view_functions:
        return url_for(HOME_ENDPOINT, venue=venue, **values)
    return url_for("captive.root", lang=lang)
