"""Venue set-up commands: `flask --app wsgi <command>` (or `python -m portal flask <command>`).

    ap-import VENUE FILE            AP list (CSV, Ekahau .esx, Meraki/UniFi JSON) as one map version
    ap-template OUT                 the AP CSV template
    walkways-derive VENUE IMDF      the walkway graph derived from an IMDF plan, as one map version
    map-draft open|list|show|apply|abandon ...
    map-draft add-imdf|add-aps|add-samples|add-walkways VENUE DRAFT FILE
                                    a set of changes kept aside, shown as a diff, applied as ONE version
    map-edit add-floor|place-ap|delete-ap|add-zone|delete-zone|add-node|set-entrance|add-edge|delete-walkway|
             rescale-floor          VENUE --option value ...: each console edit of the map, one version each

Accounts (the first operator of a venue, zone owners) are `flask users create` (portal/users_cli.py).

Every change goes through fingerprints.edits inside VenueStore.edit (lock, checked write, audited,
model rebuilt); nothing is stored when a file is invalid. A zone a change removes is released (its owner accounts,
app and moments rules let go of: portal/operator/zone_release.py) and the lines saying so go to stderr; `map-draft
show` says beforehand which zones applying would release."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext
from flask_babel import force_locale
from tqdm import tqdm

from fingerprints import edits
from fingerprints.ap_lists import (
    ALIGN_HELP,
    TEMPLATE_CSV,
    ApListError,
    parse_floor_names,
    parse_plan_alignment,
    read_ap_list,
)
from fingerprints.drafts import DraftStore, aps_note, diff_maps, imdf_note, samples_note, walkways_note
from fingerprints.imdf import import_imdf, import_imdf_with_notes
from fingerprints.model import Sample, VenueMap, normalise_bssid
from fingerprints.samples_io import VENUE_ORDER_HELP, import_samples_with_notes
from fingerprints.store import MapSaveUnknownError
from portal.auth import CLI_ACTOR
from portal.cli import new_venue_id
from portal.operator.mapedit import dropped_zones_warning
from portal.operator.zone_release import release_left_zones, zone_ids, zones_in_use
from portal.services import services


def _drafts() -> DraftStore:
    svc = services()
    return DraftStore(svc.db, svc.venues)


def _floor_map(pairs: tuple[str, ...]) -> dict[str, int]:
    try:
        return parse_floor_names(pairs)
    except ApListError as exc:
        raise click.UsageError(exc.problems[0]) from None


def _ap_placements(venue: str, source: str, fmt: str | None, companion: str | None, origin_lon: float | None,
                   origin_lat: float | None, floor: tuple[str, ...], align: str = "", base=None) -> list[dict]:
    venue_map = base or services().venues.get_map(venue)
    if venue_map is None or not venue_map.floors:
        raise click.UsageError(f"venue {venue!r} has no floors yet: import its plan first")
    if (origin_lon is None) != (origin_lat is None):
        raise click.UsageError("give both --origin-lon and --origin-lat, or neither (the venue's own origin)")
    origin = (origin_lon, origin_lat) if origin_lon is not None and origin_lat is not None else None
    try:
        result = read_ap_list(venue_map, Path(source).read_bytes(), Path(source).name, fmt, origin,
                              _floor_map(floor), Path(companion).read_bytes() if companion else None,
                              parse_plan_alignment(align or ""))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    for reason in result.skipped:
        click.echo(f"skipped: {reason}", err=True)
    return result.placements


# --floor of every command that reads a file naming floors (an AP list, a survey), as the console's "Floor names in
# the file" field: parsed by _floor_map.
floor_option = click.option("--floor", multiple=True, metavar="NAME=LEVEL",
                            help="map a floor name of the file to a level (repeatable)")


def survey_samples(venue_map: VenueMap, source: str, fmt: str | None, scans: int, waps: str | None,
                   venue_order: bool, floor: tuple[str, ...]) -> list[Sample]:
    """A survey CSV's samples as a command reads them (import_samples_with_notes), its notes said on stderr: kept
    all the same, never silently. ValueError (nothing read) for the caller's ClickException."""
    samples, notes = import_samples_with_notes(venue_map, source, fmt, scans=scans, sidecar=waps,
                                               waps_in_venue_order=venue_order, floors=_floor_map(floor))
    for note in notes:
        click.echo(f"note: {note}", err=True)
    return samples


