"""What a zone that leaves a venue's map leaves behind, let go of: everything keyed by a zone id would otherwise pass
to the next zone given the same id (a new tenant's shop drawn or imported where the old one was), its owner account
and app included.

The one rule, "a zone that leaves the map is released", holds as "no zone off the venue's current map keeps
anything": `release_off_map` releases every zone the venue keeps something for (`zones_with_state`) that its
current map lacks. It asks nothing of the change that removed the zone, so it is idempotent, and a release that a
store fault, a spent request budget or a dying process cut short, or that a racing change hid from the path that
saved (a rollback's check and its write, two operators), is done by the next pass. Every path that saves a map (the
console's edits and imports, mapedit.change_map; a command's, setup_cli.edit_map; a draft applied; a version rolled
back to) runs it once the new version is stored (`release_left_zones`) and tells the operator what was let go of
(flashed, or printed by a command); the payments sweeper (portal/payments/worker.py, every minute) runs it as
`release_missed`, for a venue whose map changed since the last pass that finished (ZoneReleaseKeys.checked) and once
every CHECK_AGAIN_S besides, and audits what it let go of as the command line's (CLI_ACTOR).

Each such zone is released (`release_zone`): taken from every owner account that managed it, its landing app and
every app's kept settings there dropped (a zone of that id later starts on the default app), and the moments rules
about it deleted. The apps' own records about the zone (a coupon campaign, a game) stay in their stores,
unreachable while no zone runs the app there. Audited as `zone.release`. A rollback that brings such a zone back
brings it back bare, and says so (`restored_warning`). Previews (a draft's page, `map-draft show`) release nothing:
they warn beforehand with `zones_in_use`. Only a zone of the current map gets an owner, an app or a moments rule (the
consoles and commands offer no other), so a zone of a draft not yet applied has nothing to release."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import redis
from flask_babel import gettext as _
from flask_babel import ngettext

from core.storage import VenueKeys
from fingerprints.model import VenueMap
from portal.apps import registry
from portal.apps.views import is_zh
from portal.auth import CLI_ACTOR, AuditLog, accounts, audit
from portal.services import services

log = logging.getLogger(__name__)

SHOWN_ZONES = 20  # zone ids named in one warning; a rollback undoing a bad import may bring back hundreds
# How long a venue found with nothing off its map counts as checked while its map stays the same: an owner given a
# zone in the moment a change removed it (the owners' form read the map before) is let go of within this.
CHECK_AGAIN_S = 3600


class ZoneReleaseKeys(VenueKeys):
    def checked(self) -> str:
        """STRING: the map version the last finished `release_off_map` left nothing off of (CHECK_AGAIN_S)."""
        return self.key("zonerelease", "checked")


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


def release_left_zones(venue: str, *, restored: Iterable[str] = (), by: str | None = None) -> list[str]:
    """Once a change of the venue's map is stored: every zone off its current map released (`release_off_map`: those
    the change removed, and any an earlier change left). Returns the operator's warnings, in the current locale: what
    was let go of, and for a rollback, the zones it brought back (`restored`) that came back bare. A store fault (a
    spent request budget too) is said as `cut_short_warning`: the change is stored, the next pass finishes the
    release. `by`: who, when not the request's account (a command: CLI_ACTOR)."""
    try:
        warnings = [released_warning(r) for r in release_off_map(venue, by)]
        warnings.append(restored_warning(venue, restored))
    except redis.RedisError as exc:
        log.warning("map of %s saved; zones off it not all released (%s): the next pass does it", venue,
                    exc.__class__.__name__)
        return [cut_short_warning()]
    return [warning for warning in warnings if warning]


def release_off_map(venue: str, by: str | None = None) -> list[Released]:
    """Release every zone the venue keeps something for that its current map lacks; then the venue counts as checked
    against that version (`ZoneReleaseKeys.checked`). What is kept is read before the map, so a zone added and given
    an owner in between is on the map read."""
    svc = services()
    kept = zones_with_state(venue)
    version = svc.venues.current_version(venue, fresh=True)  # the store's now, not what this request saved or read
    current = svc.venues.get_map(venue, version) if version else None
    if current is None:  # no map yet: no zone was ever given anything
        return []
    released = [release_zone(venue, zone, by) for zone in sorted(kept - zone_ids(current))]
    svc.db.set(ZoneReleaseKeys(venue).checked(), version, ex=CHECK_AGAIN_S)
    return released


def release_missed(venue: str) -> int:
    """The background pass (the payments sweeper's, every minute): `release_off_map` for a venue whose current map is
    not the one last checked (a save whose release a fault cut short, a process that died in between), audited as
    CLI_ACTOR; how many zones it let go of something for. Two reads when there is nothing to do."""
    svc = services()
    checked = svc.db.get(ZoneReleaseKeys(venue).checked())
    if checked is not None and int(checked) == svc.venues.current_version(venue, fresh=True):
        return 0
    released = [r.zone for r in release_off_map(venue, CLI_ACTOR) if r]
    if released:
        log.warning("venue %s: zones off the map released late: %s", venue, ", ".join(released))
    return len(released)


def release_zone(venue: str, zone: str, by: str | None = None) -> Released:
    """Let go of what the venue keeps for `zone`, gone from its map (module docstring); audited when anything was
    let go of (as `by` when given, else as the request's account)."""
    svc = services()
    app = svc.zone_apps.assigned_app(venue, zone)
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


def zones_with_state(venue: str) -> set[str]:
    """Every zone the venue keeps something for that a release lets go of: an owner account manages it, an app was
    set up in it (its apps' kept settings come and go with that: ZoneAppStore.set, drop), a moments rule is about
    it. Three reads: the app table's zones, the accounts (one pipeline), the venue's rules."""
    svc = services()
    set_up = svc.zone_apps.assigned_zones(venue)
    owned = {z for account in accounts().all() if account.role == "owner" and account.runs(venue)
             for z in account.zones}
    ruled = {rule.zone for rule in svc.moments.rules(venue) if rule.zone is not None}
    return set_up | owned | ruled


def zones_in_use(venue: str, zones: Iterable[str]) -> list[str]:
    """Which of these zones a release would let go of something for (`zones_with_state`), sorted: what a preview
    warns of before the change is applied."""
    gone = set(zones)
    return sorted(zones_with_state(venue) & gone) if gone else []


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


def cut_short_warning() -> str:
    """The operator's warning for a change stored whose release a store fault cut short (`release_left_zones`)."""
    return _("The map was saved, but the store did not answer while the zones it removed were let go of. That is "
             "finished in the background within a few minutes (or by the next change of the map), each zone "
             "recorded in the audit log as zone.release; until then those zones keep their owners, apps and moments "
             "rules.")


def restored_warning(venue: str, restored: Iterable[str]) -> str | None:
    """The operator's warning for zones a rollback brought back: released when they left the map, so back with no
    owner, app or moments rule (the ones something is kept for, from before releases were made, are not named)."""
    bare = sorted(set(restored) - set(zones_in_use(venue, restored)))
    if not bare:
        return None
    return _("The rollback brought back zones that had left the map: %(zones)s. They were let go of when they left, "
             "so they come back with no owner account, no app and no moments rules: give them their owners (Zone "
             "owners) and their apps again.", zones=named_zones(bare))
