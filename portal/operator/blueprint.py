"""The operator console's blueprint and the checks its views share (imported by every view module)."""

from __future__ import annotations

from flask import Blueprint, abort, g, request
from flask_babel import gettext as _

from portal.auth import current_account, login_gate, protect_console
from portal.services import services

bp = protect_console(Blueprint("operator", __name__, url_prefix="/console/ops"))


@bp.before_request
def _operator_of_this_venue():
    """Before every operator page, once (after the CSRF check): the login page when logged out, 403 for
    another role or another venue's operator, 404 for an unknown venue. Views need no prologue."""
    refused = login_gate("operator")
    if refused is not None:
        return refused
    venue = (request.view_args or {}).get("venue")
    if venue is not None:
        require_operator_venue(venue)
    return None


# Pages that serve a venue with no map yet (its home, and the drafts that bring its first map in).
_MAPLESS_ENDPOINTS = {"operator.home"}


def works_without_map(view):
    """Mark an operator page as usable before the venue has a map (no 404 for an unknown venue)."""
    _MAPLESS_ENDPOINTS.add(f"operator.{view.__name__}")
    return view


@bp.context_processor
def _venue_has_map() -> dict[str, bool]:
    """`has_map`: the page's venue has a map, so the pages that need one are linked (they answer 404 for a
    new venue: its console links the pages in _MAPLESS_ENDPOINTS only)."""
    return {"has_map": g.get("venue_has_map", True)}  # read once by require_operator_venue: no store call here


def require_operator_venue(venue: str) -> None:
    """The logged-in operator runs this venue (login_required("operator") has run), else 403."""
    account = current_account()
    if account is None or not account.runs(venue):
        abort(403, _("You do not operate this venue."))
    g.venue_has_map = services().venues.exists(venue)
    if not g.venue_has_map and request.endpoint not in _MAPLESS_ENDPOINTS:
        abort(404, _("Unknown venue."))  # the home page of a new venue (no map yet) links to its first draft


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
