"""Operator commands: `flask --app wsgi <command>`."""

from __future__ import annotations

import secrets as pysecrets
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import TypeVar

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from core.settings import parse_budget
from fingerprints.model import ID_RE
from portal.apps.budgets import budget_store
from portal.apps.locale import venue_time_zone
from portal.auth import AuditLog, cli_audit
from portal.ingest.meraki import DEMO_NETWORK, MerakiStore, ensure_demo_meraki
from portal.ingest.mist import MistStore
from portal.ingest.tokens import INGEST, MAX_KEEP_OLD_S, check_token_id, declared_scopes, no_token
from portal.operator.audit import detail_text
from portal.seed import GALLERIA_VENUE, ensure_demo_mall, ensure_galleria
from portal.services import services

MAX_LABEL = 64
T = TypeVar("T")


def new_venue_id(venue: str) -> str:
    """VENUE of a command that may create it, refused unless a map can be made under that id (fingerprints' ID_RE):
    one message for every command."""
    if not ID_RE.match(venue):
        raise click.UsageError(f"venue id {venue!r} is not valid (lower-case letters, digits, - and _, at most 48)")
    return venue


def known_venue(venue: str) -> str:
    """VENUE of a command, refused unless it has a map: a typo would otherwise set or list nothing, silently."""
    if not services().venues.exists(venue):
        raise click.UsageError(f"unknown venue {venue!r}")
    return venue


def written(out: str, write: Callable[[], T]) -> T:
    """What `write` returns, or a ClickException naming OUT when it cannot be written (no such folder, no
    permission): an operator's typo is said, not shown as a traceback. Every command that writes a file."""
    try:
        return write()
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from None


def check_label(label: str) -> str:
    """A token's LABEL: 1-64 printable characters, none at the ends blank (list-tokens prints it before a tab;
    revoke-token names it again)."""
    if not 1 <= len(label) <= MAX_LABEL or not label.isprintable() or label.strip() != label:
        raise click.BadParameter(f"a label is 1 to {MAX_LABEL} printable characters, no tabs or line breaks, "
                                 "no spaces at its ends", param_hint="LABEL")
    return label


def meraki_network(network: str | None, demo: bool, *, typed: tuple[str | None, ...], remove: bool) -> str:
    """The network `meraki-config` is about: --demo's own, else NETWORK. Read before anything is done with it
    (--demo --remove had removed NETWORK None); a NETWORK or a --validator/--secret/--network-id that --demo
    would silently override, or one typed with --remove, which forgets them, is a usage error."""
    if demo and network not in (None, DEMO_NETWORK):
        raise click.UsageError(f"--demo is the network {DEMO_NETWORK!r}: give no NETWORK with it")
    if remove and any(value is not None for value in typed):
        raise click.UsageError("--remove forgets the network: give no --validator, --secret or --network-id with it")
    if demo and any(value is not None for value in typed):
        raise click.UsageError("--demo makes its own validator and secret: give no --validator, --secret or "
                               "--network-id with it")
    if demo:
        return DEMO_NETWORK
    if network is None:
        raise click.UsageError("NETWORK is required (a short name: it becomes part of the receiver URL), "
                               "or --demo")
    return network


