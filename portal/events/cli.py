"""`python -m portal flask insights ...`: the simulated day, a day's insights in the terminal, and the exports of
several venues and periods in one file (for a group operator: `export`)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click
from flask import Flask, current_app

from core.errors import InputError
from portal.auth import CLI_ACTOR
from portal.cli import known_venue, written
from portal.demo import is_demo_venue
from portal.events.report import FiguresNotShown, day_insights, page_context, rate, venue_tz
from portal.events.sim import past_days, simulate
from portal.operator.footfall import read_day
from portal.operator.insights import (
    EXPORTS,
    PERIODS,
    Export,
    audit_insights_export,
    build_export,
    export_body,
    export_scope,
    not_after_today,
    period_of,
    period_span,
)
from portal.services import services

# The longest range one `insights export` takes: a year's days (the event log keeps 395 days at most, by default).
MAX_EXPORT_DAYS = 366
Period = tuple[str, date, int]  # (day | week | month, its last day, its days): operator.insights.period_of


def register(app: Flask) -> None:
    @app.cli.group("insights")
    def insights() -> None:
        """The event log's insights and the simulated day."""

    @insights.command("simulate")
    @click.option("--venue", default="demo", show_default=True)
    @click.option("--days", default=2, show_default=True, type=click.IntRange(1, 60),
                  help="simulate this many days, ending yesterday")
    @click.option("--shoppers", default=150, show_default=True, type=click.IntRange(1, 100_000))
    @click.option("--staff", default=3, show_default=True, type=click.IntRange(0, 1000))
    @click.option("--seed", default=7, show_default=True, type=int)
    def simulate_cmd(venue: str, days: int, shoppers: int, staff: int, seed: int) -> None:
        """Drive seeded shoppers through the venue's zones and apps; print the ground truth per day."""
        svc = services()
        venue_map = svc.venues.get_map(venue)
        if venue_map is None:
            raise click.UsageError(f"unknown venue {venue!r}")
        if not is_demo_venue(svc.db, venue):
            # its events, transactions and footfall would be a real mall's figures, and nothing tells them apart
            raise click.UsageError(f"venue {venue!r} is no demo venue: simulated shoppers would be counted as its "
                                   "real traffic (insights, footfall, coupons and queues), and cannot be removed")
        landing = current_app.extensions["captive"].landing
        tz = venue_tz(svc, venue_map)  # the venue's days, as `show` and the consoles read them
        for truth in simulate(svc, landing, venue, past_days(days, tz), app=current_app, seed=seed,
                              shoppers=shoppers, staff=staff, tz=tz):
            seen = len(truth.visitors) + len(truth.passers_by)
            click.echo(f"{truth.day}: {truth.arrivals} visits, {len(truth.visitors)} visitors, "
                       f"{len(truth.passers_by)} passers-by (capture {rate(len(truth.visitors), seen)}), "
                       f"{sum(len(s) for s in truth.transacted.values())} buyers, "
                       f"{len(truth.new) + len(truth.one_off_buyers)} new and {len(truth.repeat)} repeat shoppers, "
                       f"{len(truth.staff)} staff phones")

    @insights.command("show")
    @click.option("--venue", default="demo", show_default=True)
    @click.option("--day", required=True, help="YYYY-MM-DD")
    def show(venue: str, day: str) -> None:
        """A day's figures as the operator's insights page shows them: k-safe ("<5", "withheld"), rates to one
        decimal."""
        venue_map = services().venues.get_map(known_venue(venue))
        try:
            when = read_day(day, "--day")  # as `export` and the consoles read a day
        except InputError as exc:
            raise click.BadParameter(exc.message, param_hint=exc.field) from None
        f = day_insights(services(), venue_map, when)
        if "period" in f.incomplete:  # the trimmed log no longer holds the whole day: no false zeros
            raise click.ClickException(f"{day}: incomplete, the event log holds only the events written from "
                                       f"{datetime.fromtimestamp(f.kept_since or 0, UTC):%Y-%m-%d %H:%M} UTC "
                                       "on (EVENTS_MAXLEN)")
        # The page's own figures (one rule for what is shown and how a rate reads), in English: its labels need a
        # request's language, which a command has none of.
        with current_app.test_request_context("/?lang=en"):
            page = page_context(f, {})
        shown = {key: _plain(value) for key, value in page.items() if isinstance(value, str)}
        funnels = [{key: _plain(value) for key, value in row.items()} for row in page["funnels"]]
        click.echo(f"visitors {shown['visitors']}, passers-by {shown['passers_by']}, capture {shown['capture']}, "
                   f"new {shown['new']}, repeat {shown['repeat']}")
        if page["so_far"]:
            click.echo(page["so_far"])
        for r in funnels:
            click.echo(f"  {r['zone']}: in zone {r['in_zone']}, landed {r['landed']} ({r['landed_rate']}), "
                       f"transacted {r['transacted']} ({r['transacted_rate']}), referred {r['referred']}")

    register_export(insights)


