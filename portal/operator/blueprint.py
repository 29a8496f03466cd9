"""The operator console's blueprint and the checks its views share (imported by every view module)."""

from __future__ import annotations

from flask import Blueprint, abort, request
from flask_babel import gettext as _

from portal.auth import current_account, protect_console
from portal.services import services

bp = protect_console(Blueprint("operator", __name__, url_prefix="/console/ops"))



def require_operator_venue(venue: str) -> None:
    """The logged-in operator runs this venue (login_required("operator") has run), else 403."""
    account = current_account()
    if account is None or account.venue != venue:
        abort(403, _("You do not operate this venue."))
    if not services().venues.exists(venue) and request.endpoint != "operator.home":
        abort(404, _("Unknown venue."))  # the home page of a new venue (no map yet) links to its first draft


def wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
