"""A sale's or group buy's price: what an owner may type, and the one form it is kept in.

The price decides whether Buy now / Join the group takes money (payment.py, deposits.py), so it is read by one
parser, `read_price`, both when the owner saves (store.py, `parse_activity`, which keeps `price_text` of it:
"¥30", "¥30.50") and when a shopper joins (payment.py, `price_fen`). Records saved before prices were checked
hold the owner's free text: the same parser reads them, and one it cannot read is not free (views.py refuses
the join while payments are on)."""

from __future__ import annotations

import re
import unicodedata

from portal.payments.money import MAX_FEN, cny, fen_from_yuan

# After NFKC (a Chinese keyboard's full-width "￥３０" is "¥30"): one optional currency mark before, one after.
# Digits are ASCII only ([0-9], not \d, which takes any script's digits); a comma only between groups of three
# ("1,299"), never a decimal comma: "30,5" is refused rather than guessed. Nothing else: "30/人", "30起" or
# "about 30" are refused, so the owner types the amount itself.
_AMOUNT = re.compile(r"(?:¥|RMB|CNY)?\s*(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?P<cents>\.[0-9]{1,2})?"
                     r"\s*(?:元|RMB|CNY)?", re.IGNORECASE)


def read_price(text: str) -> int:
    """"30", "30.5", "¥30", "￥30", "30元", "RMB 30", "CNY 30", "1,299" -> fen; "" -> 0 (free); ValueError for
    anything else ("30/人", "-5", "30.555", "30,5") and for more than MAX_FEN (¥1,000,000)."""
    norm = unicodedata.normalize("NFKC", text or "").strip()
    if not norm:
        return 0
    match = _AMOUNT.fullmatch(norm)
    if match is None:
        raise ValueError(f"not an amount in yuan: {text!r}")
    fen = fen_from_yuan(match["whole"].replace(",", "") + (match["cents"] or ""))
    if fen > MAX_FEN:
        raise ValueError(f"more than {MAX_FEN // 100} yuan: {text!r}")
    return fen


def price_text(fen: int) -> str:
    """3000 -> "¥30", 3050 -> "¥30.50": how a price is kept and shown (read back exactly by `read_price`)."""
    return cny(fen).removesuffix(".00")
