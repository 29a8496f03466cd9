"""The daily reconciliation report: a provider's trade bill matched line by line to the ledger, per merchant,
balancing to the fen. Every payment and refund of the day is one line: matched, amount differs, only in the
bill (money moved that we did not book) or only in the ledger (we booked money the provider does not show).

The day is the venue's (its time zone: China time for a mall in China, the default). The providers' bills
are per China day, so a venue day elsewhere takes the one or two bills it overlaps (`bill_days`) and keeps
their rows of its own hours (each row's time in the bill). The ledger dates an entry when the portal booked it,
the bill by the provider's time, so a pair may straddle midnight: entries and rows within MATCH_MARGIN_MS of each
other are paired across it (the next days' bills that exist already are fetched for that), a pair counting on the
day of the bill's time."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from portal.payments.money import yuan
from portal.payments.providers.base import CHINA, BillRow, Provider, ProviderError
from portal.payments.store import LedgerEntry, PaymentStore

__all__ = ["CHINA", "ReconLine", "ReconReport", "bill_days", "day_bounds_ms", "fetch_bills", "reconcile"]


@dataclass(frozen=True)
class ReconLine:
    provider: str
    order_id: str
    kind: str  # paid | refund
    refund_no: str
    txn: str
    ledger_fen: int | None
    bill_fen: int | None

    @property
    def status(self) -> str:
        if self.ledger_fen is None:
            return "missing_in_ledger"
        if self.bill_fen is None:
            return "missing_in_bill"
        return "matched" if self.ledger_fen == self.bill_fen else "amount_differs"


@dataclass(frozen=True)
class ReconReport:
    venue: str
    merchant: str
    day: str
    lines: tuple[ReconLine, ...]

    def total(self, side: str, kind: str) -> int:
        return sum(getattr(line, f"{side}_fen") or 0 for line in self.lines if line.kind == kind)

    def net(self, side: str) -> int:
        return self.total(side, "paid") - self.total(side, "refund")

    @property
    def balanced(self) -> bool:
        return all(line.status == "matched" for line in self.lines) and self.net("ledger") == self.net("bill")

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["day", "merchant", "provider", "order", "kind", "refund_no", "txn", "ledger_fen",
                         "bill_fen", "ledger_cny", "bill_cny", "status"])
        for line in self.lines:
            writer.writerow([self.day, self.merchant, line.provider, line.order_id, line.kind, line.refund_no,
                             line.txn, _cell(line.ledger_fen), _cell(line.bill_fen),
                             _money(line.ledger_fen), _money(line.bill_fen), line.status])
        for label, kind in (("payments", "paid"), ("refunds", "refund")):
            writer.writerow([self.day, self.merchant, "", f"total {label}", kind, "", "",
                             self.total("ledger", kind), self.total("bill", kind),
                             yuan(self.total("ledger", kind)), yuan(self.total("bill", kind)), ""])
        writer.writerow([self.day, self.merchant, "", "net", "", "", "", self.net("ledger"), self.net("bill"),
                         yuan(self.net("ledger")), yuan(self.net("bill")),
                         "balanced" if self.balanced else "NOT balanced"])
        return out.getvalue()


def day_bounds_ms(day: str, tz: tzinfo = CHINA) -> tuple[int, int]:
    """[start, end) in epoch ms of a YYYY-MM-DD day in the time zone `tz` (a DST day is 23 or 25 hours)."""
    date = datetime.strptime(day, "%Y-%m-%d").date()
    start = datetime.combine(date, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(date + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


# The ledger dates an entry when the portal booked it, the bill by the provider's own time: a callback a few seconds
# late, a payment found later by a query, a refund processing over midnight fall on two days. An entry and its bill
# row this close are one pair, reported on the bill's day (the provider's time is the books').
MATCH_MARGIN_MS = 6 * 3600 * 1000


def bill_days(day: str, tz: tzinfo = CHINA, margin_ms: int = 0) -> list[str]:
    """The providers' bill days (China) that the venue's day, widened by `margin_ms` each side, overlaps."""
    since, until = day_bounds_ms(day, tz)
    first = datetime.fromtimestamp((since - margin_ms) / 1000, CHINA).date()
    last = datetime.fromtimestamp((until + margin_ms - 1) / 1000, CHINA).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def fetch_bills(providers: Iterable[Provider], day: str, tz: tzinfo = CHINA,
                margin_ms: int = MATCH_MARGIN_MS, today: str | None = None) -> list[BillRow]:
    """Every provider's bill rows for the bill days the venue's day overlaps (ProviderError as the bill), and the
    timed rows of the days next to them that the margin reaches, where their bill can exist (before `today` in
    China: no provider offers the current day's bill) and answers (a quiet day has none: WeChat Pay's
    NO_STATEMENT_EXIST): a missing neighbour only leaves a pair across midnight unmatched."""
    own = bill_days(day, tz)
    today = today or datetime.now(CHINA).date().isoformat()
    near = [d for d in bill_days(day, tz, margin_ms) if d not in own and d < today]
    rows = [row for provider in providers for bill_day in own for row in provider.bill(bill_day)]
    for provider in providers:
        for bill_day in near:
            try:
                rows += [row for row in provider.bill(bill_day) if row.at_ms]  # a row without a time is its day's
            except ProviderError:
                continue
    return rows


def reconcile(store: PaymentStore, venue: str, merchant: str, day: str, bill: Iterable[BillRow],
              tz: tzinfo = CHINA, margin_ms: int = MATCH_MARGIN_MS) -> ReconReport:
    """The day's lines: the ledger's entries and the bill's rows of `merchant`, paired by provider, kind, order and
    refund number when at most `margin_ms` apart; a pair counts on the day of the bill's time, an entry alone on
    its own, a row alone on its time's (a row without a time on this day)."""
    since, until = day_bounds_ms(day, tz)
    ledger: dict[tuple, LedgerEntry] = {}
    for entry in store.ledger(venue, merchant, since - margin_ms, until + margin_ms):
        ledger[(entry.provider, entry.kind, entry.order, entry.refund_no)] = entry
    # another day's rows of a bill this day overlaps are left out
    rows = [row for row in bill if not row.at_ms or since - margin_ms <= row.at_ms < until + margin_ms]
    merchant_of = store.merchants_of(venue, [row.order_id for row in rows])
    billed = {(row.provider, row.kind, row.order_id, row.refund_no): row for row in rows
              if merchant_of[row.order_id] == merchant}
    lines = []
    for key in sorted(set(ledger) | set(billed)):
        entry, row = ledger.get(key), billed.get(key)
        if entry is not None and row is not None and row.at_ms and abs(entry.ms - row.at_ms) > margin_ms:
            sides = [(entry, None), (None, row)]  # too far apart to be one pair: each alone, on its own day
        else:
            sides = [(entry, row)]
        for one, other in sides:
            at = (other.at_ms or since) if other is not None else one.ms
            if since <= at < until:  # the day of its bill's time (or, unbilled, of its booking)
                lines.append(ReconLine(provider=key[0], kind=key[1], order_id=key[2], refund_no=key[3],
                                       txn=(one.txn if one else other.txn), ledger_fen=one.amount if one else None,
                                       bill_fen=other.amount if other else None))
    return ReconReport(venue, merchant, day, tuple(lines))


def _cell(fen: int | None) -> str:
    return "" if fen is None else str(fen)


def _money(fen: int | None) -> str:
    return "" if fen is None else yuan(fen)
