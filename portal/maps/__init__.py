"""The host's side of venue maps: what happens after a map changes (audit, model rebuild), drafts of
changes, and the set-up checklist. The changes themselves are `fingerprints.edits` run inside
`VenueStore.edit` (fingerprints/store.py)."""

from __future__ import annotations

from flask import Flask, has_request_context

from fingerprints.store import MapChanged
from portal.auth import AuditLog, audit, current_account
from portal.kinds import walk_kind_label, zone_kind_label
from portal.maps import builds, quality_text
from portal.services import request_memo


def init_app(app: Flask) -> None:
    """Wire the map listeners of this process: every new version is audited and its model rebuilt. Also the
    quality page's sentences in the page's language (portal/maps/quality_text.py), and the map's zone and
    walkway kinds (portal/kinds.py) for every page that shows them: the floor editor and the owner console."""
    venues = app.extensions["mallportal"].venues
    venues.actor = _acting_account
    venues.work_scope = _request_versions
    venues.listen(lambda event: _audit(app, event))
    venues.listen(lambda event: builds.on_map_changed(app, event))
    app.add_template_global(quality_text.checked_text, "live_checked_text")
    app.add_template_global(quality_text.configuration_text, "live_configuration_text")
    app.add_template_global(quality_text.above_optimistic_text, "live_above_optimistic_text")
    app.add_template_filter(quality_text.cannot_know_text, "cannot_know")
    app.add_template_global(zone_kind_label, "zone_kind_label")
    app.add_template_global(walk_kind_label, "walk_kind_label")


def _acting_account() -> str | None:
    """The console account whose request changes a map (None outside a request): named in the change's detail, so a
    late announcement (fingerprints/store.py), replayed in someone else's request, is audited as theirs."""
    account = current_account() if has_request_context() else None
    return account.username if account else None


def _request_versions() -> dict[str, int] | None:
    """The current map versions this request has read (None outside a request): a page asks for its venue's map
    from several places (the view, the hub's links, the apps' parts) and reads the version once."""
    return request_memo("map_versions")


def _audit(app: Flask, event: MapChanged) -> None:
    """Who changed the map: whom the change names (`by`: the console's account, the CLI, the survey timer), else the
    console's account in a request, else the process (the seed). A late announcement naming nobody is nobody's: the
    request it runs in is someone else's."""
    detail = {**event.detail, "version": event.version, "previous": event.previous}
    by = detail.pop("by", None)
    if by is None and has_request_context() and not detail.get("late"):
        audit(event.action, event.venue, **detail)
    else:
        AuditLog(app.extensions["mallportal"].db).record(event.venue, by or "-", event.action, **detail)
