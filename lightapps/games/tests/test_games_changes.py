"""Changing a running game (the tenant's first week: "Xmas draw", 2 draws a day, 10 prizes in all, re-published to
fix its title): its texts are fixed in place, the same game with its counts; a change of prizes or rules is a new
game that carries the old one on (each person's draws today and in all, the prizes won in all and per prize row
still count); after a stop a game starts afresh; and the earlier games stay listed with their figures. Against a
real Valkey; the store tests are rerun on the cluster (tests/cluster/test_cluster_games_store.py)."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from lightapps.games.rules import parse_game, parse_texts
from lightapps.games.store import GameKeys, GameStore, count_field
from lightapps.games.tests.test_games_views import CONSOLE, LANDING, draw, venue_today
from lightapps.games.tests.test_games_views import games as games  # noqa: F401 - the fixture
from lightapps.games.tests.test_games_views import token as token  # noqa: F401 - the fixture

DAY = "2026-12-20"  # the venue day the per-day limits count (any label)
NEVER = 9_999  # a roll above every prize's odds: no prize
XMAS = {"title_en": "Xmas drwa", "title_zh": "圣诞抽奖", "style": "draw", "per_shopper": "6", "per_day": "2",
        "total": "10", "p1_kind": "coupon", "p1_title_en": "Cake", "p1_value": "5", "p1_odds": "40", "p1_stock": "6",
        "p2_kind": "coupon", "p2_title_en": "Drink", "p2_value": "", "p2_odds": "20", "p2_stock": "4"}


def xmas(**over):
    form = {**XMAS, "last_day": (venue_today() + timedelta(days=5)).isoformat(), **over}
    return parse_game({k: v for k, v in form.items() if v is not None}, venue_today())


def first_week(store: GameStore, rolls: list[int]):
    """The audit's week: 8 shoppers draw twice each (16 draws) on these rolls (5 prizes won: 3 cakes, 2 drinks),
    3 prizes collected at the desk."""
    game = store.publish("demo", "atrium", xmas(), now=time.time() - 60)
    feed = iter(rolls)
    store.randbelow = lambda n: next(feed)
    results = [store.draw("demo", "atrium", game.id, f"s{i // 2}", DAY) for i in range(16)]
    codes = [r.code for r in results if r.status == "WON"]
    for code in codes[:3]:
        assert store.redeem("demo", "atrium", code, by="events").status == "OK"
    store.randbelow = lambda n: NEVER
    return store.get("demo", game.id)


WEEK = [0, NEVER, 0, NEVER, 0, NEVER, 4_500, NEVER, 4_500, *[NEVER] * 7]  # cake x3, drink x2, 11 no prize


def test_a_title_is_fixed_in_place_with_the_counts_kept(db):
    store = GameStore(db)
    game = first_week(store, WEEK)
    titles, prizes = parse_texts({"title_en": "Xmas draw", "title_zh": "圣诞抽奖", "p1_title_en": "Christmas cake",
                                  "p2_title_zh": "热饮"}, game.prizes)
    assert store.edit_texts("demo", "atrium", game.id, titles, prizes)
    fixed = store.get("demo", game.id)
    assert store.current("demo", "atrium").id == game.id and fixed.title_en == "Xmas draw"
    assert [(p.title_en, p.title_zh) for p in fixed.prizes] == [("Christmas cake", ""), ("", "热饮")]
    assert [(p.odds, p.stock) for p in fixed.prizes] == [(p.odds, p.stock) for p in game.prizes]
    assert (fixed.plays, fixed.wins, fixed.redeemed, fixed.total_left, fixed.left) == (16, 5, 3, 5, {"p1": 3, "p2": 2})
    assert store.plays_left("demo", fixed, "s0", DAY) == 0
    assert store.draw("demo", "atrium", game.id, "s0", DAY).status == "LIMIT_DAY"
    # Only the zone's current live game: not one replaced or stopped meanwhile (nothing written)
    assert not store.edit_texts("demo", "kopi", game.id, titles, prizes)
    store.stop("demo", "atrium")
    assert not store.edit_texts("demo", "atrium", game.id, {"title_en": "Late", "title_zh": ""}, prizes)
    assert store.get("demo", game.id).title_en == "Xmas draw"


def test_a_new_game_over_a_running_one_carries_its_counts_on(db):
    """A change of odds (a new game): nobody draws again today for it, the prizes already won count toward the
    hard total and, row by row, the stocks; the old game keeps its figures and says what replaced it."""
    store = GameStore(db)
    game = first_week(store, WEEK)
    new = store.publish("demo", "atrium", xmas(title_en="Xmas draw", p1_odds="30"), now=time.time() - 30)
    old = store.get("demo", game.id)
    assert (old.status, old.replaced_by, old.plays, old.wins, old.uncollected) == ("stopped", new.id, 16, 5, 2)
    assert (new.follows, new.run, new.carried, new.total, new.total_left) == (game.id, game.id, 5, 10, 5)
    assert new.left == {"p1": 3, "p2": 2} and (new.plays, new.wins) == (0, 0)
    assert store.plays_left("demo", new, "s0", DAY) == 0
    assert store.draw("demo", "atrium", new.id, "s0", DAY).status == "LIMIT_DAY"
    assert store.draws_left("demo", new, "s0", "2026-12-21") == (4, 2)  # 6 in all, 2 of them drawn
    # Stocks and the total raised: what was won still counts; lowered under it: nothing more is won
    raised = store.publish("demo", "atrium", xmas(total="20", p1_stock="9", p2_stock="9"), now=time.time() - 20)
    assert (raised.run, raised.carried, raised.total_left, raised.left) == (game.id, 5, 13, {"p1": 6, "p2": 7})
    lowered = store.publish("demo", "atrium", xmas(total="4", p1_stock="2"), now=time.time() - 10)
    assert (lowered.total_left, lowered.left) == (0, {"p1": 0, "p2": 2})
    assert store.draw("demo", "atrium", lowered.id, "s9", DAY).status == "SOLD_OUT"
    again = store.publish("demo", "atrium", xmas(total="7", p1_stock="5"), now=time.time() - 5)
    assert (again.carried, again.total_left, again.left) == (5, 2, {"p1": 2, "p2": 2})  # counted exactly
    assert [g.id for g in store.past("demo", "atrium")] == [lowered.id, raised.id, new.id, game.id]


def test_a_game_published_after_a_stop_or_an_end_starts_afresh(db):
    store = GameStore(db)
    game = first_week(store, WEEK)
    store.stop("demo", "atrium")
    fresh = store.publish("demo", "atrium", xmas(), now=time.time() - 30)
    assert (fresh.run, fresh.follows, fresh.carried, fresh.total_left) == (fresh.id, "", 0, 10)
    assert store.plays_left("demo", fresh, "s0", DAY) == 2 and not store.get("demo", game.id).replaced_by
    after_end = store.publish("demo", "atrium", xmas(), now=fresh.ends_at)
    assert (after_end.run, after_end.carried) == (after_end.id, 0)


def test_draws_racing_a_change_stay_within_the_limits(db):
    """Shoppers drawing while the owner publishes changes: in the run, nobody draws more than the day allows and
    no more prizes are won than the hard total, whichever game each draw reached."""
    store = GameStore(db, randbelow=lambda n: 0)  # always a cake
    first = store.publish("demo", "atrium", xmas(p1_stock="100", total="12"), now=time.time() - 60)

    def shopper(i: int) -> list[str]:
        seen = []
        for _ in range(4):
            game = store.current("demo", "atrium")
            seen.append(store.draw("demo", "atrium", game.id, f"r{i}", DAY).status)
        return seen

    def owner() -> None:
        for odds in ("30", "20", "10"):
            store.publish("demo", "atrium", xmas(p1_odds=odds, p1_stock="100", total="12"), now=time.time() - 30)

    with ThreadPoolExecutor(9) as pool:
        changes = pool.submit(owner)
        statuses = [s for batch in pool.map(shopper, range(8)) for s in batch]
        changes.result()
    games = [store.current("demo", "atrium"), *store.past("demo", "atrium")]
    assert len(games) == 4 and {g.run for g in games} == {first.id}
    assert sum(g.wins for g in games) == statuses.count("WON") <= 12
    assert sum(g.plays for g in games) == statuses.count("WON") + statuses.count("NO_PRIZE") + statuses.count("GONE")
    for i in range(8):  # 2 draws a day, in whichever game
        assert int((db.hget(GameKeys("demo").counts(first.id), count_field(f"r{i}")) or b"0 - 0").split()[2]) <= 2
        assert len(store.wallet("demo", f"r{i}")) <= 2
    assert games[0].total_left == 12 - sum(g.wins for g in games)


# ---- the console ------------------------------------------------------------------------------------------


def figures(page: str) -> str:
    return re.sub(r"\s+", " ", re.search(r'id="game-figures">([^<]*?collected\.)', page)[1]).strip()


def test_the_console_fixes_texts_in_place_and_lists_earlier_games(client, console, games, token):
    """The audit, through the console and the landing: fixing the title keeps the figures and the day's limit;
    a change of odds carries the counts on and lists the earlier game with its figures."""
    coupons = {"p1_kind": "coupon", "p1_title_en": "Cake", "p1_value": "5", "p1_odds": "100", "p1_stock": "6",
               "p2_title_en": None, "p2_title_zh": None, "p2_kind": None, "p2_value": None, "p2_odds": None,
               "p2_stock": None}
    games.stop("demo", "atrium")  # the demo's own game
    game = games.publish("demo", "atrium", xmas(**coupons))
    for shopper in ("alice", "alice", "bob"):
        assert draw(client, game, token(shopper)).status_code == 303
    console.login("events")
    page = client.get(f"{CONSOLE}/").get_data(as_text=True)
    assert 'id="replace-rule"' in page and 'id="past-games"' in page  # the demo's game, stopped
    fix = {"csrf_token": console.csrf(), "game": game.id, "title_en": "Xmas draw", "title_zh": "圣诞抽奖",
           "p1_title_en": "Cake", "p1_title_zh": "蛋糕"}
    resp = client.post(f"{CONSOLE}/edit", data=fix)
    assert resp.status_code == 303 and f"edited={game.id}" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="texts-saved"' in page and "Xmas draw" in page
    assert figures(page) == "3 draws, 3 prizes won (3 of 6 left), 0 collected."
    fixed = games.current("demo", "atrium")
    assert fixed.id == game.id and fixed.prizes[0].title_zh == "蛋糕"
    landing = client.get(f"{LANDING}?c={token('alice')}").get_data(as_text=True)
    assert "draws left today" not in landing and "draw left today" not in landing
    assert client.post(f"{CONSOLE}/edit", data={**fix, "title_en": "", "title_zh": ""}).status_code == 400
    assert client.post(f"{CONSOLE}/edit", data={**fix, "game": "999"}).status_code == 409
    assert games.get("demo", game.id).title_en == "Xmas draw"
    # A change of odds: a new game that carries the old one on; the old one listed with its figures
    new = games.publish("demo", "atrium", xmas(**{**coupons, "p1_odds": "50"}))
    page = client.get(f"{CONSOLE}/").get_data(as_text=True)
    assert figures(page) == "0 draws, 0 prizes won (3 of 6 left), 0 collected."
    assert f"It carries on game #{game.id}: the 3 prizes won before the change count" in page
    row = re.search(rf'<tr id="past-{game.id}">(.*?)</tr>', page, re.S)[1]
    assert f"carried on as #{new.id}" in row and re.findall(r'class="\w+">(\d+)<', row) == ["3", "3", "3"]
    assert "draw left today" not in client.get(f"{LANDING}?c={token('alice')}").get_data(as_text=True)
    assert "You have 1 draw left today." in client.get(f"{LANDING}?c={token('bob')}").get_data(as_text=True)