def register_export(insights: click.Group) -> None:
    @insights.command("export")
    @click.option("--venues", required=True, help="venue ids, comma separated (demo,galleria)")
    @click.option("--from", "first", required=True, help="the first day, YYYY-MM-DD (in each venue's time zone)")
    @click.option("--until", "last", required=True, help="the last day, YYYY-MM-DD (at most each venue's today)")
    @click.option("--period", default="day", show_default=True, type=click.Choice(PERIODS),
                  help="one set of rows per day, per ISO week or per calendar month holding a day of the range")
    @click.option("--format", "fmt", default="csv", show_default=True, type=click.Choice(sorted(EXPORTS)))
    @click.option("--lang", default="en", show_default=True, type=click.Choice(("en", "zh")),
                  help="the language of zone names and metadata")
    @click.option("--out", required=True, type=click.Path(dir_okay=False), help="the file to write")
    def export_cmd(venues: str, first: str, last: str, period: str, fmt: str, lang: str, out: str) -> None:
        """Every venue's insights of every period from --from to --until in one file: the rows the consoles'
        exports hold (k-safe, each naming its venue and period), the same export per venue and period, each in its
        venue's time zone. A period with no figures to give (the log no longer holds it) is skipped and said.
        Audited per venue (user "cli"). Progress on stderr."""
        venue_maps = export_venues(venues)
        since, until = export_range(first, last, venue_maps)
        jobs = [(venue_map, p) for venue_map in venue_maps for p in periods_between(since, until, period)]
        with current_app.test_request_context(f"/?lang={lang}"):  # the exports' words need a request's language
            parts, skipped = export_parts(jobs)
            if not parts:
                raise click.ClickException("nothing to export: " + "; ".join(skipped))
            holding = "" if period == "day" else " holding a day"  # whole weeks and months
            meta = combined_meta([e for _m, _p, e in parts], venue_maps,
                                 f"each {period}{holding} from {since} to {until}", skipped)
        body = export_body(fmt, [row for _m, _p, e in parts for row in e.table], meta)
        written(out, lambda: write_file(Path(out), body))
        audit_cli_export(parts, venue_maps, fmt, period)
        click.echo(f"{out}: {sum(len(e.table) for _m, _p, e in parts)} rows, {len(parts)} periods of "
                   f"{len(venue_maps)} venue(s){f', {len(skipped)} skipped' if skipped else ''}")


def export_venues(raw: str) -> list:
    """--venues: ids, comma separated, each once, in the order given; an unknown one is a usage error."""
    names = list(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))
    if not names:
        raise click.BadParameter("name at least one venue", param_hint="--venues")
    return [services().venues.get_map(known_venue(name)) for name in names]