def register(app: Flask) -> None:
    @app.cli.command("load-demo")
    @click.option("--venue", default="demo", show_default=True)
    def load_demo(venue: str) -> None:
        """Load the demo mall into the store if the venue has no map yet (and the Galleria, unless
        LOAD_DEMO_GALLERIA=0)."""
        loaded = ensure_demo_mall(services(), venue)
        click.echo("demo mall loaded" if loaded else f"venue {venue} already has a map; nothing done")
        if services().settings.load_demo_galleria and venue != GALLERIA_VENUE:
            loaded = ensure_galleria(services())
            click.echo("the Galleria loaded" if loaded else f"venue {GALLERIA_VENUE} already has a map; nothing done")

    @app.cli.command("issue-token")
    @click.argument("venue")
    @click.argument("label")
    @click.option("--scope", "scopes", multiple=True, metavar="SCOPE[,SCOPE...]",
                  help="what the token may call: ingest (the RSSI feeds) or the scope a light app's API declares "
                       "(an unknown one is refused with the list); repeatable or comma separated. Default: ingest")
    def issue_token(venue: str, label: str, scopes: tuple[str, ...]) -> None:
        """Issue a bearer token for a machine source (printed once, on stdout; only its hash is stored). A token
        reaches only the APIs of its scopes: give a POS or car-park system its own token, never an AP's. To replace
        a source's token, use rotate-token: a second token under a label leaves the first one working."""
        known_venue(venue)
        check_label(label)
        granted = token_scopes(scopes)
        issued = services().tokens.issue_source(venue, label, scopes=granted)
        cli_audit(venue, "token.issue", label=label, scopes=",".join(granted), token_id=issued.id)
        if issued.others:
            click.echo(f"warning: {label!r} already has {len(issued.others)} live token(s) "
                       f"({', '.join(issued.others)}), which keep working beside this one. To replace a token, "
                       f"`rotate-token {venue} {label}`; to withdraw one, `revoke-token {venue} {label} --id ID`",
                       err=True)
        click.echo(f"token id {issued.id} for {label!r} ({','.join(granted)}):", err=True)
        click.echo(issued.token)

    @app.cli.command("list-tokens")
    @click.argument("venue")
    def list_tokens(venue: str) -> None:
        """The venue's live tokens, one a line, tab separated: id, label, scopes, issued, last used (kept to the
        hour), and when a token replaced by rotate-token --keep-old-for stops (tokens are stored as hashes only)."""
        zone = venue_time_zone(known_venue(venue))
        click.echo("id\tlabel\tscopes\tissued\tlast used\tstops")
        for token in services().tokens.tokens(venue):
            used = "unknown" if token.used is None and token.issued is None else _when(token.used, zone, "never")
            click.echo("\t".join((token.id, token.label, ",".join(sorted(token.scopes)),
                                  _when(token.issued, zone, "unknown"), used, _when(token.until, zone, "-"))))

    @app.cli.command("revoke-token")
    @click.argument("venue")
    @click.argument("label")
    @click.option("--id", "only_id", default="", metavar="ID", help="only the token of this id (list-tokens shows "
                                                                     "them); without it, every token of LABEL")
    def revoke_token(venue: str, label: str, only_id: str) -> None:
        """Withdraw the tokens issued under LABEL in VENUE (a lost or leaked one), or only the one of --id; its
        source gets 401."""
        only_id = token_id_option(only_id)
        gone = services().tokens.revoke_label(known_venue(venue), label, only_id)
        if not gone:
            raise click.UsageError(no_token(venue, label, only_id))
        cli_audit(venue, "token.revoke", label=label, count=len(gone), token_id=",".join(gone))
        click.echo(f"revoked {len(gone)} token(s) labelled {label!r}: {', '.join(gone)}")

    @app.cli.command("rotate-token")
    @click.argument("venue")
    @click.argument("label")
    @click.option("--keep-old-for", "keep_old_for", default=0, show_default=True, metavar="SECONDS",
                  type=click.IntRange(0, MAX_KEEP_OLD_S),
                  help=f"the old token(s) keep working this long (at most {MAX_KEEP_OLD_S}, a week), so the source "
                       "can switch without a gap; 0: they stop now (a leaked token)")
    @click.option("--id", "only_id", default="", metavar="ID", help="replace only the token of this id")
    def rotate_token(venue: str, label: str, keep_old_for: int, only_id: str) -> None:
        """Issue LABEL's source a new token with the same scopes (printed once, on stdout) and withdraw the old
        one(s): at once, or after --keep-old-for seconds."""
        only_id = token_id_option(only_id)
        try:
            rotated = services().tokens.rotate(known_venue(venue), label, keep_old_for, only_id)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        scopes = ",".join(sorted(rotated.scopes))
        detail = {"stops_at": int(rotated.until)} if rotated.until else {}
        cli_audit(venue, "token.rotate", label=label, scopes=scopes, token_id=rotated.id,
                  replaced=",".join(rotated.replaced), **detail)
        stops = _when(rotated.until, venue_time_zone(venue), "now")
        click.echo(f"token id {rotated.id} for {label!r} ({scopes}) replaces {', '.join(rotated.replaced)}, "
                   f"which stop(s) working: {stops}", err=True)
        click.echo(rotated.token)

    app.cli.add_command(budgets)  # flask budgets list|set|reset
    app.cli.add_command(audit_command)  # flask audit VENUE

    @app.cli.command("meraki-config")
    @click.argument("venue")
    @click.argument("network", required=False)
    @click.option("--validator", help="the validator shown in the Meraki dashboard (Network-wide > General)")
    @click.option("--secret", help="the secret you enter in the dashboard; generated and printed if omitted")
    @click.option("--network-id", help="Meraki's networkId (e.g. L_...): v3 posts naming another are refused")
    @click.option("--demo", is_flag=True, help="development: the demo network \"demo\" (validator and secret "
                                              "kept in DATA_DIR/secrets)")
    @click.option("--remove", is_flag=True, help="forget this network")
    def meraki_config(venue: str, network: str | None, validator: str | None, secret: str | None,
                      network_id: str | None, demo: bool, remove: bool) -> None:
        """Configure a Meraki Scanning API network of a venue: its receiver URL is
        /api/v1/venues/VENUE/meraki/NETWORK."""
        svc = services()
        known_venue(venue)
        store = MerakiStore(svc.db)
        network = meraki_network(network, demo, typed=(validator, secret, network_id), remove=remove)
        if remove:
            click.echo("removed" if store.remove(venue, network) else f"no Meraki network {network!r} here")
            return
        if demo:
            validator, secret = ensure_demo_meraki(svc.db, venue, svc.settings.data_dir)
        else:
            if not validator:
                raise click.UsageError("--validator is required (copy it from the Meraki dashboard)")
            secret = secret or pysecrets.token_urlsafe(24)
            try:
                store.configure(venue, network, validator, secret, network_id)
            except ValueError as exc:
                raise click.UsageError(str(exc)) from None
        click.echo(f"receiver URL: /api/v1/venues/{venue}/meraki/{network}")
        click.echo(f"validator:    {validator}")
        click.echo(f"secret:       {secret}")

    @app.cli.command("mist-config")
    @click.argument("venue")
    @click.argument("webhook")
    @click.option("--secret", help="the secret entered in the Mist webhook; generated and printed if omitted")
    @click.option("--remove", is_flag=True, help="forget this webhook")
    def mist_config(venue: str, webhook: str, secret: str | None, remove: bool) -> None:
        """Configure a Juniper Mist webhook of a venue (topics wifi-conn-raw and wifi-unconn-raw): its URL is
        /api/v1/venues/VENUE/mist/WEBHOOK, its posts signed with the secret."""
        svc = services()
        known_venue(venue)
        store = MistStore(svc.db, svc.settings.secret_key)
        if remove:
            click.echo("removed" if store.remove(venue, webhook) else f"no Mist webhook {webhook!r} here")
            return
        secret = secret or pysecrets.token_urlsafe(24)
        try:
            store.configure(venue, webhook, secret)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
        click.echo(f"webhook URL: /api/v1/venues/{venue}/mist/{webhook}")
        click.echo("in Mist:     two site webhooks (Mist allows one raw topic per webhook), one with topic "
                   "wifi-unconn-raw, one with wifi-conn-raw, both with this URL and secret")
        click.echo(f"secret:      {secret}")


