"""What a deleted zone leaves behind, let go of: everything keyed by a zone id would otherwise pass to the next
zone given the same id (a new tenant's shop drawn where the old one was), its owner account and app included.

`release_zone` runs after the map change that deleted the zone: the zone is taken from every owner account that
managed it, its landing app and every app's kept settings there are dropped (a new zone of that id starts on the
default app), and the moments rules about it are deleted. The apps' own records about the zone (a coupon
campaign, a game) stay in their stores, unreachable while no zone runs the app there. Audited as
`zone.release`; the operator is told what was let go of (`released_warning`)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import ngettext

from portal.apps import registry
from portal.apps.views import is_zh
from portal.apps.zone_apps import ZoneAppKeys
from portal.auth import accounts, audit
from portal.services import services


@dataclass(frozen=True)
class Released:
    zone: str
    owners: tuple[str, ...] = ()  # the accounts the zone was taken from
    app: str | None = None  # the app it had been set up with (None: none set up)
    rules: tuple[str, ...] = ()  # the moments rules deleted

    def __bool__(self) -> bool:
        return bool(self.owners or self.app or self.rules)


def release_zone(venue: str, zone: str) -> Released:
    """Let go of what the venue keeps for `zone`, deleted from its map (module docstring); audited when
    anything was let go of."""
    svc = services()
    assigned = svc.db.hget(ZoneAppKeys(venue).assignments(), zone)
    app = svc.zone_apps.decode(assigned)[0] if assigned else None
    owners = tuple(accounts().release_zone(venue, zone))
    svc.zone_apps.drop(venue, zone)
    rules = tuple(svc.moments.delete_for_zone(venue, zone))
    released = Released(zone, owners, app, rules)
    if released:
        audit("zone.release", venue, zone=zone, owners=",".join(owners), app=app or "", rules=",".join(rules))
    return released


def released_warning(released: Released) -> str | None:
    """The operator's warning for a deleted zone that was in use: what was let go of."""
    if not released:
        return None
    parts = []
    if released.owners:
        parts.append(_("it was taken from the owner accounts %(owners)s", owners=", ".join(released.owners)))
    if released.app:
        app = registry.get(released.app)
        title = (app.title_zh if is_zh() else app.title_en) if app else released.app
        parts.append(_("its app (%(app)s) and its settings were dropped", app=title))
    if released.rules:
        parts.append(ngettext("its moments rule was deleted", "its %(num)d moments rules were deleted",
                              len(released.rules)))
    return _("Zone %(zone)s was in use: %(what)s. A zone drawn again with this id starts afresh: give it its owner "
             "(Zone owners) and its app.", zone=released.zone, what="; ".join(parts))
