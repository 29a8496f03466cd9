"""The ledger read for people: per merchant (zone) and day, the payments and refunds booked, the day's net and
the balance carried to the day's end since the merchant's book began (`LedgerBook.since_ms`). Days are the venue's
(its time zone; China time by default), as the day's reconciliation CSV counts them (portal/payments/reconcile.py),
so a row here matches it. A day costs about its own entries, never the ledger's whole history nor what came after it:
the balance is the book's day checkpoint before the day's end plus the entries booked from there to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from portal.payments.reconcile import CHINA, day_bounds_ms
from portal.payments.store import LedgerEntry, PaymentStore


@dataclass(frozen=True)
class MerchantDay:
    merchant: str
    day: str
    payments: int  # how many
    paid: int  # fen
    refunds: int
    refunded: int  # fen
    # fen: everything paid minus everything refunded, from `balance_since_ms` to the end of the day; None where that
    # needs entries no longer kept (LEDGER_KEEP_MS), or for a day before a book begun on an already trimmed ledger
    balance: int | None
    entries: tuple[LedgerEntry, ...]  # the day's, in booking order
    # The oldest booking the balance counts (None: none yet): the merchant's first entry, or for a ledger the previous
    # release wrote, the oldest it still held when first read. Entries older than LEDGER_KEEP_MS leave the ledger
    # but stay in the balance.
    balance_since_ms: int | None = None

    @property
    def net(self) -> int:
        return self.paid - self.refunded


def merchant_day(store: PaymentStore, venue: str, merchant: str, day: str, tz: tzinfo = CHINA) -> MerchantDay:
    since, until = day_bounds_ms(day, tz)
    book, read = store.merchant_snapshot(venue, merchant, since, until)
    todays = [e for e in read if since <= e.ms < until]
    paid = [e.amount for e in todays if e.kind == "paid"]
    refunded = [e.amount for e in todays if e.kind == "refund"]
    return MerchantDay(merchant, day, len(paid), sum(paid), len(refunded), sum(refunded),
                       book.balance_at(until, read), tuple(todays), book.since_ms)