def token_id_option(value: str) -> str:
    """--id of revoke-token and rotate-token: "" (none given), else a token id as list-tokens shows it."""
    try:
        return check_token_id(value) if value else ""
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--id") from None


def _when(ts: float | None, zone: tzinfo, missing: str) -> str:
    """A token's time in the venue's time zone, minutes (list-tokens), or `missing`."""
    return missing if ts is None else datetime.fromtimestamp(ts, zone).strftime("%Y-%m-%d %H:%M %z")


def token_scopes(values: tuple[str, ...]) -> list[str]:
    """The scopes of `issue-token --scope` (repeated, or comma separated; none: ingest only). A name no
    loaded API declared is refused: a typo would give a token that every API answers 403."""
    if not values:
        return [INGEST]
    names = [name.strip() for value in values for name in value.split(",")]
    known = declared_scopes()
    for name in names:
        if name not in known:
            raise click.BadParameter(f"unknown scope {name!r}; one of: {', '.join(sorted(known))}",
                                     param_hint="--scope")
    return sorted(set(names))


budgets = AppGroup("budgets", help="Abuse budgets per venue: list, set, reset (portal/apps/budgets.py).")


@budgets.command("list")
@click.argument("venue")
def list_budgets(venue: str) -> None:
    """Every budget of VENUE: count/window, and whether the venue set it."""
    for name, ((count, window), own) in budget_store().limits(known_venue(venue)).items():
        click.echo(f"{name:28} {count}/{window}s{'  (set for this venue)' if own else ''}")


