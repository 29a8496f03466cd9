"""The zone-owner console.

    GET  /console/owner/<venue>/                the zones this account manages (owners: their zones only;
                                                operators: every zone of their venue)
    GET  /console/owner/<venue>/zone/<zone>     the zone: its landing app, the app picker (?app= shows the
                                                config form of another app), the config form generated
                                                from the app's schema, a preview, recent changes
    POST /console/owner/<venue>/zone/<zone>     save the zone's app and config (validated; audited; a save
                                                that changes nothing writes nothing; refused, nothing stored,
                                                while the running app's `in_use` hook names what shoppers
                                                would lose: 409 for a switch, 422 for a config); saved
                                                from a stale page, only the fields changed on it are
                                                written over what is saved now, and a field saved
                                                elsewhere meanwhile and changed here too is refused (409,
                                                portal/apps/edits.py)

Every view checks the account first (logged out: 302 to the login page; another venue or another
owner's zone: 403), then that the venue and zone exist (404)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.routing import BuildError

from core.errors import InputError
from portal.apps import edits, registry
from portal.apps.preview import PreviewTokens, preview_shopper, save_preview
from portal.apps.registry import LightApp
from portal.apps.shop_profiles import DESCRIPTION_MAX, ShopProfileStore
from portal.apps.views import STORES, is_zh, venue_and_zone
from portal.apps.zone_apps import DEFAULT_APP
from portal.auth import Account, AuditLog, audit, current_account, login_required, protect_console, require_zone
from portal.errors import error_response, wants_json
from portal.media.images import MAX_PIXELS, MediaError, renditions
from portal.media.places import place_exists
from portal.media.store import MediaStore, OverBudget, check_place
from portal.media.views import media_store
from portal.owner import forms
from portal.owner.history import zone_history
from portal.services import services
from portal.shopper import token_store

bp = protect_console(Blueprint("owner", __name__, url_prefix="/console/owner"))

HISTORY_SCAN = 500  # audit entries read to find a zone's recent changes
HISTORY_SHOWN = 10


# ---- who may see what ----------------------------------------------------------------------------


def _venue_map_for(account: Account, venue: str):
    if not account.runs(venue):
        abort(403, _("You do not manage this venue."))
    venue_map = services().venues.get_map(venue)
    if venue_map is None:
        abort(404, _("Unknown venue."))
    return venue_map


def managed_zones(account: Account, venue_map) -> list:
    """The zones of the map this account may manage, in map order."""
    return [z for z in venue_map.zones if account.may_manage_zone(venue_map.id, z.id)]


def _zone_for(venue: str, zone: str):
    account = require_zone(venue, zone)  # 403 before anything about the zone is looked up
    venue_map = _venue_map_for(account, venue)
    zone_obj = venue_map.zone(zone)
    if zone_obj is None:
        abort(404, _("Unknown zone."))
    return account, venue_map, zone_obj


# ---- helpers for the pages -----------------------------------------------------------------------


def app_title(app: LightApp | None, name: str) -> str:
    if app is None:
        return _("%(name)s (not installed)", name=name)
    return app.title_zh if is_zh() else app.title_en


def console_url(app: LightApp | None, venue: str, zone: str) -> str | None:
    """The app's own owner console for the zone, if the app has one."""
    return _zone_endpoint_url(getattr(app, "console_endpoint", None) if app else None, venue, zone)


def media_endpoint(app: LightApp | None) -> str | None:
    """The console page with the app's image forms: its media page, else its console's first page."""
    return (getattr(app, "media_endpoint", None) or getattr(app, "console_endpoint", None)) if app else None


def _zone_endpoint_url(endpoint: str | None, venue: str, zone: str) -> str | None:
    if not endpoint or endpoint not in current_app.view_functions:
        return None
    try:
        return url_for(endpoint, venue=venue, zone=zone)
    except BuildError:
        return None


def preview_url(app: LightApp | None, account: Account, venue: str, zone: str,
                preview_id: str | None = None) -> str | None:
    """The zone's landing page as a shopper placed in the zone gets it, with a preview shopper's token; with
    `preview_id`, as it would be with the owner's unsaved settings (portal/apps/preview.py)."""
    if app is None:
        return None
    token = preview_token(account, venue)
    extra = {"preview": preview_id} if preview_id else {}
    try:
        return url_for(app.landing_endpoint, venue=venue, zone=zone, c=token, lang=str(get_locale()), **extra)
    except BuildError:
        return None


