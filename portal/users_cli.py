"""`flask users create|reset|disable|enable|set-password|list|add-venue|remove-venue` (also `python -m portal flask
users ...`): console accounts from the command line, e.g. the first operator of a venue, or a mall group's operator
who runs several. The one command that creates
an account (the console's owners page goes through the same AccountStore.create). Passwords are asked
for (twice, hidden) unless given with --password (scripts), and checked against the policy; or an
initial password is generated and printed once (--initial-password: changed at the first sign-in), or
an invite link is printed (--invite: the person sets their own password)."""

from __future__ import annotations

import click
from flask import current_app, url_for
from flask.cli import AppGroup

from portal.auth import CLI_ACTOR, AccountStore, PasswordLinks, cli_audit
from portal.cli import new_venue_id
from portal.passwords import password_problem
from portal.services import services


def _store() -> AccountStore:
    return AccountStore(services().db)


def _password(given: str | None, username: str) -> str:
    password = given or click.prompt("Password", hide_input=True, confirmation_prompt=True)
    problem = password_problem(password, username)
    if problem:
        raise click.UsageError(problem)
    return password


users = AppGroup("users", help="Console accounts: operators and zone owners.")


def _audit(username: str, action: str, left: tuple[str, ...] = (), **detail) -> None:
    """Record the change in the log of every venue the account belongs to (an operator may run several), and of
    those it `left` by this change: each venue's operators see who changed their accounts."""
    account = _store().get(username)
    if account is None:
        return
    for venue in dict.fromkeys((account.venue, *account.more_venues, *left)):
        cli_audit(venue, f"account.{action}", username=username, **detail)


def _venue_exists(venue: str) -> bool:
    """Whether the venue an account is given exists yet (an operator may come before the mall's map); its id must
    be one a map can be made under, or the venue could never be set up."""
    return services().venues.exists(new_venue_id(venue))


def _not_yet(venue: str) -> str:
    return (f"; venue {venue} does not exist yet (no map): import its plan with `python -m portal flask map-import "
            f"{venue} ARCHIVE`, or open a draft in its console")


def _link(username: str, purpose: str) -> str:
    """An invite / reset link; absolute when PORTAL_URL is set, else the path to put after the portal's
    address."""
    token = PasswordLinks(services().db).issue(username, purpose, by=CLI_ACTOR)
    with current_app.test_request_context("/"):  # url_for outside a request
        path = url_for("account.welcome", t=token)
    return services().settings.portal_url + path


def _check_zones(role: str, venue: str, zones: tuple[str, ...]) -> None:
    if role == "operator":
        if zones:
            raise click.UsageError("--zone is for owners (an operator runs the whole venue)")
        return
    if not zones:
        raise click.UsageError("an owner needs at least one --zone")
    venue_map = services().venues.get_map(venue)
    if venue_map is None:  # a new mall's operator may come before its map; an owner's zones are the map's
        raise click.UsageError(f"unknown venue {venue!r}: an owner's zones are those of the venue's map (import "
                               "it first: `python -m portal flask map-import`), or --role operator")
    unknown = [z for z in zones if venue_map.zone(z) is None]
    if unknown:
        raise click.UsageError(f"{venue} has no zone(s) {', '.join(unknown)}")


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["operator", "owner"]), required=True)
@click.option("--venue", required=True, help="the venue the account belongs to (it may have no map yet)")
@click.option("--zone", "zones", multiple=True, help="owners: a zone they manage (repeat for more)")
@click.option("--password", help="for scripts; asked for (hidden) when omitted")
@click.option("--initial-password", is_flag=True, help="generate one, print it once; it must be changed at "
                                                        "the first sign-in")
@click.option("--invite", is_flag=True, help="print a one-time invite link instead (the person sets the password)")
def create(username: str, role: str, venue: str, zones: tuple[str, ...], password: str | None,
           initial_password: bool, invite: bool) -> None:
    """Create an account: the first operator of a venue, or a zone owner."""
    if sum(map(bool, (password, initial_password, invite))) > 1:
        raise click.UsageError("choose one of --password, --initial-password, --invite")
    exists = _venue_exists(venue)
    _check_zones(role, venue, zones)
    store = _store()
    try:
        given = None if invite or initial_password else _password(password, username)
        store.create(username, given, role, venue, zones)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    method = "invite" if invite else "initial-password" if initial_password else "password"
    _audit(username, "create", role=role, method=method, **({"zones": ",".join(zones)} if zones else {}))
    click.echo(f"created {role} {username} of venue {venue}" + (f" (zones {', '.join(zones)})" if zones else "")
               + ("" if exists else _not_yet(venue)))
    if initial_password:
        click.echo(f"initial password (shown once, to be changed at the first sign-in): "
                   f"{store.set_temporary_password(username)}")
    if invite:
        click.echo(f"invite link (works once, for {PasswordLinks.TTL_S['invite'] // 3600} h): "
                   f"{_link(username, 'invite')}")