def _ap_options(f):
    for option in reversed([
        click.option("--format", "fmt", type=click.Choice(["csv", "esx", "meraki", "unifi"]), default=None,
                     help="guessed from the file name (.csv, .esx) when left out"),
        click.option("--companion", type=click.Path(exists=True, dir_okay=False),
                     help="Meraki: the floorPlans JSON; UniFi: the list/map JSON"),
        click.option("--origin-lon", type=float, help="CSV rows in lat/lon: longitude of the plan's top-left corner"),
        click.option("--origin-lat", type=float, help="CSV rows in lat/lon: latitude of the plan's top-left corner"),
        floor_option,
        click.option("--align", default="", metavar="'FX,FY=X,Y; FX,FY=X,Y'",
                     help="where the file's plan image lies on the venue's: " + ALIGN_HELP),
    ]):
        f = option(f)
    return f


def edit_map(venue: str, action: str, change, *, create=None, release_zones: bool = True, **detail) -> int:
    """One map change from a command (VenueStore.edit: lock, checked write, audited as the command line's, model
    rebuilt); a refused edit is a ClickException and stores nothing, and so is a store fault that leaves it
    unknown whether the change was stored (said so: `map versions` tells). Zones the change removed are released
    and said (`release_and_say`); with `release_zones` False, a change that would remove zones in use is refused
    instead (`refuse_release`). Returns the new version."""
    try:
        with services().venues.edit(venue, action, create=create, by=CLI_ACTOR, **detail) as venue_map:
            # under the map lock: exactly the map this change replaces (version 0: `create`, a new venue's, none)
            before = zone_ids(venue_map) if venue_map.version else frozenset()
            change(venue_map)
            if not release_zones:
                refuse_release(venue, before, zone_ids(venue_map), "the archive lacks")  # raised: nothing stored
    except (ValueError, MapSaveUnknownError) as exc:
        raise click.ClickException(str(exc)) from None
    release_and_say(venue)
    return venue_map.version


def release_and_say(venue: str, *, restored: Iterable[str] = ()) -> None:
    """A command's side of zone_release.release_left_zones, once a change is stored: the zones off the current map
    released, and what was let go of said on stderr, in the console's words (English; for a rollback, which of the
    zones it brought back, `restored`, came back bare)."""
    with force_locale("en"):  # no request to choose a language from
        for warning in release_left_zones(venue, restored=restored, by=CLI_ACTOR):
            click.echo(f"warning: {warning}", err=True)


RELEASE_ZONES_HELP = ("release the zones in use that the change removes (their owner accounts, apps and moments "
                      "rules); without it such a change is refused")


def refuse_release(venue: str, before: Iterable[str], after: Iterable[str], what: str) -> None:
    """A ClickException (exit status 1) when going from `before` to `after` (zone ids) removes zones in use
    (zone_release.zones_in_use): a command that changes the map in one step (map-import, map-rollback) releases them
    only when given --release-zones. `what`: how the new map differs, for the message ("the archive lacks")."""
    in_use = zones_in_use(venue, set(before) - set(after))
    if in_use:
        raise click.ClickException(
            f"nothing was changed: {what} zones in use (managed by owners, with an app set up or with moments rules): "
            f"{', '.join(in_use)}. Going on would release them: take them from their owner accounts, drop their apps "
            f"and settings and delete their moments rules. To go on, run it again with --release-zones; to keep "
            f"them, keep their zones (a map-draft shows what a change does before it is applied).")