@budgets.command("set")
@click.argument("venue")
@click.argument("name")
@click.argument("limit")
def set_budget(venue: str, name: str, limit: str) -> None:
    """Set budget NAME (e.g. coupons.claim.ip) of VENUE to LIMIT (COUNT/WINDOW: 5/1h, 2000/1d, 3/600)."""
    known_venue(venue)
    try:
        parsed = parse_budget(limit)
        budget_store().set_limit(venue, name, parsed)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="LIMIT") from None
    except KeyError:
        raise click.BadParameter(f"unknown budget {name!r}", param_hint="NAME") from None
    cli_audit(venue, "budget.set", name=name, limit=f"{parsed[0]}/{parsed[1]}s")
    click.echo(f"{venue}: {name} = {parsed[0]}/{parsed[1]}s")


@budgets.command("reset")
@click.argument("venue")
@click.argument("name")
def reset_budget(venue: str, name: str) -> None:
    """Put budget NAME of VENUE back to the default."""
    known_venue(venue)
    try:
        budget_store().set_limit(venue, name, None)
    except KeyError:
        raise click.BadParameter(f"unknown budget {name!r}", param_hint="NAME") from None
    cli_audit(venue, "budget.reset", name=name)
    click.echo(f"{venue}: {name} back to the default")


@click.command("audit")
@with_appcontext
@click.argument("venue")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, AuditLog.KEEP))
@click.option("--calls", default=20, show_default=True, type=click.IntRange(0, AuditLog.CALL_ROLLUPS_KEPT),
              help="the machine APIs' calls, one entry per token label and hour: the newest this many, after the log")
def audit_command(venue: str, limit: int, calls: int) -> None:
    """The venue's audit log, newest first: when (the venue's time zone), who ("cli": these commands),
    action, details; then, apart, the machine APIs' calls rolled up per token label and hour. The operator console
    shows the same at /console/ops/VENUE/audit."""
    log = AuditLog(services().db)
    # the roll-ups apart, under their own bound: merged, an hourly partner's took the LIMIT entries' places
    entries, rollups = log.recent(venue, limit), log.call_rollups(venue, calls) if calls else []
    if not entries and not rollups and not services().venues.exists(venue):
        raise click.UsageError(f"unknown venue {venue!r}")
    zone = venue_time_zone(venue)
    for entry in entries:
        click.echo(_audit_line(entry, zone))
    if not entries:
        click.echo("nothing recorded yet")
    if rollups:
        click.echo(f"\nmachine API calls, one entry per token label and hour (the newest {calls} at most):")
        for entry in rollups:
            click.echo(_audit_line(entry, zone))


def _audit_line(entry: dict, zone: tzinfo) -> str:
    """One entry of `flask audit`: when, who, action, details, two spaces apart, terminal escapes shown escaped."""
    when = datetime.fromtimestamp(entry.get("ts", 0), zone).strftime("%Y-%m-%d %H:%M:%S %z")
    fields = (entry.get("user", "-"), entry.get("action", "?"), detail_text(entry.get("detail")))
    return "  ".join((when, *(printable(field) for field in fields))).rstrip()


def printable(text: str) -> str:
    """Text from the log for a terminal: control characters (an owner's typed text, say) escaped, not sent."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text))
