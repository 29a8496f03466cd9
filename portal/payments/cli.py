"""`flask payments ...`: close timed-out orders, the refunds an operator has to look at, and the daily
reconciliation report per merchant."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from portal.apps.locale import venue_time_zone
from portal.payments.providers.base import ProviderError
from portal.payments.reconcile import fetch_bills, reconcile
from portal.services import services


@click.group("payments")
def payments() -> None:
    """Payment orders: sweep, refunds, reconcile."""


@payments.command("sweep")
@click.argument("venue")
@with_appcontext
def sweep(venue: str) -> None:
    """Close the venue's unpaid orders past their expiry (booking any the provider says were paid)."""
    click.echo(f"{services().payments.sweep(venue)} expired orders handled")


@payments.command("refunds")
@click.argument("venue")
@with_appcontext
def refunds(venue: str) -> None:
    """The venue's refunds stuck at the provider (the sweep asks again: top up the merchant balance, handle an
    ABNORMAL one in the merchant platform) and those refused for good (to settle with the shopper directly)."""
    problems = services().payments.store.refund_problems(venue)
    for r in problems:
        state = "stuck" if r.get("status") in ("pending", "processing") else r.get("status", "")
        click.echo(f"{r.get('no', '')}\torder {r.get('order', '')}\t{r.get('amount', '')} fen\t{state}\t"
                   f"{r.get('problem', '')}\tasked {r.get('attempts', '1')}x\t{r.get('reason', '')}")
    click.echo(f"{len(problems)} refunds to look at")


@payments.command("reconcile")
@click.argument("venue")
@click.argument("day")
@click.argument("merchants", nargs=-1, required=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("var/reconciliation"),
              show_default=True)
@with_appcontext
def reconcile_command(venue: str, day: str, merchants: tuple[str, ...], out: Path) -> None:
    """Match each provider's trade bill to the ledger for DAY (YYYY-MM-DD, the venue's day in its time zone):
    one CSV per merchant (zone id), balanced to the fen or saying which lines are not."""
    service = services().payments
    tz = venue_time_zone(venue)
    try:
        bill = fetch_bills(service.providers().values(), day, tz)
    except ProviderError as exc:
        raise click.ClickException(str(exc)) from exc
    out.mkdir(parents=True, exist_ok=True)
    for merchant in merchants:
        report = reconcile(service.store, venue, merchant, day, bill, tz)
        path = out / f"{venue}-{merchant}-{day}.csv"
        path.write_text(report.to_csv(), encoding="utf-8")
        click.echo(f"{path}: {'balanced' if report.balanced else 'NOT balanced'}, net {report.net('ledger')} fen")