def warn_zones_in_use(venue: str, removed: Iterable[str]) -> None:
    """Say on stderr, before a draft is applied, which zones it removes that applying would let go of something for
    (zone_release.zones_in_use; the console's draft page says it too)."""
    with force_locale("en"):  # the console's words (no request to choose a language from)
        warning = dropped_zones_warning(venue, removed)
    if warning:
        click.echo(f"warning: {warning}", err=True)


def _derive_walkways(source: str) -> tuple[list[dict], list[dict]]:
    try:
        plan = import_imdf(source)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    return [asdict(n) for n in plan.nodes], [asdict(e) for e in plan.edges]


# The console's single edits, as commands generated from fingerprints.edits (one map version each).
CONSOLE_EDITS = ("add_floor", "place_ap", "delete_ap", "add_zone", "delete_zone", "add_node", "set_entrance",
                 "add_edge", "delete_walkway", "rescale_floor")
OPTION_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "float | None": float}
# Options with a closed set of values: --help lists them and a typo is refused naming them.
OPTION_CHOICES = {("add_edge", "kind"): edits.EDGE_KINDS}
OPTION_HELP = {"points": "the corners as 'x1,y1 x2,y2 x3,y3 ...', in metres on the plan"}
# A command's help where the edit's docstring speaks to the code (its first line is the help otherwise).
EDIT_HELP = {"place_ap": "Place an AP (--bssid) on floor --level at --x, --y metres on the plan; one already on the "
                         "map is moved there."}


def _points(text: str) -> list[tuple[float, float]]:
    try:
        return [(float(a), float(b)) for a, b in (p.split(",") for p in text.split())]
    except ValueError:
        raise click.BadParameter("write the corners as 'x1,y1 x2,y2 x3,y3' in metres") from None


def _edit_command(name: str) -> click.Command:
    edit = edits.EDITS[name]
    params = list(inspect.signature(edit).parameters.values())[1:]

    def run(venue: str, **kwargs) -> None:
        if "bssid" in kwargs:
            try:
                kwargs["bssid"] = normalise_bssid(kwargs["bssid"])
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--bssid") from None
        if "points" in kwargs:
            kwargs["points"] = _points(kwargs["points"])
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        version = edit_map(venue, name.replace("_", "."), lambda m: edit(m, **kwargs), **{
            k: v for k, v in kwargs.items() if isinstance(v, str | int | float)})
        click.echo(f"{venue}: {name.replace('_', ' ')} done: map v{version}")

    options = [click.Argument(["venue"])]
    for param in params:
        kind = OPTION_TYPES.get(str(param.annotation), str)
        required = param.default is inspect.Parameter.empty
        flag = f"--{param.name.replace('_', '-')}"
        if kind is bool:
            options.append(click.Option([flag, param.name], is_flag=True))
        else:
            choices = OPTION_CHOICES.get((name, param.name))
            options.append(click.Option([flag, param.name], type=click.Choice(choices) if choices else kind,
                                        required=required, default=None if required else param.default,
                                        show_default=not required, help=OPTION_HELP.get(param.name)))
    doc = EDIT_HELP.get(name) or (edit.__doc__ or name.replace("_", " ")).strip().splitlines()[0]
    return click.Command(name.replace("_", "-"), callback=with_appcontext(run), params=options, help=doc)


