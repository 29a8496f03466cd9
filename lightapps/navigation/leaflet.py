"""Leaflet, served from the pinned xstatic-leaflet package (not copied into the repository)."""

from __future__ import annotations

import xstatic.pkg.leaflet as leaflet_pkg
from flask import Blueprint, send_from_directory

leaflet_bp = Blueprint("leaflet", __name__, url_prefix="/vendor/leaflet")


@leaflet_bp.get("/<path:filename>")
def asset(filename: str):
    return send_from_directory(leaflet_pkg.BASE_DIR, filename, max_age=7 * 24 * 3600)
