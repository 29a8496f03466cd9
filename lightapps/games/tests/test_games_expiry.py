"""Every record a win writes about a shopper expires (a real Valkey): the voucher after the game's collection
deadline plus a grace period, the wallet at least the shopper token's lifetime after each prize and never
before its vouchers; a win only moves an expiry later. Without these an anonymous shopper's records would
outlive the only token that can reach them, for ever."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from lightapps.games.rules import parse_game
from lightapps.games.store import KEEP_AFTER_REDEEM_S, GameKeys, GameStore
from portal.apps.views import STORES

DAY = 86400
TOKEN_LIFE = 30 * DAY
SLACK = 5


@pytest.fixture
def store(db) -> GameStore:
    return GameStore(db, randbelow=lambda n: 0, shopper_ttl_s=TOKEN_LIFE)  # every draw wins the first prize


def game(store: GameStore, days: int, zone: str = "atrium"):
    today = date.today()
    spec = parse_game({"title_en": "Draw", "style": "draw", "per_shopper": "10", "per_day": "10", "total": "100",
                       "last_day": (today + timedelta(days=days)).isoformat(), "p1_kind": "coupon",
                       "p1_title_en": "Tea", "p1_value": "", "p1_odds": "50", "p1_stock": "100"}, today)
    return store.publish("demo", zone, spec, now=time.time() - 60)


def win(store: GameStore, g, client: str = "anon-1") -> str:
    result = store.draw("demo", g.zone, g.id, client, date.today().isoformat())
    assert result.status == "WON"
    return result.code


def test_a_win_gives_every_record_naming_the_shopper_an_expiry_past_the_collection_deadline(store, db):
    keys = GameKeys("demo")
    g = game(store, days=10)
    code = win(store, g)
    usable = g.redeem_until - time.time()
    assert usable + KEEP_AFTER_REDEEM_S - SLACK <= db.ttl(keys.voucher(code)) <= usable + KEEP_AFTER_REDEEM_S + 2
    assert db.ttl(keys.wallet("anon-1")) >= max(TOKEN_LIFE, usable + KEEP_AFTER_REDEEM_S) - SLACK
    counts_for = g.ends_at + DAY - time.time()  # the play counts: a day after the game
    assert counts_for - SLACK <= db.ttl(keys.counts(g.run)) <= counts_for + 2


def test_the_wallet_outlives_its_latest_deadline_and_a_win_never_shortens_it(store, db):
    wallet = GameKeys("demo").wallet("anon-1")
    long_game = game(store, days=300, zone="atrium")
    win(store, long_game)
    floor = long_game.redeem_until - time.time() + KEEP_AFTER_REDEEM_S - SLACK
    assert db.ttl(wallet) >= floor
    win(store, game(store, days=1, zone="kopi"))
    assert db.ttl(wallet) >= floor


def test_a_second_win_refreshes_the_wallet(store, db):
    wallet = GameKeys("demo").wallet("anon-1")
    g = game(store, days=1)
    win(store, g)
    db.expire(wallet, 60)  # as if the first prize were a month old
    win(store, g)
    assert db.ttl(wallet) >= TOKEN_LIFE - SLACK


def test_the_platform_builds_the_store_with_the_shopper_token_lifetime(app, svc):
    assert app.extensions[STORES]["games"].shopper_ttl_s == svc.settings.shopper_token_ttl_s
