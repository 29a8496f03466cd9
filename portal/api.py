"""Partner API: RSSI reports in."""

from __future__ import annotations

import time

from flask import Blueprint, jsonify, request

from portal.errors import ApiError
from portal.ingest.native import parse_native
from portal.ingest.observation import ReportError
from portal.services import services

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def require_venue_source(venue: str) -> str:
    """The report source owning the bearer token in this venue; 401 otherwise. A token of another
    venue is simply unknown here, so a source can report only into its own venue."""
    svc = services()
    if not svc.venues.exists(venue):
        raise ApiError(404, f"unknown venue {venue!r}")
    source = svc.tokens.source_for(venue, bearer_token())
    if source is None:
        raise ApiError(401, "missing or invalid bearer token for this venue")
    return source


def json_body() -> object:
    if not request.is_json:
        raise ApiError(415, "body must be application/json", "$")
    payload = request.get_json(silent=True)
    if payload is None:
        raise ApiError(400, "body is not valid JSON", "$")
    return payload


@bp.post("/venues/<venue>/reports")
def post_reports(venue: str):
    require_venue_source(venue)
    payload = json_body()
    svc = services()
    settings = svc.settings
    now = time.time()
    try:
        observations = parse_native(
            payload, hasher=svc.hasher, now=now, max_skew_s=settings.max_clock_skew_s,
            window_s=settings.rssi_window_s, max_observations=settings.max_observations,
        )
    except ReportError as exc:
        raise ApiError(422, exc.message, exc.field) from None
    stored = svc.rssi.write(venue, observations, now)
    return jsonify({"accepted": stored}), 202
