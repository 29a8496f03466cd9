"""The draw against a real Valkey: odds honoured (every roll once, then a seeded large N), stock and the
hard total never oversold under threads, per-shopper and per-day limits, redeeming exactly once; and the
owner's form rules (pure)."""

from __future__ import annotations

import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest

from core.storage import scan_slot
from lightapps.games.rules import (
    MAX_SPAN_DAYS,
    ODDS_SCALE,
    GameInputError,
    normalize_code,
    parse_game,
    parse_percent,
    percent,
)
from lightapps.games.store import GameKeys, GameStore

TODAY = date.today()  # the games these tests publish run from now on (a fixed day would end them some day)
DAY = "2026-11-30"  # the venue day the per-day limits count (any label)


def spec(**over):
    form = {"title_en": "Draw", "style": "draw", "per_shopper": "1000", "per_day": "100", "total": "500000",
            "last_day": (TODAY + timedelta(days=7)).isoformat(),
            "p1_kind": "points", "p1_title_en": "200 points", "p1_value": "200", "p1_odds": "20", "p1_stock": "100000",
            "p2_kind": "coupon", "p2_title_en": "¥20 coupon", "p2_value": "20", "p2_odds": "5", "p2_stock": "100000",
            "p3_kind": "coupon", "p3_title_en": "Ticket", "p3_value": "", "p3_odds": "0.5", "p3_stock": "100000"}
    form.update(over)
    return parse_game({k: v for k, v in form.items() if v is not None}, TODAY)


def publish(store, zone="atrium", **over):
    return store.publish("demo", zone, spec(**over), now=time.time() - 60)


def test_rolls_map_to_prizes_exactly_by_the_odds(db):
    """Every 10th roll of 0..9,999 (the odds' boundaries are multiples of 10 basis points, so each prize gets
    exactly its share), and the rolls on either side of each boundary."""
    rolls = [*range(0, ODDS_SCALE, 10), 1999, 2000, 2499, 2500, 2549, 2550, 9999]
    feed = iter(rolls)
    store = GameStore(db, randbelow=lambda n: next(feed))
    game = publish(store)
    outcomes = [store.draw("demo", "atrium", game.id, f"s{i}", DAY) for i in range(len(rolls))]
    shares = Counter(r.prize_id if r.status == "WON" else "none" for r in outcomes[:1000])
    assert shares == {"p1": 200, "p2": 50, "p3": 5, "none": 745}
    assert [r.prize_id for r in outcomes[1000:]] == ["p1", "p2", "p2", "p3", "p3", None, None]
    game = store.get("demo", game.id)
    assert game.plays == len(rolls) and game.wins == 260 and game.left["p3"] == 100000 - 7


def test_seeded_draws_follow_the_odds(db):
    seeded = random.Random(18)
    store = GameStore(db, randbelow=seeded.randrange)
    game = publish(store)
    n = 1000
    won = Counter(store.draw("demo", "atrium", game.id, f"s{i}", DAY).prize_id for i in range(n))
    for prize, odds in (("p1", 0.20), ("p2", 0.05), (None, 0.745)):
        sigma = (n * odds * (1 - odds)) ** 0.5
        assert abs(won[prize] - n * odds) < 4 * sigma, (prize, won)


def test_the_default_randomness_is_secrets(db):
    import secrets

    assert GameStore(db).randbelow is secrets.randbelow


def test_a_prize_that_is_gone_falls_to_no_prize(db):
    store = GameStore(db, randbelow=lambda n: 0)  # always the first prize
    game = publish(store, p1_stock="2", p2_stock="5", total="10")
    assert [store.draw("demo", "atrium", game.id, "a", DAY).status for _ in range(3)] == ["WON", "WON", "GONE"]
    game = store.get("demo", game.id)
    assert game.left["p1"] == 0 and game.is_gone(game.prizes[0]) and not game.is_gone(game.prizes[1])
    assert game.gone_odds() == 2000 and game.plays == 3 and game.wins == 2