def preview_token(account: Account, venue: str) -> str:
    """The token of the account's preview shopper in the venue: one, reused by every view of every zone page
    (a token minted per view was a 30-day record per page view)."""
    tokens, shopper = token_store(), preview_shopper(venue, account.username)
    kept = PreviewTokens(services().db, current_app.config["SECRET_KEY"], tokens.ttl_s)
    return kept.token(venue, account.username, mint=lambda: tokens.mint(shopper),
                      resolves=lambda token: tokens.resolve(token) == shopper)


def recent_changes(venue: str, zone: str) -> list[dict]:
    # the log alone: the API calls' roll-ups name no zone, and merged in they spent the scan
    return zone_history(AuditLog(services().db).recent(venue, HISTORY_SCAN), zone, HISTORY_SHOWN)


def offered_apps(zone_obj, current: LightApp | None, account: Account) -> list[LightApp]:
    """The apps that fit the zone's kind and that this account may put on it (`LightApp.may_assign`: an app only
    the operator turns on is offered to an owner only where it runs), and the one it runs, should that no longer
    fit."""
    running = current.name if current is not None else ""
    apps = [app for app in registry.apps_for_kind(zone_obj.kind) if app.may_assign(account.role, running)]
    if current is not None and current not in apps:
        apps.append(current)
    return apps


def chosen_app(zone_obj, current_name: str, wanted: str, account: Account) -> LightApp:
    """The app whose settings the page shows: `wanted` when it fits the zone (400 if not) and the account may
    put it there (403 if not), else the current."""
    if not wanted:
        return registry.get(current_name) or registry.get("directory") or registry.all_apps()[0]
    app = registry.get(wanted)
    if app is None:
        abort(400, _("No light app is called %(name)s.", name=wanted))
    if not app.fits(zone_obj.kind) and app.name != current_name:
        abort(400, _("%(app)s does not fit a zone of this kind.", app=app_title(app, app.name)))
    if not app.may_assign(account.role, current_name):
        abort(403, _("Only the venue's operator can turn on %(app)s in a zone.", app=app_title(app, app.name)))
    return app


def _render_zone(venue_map, zone_obj, account: Account, chosen: LightApp, values: dict, errors: dict | None = None,
                 status: int = 200, shop_errors: dict | None = None, preview_id: str | None = None,
                 shop_sent: dict | None = None, loaded: dict | None = None):
    """`shop_sent`: {shop id: the texts sent}, shown again in that shop's form (refused, not lost). `loaded`: what
    the settings form showed when first opened (a refused form keeps it: edits.py); None: what is saved now."""
    current_name, config = services().zone_apps.get(venue_map.id, zone_obj.id)
    if loaded is None:
        loaded = {"app": current_name, "config": shown_values(venue_map.id, zone_obj.id, chosen, current_name, config)}
    current = registry.get(current_name)
    apps = offered_apps(zone_obj, current, account)
    shown = chosen if preview_id else current
    return render_template(
        "owner/zone.html", venue=venue_map, zone=zone_obj, account=account, apps=apps,
        current=current, current_name=current_name, current_title=app_title(current, current_name),
        chosen=chosen, form=forms.build_form(chosen, values, errors), errors=errors or {},
        loaded=edits.loaded_field(loaded),
        console_url=console_url(current, venue_map.id, zone_obj.id),
        preview_url=preview_url(shown, account, venue_map.id, zone_obj.id, preview_id),
        previewing=bool(preview_id),
        history=recent_changes(venue_map.id, zone_obj.id),
        shops=[{**row, "profile": (shop_sent or {}).get(row["shop"].id, row["profile"])}
               for row in zone_shops(venue_map, zone_obj.id)], shop_errors=shop_errors or {},
    ), status


def shown_values(venue: str, zone: str, chosen: LightApp, current_name: str, config: dict) -> dict:
    """The settings of `chosen` that the zone's page shows: the zone's config where it runs the app, else the
    app's settings when it last ran here (switched away and back), else its defaults."""
    defaults = chosen.default_config()
    stored = config if chosen.name == current_name else services().zone_apps.kept_config(venue, zone, chosen.name)
    return {**defaults, **{k: v for k, v in (stored or {}).items() if k in defaults}}


def zone_shops(venue_map, zone: str) -> list[dict]:
    """The zone's shops with what their owner wrote about them (the directory shows it)."""
    profiles = ShopProfileStore(services().db)
    return [{"shop": shop, "profile": profiles.get(venue_map.id, shop.id, shop.description)}
            for shop in venue_map.shops if shop.zone == zone]


# ---- views ---------------------------------------------------------------------------------------


