"""Operator commands: `flask --app wsgi <command>`."""

from __future__ import annotations

import click
from flask import Flask

from portal.services import services


def register(app: Flask) -> None:
    @app.cli.command("load-demo")
    @click.option("--venue", default="demo", show_default=True)
    def load_demo(venue: str) -> None:
        """Load the demo mall into the store if the venue has no map yet."""
        from portal.seed import ensure_demo_mall

        loaded = ensure_demo_mall(services(), venue)
        click.echo("demo mall loaded" if loaded else f"venue {venue} already has a map; nothing done")

    @app.cli.command("issue-token")
    @click.argument("venue")
    @click.argument("label")
    def issue_token(venue: str, label: str) -> None:
        """Issue a bearer token for a report source (printed once; only its hash is stored)."""
        if not services().venues.exists(venue):
            raise click.UsageError(f"unknown venue {venue!r}")
        click.echo(services().tokens.issue(venue, label))
