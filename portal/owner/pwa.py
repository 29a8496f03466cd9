"""Installable web app: the service worker at scope `/`, its offline page, and the icon generator.

The generic manifest (`static/manifest.webmanifest`) and the icons (`static/icons/`) are static files; a mall's
shopper pages link that mall's manifest instead (`venue_manifest`: its name, opening on its home), so an app
installed from one mall opens that mall, not the VENUE setting's. The service worker must be served from the site
root for its scope to cover the whole site, so it gets a root-level route here (blueprint "pwa", registered by the
owner blueprint). Only the mall home registers it (see base.html): the captive mini-browser is closed as soon as
the shopper is online, so a worker there is pointless.

    python -m portal.owner          regenerates the PNG icons (Pillow), committed under static/icons/"""

from __future__ import annotations

import json
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template, request, send_from_directory, url_for

from core.ids import is_venue_id
from portal.apps.views import venue_or_404
from portal.errors import page_for_no_shopper
from portal.hub.views import HOME_ENDPOINT

pwa_bp = Blueprint("pwa", __name__)

GENERIC_MANIFEST = "manifest.webmanifest"  # under static/: pages of no mall link it
MANIFEST_MAX_AGE_S = 3600  # a mall renamed reaches the phones that installed its app within the hour

THEME = (0x11, 0x22, 0x33)
ACCENT = (0x4F, 0xC3, 0xF7)
# icon-32: the pages' <link rel=icon>, which every first view fetches (the 192 px one weighed 12 kB)
FAVICON_PX = 32
ICON_SIZES = {"icon-32.png": FAVICON_PX, "icon-192.png": 192, "icon-512.png": 512, "apple-touch-icon.png": 180,
              "maskable-512.png": 512}


@pwa_bp.get("/sw.js")
def service_worker():
    resp = send_from_directory(current_app.static_folder, "sw.js", mimetype="text/javascript", max_age=0)
    resp.headers["Cache-Control"] = "no-cache"  # a new worker is picked up on the next visit
    resp.headers["Service-Worker-Allowed"] = "/"
    return resp


@pwa_bp.get("/pwa/offline")
def offline() -> str:
    """The page the service worker shows, at the failed page's own URL, when a navigation fails: cached once at
    install for every mall and every shopper, so rendered for no one (no shopper's token, links or notice in it, as
    on the 503 page: portal/errors.py); its "Try again" asks again for the page that failed, in its own mall."""
    page_for_no_shopper()
    return render_template("owner/offline.html")


@pwa_bp.get("/pwa/<venue>/manifest.webmanifest")
def venue_manifest(venue: str) -> Response:
    """The generic manifest made one mall's: its name, its home as start and scope; `id` is the home too, so it
    stays while the name changes (the installed app is updated, not installed again). The same for every shopper
    (no token, no language: a manifest is fetched without cookies): cached for a while by any cache."""
    home = _venue_home(venue)
    if home is None:
        abort(404)
    venue_map = venue_or_404(venue)
    name = venue_map.name if venue_map.name_zh in ("", venue_map.name) else f"{venue_map.name} · {venue_map.name_zh}"
    with open(Path(current_app.static_folder) / GENERIC_MANIFEST, encoding="utf-8") as file:
        manifest = {**json.load(file), "name": name, "short_name": venue_map.name, "id": home,
                    "start_url": home + "?source=pwa", "scope": home}
    resp = current_app.response_class(json.dumps(manifest, ensure_ascii=False), mimetype="application/manifest+json")
    resp.cache_control.public = True
    resp.cache_control.max_age = MANIFEST_MAX_AGE_S
    resp.add_etag()
    return resp.make_conditional(request)


@pwa_bp.app_template_global()
def manifest_url() -> str:
    """The manifest a page links (base.html): its mall's on that mall's shopper pages, the generic one elsewhere."""
    venue = (request.view_args or {}).get("venue")
    home = _venue_home(venue) if isinstance(venue, str) else None
    if home is not None and request.path.startswith(home):
        return url_for("pwa.venue_manifest", venue=venue)
    return url_for("static", filename=GENERIC_MANIFEST)


def _venue_home(venue: str) -> str | None:
    """The mall home's path (a mall's shopper pages lie under it); None for a malformed id or without a home page."""
    if not is_venue_id(venue) or HOME_ENDPOINT not in current_app.view_functions:
        return None
    return url_for(HOME_ENDPOINT, venue=venue)


# ---- icons ---------------------------------------------------------------------------------------


def draw_icon(size: int, maskable: bool = False):
    """A location pin holding WiFi arcs, white on the theme colour. Maskable icons keep the drawing in
    the central safe zone (a circle of 80% of the size) and fill the whole square."""
    from PIL import Image, ImageDraw  # lazy: Pillow only when the icons are regenerated

    scale = 4  # draw large, then downsample: smooth edges without antialiasing support in ImageDraw
    big = size * scale
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    if maskable:
        draw.rectangle((0, 0, big, big), fill=THEME)
        content = big * 0.62
    else:
        radius = big * 0.22
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=radius, fill=THEME)
        content = big * 0.78
    cx = big / 2
    top = (big - content) / 2
    # the pin: a circle with a point below it
    pin_r = content * 0.34
    pin_cy = top + pin_r + content * 0.04
    draw.ellipse((cx - pin_r, pin_cy - pin_r, cx + pin_r, pin_cy + pin_r), fill="white")
    tip_y = top + content * 0.98
    draw.polygon([(cx - pin_r * 0.78, pin_cy + pin_r * 0.62), (cx + pin_r * 0.78, pin_cy + pin_r * 0.62),
                  (cx, tip_y)], fill="white")
    # WiFi arcs inside the pin head
    base_y = pin_cy + pin_r * 0.45
    width = max(2, int(pin_r * 0.16))
    for frac in (0.95, 0.64):
        r = pin_r * frac
        draw.arc((cx - r, base_y - r, cx + r, base_y + r), start=225, end=315, fill=THEME, width=width)
    dot = pin_r * 0.14
    draw.ellipse((cx - dot, base_y - dot - pin_r * 0.1, cx + dot, base_y + dot - pin_r * 0.1), fill=ACCENT)
    return img.resize((size, size), Image.LANCZOS)


def write_icons(folder: Path) -> list[Path]:
    from PIL import Image  # lazy: Pillow only when the icons are regenerated

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, size in ICON_SIZES.items():
        if name == "apple-touch-icon.png":  # iOS rounds the corners itself, over an opaque square
            icon = draw_icon(size, maskable=True).convert("RGB")
        else:
            icon = draw_icon(size, maskable=name.startswith("maskable"))
        if size <= FAVICON_PX:  # a palette of 32 colours looks the same at this size, at a third of the bytes
            icon = icon.quantize(colors=32, method=Image.Quantize.FASTOCTREE)  # the one method that keeps alpha
        path = folder / name
        icon.save(path, optimize=True)
        written.append(path)
    return written