@users.command("reset")
@click.argument("username")
@click.option("--initial-password", is_flag=True, help="a temporary password printed once instead of a link")
def reset(username: str, initial_password: bool) -> None:
    """Reset a password: the old one stops working, the sessions end; prints a one-time reset link (or a
    temporary password that must be changed at the next sign-in)."""
    store = _store()
    try:
        if initial_password:
            temporary = store.set_temporary_password(username)
            _audit(username, "reset", method="temporary-password")
            click.echo(f"temporary password (shown once): {temporary}")
            return
        store.forget_password(username)
    except KeyError:
        raise click.UsageError(f"no account {username!r}") from None
    _audit(username, "reset", method="link")
    click.echo(f"reset link (works once, for {PasswordLinks.TTL_S['reset'] // 3600} h): {_link(username, 'reset')}")


@users.command("set-password")
@click.argument("username")
@click.option("--password", help="for scripts; asked for (hidden) when omitted")
def set_password(username: str, password: str | None) -> None:
    """Set a new password (ends the account's sessions)."""
    try:
        _store().set_password(username, _password(password, username))
    except KeyError:
        raise click.UsageError(f"no account {username!r}") from None
    _audit(username, "set_password")
    click.echo(f"password of {username} changed; its sessions ended")


@users.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Disable an account (ends its sessions; it can no longer sign in)."""
    try:
        _store().set_disabled(username, True)
    except KeyError:
        raise click.UsageError(f"no account {username!r}") from None
    account = _store().get(username)
    # an owner's moments rules stop messaging shoppers with it (as the operator console's Disable does); an owner
    # runs one venue (only operators are given more)
    paused = services().moments.pause_owner(account.venue, username) if account and account.role == "owner" else []
    _audit(username, "disable", **({"paused_rules": ",".join(paused)} if paused else {}))
    click.echo(f"{username} disabled" + (f"; its moments rules {', '.join(paused)} paused" if paused else ""))


@users.command("enable")
@click.argument("username")
def enable(username: str) -> None:
    """Enable a disabled account again."""
    try:
        _store().set_disabled(username, False)
    except KeyError:
        raise click.UsageError(f"no account {username!r}") from None
    _audit(username, "enable")
    click.echo(f"{username} enabled")


@users.command("list")
def list_users() -> None:
    """Every account: name, role, venue (an operator's further venues after it, comma-separated), zones, state."""
    store = _store()
    for account, status in store.all_with_status():
        state = next((label for flag, label in (("disabled", "disabled"), ("demo", "demo password"),
                                                 ("pending", "invited"), ("must_change", "must change password"))
                      if status[flag]), "active")
        venues = ",".join((account.venue, *account.more_venues))
        click.echo(f"{account.username}\t{account.role}\t{venues}\t{','.join(account.zones) or '-'}\t{state}")


@users.command("add-venue")
@click.argument("username")
@click.argument("venue")
def add_venue(username: str, venue: str) -> None:
    """A mall group's operator: USERNAME runs VENUE too (its console offers every venue it runs)."""
    exists = _venue_exists(venue)
    store = _store()
    account = store.get(username)
    if account is None:
        raise click.UsageError(f"no account {username!r}")
    if account.runs(venue):
        click.echo(f"{username} runs {venue} already; nothing done")
        return
    try:
        store.add_venue(username, venue)
    except ValueError as exc:  # an owner's zones are one venue's
        raise click.UsageError(str(exc)) from None
    _audit(username, "add_venue", added=venue)
    click.echo(f"{username} now runs {venue}" + ("" if exists else _not_yet(venue)))


@users.command("remove-venue")
@click.argument("username")
@click.argument("venue")
def remove_venue(username: str, venue: str) -> None:
    """USERNAME no longer runs VENUE, one of the further venues `add-venue` gave it (at once: its next page there
    is a 403). Its own venue, the one it was created for, stays: disable the account to stop it altogether."""
    store = _store()
    account = store.get(username)
    if account is None:
        raise click.UsageError(f"no account {username!r}")
    if venue == account.venue:
        raise click.UsageError(f"{venue} is {username}'s own venue, not a further one: disable the account instead")
    if not store.remove_venue(username, venue):
        raise click.UsageError(f"{username} does not run {venue}")
    _audit(username, "remove_venue", left=(venue,), removed=venue)
    click.echo(f"{username} no longer runs {venue}")

