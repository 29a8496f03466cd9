"""One rule for an amount in yuan that an owner types or a partner system sends (portal/payments/money.py,
`read_amount`), and every app's price or amount field read by it: "¥45", "￥４５", "1,299" and "1,280.00" are
taken everywhere; "30,5" is refused everywhere, saying to use a dot; more than 2 decimals and out of bounds too."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from lightapps.activities.prices import read_price
from lightapps.coupons.store import parking_value
from lightapps.games.rules import GameInputError, parse_game
from lightapps.membership.store import parse_amount
from lightapps.queue import rules
from portal.payments.money import DECIMAL_COMMA, NOT_AN_AMOUNT, AmountError, read_amount


@pytest.mark.parametrize("typed, fen", [
    ("45", 4500), ("45.5", 4550), ("45.50", 4550), ("¥45", 4500), ("￥45", 4500), ("¥ 45", 4500), ("￥４５．５", 4550),
    ("CNY 45", 4500), ("rmb45", 4500), ("45元", 4500), ("1,299", 129900), ("¥1,280.00", 128000),
    ("12,345.67", 1234567), (" 45 ", 4500), (".5", 50), (45, 4500), (45.5, 4550), ("0", 0),
])
def test_the_ways_owners_and_tills_write_yuan_are_read(typed, fen):
    assert read_amount(typed) == fen


@pytest.mark.parametrize("typed", ["30,5", "30,50", "1,2,5", "12,34", "1.000,50", "３０，５"])
def test_a_decimal_comma_is_refused_saying_to_use_a_dot(typed):
    with pytest.raises(AmountError) as exc:
        read_amount(typed)
    assert exc.value.template == DECIMAL_COMMA and "use a dot" in str(exc.value)


@pytest.mark.parametrize("typed", ["abc", "30/人", "-5", "1e3", "NaN", "Infinity", "٣٠", "¥¥30", "3 0", "1.2.3",
                                   True, None, [1], 1e300, "9" * 100])
def test_anything_else_is_refused(typed):
    with pytest.raises(AmountError):
        read_amount(typed)
    with pytest.raises(ValueError):  # an AmountError is a ValueError: callers that catch those still do
        read_amount(typed)


def test_decimals_and_bounds():
    with pytest.raises(AmountError, match="at most 2 decimals"):
        read_amount("30.555")
    with pytest.raises(AmountError, match="at most 2 decimals"):
        read_amount("1.000")  # a thousand written the European way is not read as ¥1
    with pytest.raises(AmountError, match=r"between ¥0\.01 and ¥50\.00"):
        read_amount("50.01", low=1, high=5000)
    with pytest.raises(AmountError, match=r"between ¥0\.01 and ¥50\.00"):
        read_amount("0", low=1, high=5000)
    assert read_amount("50", low=1, high=5000) == 5000
    with pytest.raises(AmountError) as exc:
        read_amount("")
    assert "required" in str(exc.value)


@pytest.mark.parametrize("parse, large", [
    (read_price, "¥1,280.00"), (rules.parse_price, "¥1,280.00"), (parse_amount, "¥1,280.00"),
    (parking_value, "￥１.５０"),  # at most ¥500 off a parking fee
], ids=["activities", "queue menu", "membership purchase", "coupons parking value"])
def test_every_apps_price_field_reads_the_same_way(parse, large):
    for typed, fen in (("¥45", 4500), ("￥４５", 4500), ("45.5", 4550), (large, read_amount(large))):
        assert parse(typed) == fen, typed
    for typed, template in (("30,5", DECIMAL_COMMA), ("30/人", NOT_AN_AMOUNT)):
        with pytest.raises(ValueError) as exc:  # each app's own error, with the rule's message
            parse(typed)
        assert exc.value.template == template, typed


def coupon_prize(value: str):
    """A one-prize game whose prize is a coupon worth `value` yuan (the games app's prize form)."""
    form = {"title_en": "Draw", "style": "draw", "per_shopper": "10", "per_day": "10", "total": "100",
            "last_day": (date.today() + timedelta(days=7)).isoformat(), "p1_kind": "coupon",
            "p1_title_en": "Coupon", "p1_value": value, "p1_odds": "20", "p1_stock": "100"}
    return parse_game(form, date.today()).prizes[0]


def test_a_games_coupon_value_reads_the_same_way():
    assert coupon_prize("¥45").value == 4500 and coupon_prize("￥1,280.00").value == 128000
    with pytest.raises(GameInputError) as exc:
        coupon_prize("30,5")
    assert exc.value.template == DECIMAL_COMMA and exc.value.field == "p1_value"