@bp.get("/<venue>/")
@login_required()
def home(venue: str):
    account = current_account()
    venue_map = _venue_map_for(account, venue)
    assignments = services().zone_apps.all(venue)
    rows = []
    for zone in managed_zones(account, venue_map):
        name, _config = assignments.get(zone.id, (DEFAULT_APP, {}))
        app = registry.get(name)
        rows.append({"zone": zone, "app_name": name, "app_title": app_title(app, name),
                     "floor": venue_map.floor_name(zone.floor, is_zh()),
                     "console_url": console_url(app, venue, zone.id)})
    return render_template("owner/home.html", venue=venue_map, account=account, rows=rows)


@bp.get("/<venue>/zone/<zone>")
@login_required()
def zone_page(venue: str, zone: str):
    account, venue_map, zone_obj = _zone_for(venue, zone)
    current_name, config = services().zone_apps.get(venue, zone)
    chosen = chosen_app(zone_obj, current_name, request.args.get("app", "")[:64], account)
    return _render_zone(venue_map, zone_obj, account, chosen, shown_values(venue, zone, chosen, current_name, config))


@bp.post("/<venue>/zone/<zone>")
@login_required()
def save_zone(venue: str, zone: str):
    account, venue_map, zone_obj = _zone_for(venue, zone)
    name = request.form.get("app", "")[:64]
    if not name:
        abort(400, _("Choose a light app."))
    previous, previous_config, version = services().zone_apps.get_versioned(venue, zone)
    app = chosen_app(zone_obj, previous, name, account)
    raw = forms.raw_values(app, request.form)
    typed, errors = forms.validate(app, raw)
    loaded = edits.read_loaded(request.form.get(edits.LOADED))
    if typed is None:
        return _render_zone(venue_map, zone_obj, account, app, raw, errors, status=422, loaded=loaded)
    if request.form.get("action") == "preview":  # shown, not saved: nothing is published
        preview_id = save_preview(services().db, venue, zone, app.name, typed)
        return _render_zone(venue_map, zone_obj, account, app, raw, preview_id=preview_id, loaded=loaded)
    config, conflicts = _merged(venue, zone, app, typed, loaded, previous, previous_config)
    if conflicts:
        return _refuse_stale(venue_map, zone_obj, account, app, config, conflicts)
    unchanged = previous == app.name and config == previous_config
    refused = None if unchanged else _stranded(venue, zone, previous, app, config)
    if refused is not None:  # nothing stored: the app's words say what shoppers would lose, and what to do first
        status, words = refused
        return _render_zone(venue_map, zone_obj, account, app, raw, {"": words}, status=status)
    if unchanged:
        # Nothing to write: no audit entry (repeated no-op saves would push real changes out of the venue's
        # bounded audit log) and no new table version (every process would read the table again).
        flash(_("Nothing to save: the settings are as they were."), "ok")
    elif not _save_zone_app(venue, zone, app, config, previous, previous_config, version if loaded else ""):
        return _refuse_stale(venue_map, zone_obj, account, app, config)  # saved elsewhere since it was read above
    else:
        flash(_("Saved: %(zone)s now lands on %(app)s.", zone=zone_obj.label(is_zh()),
                app=app_title(app, app.name)), "ok")
    return redirect(url_for("owner.zone_page", venue=venue, zone=zone), code=303)


def _stranded(venue: str, zone: str, previous: str, app: LightApp, config: dict) -> tuple[int, str] | None:
    """What saving would cut shoppers off from, as the running app's `in_use` hook says it: 409 for a switch to
    another app, 422 for a config its shoppers' holdings do not fit; None when nothing (or the app cannot say).
    Checked, then written in a second step: a number taken in between is not seen (the shopper pages check
    the zone's app once per request, not in the store's scripts)."""
    running = registry.get(previous)
    if running is None or running.in_use is None:
        return None
    store = current_app.extensions[STORES].get(running.name)
    switching = previous != app.name
    words = running.in_use(store, venue, zone, None if switching else config)
    if not words:
        return None
    return (409 if switching else 422), words


def _save_zone_app(venue: str, zone: str, app: LightApp, config: dict, previous: str, previous_config: dict,
                   expected: str) -> bool:
    """Written and audited, unless `expected` (the assignment's version the config was merged with; '': any)
    is no longer the zone's: False, nothing written."""
    if not services().zone_apps.set(venue, zone, app.name, config, expected=expected):
        return False
    if previous != app.name:
        audit("zone.app.set", venue, zone=zone, app=app.name, previous=previous, config=config)
    else:
        changed = {k: v for k, v in config.items() if previous_config.get(k) != v}
        audit("zone.config.set", venue, zone=zone, app=app.name, changed=changed)
    return True


