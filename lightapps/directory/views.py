from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from portal.services import services

bp = Blueprint("directory", __name__, url_prefix="/v/<venue>", template_folder="templates")


def venue_or_404(venue: str):
    venue_map = services().venues.get_map(venue)
    if venue_map is None:
        abort(404, f"unknown venue {venue!r}")
    return venue_map


def search_shops(venue_map, query: str):
    query = query.strip().lower()
    if not query:
        return list(venue_map.shops)
    return [s for s in venue_map.shops if query in s.name.lower() or query in s.name_zh or query in s.category]


@bp.get("/")
def home(venue: str):
    venue_map = venue_or_404(venue)
    query = request.args.get("q", "")[:100]
    return render_template("directory/home.html", venue=venue_map, shops=search_shops(venue_map, query),
                           query=query, zone=None)


@bp.get("/zone/<zone>")
def landing(venue: str, zone: str):
    venue_map = venue_or_404(venue)
    zone_obj = venue_map.zone(zone)
    if zone_obj is None:
        abort(404, "unknown zone")
    config = services().zone_apps.config_for(venue, zone, "directory") or {}
    shops = [s for s in venue_map.shops if s.zone == zone] + [s for s in venue_map.shops if s.zone != zone]
    return render_template("directory/home.html", venue=venue_map, shops=shops, query="", zone=zone_obj,
                           config=config)