def test_the_hard_total_caps_all_prizes(db):
    store = GameStore(db, randbelow=lambda n: 0)
    game = publish(store, p1_odds="100", p2_title_en="", p2_value="", p2_odds="", p2_stock="", p2_kind="",
                   p3_title_en="", p3_value="", p3_odds="", p3_stock="", p3_kind="", p1_stock="50", total="3")
    assert game.total == 3
    results = [store.draw("demo", "atrium", game.id, f"s{i}", DAY).status for i in range(5)]
    assert results == ["WON"] * 3 + ["SOLD_OUT"] * 2
    assert store.get("demo", game.id).plays == 3  # a draw refused as sold out is no play


def test_stock_and_total_are_never_oversold_under_threads(db):
    store = GameStore(db)
    game = publish(store, p1_odds="60", p1_stock="25", p2_odds="40", p2_stock="25", p3_title_en="",
                   p3_value="", p3_odds="", p3_stock="", p3_kind="", total="30")

    def play(i: int):
        return [store.draw("demo", "atrium", game.id, f"t{i}", DAY).status for _ in range(20)]

    with ThreadPoolExecutor(16) as pool:
        statuses = Counter(s for batch in pool.map(play, range(16)) for s in batch)
    game = store.get("demo", game.id)
    assert statuses["WON"] == 30 == game.wins and game.total_left == 0
    assert game.left["p1"] >= 0 and game.left["p2"] >= 0 and game.left["p1"] + game.left["p2"] == 20
    assert len(scan_slot(db, GameKeys("demo").voucher("*"))) == 30  # the venue's node, also on a cluster
    assert sum(len(store.wallet("demo", f"t{i}")) for i in range(16)) == 30


def test_limits_per_shopper_and_per_day(db):
    store = GameStore(db, randbelow=lambda n: ODDS_SCALE - 1)  # never a prize
    game = publish(store, per_day="2", per_shopper="3")
    day1 = [store.draw("demo", "atrium", game.id, "alice", DAY).status for _ in range(3)]
    assert day1 == ["NO_PRIZE", "NO_PRIZE", "LIMIT_DAY"]
    assert store.plays_left("demo", game, "alice", DAY) == 0
    assert store.plays_left("demo", game, "alice", "2026-12-01") == 1
    day2 = [store.draw("demo", "atrium", game.id, "alice", "2026-12-01").status for _ in range(2)]
    assert day2 == ["NO_PRIZE", "LIMIT_GAME"]
    assert store.draw("demo", "atrium", game.id, "bob", DAY).status == "NO_PRIZE"
    assert store.get("demo", game.id).plays == 4


def test_refusals_change_nothing(db):
    store = GameStore(db)
    game = publish(store)
    assert store.draw("demo", "kopi", game.id, "a", DAY).status == "NO_GAME"  # another zone's id
    assert store.draw("demo", "atrium", "999", "a", DAY).status == "NO_GAME"
    assert store.draw("demo", "atrium", game.id, "a", DAY, now=game.ends_at).status == "ENDED"
    assert store.draw("demo", "atrium", game.id, "a", DAY, now=game.starts_at - 1).status == "NOT_STARTED"
    replaced = publish(store)
    assert store.draw("demo", "atrium", game.id, "a", DAY).status == "ENDED"  # the old game stopped
    assert store.stop("demo", "atrium") and not store.stop("demo", "atrium")
    assert store.draw("demo", "atrium", replaced.id, "a", DAY).status == "ENDED"
    assert store.get("demo", game.id).plays == 0 and not db.exists(GameKeys("demo").counts(game.run))


def test_redeem_exactly_once_in_its_zone_until_the_deadline(db):
    store = GameStore(db, randbelow=lambda n: 0)
    game = publish(store)
    code = store.draw("demo", "atrium", game.id, "alice", DAY).code
    assert store.voucher("demo", code).client == "alice" and len(store.wallet("demo", "alice")) == 1
    assert store.redeem("demo", "kopi", code, "kopi").status == "WRONG_ZONE"
    assert store.redeem("demo", "atrium", "ZZZZZZZZZZ", "events").status == "NO_CODE"
    assert store.redeem("demo", "atrium", code, "events", now=game.redeem_until).status == "EXPIRED"
    first = store.redeem("demo", "atrium", code, "events")
    assert first.status == "OK" and first.voucher.state == "redeemed"
    again = store.redeem("demo", "atrium", code, "events")
    assert again.status == "ALREADY" and again.at == first.at
    assert store.get("demo", game.id).redeemed == 1


