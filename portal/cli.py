"""Operator commands: `flask --app wsgi <command>`."""

from __future__ import annotations

import secrets as pysecrets

import click
from flask import Flask

from portal.ingest.meraki import DEMO_NETWORK, MerakiStore, ensure_demo_meraki
from portal.ingest.mist import MistStore
from portal.ingest.tokens import INGEST, declared_scopes
from portal.seed import GALLERIA_VENUE, ensure_demo_mall, ensure_galleria
from portal.services import services


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
        """Issue a bearer token for a machine source (printed once; only its hash is stored). A token reaches
        only the APIs of its scopes: give a POS or car-park system its own token, never an AP's."""
        if not services().venues.exists(venue):
            raise click.UsageError(f"unknown venue {venue!r}")
        click.echo(services().tokens.issue(venue, label, scopes=token_scopes(scopes)))

    @app.cli.command("list-tokens")
    @click.argument("venue")
    def list_tokens(venue: str) -> None:
        """The venue's machine sources: each token's label and scopes (tokens are stored as hashes only)."""
        for source in services().tokens.sources(venue):
            click.echo(f"{source.label}\t{','.join(sorted(source.scopes))}")

    @app.cli.command("revoke-token")
    @click.argument("venue")
    @click.argument("label")
    def revoke_token(venue: str, label: str) -> None:
        """Withdraw every token issued under LABEL in VENUE (a lost or leaked one); its source gets 401."""
        count = services().tokens.revoke_label(venue, label)
        if not count:
            raise click.UsageError(f"no token labelled {label!r} in venue {venue!r}")
        click.echo(f"revoked {count} token(s) labelled {label!r}")

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
        if not svc.venues.exists(venue):
            raise click.UsageError(f"unknown venue {venue!r}")
        store = MerakiStore(svc.db)
        if network is None and not demo:
            raise click.UsageError("NETWORK is required (a short name: it becomes part of the receiver URL)")
        if remove:
            click.echo("removed" if store.remove(venue, network) else f"no Meraki network {network!r} here")
            return
        if demo:
            network = DEMO_NETWORK
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
        if not svc.venues.exists(venue):
            raise click.UsageError(f"unknown venue {venue!r}")
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
