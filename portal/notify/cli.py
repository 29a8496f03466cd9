"""`python -m portal flask outbox ...`: the notification outbox's counts and dead letters, from a terminal.

    flask outbox stats VENUE
    flask outbox dead VENUE [--limit 50]          the dead letters, newest first: id, time, event, channel, error
    flask outbox replay VENUE (LETTER | --all)    send one (or every) dead letter again
    flask outbox drop VENUE (LETTER | --all)      forget one (or every) dead letter

The same operations as the operator console's page (/console/ops/<venue>/outbox), audited alike."""

from __future__ import annotations

import time

import click
from flask import Flask

from portal.auth import cli_audit
from portal.notify.outbox import LETTER_ID, Outbox
from portal.services import services


def _outbox() -> Outbox:
    return Outbox(services().db)


def _stats(venue: str) -> dict[str, int]:
    """The outbox's counts for VENUE; an unknown venue (a typo) is refused, as by the other commands, unless the
    outbox holds something for it: its zeros would say nothing (as `flask audit` does for its log)."""
    stats = _outbox().stats(venue)
    if not any(stats.values()) and not services().venues.exists(venue):
        raise click.UsageError(f"unknown venue {venue!r}")
    return stats


def _one_or_all(letter: str | None, every: bool) -> None:
    if every == bool(letter):
        raise click.UsageError("give one dead letter's id, or --all")
    if letter and not LETTER_ID.match(letter):
        raise click.UsageError("a dead letter's id is 16 hex digits (see `python -m portal flask outbox dead VENUE`)")


def _act(venue: str, action: str, letter: str | None, every: bool) -> None:
    _one_or_all(letter, every)
    _stats(venue)
    audited, done = _outbox().act_on_dead(venue, action, None if every else letter)
    if not every and not done:
        raise click.ClickException(f"no dead letter {letter} in {venue}")
    cli_audit(venue, audited, **({"count": done} if every else {"letter": letter}))
    verb = "will be sent again" if action == "replay" else "dropped"
    click.echo(f"{done} dead letters {verb}" if every else verb)


def register(app: Flask) -> None:
    @app.cli.group("outbox")
    def outbox() -> None:
        """The notification outbox: counts and dead letters."""

    @outbox.command("stats")
    @click.argument("venue")
    def stats(venue: str) -> None:
        """The outbox's counts for VENUE (an unknown venue is refused: its zeros would say nothing)."""
        for name, value in sorted(_stats(venue).items()):
            click.echo(f"{name}: {value}")

    @outbox.command("dead")
    @click.argument("venue")
    @click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
    def dead(venue: str, limit: int) -> None:
        """VENUE's dead letters, newest first: id, time, event, channel, try, error."""
        _stats(venue)
        letters = _outbox().dead_letters(venue, limit=limit)
        for d in letters:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(d.at))
            click.echo(f"{d.id}  {when}Z  {d.job.event}  {d.job.channel or '-'}  try {d.job.attempt + 1}  {d.error}")
        if not letters:
            click.echo("no dead letters")

    @outbox.command("replay")
    @click.argument("venue")
    @click.argument("letter", required=False)
    @click.option("--all", "every", is_flag=True, help="every dead letter")
    def replay(venue: str, letter: str | None, every: bool) -> None:
        _act(venue, "replay", letter, every)

    @outbox.command("drop")
    @click.argument("venue")
    @click.argument("letter", required=False)
    @click.option("--all", "every", is_flag=True, help="every dead letter")
    def drop(venue: str, letter: str | None, every: bool) -> None:
        _act(venue, "drop", letter, every)
