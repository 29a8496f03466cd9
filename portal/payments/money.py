"""Money is an integer number of fen (1/100 yuan) everywhere; these are the only conversions."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

MAX_FEN = 100_000_000  # ¥1,000,000.00: no single mall order is larger; a guard against typos and overflow


def yuan(fen: int) -> str:
    """12345 -> "123.45" (Alipay's amount format, and the figure shown)."""
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def cny(fen: int) -> str:
    """12345 -> "¥123.45": how every amount is shown, in both languages."""
    text = yuan(fen)
    return "-¥" + text[1:] if text.startswith("-") else "¥" + text


def fen_from_yuan(text: str) -> int:
    """"123.45" -> 12345; anything with more than two decimals or not a number raises ValueError."""
    try:
        value = Decimal(str(text).strip().lstrip("`"))
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {text!r}") from exc
    fen = value * 100
    if fen != fen.to_integral_value(rounding=ROUND_HALF_UP):
        raise ValueError(f"more than two decimals: {text!r}")
    return int(fen)