def test_a_repeated_form_gets_the_first_answer(db):
    """A double tap sends the same form (its nonce) twice: the second gets the first's answer, not a refusal
    hiding the prize; no second play, no second hand-out; a form without a nonce works as before."""
    store = GameStore(db, randbelow=lambda n: 0)
    game = publish(store, per_day="1", per_shopper="3")
    assert store.replayed_draw("demo", "alice", "n" * 22) is None
    first = store.draw("demo", "atrium", game.id, "alice", DAY, nonce="n" * 22)
    again = store.draw("demo", "atrium", game.id, "alice", DAY, nonce="n" * 22)
    assert first.status == "WON" and not first.replayed
    assert (again.status, again.prize_id, again.code, again.replayed) == ("WON", "p1", first.code, True)
    assert store.replayed_draw("demo", "alice", "n" * 22) == again
    assert store.replayed_draw("demo", "bob", "n" * 22) is None  # the nonce is the shopper's own
    assert store.draw("demo", "atrium", game.id, "alice", DAY, nonce="m" * 22).status == "LIMIT_DAY"
    assert store.draw("demo", "atrium", game.id, "alice", DAY).status == "LIMIT_DAY"
    assert store.get("demo", game.id).plays == 1 and len(store.wallet("demo", "alice")) == 1
    handed = store.redeem("demo", "atrium", first.code, "events", nonce="d" * 22)
    pressed_again = store.redeem("demo", "atrium", first.code, "events", nonce="d" * 22)
    assert handed.status == "OK" and not handed.replayed
    assert (pressed_again.status, pressed_again.at, pressed_again.replayed) == ("OK", handed.at, True)
    assert store.redeem("demo", "atrium", first.code, "events", nonce="e" * 22).status == "ALREADY"
    assert store.redeem("demo", "atrium", first.code, "events").status == "ALREADY"
    assert store.get("demo", game.id).redeemed == 1
    assert 0 < db.ttl(GameKeys("demo").draw_once("alice", "n" * 22)) <= 600
    store.forget_shopper("demo", "alice")  # the answer names the shopper's prize code
    assert store.replayed_draw("demo", "alice", "n" * 22) is None


def test_forget_and_export(db):
    store = GameStore(db, randbelow=lambda n: 0)
    game = publish(store)
    code = store.draw("demo", "atrium", game.id, "alice", DAY).code
    assert store.export_shopper("demo", "alice")["prizes"][0]["code"] == code
    assert store.forget_shopper("demo", "alice") == 1
    assert store.wallet("demo", "alice") == [] and store.voucher("demo", code).client == ""


# ---- the owner's form (pure) ----------------------------------------------------------------------


def test_odds_are_integers_and_no_prize_fills_to_100():
    game = spec()
    assert [p.odds for p in game.prizes] == [2000, 500, 50] and game.no_prize_odds == 7450
    assert [percent(o) for o in (2000, 500, 50, 7450, 10000, 1)] == ["20%", "5%", "0.5%", "74.5%", "100%", "0.01%"]
    assert game.prizes[1].value == 2000 and game.prizes[2].value == 0  # fen
    assert parse_percent("2.5%", "x") == 250


@pytest.mark.parametrize("over, field", [
    ({"title_en": ""}, "title_zh"),  # neither language: read_pair names the Chinese box
    ({"style": "slots"}, "style"),
    ({"per_day": "0"}, "per_day"),
    ({"per_shopper": "many"}, "per_shopper"),
    ({"total": None}, "total"),
    ({"last_day": "2026-11-29"}, "last_day"),
    ({"last_day": (TODAY + timedelta(days=MAX_SPAN_DAYS + 1)).isoformat()}, "last_day"),
    ({"last_day": "soon"}, "last_day"),
    ({"p1_odds": "95"}, "p1_odds"),  # 95 + 5 + 0.5 > 100
    ({"p1_odds": "0.001"}, "p1_odds"),
    ({"p1_odds": "abc"}, "p1_odds"),
    ({"p1_odds": "NaN"}, "p1_odds"),
    ({"p1_odds": ""}, "p1_odds"),
    ({"p1_value": "1.5"}, "p1_value"),
    ({"p2_value": "1.234"}, "p2_value"),
    ({"p2_kind": "cash"}, "p2_kind"),
    ({"p2_stock": "0"}, "p2_stock"),
    ({"p2_title_en": ""}, "p2_title_zh"),  # a half-filled row
    ({"p1_title_en": "x" * 81}, "p1_title_en"),
    ({f"p{i}_title_en": "" for i in (1, 2, 3)} | {f"p{i}_{f}": "" for i in (1, 2, 3)
                                                   for f in ("value", "odds", "stock")}, "p1_title_zh"),
])
def test_bad_game_forms_name_the_field(over, field):
    with pytest.raises(GameInputError) as exc:
        spec(**over)
    assert exc.value.field == field


