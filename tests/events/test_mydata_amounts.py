"""My data shows an amount as every page does (portal/payments/money.py:cny), a refund's minus before the ¥."""

from __future__ import annotations

from portal.events.mydata import _number
from portal.payments.money import cny


def test_an_amount_in_fen_is_shown_as_the_payment_pages_show_it():
    assert _number("refund_fen", -1250) == cny(-1250) == "-¥12.50"
    assert _number("amount_fen", 12345) == "¥123.45" and _number("due_fen", 5.0) == "¥0.05"


def test_a_field_in_fen_that_is_no_whole_number_is_shown_as_it_is():
    assert _number("amount_fen", 12.5) == "12.50"
    assert _number("amount_fen", float("inf")) == "inf"
