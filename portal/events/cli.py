"""`python -m portal flask insights ...`: the simulated day, and a day's insights in the terminal."""

from __future__ import annotations

from datetime import UTC, date, datetime

import click
from flask import Flask, current_app

from portal.demo import is_demo_venue
from portal.events.report import day_insights, page_context, rate, venue_tz
from portal.events.sim import past_days, simulate
from portal.services import services


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
        venue_map = services().venues.get_map(venue)
        if venue_map is None:
            raise click.UsageError(f"unknown venue {venue!r}")
        try:
            when = date.fromisoformat(day)
        except ValueError:
            raise click.UsageError("--day must be YYYY-MM-DD") from None
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


def _plain(text: str) -> str:
    """The page's "—" (no figure) as a terminal's "-"."""
    return text.replace("—", "-")