def _merged(venue: str, zone: str, app: LightApp, typed: dict, loaded: dict | None, previous: str,
            previous_config: dict) -> tuple[dict, list[str]]:
    """(the config to save: the fields the owner changed on the page over what is saved now; the fields saved
    elsewhere since the page was opened that the owner changed too, "app" first when the zone was switched to
    another app meanwhile and this form would switch it away). A form without `loaded` saves what it sent."""
    if loaded is None:
        return typed, []
    shown = loaded.get("config")
    current = shown_values(venue, zone, app, previous, previous_config)
    config, conflicts = edits.merge(shown if isinstance(shown, dict) else {}, typed, current)
    if loaded.get("app") != previous and app.name != previous:
        conflicts.insert(0, "app")
    return config, conflicts


def _refuse_stale(venue_map, zone_obj, account: Account, app: LightApp, values: dict, fields: list[str] | None = None):
    """409: the settings form again with `values`, naming what was saved elsewhere in `fields` (None: every field
    whose saved value differs, else the zone's app; "app": the zone's app); the form now stands on what is saved,
    so saving again keeps the owner's values."""
    venue, zone = venue_map.id, zone_obj.id
    current_name, config = services().zone_apps.get(venue, zone)
    saved = shown_values(venue, zone, app, current_name, config)
    if fields is None:
        fields = (["app"] * (current_name != app.name) + [k for k, v in values.items() if saved.get(k) != v]
                  or ["app"])
    labels = {f.name: _(f.label) for f in app.config_schema}
    changes = [f"{_('Landing app')}: {app_title(registry.get(current_name), current_name)}" if name == "app"
               else f"{labels.get(name, name)}: {forms.saved_text(app, name, saved.get(name))}" for name in fields]
    errors = {"": edits.conflict_text("; ".join(changes)),
              **{name: _("Changed elsewhere since you opened this page.") for name in fields if name != "app"}}
    return _render_zone(venue_map, zone_obj, account, app, values, errors, status=409)


@bp.post("/<venue>/zone/<zone>/shop/<shop>")
@login_required()
def save_shop(venue: str, zone: str, shop: str):
    """What the shop says about itself in the directory, in Chinese and/or English."""
    account, venue_map, zone_obj = _zone_for(venue, zone)
    shop_obj = next((s for s in venue_map.shops if s.id == shop and s.zone == zone), None)
    if shop_obj is None:
        abort(404, _("Unknown shop."))
    profiles = ShopProfileStore(services().db)
    before = profiles.get(venue, shop, shop_obj.description)
    try:
        after = profiles.set(venue, shop, request.form)
    except InputError as exc:
        current_name, config = services().zone_apps.get(venue, zone)
        chosen = registry.get(current_name) or registry.all_apps()[0]
        sent = {name: str(request.form.get(name) or "") for name in ("description_zh", "description_en")}
        return _render_zone(venue_map, zone_obj, account, chosen, config, status=422, shop_sent={shop: sent},
                            shop_errors={shop: _("At most %(n)s characters in each language.", n=DESCRIPTION_MAX)
                                         if "at most" in exc.message else exc.message})
    if after != before:  # the same text again is no change: no audit entry to flood the log with
        audit("zone.shop.text", venue, zone=zone, shop=shop)
    flash(_("Saved the description of %(shop)s.", shop=shop_obj.label(is_zh())), "ok")
    return redirect(url_for("owner.zone_page", venue=venue, zone=zone), code=303)


# ---- images --------------------------------------------------------------------------------------

UPLOAD_SLACK = 64 * 1024  # the form's other fields around the file