def export_range(first: str, last: str, venue_maps: list) -> tuple[date, date]:
    """--from and --until as the consoles read a day (`read_day`), in order, at most MAX_EXPORT_DAYS apart, the last
    not after any venue's today (`not_after_today`); else a usage error naming the option."""
    try:
        since, until = read_day(first, "--from"), read_day(last, "--until")
        for venue_map in venue_maps:
            not_after_today(venue_map.id, until, "--until")
    except InputError as exc:
        raise click.BadParameter(exc.message, param_hint=exc.field) from None
    if since > until:
        raise click.BadParameter(f"{since} is after --until {until}", param_hint="--from")
    if (until - since).days >= MAX_EXPORT_DAYS:
        raise click.BadParameter(f"at most {MAX_EXPORT_DAYS} days from --from", param_hint="--until")
    return since, until


def periods_between(since: date, until: date, name: str) -> list[Period]:
    """Each period of kind `name` holding a day from `since` to `until`, in order; a week or a month is whole, so
    it may begin before `since` or end after `until` (periods are fixed: `period_of`)."""
    out, day = [], since
    while day <= until:
        out.append(period_of(name, day))
        day = out[-1][1] + timedelta(days=1)
    return out


def export_parts(jobs: list[tuple[object, Period]]) -> tuple[list[tuple[object, Period, Export]], list[str]]:
    """Each venue's export of each period (`build_export`, as the operator's console makes it), with a progress bar
    on stderr; a period with no figures to give is skipped, said on stderr and listed ("venue span: why")."""
    parts, skipped = [], []
    with click.progressbar(jobs, label="exporting", file=sys.stderr,
                           item_show_func=lambda job: job and f"{job[0].id} {job[1][1]}") as bar:
        for venue_map, (name, last, days) in bar:
            span = period_span(name, last, days)
            figures = day_insights(services(), venue_map, last, days=days)
            try:
                parts.append((venue_map, (name, last, days),
                              build_export(venue_map, figures, span, export_scope(venue_map)[1])))
            except FiguresNotShown as exc:
                skipped.append(f"{venue_map.id} {span}: {exc.description}")
                click.echo(f"skipped {skipped[-1]}", err=True)
    return parts, skipped


def combined_meta(exports: list[Export], venue_maps: list, periods: str,
                  skipped: list[str]) -> list[tuple[str, str]]:
    """The file's metadata: the lines its parts all say alike (what it is, its scope, k, what value and status
    mean, the definitions), then what sets them apart, said for the whole: the venues with their time zones, the
    periods, whether any is still under way, what was skipped, when; each row names its own venue and period."""
    own = [("venues", ", ".join(f"{m.id} ({venue_tz(services(), m)})" for m in venue_maps)), ("periods", periods),
           ("partial", str(any(e.partial for e in exports)).lower()),
           *((("skipped", "; ".join(skipped)),) if skipped else ()),
           ("exported_at", datetime.now(UTC).isoformat(timespec="minutes"))]
    said = {key for key, _text in own}
    alike = [(key, text) for key, text in exports[0].meta
             if key not in said and all((key, text) in e.meta for e in exports[1:])]
    return alike + own


def write_file(path: Path, body: str | bytes) -> None:
    if isinstance(body, bytes):
        path.write_bytes(body)
    else:
        with path.open("w", encoding="utf-8", newline="") as out:  # the CSV's own CRLF, as the consoles send it
            out.write(body)


def audit_cli_export(parts: list[tuple[object, Period, Export]], venue_maps: list, fmt: str, name: str) -> None:
    """One audit entry per venue with rows in the file (user "cli"): the days its periods cover, their kind and
    number, and, for one still under way, until when."""
    for venue_map in venue_maps:
        mine = [(last, days, e) for m, (_n, last, days), e in parts if m is venue_map]
        if mine:
            covered = f"{mine[0][0] - timedelta(days=mine[0][1] - 1)}..{mine[-1][0]}"
            audit_insights_export(venue_map.id, CLI_ACTOR, fmt, "venue", covered, mine[-1][2].until,
                                  by=name, periods=str(len(mine)))


def _plain(text: str) -> str:
    """The page's "—" (no figure) as a terminal's "-"."""
    return text.replace("—", "-")