def test_one_language_is_enough_for_the_game_and_its_prizes():
    """Owners' texts are in Chinese, English or both (portal/apps/bilingual.py): a Chinese-only game is a game."""
    zh_only = {"title_en": "", "title_zh": "新春抽奖"} | {f"p{i}_title_en": "" for i in (1, 2, 3)} | {
        "p1_title_zh": "200积分", "p2_title_zh": "20元礼券", "p3_title_zh": "电影票"}
    game = spec(**zh_only)
    assert (game.title_zh, game.title_en) == ("新春抽奖", "")
    assert [p.title_zh for p in game.prizes] == ["200积分", "20元礼券", "电影票"]
    shown = game.prizes[0].title(zh=False)  # an English page shows the Chinese title, marked as such
    assert shown == "200积分" and shown.lang == "zh" and shown.fallback


def test_bad_game_forms_say_what_is_wrong_in_english_and_carry_their_catalog_message():
    with pytest.raises(GameInputError) as exc:
        spec(p2_odds="abc")
    assert exc.value.message == "p2_odds must be a percentage like 5 or 2.5."  # the field named as sent
    assert exc.value.template == "%(label)s must be a percentage like 5 or 2.5." and exc.value.params == {}
    with pytest.raises(GameInputError) as exc:
        spec(per_day="0")
    assert exc.value.params == {"low": 1, "high": 100}
    with pytest.raises(GameInputError) as exc:
        spec(p1_odds="96")
    assert exc.value.message == "The prizes' odds add up to more than 100%."


@pytest.mark.parametrize("over, field", [
    ({"p1_odds": "1e1"}, "p1_odds"),  # Decimal read these as 10% and 50%
    ({"p1_odds": "5_0"}, "p1_odds"),
    ({"p1_odds": "٥٠"}, "p1_odds"),  # digits of another script
    ({"p2_value": "1e3"}, "p2_value"),  # ¥1000.00
    ({"p2_value": "Infinity"}, "p2_value"),
    ({"p2_stock": "٣"}, "p2_stock"),
    ({"title_en": "\u200b"}, "title_zh"),  # only a zero-width space: no title
    ({"title_en": " \u2060\ufeff\u3164 "}, "title_zh"),
    ({"p2_title_en": "\u200b"}, "p2_title_zh"),
    ({"per_day": "5", "per_shopper": "3"}, "per_day"),  # "up to 5 a day, 3 in all"
])
def test_numbers_are_plain_decimals_titles_visible_and_the_day_within_the_game(over, field):
    with pytest.raises(GameInputError) as exc:
        spec(**over)
    assert exc.value.field == field


def test_invisible_ends_are_stripped_but_what_is_inside_stays():
    game = spec(title_en="\u200b Spring draw \ufeff", p1_title_en="Family 👨\u200d👩\u200d👧")
    assert game.title_en == "Spring draw" and game.prizes[0].title_en == "Family 👨\u200d👩\u200d👧"
    assert spec(per_day="3", per_shopper="3").per_day == 3
    with pytest.raises(GameInputError) as exc:
        spec(per_day="5", per_shopper="3")
    assert exc.value.message == "per_day may not be more than the draws per person in all (3)."


def test_codes_are_forgiving_to_type():
    assert normalize_code("abcde-23456") == "ABCDE23456"
    assert normalize_code("ABCDE 2345") is None and normalize_code("ABCDE-2345O") is None
    assert normalize_code(None) is None and normalize_code("x" * 100) is None
