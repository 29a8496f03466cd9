"""A sale's or group buy's price: what an owner may type, and the one form it is kept in.

The price decides whether Buy now / Join the group takes money (payment.py, deposits.py), so it is read by one
parser, `read_price`, both when the owner saves (store.py, `parse_activity`, which keeps `price_text` of it:
"¥30", "¥30.50") and when a shopper joins (payment.py, `price_fen`). Records saved before prices were checked
hold the owner's free text: the same parser reads them, and one it cannot read is not free (views.py refuses
the join while payments are on)."""

from __future__ import annotations

from portal.payments.money import cny, read_amount


def read_price(text: str) -> int:
    """The platform's amount rule (portal/payments/money.py, `read_amount`: "30", "¥30", "30元", "RMB 30",
    "1,299" -> fen; AmountError, a ValueError, for "30/人", "-5", "30.555", "30,5" or more than ¥1,000,000), with
    "" -> 0: an empty price is free."""
    if not (text or "").strip():
        return 0
    return read_amount(text)


def price_text(fen: int) -> str:
    """3000 -> "¥30", 3050 -> "¥30.50": how a price is kept and shown (read back exactly by `read_price`)."""
    return cny(fen).removesuffix(".00")
