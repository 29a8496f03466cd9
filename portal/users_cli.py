"""`flask users create|disable|enable|set-password|list` (also `python -m portal flask users ...`): console
accounts from the command line, e.g. the first operator of a production install. Passwords are asked
for (twice, hidden) unless given with --password (scripts), and checked against the policy."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from portal.auth import AccountStore
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


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["operator", "owner"]), required=True)
@click.option("--venue", required=True, help="the venue the account belongs to")
@click.option("--zone", "zones", multiple=True, help="owners: a zone they manage (repeat for more)")
@click.option("--password", help="for scripts; asked for (hidden) when omitted")
def create(username: str, role: str, venue: str, zones: tuple[str, ...], password: str | None) -> None:
    """Create an account."""
    try:
        _store().create(username, _password(password, username), role, venue, zones)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"created {role} {username} of venue {venue}")


@users.command("set-password")
@click.argument("username")
@click.option("--password", help="for scripts; asked for (hidden) when omitted")
def set_password(username: str, password: str | None) -> None:
    """Set a new password (ends the account's sessions)."""
    try:
        _store().set_password(username, _password(password, username))
    except KeyError:
        raise click.UsageError(f"no account {username!r}") from None
    click.echo(f"password of {username} changed; its sessions ended")


@users.command("disable")
@click.argument("username")
def disable(username: str) -> None:
    """Disable an account (ends its sessions; it can no longer sign in)."""
    try:
        _store().set_disabled(username, True)
    except KeyError:
        raise click.UsageError(f"no account {username!r}") from None
    click.echo(f"{username} disabled")


@users.command("enable")
@click.argument("username")
def enable(username: str) -> None:
    """Enable a disabled account again."""
    try:
        _store().set_disabled(username, False)
    except KeyError:
        raise click.UsageError(f"no account {username!r}") from None
    click.echo(f"{username} enabled")


@users.command("list")
def list_users() -> None:
    """Every account: name, role, venue, zones, state."""
    store = _store()
    for account in store.all():
        status = store.status(account.username)
        state = "disabled" if status["disabled"] else ("demo password" if status["demo"] else "active")
        click.echo(f"{account.username}\t{account.role}\t{account.venue}\t{','.join(account.zones) or '-'}\t{state}")
