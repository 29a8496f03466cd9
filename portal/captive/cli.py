"""`flask --app wsgi portal-config <venue> [key=value ...]`: show or change a venue's portal settings."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from portal.captive.common import captive_services_of
from portal.captive.config import FIELDS, SECRET_FIELDS


@click.command("portal-config")
@click.argument("venue")
@click.argument("assignments", nargs=-1)
@with_appcontext
def portal_config(venue: str, assignments: tuple[str, ...]) -> None:
    """Without assignments, list the settings (secrets masked); with key=value pairs, set them
    (all checked before any is written)."""
    store = captive_services_of(current_app).config
    if assignments:
        values = {}
        for item in assignments:
            name, sep, value = item.partition("=")
            if not sep:
                raise click.BadParameter(f"{item!r} is not key=value")
            values[name.strip()] = value.strip()
        try:
            store.set(venue, values)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"updated {', '.join(sorted(values))} for venue {venue}")
    for name, value in store.get(venue).items():
        shown = ("*" * 8 if value else "(unset)") if name in SECRET_FIELDS else value
        click.echo(f"{name:20} {shown:32} {FIELDS[name][1]}")
