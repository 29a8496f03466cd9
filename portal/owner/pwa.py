"""Installable web app: the service worker at scope `/`, its offline page, and the icon generator.

The manifest (`static/manifest.webmanifest`) and the icons (`static/icons/`) are static files; the
service worker must be served from the site root for its scope to cover the whole site, so it gets a
root-level route here (blueprint "pwa", registered by the owner blueprint). Only the mall home
registers it (see base.html): the captive mini-browser is closed as soon as the shopper is online, so a
worker there is pointless.

    python -m portal.owner          regenerates the PNG icons (Pillow), committed under static/icons/"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, render_template, send_from_directory

pwa_bp = Blueprint("pwa", __name__)

THEME = (0x11, 0x22, 0x33)
ACCENT = (0x4F, 0xC3, 0xF7)
ICON_SIZES = {"icon-192.png": 192, "icon-512.png": 512, "apple-touch-icon.png": 180,
              "maskable-512.png": 512}


@pwa_bp.get("/sw.js")
def service_worker():
    resp = send_from_directory(current_app.static_folder, "sw.js", mimetype="text/javascript", max_age=0)
    resp.headers["Cache-Control"] = "no-cache"  # a new worker is picked up on the next visit
    resp.headers["Service-Worker-Allowed"] = "/"
    return resp


@pwa_bp.get("/pwa/offline")
def offline():
    """The page the service worker shows when a navigation fails (cached at install)."""
    return render_template("owner/offline.html")


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
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, size in ICON_SIZES.items():
        if name == "apple-touch-icon.png":  # iOS rounds the corners itself, over an opaque square
            icon = draw_icon(size, maskable=True).convert("RGB")
        else:
            icon = draw_icon(size, maskable=name.startswith("maskable"))
        path = folder / name
        icon.save(path, optimize=True)
        written.append(path)
    return written

