"""The ledger read for people: per merchant (zone) and day, the payments and refunds booked, the day's net and
the balance carried since the first entry. Days are the venue's (its time zone; China time by default), as
the day's reconciliation CSV counts them (portal/payments/reconcile.py), so a row here matches it."""

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
    balance: int  # fen: everything paid minus everything refunded, up to the end of the day
    entries: tuple[LedgerEntry, ...]  # the day's, in booking order

    @property
    def net(self) -> int:
        return self.paid - self.refunded


def merchant_day(store: PaymentStore, venue: str, merchant: str, day: str, tz: tzinfo = CHINA) -> MerchantDay:
    since, until = day_bounds_ms(day, tz)
    balance, todays = 0, []
    for entry in store.ledger(venue, merchant, 0, until):
        balance += entry.amount if entry.kind == "paid" else -entry.amount
        if entry.ms >= since:
            todays.append(entry)
    paid = [e.amount for e in todays if e.kind == "paid"]
    refunded = [e.amount for e in todays if e.kind == "refund"]
    return MerchantDay(merchant, day, len(paid), sum(paid), len(refunded), sum(refunded), balance, tuple(todays))
