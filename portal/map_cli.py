"""Operator commands for fingerprint maps: `flask --app wsgi <command>`.

map-export / map-import (IMDF zip), samples-export / samples-import (CSV, MallPortal or UJIIndoorLoc
layout), quality-report (figures and PNGs), positioning-tune (the venue's positioner configuration),
rebuild-model, map-versions, map-rollback. Every change of
the map is a new map version (an import is all or nothing: nothing is stored unless the file is valid); a zone an
import or a rollback removes is released, and said (portal/operator/zone_release.py)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import click
from flask import Flask

from fingerprints import edits
from fingerprints.imdf import DEFAULT_ORIGIN, Origin, import_imdf_with_notes, write_imdf_zip
from fingerprints.quality import configuration_note, quality_report, read_walk_csv, write_report_pngs
from fingerprints.samples_io import VENUE_ORDER_HELP, write_samples_csv
from fingerprints.training import NOT_TUNED_LIVE, checked_live_config, live_defaults, tune_venue
from portal import setup_cli
from portal.auth import CLI_ACTOR
from portal.cli import new_venue_id, written
from portal.maps.validation import ValidationWalks
from portal.operator.zone_release import zone_ids
from portal.services import services
from portal.tracking.estimate import live_estimate, validation_walk
from portal.tracking.models import build_venue_model
from portal.tracking.phone_mix import venue_phones


def _venue_map(venue: str, for_update: bool = False):
    svc = services()
    if not svc.venues.exists(venue):
        raise click.UsageError(f"unknown venue {venue!r}")
    venue_map = svc.venues.get_map(venue, for_update=for_update)
    if venue_map is None:
        raise click.UsageError(f"venue {venue!r} has no map")
    return venue_map


def _bar_progress(bar) -> Callable[[int, int], None]:
    """A `progress(done, total)` callback that moves a click progress bar (its length learnt on the first call)."""
    def progress(done: int, total: int) -> None:
        bar.length = total
        bar.update(done - bar.pos)
    return progress


def _tune_out_file(config_file: str) -> dict:
    """The configuration in a file `python -m positioning tune --out` wrote (every parameter of the model the folds
    chose), as a venue stores it: its floor classifier left out, with a note saying why (the live model decides
    the floor by its neighbours alone: fingerprints/training.py checked_live_config), rather than refusing the
    file; anything else the live model cannot run is refused by checked_live_config."""
    try:
        config = json.loads(Path(config_file).read_text(encoding="utf-8"))
    except RecursionError:
        raise click.ClickException(f"{config_file}: JSON nested too deep") from None
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"{config_file}: not JSON ({exc})") from None
    if isinstance(config, dict) and config.get("floor_model") is not None:
        click.echo(f"note: floor_model {json.dumps(config['floor_model'])} left out: the live model decides the floor "
                   "by its neighbours alone (a floor classifier is for `positioning evaluate`)")
        config = {name: value for name, value in config.items() if name != "floor_model"}
    return checked_live_config(config)


def _positioner_choice(venue_map, config_file: str | None, defaults: bool, **tune_args) -> tuple[dict, dict]:
    """(configuration, how it was chosen) for `positioning-tune`: from a file, the defaults, or tuned."""
    if defaults:
        return {}, {}
    if config_file:
        return _tune_out_file(config_file), {"source": Path(config_file).name, "at": int(time.time())}
    with click.progressbar(length=1, label="cross-validating", file=sys.stderr) as bar:
        result = tune_venue(venue_map, progress=_bar_progress(bar), **tune_args)
    live = live_defaults()
    held = ", ".join(f"{name}={json.dumps(live[name])}" for name in NOT_TUNED_LIVE)
    click.echo(f"held at the live model's values ({held}): still survey vectors cannot judge them for a live phone "
               "(docs/positioning.md); its spatial cluster and weight power too; --config FILE stores any "
               "configuration the live model can run")
    click.echo(f"{result.n_splits} folds over {result.n_groups} {result.group_kind}s of map v{venue_map.version}:")
    for row in result.rows[:5]:
        click.echo(f"  {json.dumps(row.params)}: floor {row.floor_hit_rate:.1%} +- {row.floor_sd:.1%}, "
                   f"mean error {row.mean_error_m:.2f} m +- {row.error_sd:.2f}")
    verdict = {**result.verdict(), "map_version": venue_map.version, "samples": len(venue_map.samples),
               "at": int(time.time())}
    return checked_live_config(result.config), verdict


def register(app: Flask) -> None:
    setup_cli.register(app)  # venue set-up: AP lists, derived walkways, drafts
    @app.cli.command("map-export")
    @click.argument("venue")
    @click.argument("out", type=click.Path(dir_okay=False, writable=True))
    @click.option("--origin-lon", type=float, help="longitude of the plan's top-left corner (0, 0)")
    @click.option("--origin-lat", type=float, help="latitude of the plan's top-left corner (0, 0)")
    @click.option("--rotation", type=float, default=None,
                  help="plan rotation, degrees clockwise from north-up")
    def map_export(venue: str, out: str, origin_lon: float | None, origin_lat: float | None,
                   rotation: float | None) -> None:
        """Export VENUE's current map as an IMDF archive (zip), placed where the venue's plan is known to lie
        (its IMDF import), unless told otherwise."""
        venue_map = _venue_map(venue)
        known = Origin(**venue_map.origin) if venue_map.origin else DEFAULT_ORIGIN
        try:
            origin = Origin(known.lon if origin_lon is None else origin_lon,
                            known.lat if origin_lat is None else origin_lat,
                            known.rotation_deg if rotation is None else rotation)
            path = written(out, lambda: write_imdf_zip(venue_map, out, origin))
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"wrote {path} (IMDF 1.0.0, map v{venue_map.version}: {len(venue_map.floors)} levels, "
                   f"{len(venue_map.zones)} units, {len(venue_map.shops)} occupants, {len(venue_map.aps)} APs)")

    @app.cli.command("map-import")
    @click.argument("venue")
    @click.argument("source", type=click.Path(exists=True, dir_okay=False))
    @click.option("--release-zones", is_flag=True, help=setup_cli.RELEASE_ZONES_HELP)
    def map_import(venue: str, source: str, release_zones: bool) -> None:
        """Import an IMDF archive as VENUE's next map version. Fingerprint samples are kept (re-zoned);
        APs too when the archive has none. Nothing is stored if the archive is invalid, nor if it lacks zones in
        use without --release-zones."""
        new_venue_id(venue)
        try:
            imported, notes = import_imdf_with_notes(source, venue_id=venue)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        for note in notes:  # imported all the same, never silently
            click.echo(f"note: {note}", err=True)
        # the zones the archive no longer has are released by edit_map, which says what was let go of
        version = setup_cli.edit_map(venue, "map.import_imdf", lambda m: edits.merge_imported(m, imported.to_dict()),
                                     create=imported, release_zones=release_zones, file=Path(source).name)
        merged = services().venues.get_map(venue, version)
        click.echo(f"imported {source} as {venue} map v{version}: {len(merged.floors)} floors, "
                   f"{len(merged.zones)} zones, {len(merged.shops)} shops, {len(merged.aps)} APs, "
                   f"{len(merged.samples)} samples kept")

    @app.cli.command("samples-export")
    @click.argument("venue")
    @click.argument("out", type=click.Path(dir_okay=False, writable=True))
    @click.option("--format", "fmt", type=click.Choice(["mallportal", "ujiindoorloc"]), default="mallportal",
                  show_default=True)
    def samples_export(venue: str, out: str, fmt: str) -> None:
        """Export VENUE's fingerprint samples as CSV (UJIIndoorLoc also writes OUT.waps.csv)."""
        venue_map = _venue_map(venue)
        paths = written(out, lambda: write_samples_csv(venue_map, out, fmt))
        click.echo(f"wrote {len(venue_map.samples)} samples of map v{venue_map.version} to "
                   f"{', '.join(map(str, paths))}")

    @app.cli.command("samples-import")
    @click.argument("venue")
    @click.argument("source", type=click.Path(exists=True, dir_okay=False))
    @click.option("--format", "fmt", type=click.Choice(["mallportal", "ujiindoorloc"]), default=None,
                  help="guessed from the header when left out")
    @click.option("--mode", type=click.Choice(["replace", "append"]), default="replace", show_default=True)
    @click.option("--scans", type=click.IntRange(1, 10_000), default=1, show_default=True,
                  help="scans behind each single-row reference point (the CSV does not say)")
    @click.option("--waps", type=click.Path(exists=True, dir_okay=False),
                  help="UJIIndoorLoc WAP,BSSID sidecar (default: SOURCE.waps.csv if present)")
    @click.option("--venue-order", is_flag=True, help=VENUE_ORDER_HELP)
    @setup_cli.floor_option
    def samples_import(venue: str, source: str, fmt: str | None, mode: str, scans: int, waps: str | None,
                       venue_order: bool, floor: tuple[str, ...]) -> None:
        """Import fingerprint samples from CSV into VENUE's next map version (all or nothing)."""
        _venue_map(venue)
        count = {}

        def change(m) -> None:
            samples = setup_cli.survey_samples(m, source, fmt, scans, waps, venue_order, floor)
            count["n"] = len(samples)
            edits.replace_samples(m, [asdict(s) for s in samples], mode)
            count["total"] = len(m.samples)

        version = setup_cli.edit_map(venue, "samples.import", change, file=Path(source).name, mode=mode)
        click.echo(f"imported {count['n']} reference points ({mode}); {venue} map v{version} has "
                   f"{count['total']} samples")

    @app.cli.command("quality-report")
    @click.argument("venue")
    @click.option("--floor", type=int, default=None, help="only this floor's reference points")
    @click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
                  help="write confusion.png, error-floor<N>.png and ap-<bssid>.png here")
    @click.option("--json", "as_json", type=click.Path(dir_okay=False), default=None,
                  help="also write the figures as JSON")
    @click.option("--no-ap-heatmaps", is_flag=True, help="skip the per-AP RSSI heatmaps")
    def quality_report_cmd(venue: str, floor: int | None, out_dir: str | None, as_json: str | None,
                           no_ap_heatmaps: bool) -> None:
        """Cross-validated accuracy of VENUE's map (leave-one-reference-point-out) and its weak spots."""
        venue_map = _venue_map(venue)
        try:
            report = quality_report(venue_map, floor=floor, progress=True)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        for line in report.summary_lines():
            click.echo(line)
        if floor is None:
            with click.progressbar(length=1, label="simulating visits", file=sys.stderr) as bar:
                assumptions, _counted = venue_phones(services().db, venue, time.time())
                estimate = live_estimate(venue_map, assumptions, progress=_bar_progress(bar))
            for line in estimate.summary_lines():
                click.echo(line)
            if note := configuration_note(venue_map.positioner):
                click.echo(f"  {note}")
        if as_json:
            Path(as_json).write_text(json.dumps(report.to_dict(), indent=1, default=float))
            click.echo(f"wrote {as_json}")
        if out_dir:
            written = write_report_pngs(venue_map, report, out_dir, progress=True, ap_heatmaps=not no_ap_heatmaps)
            click.echo(f"wrote {len(written)} PNG files to {out_dir}")

    @app.cli.command("validation-walk")
    @click.argument("venue")
    @click.argument("route_csv", type=click.Path(exists=True, dir_okay=False))
    @click.argument("readings_csv", type=click.Path(exists=True, dir_okay=False))
    def validation_walk_cmd(venue: str, route_csv: str, readings_csv: str) -> None:
        """Live error and landing along a walked route: ROUTE_CSV (ts,floor,x,y where the operator was) and
        READINGS_CSV (ts,ap,rssi: the walking phone's readings as the APs reported them). The result is
        stored for the venue's set-up checklist. A route point off the venue's floors or plans, or readings
        with none from its APs during the walk, are refused (exit code 2) and nothing is recorded."""
        venue_map = _venue_map(venue)
        window_s = services().settings.rssi_window_s
        try:
            route, readings = read_walk_csv(route_csv, readings_csv, venue_map, window_s)
            walk = validation_walk(venue_map, route, readings, window_s=window_s)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None  # bad input: exit code 2, as an unknown venue
        ValidationWalks(services().db).record(venue, walk, CLI_ACTOR,
                                              f"{Path(route_csv).name} + {Path(readings_csv).name}")
        for line in walk.summary_lines():
            click.echo(line)
        click.echo(f"recorded for the set-up checklist of {venue}")
        for p in walk.points:
            click.echo(f"  {p.ts:.0f} floor {p.floor} ({p.x:.1f}, {p.y:.1f}) {p.zone or '-'} -> "
                       f"{p.est_zone or 'home'} floor {p.est_floor} error {p.error_m:.1f} m")

    @app.cli.command("rebuild-model")
    @click.argument("venue")
    def rebuild_model(venue: str) -> None:
        """Build the positioning model of VENUE's current map version; print fit time and size."""
        venue_map = _venue_map(venue)
        started = time.perf_counter()
        try:
            model = build_venue_model(venue_map)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        took = time.perf_counter() - started
        size = model.positioner.model_bytes()
        click.echo(f"{venue} map v{model.version}: {len(venue_map.samples)} samples x {len(model.ap_ids)} APs, "
                   f"fitted in {took * 1000:.0f} ms, model {size / 1024:.0f} KiB")
        click.echo("the portal picks the new version up on its next lookup (models are swapped whole)")

    @app.cli.command("positioning-tune")
    @click.argument("venue")
    @click.option("--groups", type=click.Choice(["auto", "point", "block"]), default="auto", show_default=True,
                  help="what the folds hold out: reference points (auto, for a one-phone survey) or spatial blocks")
    @click.option("--block-m", type=click.FloatRange(min=1.0), default=10.0, show_default=True)
    @click.option("--folds", type=click.IntRange(2, 20), default=4, show_default=True)
    @click.option("--per-fold", type=click.IntRange(10, 100_000), default=600, show_default=True,
                  help="held-out vectors scored per fold")
    @click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
                  help="store this JSON instead (what `python -m positioning tune --out` writes)")
    @click.option("--defaults", is_flag=True, help="forget the venue's configuration: the live defaults again")
    @click.option("--dry-run", is_flag=True, help="print the cross-validation, store nothing")
    @click.option("--even-untrusted", is_flag=True, help="store the choice even when its estimate cannot be trusted")
    def positioning_tune(venue: str, groups: str, block_m: float, folds: int, per_fold: int,
                         config_file: str | None, defaults: bool, dry_run: bool, even_untrusted: bool) -> None:
        """Choose VENUE's live positioner configuration by cross-validation on its own survey and store it
        with the map (a new map version: the live model is rebuilt with it on its next lookup)."""
        venue_map = _venue_map(venue)
        try:
            config, verdict = _positioner_choice(venue_map, config_file, defaults, groups=groups, block_m=block_m,
                                                 folds=folds, per_fold=per_fold)
        except (ValueError, OSError) as exc:
            raise click.ClickException(str(exc)) from None
        if verdict.get("warnings"):
            click.echo(f"NOT TRUSTED: {verdict['warnings']}")
        if verdict.get("notes"):
            click.echo(f"note: {verdict['notes']}")
        click.echo(f"configuration: {json.dumps(config) if config else 'the live defaults'}")
        if dry_run:
            click.echo("dry run: nothing stored")
            return
        if verdict.get("trusted") is False and not even_untrusted:
            raise click.ClickException("not stored: the estimate cannot be trusted (--even-untrusted to store it)")

        def change(m) -> None:
            m.positioner, m.positioner_tuning = config, verdict

        version = setup_cli.edit_map(venue, "positioning.tune", change, **{k: str(v) for k, v in config.items()})
        click.echo(f"stored as {venue} map v{version}: the live model is rebuilt with it on its next lookup")

    @app.cli.command("map-versions")
    @click.argument("venue")
    def map_versions(venue: str) -> None:
        """List VENUE's map versions (* = current)."""
        svc = services()
        if not svc.venues.exists(venue):
            raise click.UsageError(f"unknown venue {venue!r}")
        current = svc.venues.current_version(venue)
        with click.progressbar(svc.venues.versions(venue), label="reading versions", file=sys.stderr) as versions:
            rows = []
            for v in versions:
                m = svc.venues.get_map(venue, v)
                rows.append((v, m))
        for v, m in rows:
            mark = "*" if v == current else " "
            if m is None:
                click.echo(f"{mark} v{v}: (missing)")
                continue
            click.echo(f"{mark} v{v}: {len(m.floors)} floors, {len(m.zones)} zones, {len(m.aps)} APs, "
                       f"{len(m.samples)} samples")

    @app.cli.command("map-rollback")
    @click.argument("venue")
    @click.argument("version", type=int)
    @click.option("--release-zones", is_flag=True, help=setup_cli.RELEASE_ZONES_HELP)
    def map_rollback(venue: str, version: int, release_zones: bool) -> None:
        """Make an earlier (or later) stored map VERSION current again (refused if it lacks zones in use, unless
        --release-zones)."""
        svc = services()
        if not svc.venues.exists(venue):
            raise click.UsageError(f"unknown venue {venue!r}")
        before = zone_ids(svc.venues.get_map(venue))
        target = svc.venues.get_map(venue, version)
        if target is not None and not release_zones:  # a missing version: set_current says so
            setup_cli.refuse_release(venue, before, zone_ids(target), f"map v{version} lacks")
        try:
            svc.venues.set_current(venue, version, by=CLI_ACTOR)
        except KeyError as exc:
            raise click.ClickException(str(exc.args[0])) from None
        click.echo(f"{venue}: map v{version} is current")
        # a zone the rolled-back-to version lacks leaves the map like any other (zone_release)
        setup_cli.release_and_say(venue, restored=zone_ids(target) - before)
