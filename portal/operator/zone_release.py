"""What a zone that leaves a venue's map leaves behind, let go of: everything keyed by a zone id would otherwise pass
to the next zone given the same id (a new tenant's shop drawn or imported where the old one was), its owner account
and app included.

The one rule, "a zone that leaves the map is released", is `release_left_zones`: every path that saves a map (the
console's edits and imports, mapedit.change_map; a command's, setup_cli.edit_map; a draft applied; a version rolled
back to) calls it with the zone ids of the map it replaced and of the one it made current, after the new version is
stored, and tells the operator what it returns (flashed, or printed by a command). Each removed zone is released
(`release_zone`): taken from every owner account that managed it, its landing app and every app's kept settings
there dropped (a zone of that id later starts on the default app), and the moments rules about it deleted. The apps'
own records about the zone (a coupon campaign, a game) stay in their stores, unreachable while no zone runs the app
there. Audited as `zone.release`. A rollback that brings such a zone back brings it back bare, and says so
(`restored_warning`). Previews (a draft's page, `map-draft show`) release nothing: they warn beforehand with
`zones_in_use`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import ngettext

from fingerprints.model import VenueMap
from portal.apps import registry
from portal.apps.views import is_zh
from portal.apps.zone_apps import ZoneAppKeys
from portal.auth import AuditLog, accounts, audit
from portal.services import services

SHOWN_ZONES = 20  # zone ids named in one warning; a rollback undoing a bad import may bring back hundreds


@dataclass(frozen=True)
class Released:
    zone: str
    owners: tuple[str, ...] = ()  # the accounts the zone was taken from
    app: str | None = None  # the app it had been set up with (None: none set up)
    rules: tuple[str, ...] = ()  # the moments rules deleted

    def __bool__(self) -> bool:
        return bool(self.owners or self.app or self.rules)


def zone_ids(venue_map: VenueMap | None) -> frozenset[str]:
    """The zones of a map (none for no map: a venue's first version replaces nothing)."""
    return frozenset(z.id for z in venue_map.zones) if venue_map is not None else frozenset()


def release_left_zones(venue: str, before: Iterable[str], after: Iterable[str], *, rollback: bool = False,
                       by: str | None = None) -> list[str]:
    """Release every zone of `before` (the zone ids of the map a change replaced) that `after` (the map it made
    current) lacks; called once the new version is stored. Returns the operator's warnings, in the current locale:
    what was let go of, and for a `rollback`, the zones it brought back bare. `by`: who, when not the request's
    account (a command: CLI_ACTOR)."""
    before, after = set(before), set(after)
    warnings = [released_warning(r) for r in (release_zone(venue, z, by) for z in sorted(before - after)) if r]
    if rollback and (restored := restored_warning(venue, after - before)):
        warnings.append(restored)
    return warnings


def release_zone(venue: str, zone: str, by: str | None = None) -> Released:
    """Let go of what the venue keeps for `zone`, gone from its map (module docstring); audited when anything was
    let go of (as `by` when given, else as the request's account)."""
    svc = services()
    assigned = svc.db.hget(ZoneAppKeys(venue).assignments(), zone)
    app = svc.zone_apps.decode(assigned)[0] if assigned else None
    owners = tuple(accounts().release_zone(venue, zone))
    svc.zone_apps.drop(venue, zone)
    rules = tuple(svc.moments.delete_for_zone(venue, zone))
    released = Released(zone, owners, app, rules)
    if released:
        detail = {"zone": zone, "owners": ",".join(owners), "app": app or "", "rules": ",".join(rules)}
        if by:
            AuditLog(svc.db).record(venue, by, "zone.release", **detail)
        else:
            audit("zone.release", venue, **detail)
    return released


def zones_in_use(venue: str, zones: Iterable[str]) -> list[str]:
    """Which of these zones a release would let go of something for (an owner account manages it, an app was set
    up in it, a moments rule is about it), sorted: what a preview warns of before the change is applied."""
    gone = sorted(set(zones))
    if not gone:
        return []
    svc = services()
    assigned = svc.db.hmget(ZoneAppKeys(venue).assignments(), gone)  # one read for them all
    set_up = {z for z, app in zip(gone, assigned, strict=True) if app is not None}
    owned = {z for account in accounts().all() if account.role == "owner" and account.runs(venue)
             for z in account.zones}
    ruled = {rule.zone for rule in svc.moments.rules(venue)}
    return sorted(set_up | ((owned | ruled) & set(gone)))


def named_zones(zones: list[str]) -> str:
    """Zone ids for a warning: the first SHOWN_ZONES, and how many more."""
    more = f", … +{len(zones) - SHOWN_ZONES}" if len(zones) > SHOWN_ZONES else ""
    return ", ".join(zones[:SHOWN_ZONES]) + more


def released_warning(released: Released) -> str | None:
    """The operator's warning for a zone that left the map while in use: what was let go of."""
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
    return _("Zone %(zone)s was in use: %(what)s. A zone given this id again (drawn, imported or brought back by a "
             "map rollback) starts afresh: give it its owner (Zone owners) and its app.", zone=released.zone,
             what="; ".join(parts))


def restored_warning(venue: str, restored: Iterable[str]) -> str | None:
    """The operator's warning for zones a rollback brought back: released when they left the map, so back with no
    owner, app or moments rule (the ones something is kept for, from before releases were made, are not named)."""
    bare = sorted(set(restored) - set(zones_in_use(venue, restored)))
    if not bare:
        return None
    return _("The rollback brought back zones that had left the map: %(zones)s. They were let go of when they left, "
             "so they come back with no owner account, no app and no moments rules: give them their owners (Zone "
             "owners) and their apps again.", zones=named_zones(bare))
