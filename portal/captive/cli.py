"""`flask --app wsgi portal-config <venue> [key=value ...]`: show or change a venue's portal settings.
`flask --app wsgi capport-uri <venue> <mac>... | -`: each phone's per-client RFC 8908 API URI, for a DHCP server's
hook (`-`: MACs from stdin, answered a line each, for a hook that keeps the process running)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from core.settings import time_zone_name
from portal.apps.locale import recuts_past_days, venue_time_zone
from portal.captive.common import captive_services_of
from portal.captive.config import FIELDS, SECRET_FIELDS
from portal.captive.views import client_capport_url
from portal.cli import known_venue
from portal.services import services

DHCPV4_OPTION_MAX_BYTES = 255  # option 114 (RFC 8910) is one DHCPv4 option: its length is one byte


@click.command("portal-config")
@click.argument("venue")
@click.argument("assignments", nargs=-1)
@click.option("--yes", is_flag=True, help="change time_zone although the venue has traffic: its past days' figures "
                                          "are cut again in the new zone")
@with_appcontext
def portal_config(venue: str, assignments: tuple[str, ...], yes: bool) -> None:
    """Without assignments, list the settings (secrets masked); with key=value pairs, set them
    (all checked before any is written). A new time_zone for a venue with traffic needs --yes."""
    store = captive_services_of(current_app).config
    known_venue(venue)  # a typo would set a venue no one asks for, the real one keeping its defaults
    if assignments:
        values = {}
        for item in assignments:
            name, sep, value = item.partition("=")
            if not sep:
                raise click.BadParameter(f"{item!r} is not key=value")
            values[name.strip()] = value.strip()
        _confirm_zone_change(venue, values, yes)
        try:
            store.set(venue, values)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"updated {', '.join(sorted(values))} for venue {venue}")
    for name, value in store.get(venue).items():
        shown = ("*" * 8 if value else "(unset)") if name in SECRET_FIELDS else value
        click.echo(f"{name:20} {shown:32} {FIELDS[name][1]}")


def _confirm_zone_change(venue: str, values: dict[str, str], yes: bool) -> None:
    """A time_zone that re-cuts the venue's past days (`recuts_past_days`) is refused without --yes, saying so; with
    it, the warning is still printed. A malformed name passes here: `PortalConfigStore.set` says what is wrong."""
    if "time_zone" not in values:
        return
    try:
        new = time_zone_name(values["time_zone"]) if values["time_zone"] else ""
    except ValueError:
        return
    if not recuts_past_days(services(), venue, new):
        return
    before, after = venue_time_zone(venue), new or services().settings.time_zone
    warning = (f"venue {venue} has traffic data: insights cut its days at its midnight, so moving from {before} to "
               f"{after} re-cuts every past day at once (figures already read or exported, by a partner's API "
               "token too, no longer match, and a day pulled before and after overlaps: subtracting the two may "
               "single out fewer than 5 shoppers). No history of zones is kept.")
    if not yes:
        raise click.UsageError(f"{warning} Run again with --yes to change it anyway.")
    click.echo(f"warning: {warning}", err=True)


@click.command("capport-uri")
@click.argument("venue")
@click.argument("macs", nargs=-1, required=True, metavar="MAC... | -")
@with_appcontext
def capport_uri(venue: str, macs: tuple[str, ...]) -> None:
    """Print the per-client RFC 8908 API URI of the phone with each MAC in VENUE, one line each, on PORTAL_URL: a
    DHCP server's hook hands it out in option 114 at each lease. It names the phone (never its MAC) for a day, and
    only in requests the venue's client_networks allow. With `-`, MACs are read from stdin, one a line, and each
    answered as it comes (an empty line and a warning on stderr for one that is not a MAC): a lease hook keeps one
    such process running instead of paying the app's start (seconds) per lease."""
    known_venue(venue)
    svc = services()
    if not svc.settings.portal_url:  # else a URL on this command's made-up host
        raise click.UsageError("set PORTAL_URL: the URI handed to phones is absolute, on the portal's HTTPS address")
    if macs == ("-",):
        _answer_stdin(venue)
        return
    clients = []
    for mac in macs:  # all checked before any is printed: a hook reads the lines by position
        try:
            clients.append(svc.hasher.client_id(mac))
        except ValueError:
            raise click.BadParameter(f"{mac!r} is not a MAC address", param_hint="MAC") from None
    for client in clients:
        click.echo(_uri(venue, client))


def _answer_stdin(venue: str) -> None:
    hasher = services().hasher
    for number, line in enumerate(iter(sys.stdin.readline, ""), 1):  # a line as soon as it comes, not a buffer's
        try:
            uri = _uri(venue, hasher.client_id(line.strip()))
        except ValueError:  # the line itself is not echoed: a MAC in another notation would land in the hook's log
            click.echo(f"warning: line {number} is not a MAC address", err=True)
            uri = ""
        click.echo(uri)
        sys.stdout.flush()  # the hook waits for this line before its lease goes out


def _uri(venue: str, client: str) -> str:
    with current_app.test_request_context("/"):  # url_for outside a request
        uri = client_capport_url(venue, client)
    if len(uri.encode()) > DHCPV4_OPTION_MAX_BYTES:
        click.echo(f"warning: the URI is {len(uri.encode())} bytes, over the {DHCPV4_OPTION_MAX_BYTES} DHCPv4 "
                   "option 114 takes (a shorter PORTAL_URL or venue id fits)", err=True)
    return uri
