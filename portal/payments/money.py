"""Money is an integer number of fen (1/100 yuan) everywhere; these are the only conversions."""

from __future__ import annotations

import re
import unicodedata
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from core.errors import N_, CatalogInputError

MAX_FEN = 100_000_000  # ¥1,000,000.00: no single mall order is larger; a guard against typos and overflow

# What `read_amount` says, for every app's price and amount fields (%(label)s stands for the field).
AMOUNT_REQUIRED = N_("%(label)s is required.")
NOT_AN_AMOUNT = N_("%(label)s must be an amount in yuan, like 30, 30.50 or ¥1,299.")
DECIMAL_COMMA = N_("%(label)s must use a dot for decimals, like 30.50; a comma only groups thousands, like 1,299.")
TOO_PRECISE = N_("%(label)s may have at most 2 decimals.")
OUT_OF_RANGE = N_("%(label)s must be between %(low)s and %(high)s.")
# After NFKC (a Chinese keyboard's "￥３０，５" is "¥30,5"): one currency mark before, one after, and the number.
# Digits are ASCII only ([0-9], not \d, which takes any script's digits).
_AMOUNT = re.compile(r"(?:¥|CNY|RMB)?\s*(?P<number>[0-9.,]*[0-9][0-9.,]*)\s*(?:元|CNY|RMB)?", re.IGNORECASE)
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")
_LONGEST = 40  # characters: far more than any amount takes, so int() never meets a huge number


class AmountError(CatalogInputError):
    """An amount `read_amount` refused: `template` (one of the msgids above) and `params`, as every app's input
    error takes them (the app raises its own, naming its field, with the same template and params)."""


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


def read_amount(raw: object, *, low: int = 0, high: int = MAX_FEN, field: str = "amount") -> int:
    """An amount in yuan as an owner types it or a partner system sends it (a JSON number too) -> fen, the one
    rule of every app's price and amount fields. Taken: a leading ¥/￥/CNY/RMB or a trailing 元/CNY/RMB, spaces
    around, full-width characters; "," only between groups of three digits ("1,299", "¥1,280.00"); at most 2
    decimals after a dot; from `low` to `high` fen. Refused, with one of the messages above: "30,5" (a decimal
    comma, or a thousands comma mistyped: never guessed), "30.555" and "1.000" (a European thousand is not ¥1),
    "30/人", "-5", "1e3", other scripts' digits, True."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | None):
        raise AmountError(field, NOT_AN_AMOUNT)
    text = unicodedata.normalize("NFKC", "" if raw is None else str(raw)).strip()
    if not text:
        raise AmountError(field, AMOUNT_REQUIRED)
    match = _AMOUNT.fullmatch(text) if len(text) <= _LONGEST else None
    if match is None:
        raise AmountError(field, NOT_AN_AMOUNT)
    fen = _fen(match["number"], field)
    if not low <= fen <= high:
        raise AmountError(field, OUT_OF_RANGE, low=cny(low), high=cny(high))
    return fen


def _fen(number: str, field: str) -> int:
    """`read_amount`'s digits, commas and dot ("1,299.5") -> fen."""
    whole, _dot, cents = number.partition(".")
    if "," in cents or ("," in whole and not _THOUSANDS.fullmatch(whole)):
        raise AmountError(field, DECIMAL_COMMA)
    if "." in cents:
        raise AmountError(field, NOT_AN_AMOUNT)
    if len(cents) > 2:
        raise AmountError(field, TOO_PRECISE)
    return fen_from_yuan(f"{whole.replace(',', '') or 0}.{cents or 0}")
