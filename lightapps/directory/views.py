"""Directory shopper pages: the mall home (search, category filter), a zone's fallback landing, shop pages.

Every link and form carries the shopper's `c` token (shopper_url / hidden input): the iOS captive
mini-browser keeps no cookies. Pages are plain GET pages, usable without JavaScript."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from markupsafe import Markup, escape

from fingerprints.model import Shop
from fingerprints.plan import plan_window, render_plan_svg
from lightapps.directory import APP
from lightapps.directory.categories import FACILITY_LABELS, category_label, group_of
from lightapps.directory.search import MAX_QUERY, search_facilities, search_shops
from portal.apps.shop_profiles import ShopProfileStore
from portal.apps.views import is_zh, venue_or_404, zone_app_config
from portal.services import services
from portal.shopper import keep_shopper_in_cookie, shopper_for_venue, shopper_token

bp = Blueprint("directory", __name__, url_prefix="/v/<venue>", template_folder="templates")

MAX_CATEGORY = 40


def category_labels(shops: Iterable[Shop]) -> dict[str, str]:
    """The shops' categories and their groups (lightapps/directory/categories.py), each with what shoppers read
    for it in the page's language: every category has a label, a raw key is never shown."""
    return {key: category_label(key) for s in shops for key in (s.category, group_of(s.category))}


def _search_args(venue_map) -> tuple[str, str]:
    """The validated `q` and `category` query parameters; 400 naming the bad one. `category` is a group of
    categories (a shop's own category, as older links carry it, stands for its group)."""
    query = request.args.get("q", "")
    if len(query) > MAX_QUERY:
        abort(400, _("The search text is too long (at most %(n)s characters).", n=MAX_QUERY))
    category = request.args.get("category", "").strip()
    if category and category not in {key for s in venue_map.shops for key in (s.category, group_of(s.category))}:
        abort(400, _("Unknown category: %(c)s", c=category[:MAX_CATEGORY]))
    return query.strip(), group_of(category) if category else ""


def _render_home(venue_map, zone=None, config=None):
    shopper = shopper_for_venue(venue_map.id)
    query, category = _search_args(venue_map)
    labels = category_labels(venue_map.shops)
    shops = search_shops(venue_map.shops, query, category, labels)
    facilities = [] if category else search_facilities(venue_map.zones, venue_map.amenities, query)
    if zone is not None and not query and not category:
        # the zone's own shops first: that is where the shopper stands
        shops = [s for s in shops if s.zone == zone.id] + [s for s in shops if s.zone != zone.id]
    categories = sorted({group_of(s.category) for s in venue_map.shops})
    return render_template(
        "directory/home.html", venue=venue_map, shops=shops, query=query, category=category, zone=zone,
        config=config or {}, categories=categories, labels=labels, shopper_token=shopper_token(shopper),
        facilities=facilities, facility_labels=FACILITY_LABELS,
        searched=bool(query or category),
    )


@bp.get("/")
def home(venue: str):
    keep_shopper_in_cookie()  # the mall home is the PWA's start page: the browser keeps its shopper
    return _render_home(venue_or_404(venue))


@bp.get("/zone/<zone>")
def landing(venue: str, zone: str):
    venue_map = venue_or_404(venue)
    zone_obj = venue_map.zone(zone)
    if zone_obj is None:
        abort(404, _("Unknown zone."))
    config = zone_app_config(APP, venue, zone) or {}
    return _render_home(venue_map, zone=zone_obj, config=config)


@bp.get("/shop/<shop_id>")
def shop(venue: str, shop_id: str):
    venue_map = venue_or_404(venue)
    shop_obj = next((s for s in venue_map.shops if s.id == shop_id), None)
    if shop_obj is None:
        abort(404, _("Unknown shop."))
    shopper = shopper_for_venue(venue)
    zh = is_zh()
    name = shop_obj.label(zh)
    plan_svg = None
    try:
        floor = venue_map.floor(shop_obj.floor)
        around = [(shop_obj.x, shop_obj.y)]  # the shop and its neighbours, legible on a phone (plan_window)
        plan_svg = render_plan_svg(venue_map, floor.level, show_aps=False, lang="zh" if zh else "en",
                                   markers=[(shop_obj.x, shop_obj.y, "#d32f2f", name)],
                                   window=plan_window(venue_map, floor.level, around))
        aria = escape(_("Where %(shop)s is on floor %(floor)s", shop=name, floor=floor.label(zh)))
        plan_svg = Markup(plan_svg.replace("<svg ", f'<svg role="img" class="plan-svg" aria-label="{aria}" ', 1))
    except KeyError:
        floor = None
    zone_obj = venue_map.zone(shop_obj.zone) if shop_obj.zone else None
    return render_template(
        "directory/shop.html", venue=venue_map, shop=shop_obj, floor=floor, zone_obj=zone_obj,
        labels=category_labels([shop_obj]), category=group_of(shop_obj.category), plan_svg=plan_svg,
        profile=ShopProfileStore(services().db).get(venue, shop_id, shop_obj.description),
        shopper_token=shopper_token(shopper),
    )