@bp.before_app_request
def _media_upload_limit():
    """An image upload may be larger than the app-wide body limit (sized for RSSI reports). Checked before
    the CSRF check reads the form; far too large is refused unread."""
    if request.endpoint != "owner.upload_media":
        return None
    limit = services().settings.media_max_upload_bytes
    if (request.content_length or 0) > 2 * limit + UPLOAD_SLACK:
        raise RequestEntityTooLarge(_("The image is too large: at most %(mb)s MB. Nothing was stored.",
                                      mb=limit // 2**20))
    request.max_content_length = 2 * limit + UPLOAD_SLACK  # up to this we read it and say "too large" ourselves
    return None


@bp.post("/<venue>/zone/<zone>/media")
@login_required()
def upload_media(venue: str, zone: str):
    """An image for a film, dish, shop or event of the zone (or `remove`); back to the page it came from."""
    account, venue_map, zone_obj = _zone_for(venue, zone)
    kind, ref = request.form.get("kind", "")[:16], request.form.get("ref", "")[:64]
    try:
        check_place(kind, ref)
    except ValueError as exc:
        abort(400, str(exc))
    if request.form.get("remove"):  # whether or not the place still exists: that is how its image goes
        return _remove_media(venue, zone, kind, ref)
    if not place_exists(venue_map, zone, kind, ref):  # an image nobody could see or remove: refused
        abort(404, _("Unknown shop.") if kind == "shop" else _("Unknown film, dish or event in this zone."))
    upload = request.files.get("image")
    data = upload.read(services().settings.media_max_upload_bytes + 1) if upload else b""
    store = media_store()
    try:
        images = renditions(data, services().settings.media_max_upload_bytes)
        picture = store.put(venue, zone, kind, ref, data, images)
    except MediaError as exc:
        return _media_refused(account, venue_map, zone_obj, kind, ref, exc)
    except OverBudget as exc:
        # 507 Insufficient Storage: Werkzeug has no exception class for it, so no abort(507)
        return error_response(507, over_budget_text(exc, store))
    audit("zone.media.set", venue, zone=zone, kind=kind, ref=ref, image=picture.id, bytes=picture.size)
    return _media_done(venue, zone, _("Image saved."))


def _media_refused(account: Account, venue_map, zone_obj, kind: str, ref: str, exc: MediaError):
    """A refused image: the page its form is on again (the app's console page, or the zone page for a shop),
    the message beside that form, the refusal's 4xx kept. Nothing was stored; the page's other forms show
    what is stored, so nothing the owner saved is lost (a browser never refills a file input)."""
    message = media_error_text(exc)
    if wants_json():  # a script's upload: the JSON error, as any other refusal
        return error_response(exc.status, message)
    g.media_error = {"kind": kind, "ref": ref, "message": message}
    if request.form.get("back") == "app":
        page = _app_media_page(account, venue_map.id, zone_obj.id)
        if page is not None and page.status_code == 200:  # not a redirect nor a refusal of its own
            page.status_code = exc.status
            return page
    current_name, config = services().zone_apps.get(venue_map.id, zone_obj.id)
    return _render_zone(venue_map, zone_obj, account, chosen_app(zone_obj, current_name, "", account), config,
                        status=exc.status)


def _app_media_page(account: Account, venue: str, zone: str):
    """The zone's app's page of image forms, rendered here as its own route would (its console blueprint's
    before_request sets g.account, g.venue_map and g.zone: set the same); None when the app has none."""
    current = registry.get(services().zone_apps.get(venue, zone)[0])
    view = current_app.view_functions.get(media_endpoint(current) or "")
    if view is None:
        return None
    g.account = account
    g.venue_map, g.zone = venue_and_zone(venue, zone)
    try:
        return current_app.make_response(view(venue=venue, zone=zone))
    except HTTPException:  # the page refuses (the zone runs another app now): the zone page says it instead
        return None


def _remove_media(venue: str, zone: str, kind: str, ref: str):
    if not media_store().remove(venue, zone, kind, ref):  # nothing there: nothing changed, nothing audited
        return _media_done(venue, zone, _("There was no image to remove."))
    audit("zone.media.remove", venue, zone=zone, kind=kind, ref=ref)
    return _media_done(venue, zone, _("Image removed."))


def over_budget_text(exc: OverBudget, store: MediaStore) -> str:
    """Which image space is full, in the page's language: the zone's share, or the whole venue's."""
    if exc.zone and store.zone_budget_bytes is not None:
        return _("This zone's images already take its share of the venue's image space (%(mb)s MB); "
                 "remove one of them first.", mb=f"{store.zone_budget_bytes / 2**20:.3g}")
    return _("The venue's image space is full; remove an image first.")


def media_error_text(exc: MediaError) -> str:
    """MediaError's English message in the page's language."""
    limit = services().settings.media_max_upload_bytes // 2**20
    return {400: _("Choose an image file (JPEG, PNG or WebP) that is not tiny."),
            413: _("The image is too large: at most %(mb)s MB and %(mp)s megapixels.", mb=limit,
                   mp=MAX_PIXELS // 1_000_000),
            415: _("The file is not a readable JPEG, PNG or WebP image."),
            422: _("The image could not be converted; save it again as a JPEG or PNG and upload that."),
            503: _("Images are being converted for others; try again in a minute."),
            }.get(exc.status, exc.message)


def _media_done(venue: str, zone: str, message: str):
    """Back to the app's console when the form came from there, else to the zone's page."""
    flash(message, "ok")
    if request.form.get("back") == "app":
        current = registry.get(services().zone_apps.get(venue, zone)[0])
        target = _zone_endpoint_url(media_endpoint(current), venue, zone)
        if target:
            return redirect(target, code=303)
    return redirect(url_for("owner.zone_page", venue=venue, zone=zone), code=303)