def register(app: Flask) -> None:
    @app.cli.group("map-edit")
    def map_edit() -> None:
        """The console's map edits, one map version each (use map-draft to group several)."""

    for name in CONSOLE_EDITS:
        map_edit.add_command(_edit_command(name))

    @app.cli.command("ap-template")
    @click.argument("out", type=click.Path(dir_okay=False, writable=True))
    def ap_template(out: str) -> None:
        """Write the AP list CSV template (name, bssids, level, x_m, y_m, lat, lon, height_m, model)."""
        Path(out).write_text(TEMPLATE_CSV)
        click.echo(f"wrote {out}")

    @app.cli.command("ap-import")
    @click.argument("venue")
    @click.argument("source", type=click.Path(exists=True, dir_okay=False))
    @_ap_options
    def ap_import(venue, source, fmt, companion, origin_lon, origin_lat, floor, align) -> None:
        """Place (or move) every AP of an AP list on VENUE's map, as one map version."""
        placements = _ap_placements(venue, source, fmt, companion, origin_lon, origin_lat, floor, align)
        version = edit_map(venue, "ap.import", lambda m: edits.place_aps(m, tqdm(placements, desc="placing APs",
                                                                                file=sys.stderr)),
                        file=Path(source).name, aps=len(placements))
        click.echo(f"placed {len(placements)} AP entries on {venue}: map v{version}")

    @app.cli.command("walkways-derive")
    @click.argument("venue")
    @click.argument("source", type=click.Path(exists=True, dir_okay=False))
    def walkways_derive(venue: str, source: str) -> None:
        """Replace VENUE's walkway graph with the one derived from an IMDF plan (openings, unit categories,
        relationships), as one map version."""
        nodes, edges = _derive_walkways(source)
        version = edit_map(venue, "walk.derive", lambda m: edits.replace_walkways(m, nodes, edges),
                        file=Path(source).name)
        click.echo(f"{venue}: {len(nodes)} walkway nodes, {len(edges)} links derived: map v{version}")

    @app.cli.group("map-draft")
    def map_draft() -> None:
        """Drafts: a set of map changes kept aside, shown as a diff, applied as one map version."""

    @map_draft.command("open")
    @click.argument("venue")
    @click.argument("title")
    def draft_open(venue: str, title: str) -> None:
        """Start a draft; prints its id."""
        new_venue_id(venue)
        try:
            draft = _drafts().open(venue, title, by=CLI_ACTOR)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(draft.id)

    @map_draft.command("list")
    @click.argument("venue")
    def draft_list(venue: str) -> None:
        """VENUE's open drafts."""
        for d in _drafts().list(venue):
            click.echo(f"{d.id}  {d.title}  ({len(d.steps)} steps, started on v{d.base} by {d.by})")

    def _add(venue: str, draft_id: str, edit: str, args: dict, note: str) -> None:
        try:
            n = _drafts().add(venue, draft_id, edit, args, note)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"draft {draft_id}: step {n} added ({note})")

    def _preview(venue: str, draft_id: str):
        try:
            return _drafts().preview(venue, draft_id)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None

    @map_draft.command("add-imdf")
    @click.argument("venue")
    @click.argument("draft_id", metavar="DRAFT")
    @click.argument("source", type=click.Path(exists=True, dir_okay=False))
    def draft_add_imdf(venue: str, draft_id: str, source: str) -> None:
        """Add an IMDF plan import (floors, zones, shops; walkways derived when it has none of ours)."""
        try:
            imported, notes = import_imdf_with_notes(source, venue_id=venue)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        for note in notes:  # imported all the same; said here and in the step, where `show` lists it
            click.echo(f"note: {note}", err=True)
        _add(venue, draft_id, "merge_imported", {"imported": imported.to_dict()},
             imdf_note(Path(source).name, len(notes)))

    @map_draft.command("add-aps")
    @click.argument("venue")
    @click.argument("draft_id", metavar="DRAFT")
    @click.argument("source", type=click.Path(exists=True, dir_okay=False))
    @_ap_options
    def draft_add_aps(venue, draft_id, source, fmt, companion, origin_lon, origin_lat, floor, align) -> None:
        """Add an AP list (CSV, .esx, Meraki, UniFi)."""
        _, after = _preview(venue, draft_id)
        placements = _ap_placements(venue, source, fmt, companion, origin_lon, origin_lat, floor, align, base=after)
        _add(venue, draft_id, "place_aps", {"aps": placements}, aps_note(len(placements), Path(source).name))

    @map_draft.command("add-samples")
    @click.argument("venue")
    @click.argument("draft_id", metavar="DRAFT")
    @click.argument("source", type=click.Path(exists=True, dir_okay=False))
    @click.option("--format", "fmt", type=click.Choice(["mallportal", "ujiindoorloc"]), default=None)
    @click.option("--mode", type=click.Choice(["replace", "append"]), default="replace", show_default=True)
    @click.option("--scans", type=click.IntRange(1, 10_000), default=1, show_default=True,
                  help="scans behind each single-row reference point (the CSV does not say)")
    @click.option("--waps", type=click.Path(exists=True, dir_okay=False),
                  help="UJIIndoorLoc WAP,BSSID sidecar (default: SOURCE.waps.csv if present)")
    @click.option("--venue-order", is_flag=True, help=VENUE_ORDER_HELP)
    @floor_option
    def draft_add_samples(venue, draft_id, source, fmt, mode, scans, waps, venue_order, floor) -> None:
        """Add fingerprint samples from a survey CSV."""
        _, after = _preview(venue, draft_id)
        try:
            samples = survey_samples(after, source, fmt, scans, waps, venue_order, floor)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        rows = [asdict(s) for s in tqdm(samples, desc="reading samples", file=sys.stderr)]
        _add(venue, draft_id, "replace_samples", {"samples": rows, "mode": mode},
             samples_note(len(rows), Path(source).name, mode))

    @map_draft.command("add-walkways")
    @click.argument("venue")
    @click.argument("draft_id", metavar="DRAFT")
    @click.argument("source", type=click.Path(exists=True, dir_okay=False))
    def draft_add_walkways(venue: str, draft_id: str, source: str) -> None:
        """Add the walkway graph derived from an IMDF plan."""
        nodes, edges = _derive_walkways(source)
        _add(venue, draft_id, "replace_walkways", {"nodes": nodes, "edges": edges},
             walkways_note(Path(source).name, len(nodes), len(edges)))

    @map_draft.command("show")
    @click.argument("venue")
    @click.argument("draft_id", metavar="DRAFT")
    def draft_show(venue: str, draft_id: str) -> None:
        """The draft's steps and what it changes (added / removed / changed, per part of the map)."""
        draft = _drafts().get(venue, draft_id)
        if draft is None:
            raise click.ClickException(f"there is no draft {draft_id!r}")
        before, after = _preview(venue, draft_id)
        click.echo(f"draft {draft.id} {draft.title!r}: {len(draft.steps)} steps, on top of v{before.version}")
        for i, step in enumerate(draft.steps, 1):
            click.echo(f"  {i}. {step['edit']}: {step.get('note', '')}")
        diff = diff_maps(before, after)
        for part, d in diff.items():
            if any(d.values()):
                click.echo(f"  {part}: +{len(d['added'])} -{len(d['removed'])} ~{len(d['changed'])}")
        warn_zones_in_use(venue, diff["zones"]["removed"])  # said before it is applied, as the console does

    @map_draft.command("apply")
    @click.argument("venue")
    @click.argument("draft_id", metavar="DRAFT")
    def draft_apply(venue: str, draft_id: str) -> None:
        """Apply every step as ONE map version (one model rebuild)."""
        try:
            version = _drafts().apply(venue, draft_id, by=CLI_ACTOR)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"draft {draft_id} applied: {venue} map v{version}")
        release_and_say(venue)

    @map_draft.command("abandon")
    @click.argument("venue")
    @click.argument("draft_id", metavar="DRAFT")
    def draft_abandon(venue: str, draft_id: str) -> None:
        """Drop the draft; the map is not changed."""
        if not _drafts().abandon(venue, draft_id):
            raise click.ClickException(f"there is no draft {draft_id!r}")
        click.echo(f"draft {draft_id} abandoned")
