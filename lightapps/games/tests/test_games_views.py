"""Game pages and console through the Flask test client: odds shown, a draw won and lost, the prize in Me,
limits, bad input (clear 4xx, nothing stored), the abuse budget, a store fault (503), and who may configure
and hand out prizes (the zone's owner only)."""

from __future__ import annotations

import functools
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis

from lightapps.games import APP
from lightapps.games.rules import parse_game
from lightapps.games.store import GameKeys, GameStore
from portal.shopper import Shopper, shopper_token

LANDING = "/v/demo/zone/atrium/games"
DRAW = "/v/demo/zone/atrium/games/draw"
CONSOLE = "/console/apps/games/demo/atrium"


def venue_today():
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


MEMBERS = {"alice": "+8613900000001", "bob": "+8613900000002", "carol": "+8613900000003"}


@pytest.fixture
def games(app, svc, demo):
    """The atrium lands on the games app (its demo game is seeded); the store with a fixed roll. The shoppers
    alice, bob and carol are members (MEMBERS): a game with points prizes, as `publish`'s, is for members."""
    svc.zone_apps.set("demo", "atrium", "games", APP.default_config())
    store = app.extensions["light_app_stores"]["games"]
    store.randbelow = lambda n: 0  # the first prize, unless a test says otherwise
    members = app.extensions["light_app_stores"]["membership"]
    for client_id, phone in MEMBERS.items():
        members.bind("demo", phone, client_id)
    return store


@pytest.fixture
def token(app):
    @functools.cache
    def make(client_id: str = "alice") -> str:
        with app.app_context():
            return shopper_token(Shopper("demo", client_id))

    return make


def publish(games: GameStore, **over):
    form = {"title_en": "Test draw", "title_zh": "测试抽奖", "style": "draw", "per_shopper": "3", "per_day": "2",
            "total": "10", "last_day": (venue_today() + timedelta(days=3)).isoformat(),
            "p1_kind": "points", "p1_title_en": "200 points", "p1_title_zh": "200积分", "p1_value": "200",
            "p1_odds": "20", "p1_stock": "5",
            "p2_kind": "coupon", "p2_title_en": "Gift coupon", "p2_title_zh": "礼券", "p2_value": "20",
            "p2_odds": "5", "p2_stock": "5"}
    form.update(over)
    return games.publish("demo", "atrium", parse_game(form, venue_today()), tz=ZoneInfo("Asia/Shanghai"))


def draw(client, game, token):
    return client.post(DRAW, data={"c": token, "game": game.id})


def n_vouchers(db) -> int:
    return len(db.keys(GameKeys("demo").voucher("*")))


# ---- shopper pages -------------------------------------------------------------------------------


def test_demo_game_is_seeded_once_and_the_landing_shows_the_odds(app, client, svc, games, demo_map, token):
    from lightapps.games.demo import seed

    demo_game = games.current("demo", "atrium")
    assert demo_game is not None and demo_game.style == "shake"
    with app.app_context():
        seed(svc, demo_map)
    assert games.current("demo", "atrium").id == demo_game.id
    game = publish(games)
    page = client.get(f"{LANDING}?c={token()}").get_data(as_text=True)
    assert "Test draw" in page and f'name="game" value="{game.id}"' in page
    odds = re.findall(r'<td class="odds">([^<]+)</td>', page)
    assert odds == ["20%", "5%", "75%"]
    assert "200 membership points" in page and "¥20.00 coupon" in page
    assert "You have 2 draws left today." in page and "shake-start" not in page
    zh = client.get(f"{LANDING}?c={token()}&lang=zh").get_data(as_text=True)
    assert "测试抽奖" in zh and "未中奖" in zh and "¥20.00" in zh
    assert len(page.encode()) < 100_000


def test_win_shows_the_code_and_the_prize_is_in_me(client, games, token):
    game = publish(games)
    games.randbelow = lambda n: 2000  # the coupon
    resp = draw(client, game, token())
    assert resp.status_code == 303 and "/games/prize/" in resp.headers["Location"] and "c=" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    code = re.search(r'id="prize-code">([A-Z0-9-]+)<', page).group(1)
    assert "You won!" in page and "Gift coupon" in page and "Show this code at the service desk" in page
    me = client.get(f"/v/demo/me?c={token()}").get_data(as_text=True)
    assert 'id="mine-games"' in me and code in me
    # Only its winner sees it.
    other = client.get(resp.headers["Location"].replace(token(), token("bob")))
    assert other.status_code == 404
    assert code not in client.get(f"/v/demo/me?c={token('bob')}").get_data(as_text=True)
    assert client.get("/v/demo/games/prize/nonsense").status_code == 404


def test_lose_gone_scratch_and_shake(client, games, token):
    game = publish(games, p1_stock="1")
    games.randbelow = lambda n: n - 1
    resp = draw(client, game, token())
    assert resp.status_code == 303 and "outcome=lose" in resp.headers["Location"]
    assert "No prize this time" in client.get(resp.headers["Location"]).get_data(as_text=True)
    games.randbelow = lambda n: 0
    assert draw(client, game, token("bob")).status_code == 303  # bob wins the last p1
    resp = draw(client, game, token())
    assert "outcome=gone" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "it has all been won" in page and 'id="gone-note"' in page and "All won" in page
    # A scratch card reveals without JavaScript (a <details>; static/scratch.js coats it for a finger where
    # JavaScript runs: test_games_browser.py); a shake game offers the motion button, which
    # its script shows only where DeviceMotionEvent exists, beside the plain button.
    game = publish(games, style="scratch")
    page = client.get(draw(client, game, token("carol")).headers["Location"]).get_data(as_text=True)
    assert '<details class="result" id="scratch" data-scratch-label="Scratch the coating">' in page
    assert "Scratch here" in page and "/static/scratch.js" in page
    publish(games, style="shake")  # continues the running game: alice has had today's two draws, bob one
    page = client.get(f"{LANDING}?c={token('bob')}").get_data(as_text=True)
    assert 'id="shake-start" hidden' in page and "requestPermission" in page and 'id="draw-button"' in page


def form_fields(page: str, form_id: str | None = None) -> dict[str, str]:
    """The hidden fields of a page's form (the first form, or the one with this id), as a browser sends them."""
    form = page.split(f'id="{form_id}"')[1] if form_id else page.split("<form")[1]
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.split("</form>")[0]))


def test_a_double_tap_gets_the_first_answer_not_a_refusal(client, games, token, db):
    """The same draw form sent twice (a double tap): both 303 to the same prize, one play; another form is
    a new draw, refused at the day's limit."""
    game = publish(games, per_day="1")
    data = form_fields(client.get(f"{LANDING}?c={token()}").get_data(as_text=True), "draw-form")
    assert len(data["nonce"]) >= 16
    first, second = client.post(DRAW, data=data), client.post(DRAW, data=data)
    assert first.status_code == second.status_code == 303
    assert "/games/prize/" in first.headers["Location"] and second.headers["Location"] == first.headers["Location"]
    assert games.get("demo", game.id).plays == 1 and n_vouchers(db) == 1
    assert 'id="draw-form"' not in client.get(f"{LANDING}?c={token()}").get_data(as_text=True)
    assert client.post(DRAW, data={**data, "nonce": "another-form-0123456"}).status_code == 403
    assert client.post(DRAW, data={**data, "nonce": "x"}).status_code == 403  # not a nonce: as without one
    # Someone else sending the form gets no replay of the shopper's prize.
    assert client.post(DRAW, data={**data, "c": token("bob")}).status_code == 303
    assert games.get("demo", game.id).plays == 2


def test_the_limits_are_said_in_the_right_plural(client, games, token):
    publish(games, per_day="1")
    page = client.get(f"{LANDING}?c={token()}").get_data(as_text=True)
    assert "Up to 1 draw a day, 3 in all, per person." in page and "You have 1 draw left today." in page
    zh = client.get(f"{LANDING}?c={token()}&lang=zh").get_data(as_text=True)
    assert "每人每天最多抽 1 次，总共 3 次。" in zh and "您今天还可以抽 1 次。" in zh


def left_cells(page: str) -> dict[str, str]:
    """The "Left" column of the landing's odds table, per prize id."""
    return dict(re.findall(r'<tr id="prize-(p\d)"[^>]*>.*?<td class="odds">[^<]*</td>\s*<td>([^<]*)</td>', page,
                           re.S))


def test_left_shows_no_more_than_the_hard_total_allows(client, console, games, token):
    game = publish(games, total="2", p1_stock="50", p2_stock="50")
    page = client.get(f"{LANDING}?c={token()}").get_data(as_text=True)
    assert left_cells(page) == {"p1": "2", "p2": "2"}
    assert re.search(r'id="total-left">2 prizes left in all\.<', page)
    assert draw(client, game, token()).status_code == 303  # one won: one left in all
    page = client.get(f"{LANDING}?c={token('bob')}").get_data(as_text=True)
    assert left_cells(page) == {"p1": "1", "p2": "1"} and "1 prize left in all." in page
    assert 'id="total-left"' in client.get(f"{LANDING}?c={token('bob')}&lang=zh").get_data(as_text=True)
    console.login("events")
    owner = client.get(f"{CONSOLE}/").get_data(as_text=True)
    assert re.findall(r'<td class="left">(\d+)</td>', owner) == ["1", "1"]
    # Stocks below the total: each shows its own stock (less the p1 won before the change), no line about the total.
    publish(games, total="10", p1_stock="3", p2_stock="4")
    page = client.get(f"{LANDING}?c={token('carol')}").get_data(as_text=True)
    assert left_cells(page) == {"p1": "2", "p2": "4"} and 'id="total-left"' not in page


def test_limits_and_bad_input_are_4xx_and_store_nothing(client, games, token, db):
    game = publish(games, per_day="1")
    games.randbelow = lambda n: n - 1
    assert draw(client, game, token()).status_code == 303
    resp = draw(client, game, token())
    assert resp.status_code == 403 and "today" in resp.get_data(as_text=True)
    budget_keys = set(db.keys("mp:{demo}:budget:games*"))  # KEYS answers in no fixed order
    for form in ({"game": "999"}, {"game": ""}, {}, {"game": "x" * 500}):  # not the game the page showed
        resp = client.post(DRAW, data={"c": token("bob"), **form})
        assert resp.status_code == 409 and 'id="draw-error"' in resp.get_data(as_text=True)
    assert client.get(DRAW).status_code == 405
    for zone_url in ("/v/demo/zone/nowhere", "/v/demo/zone/kopi", "/v/nowhere/zone/atrium"):
        assert client.post(f"{zone_url}/games/draw", data={"c": token("bob"), "game": game.id}).status_code == 404
    games.stop("demo", "atrium")
    assert draw(client, game, token("bob")).status_code == 410
    assert games.get("demo", game.id).plays == 1 and n_vouchers(db) == 0
    assert set(db.keys("mp:{demo}:budget:games*")) == budget_keys


def test_the_abuse_budget_and_a_store_fault(app, client, games, token, monkeypatch):
    from portal.apps.budgets import budget_store

    game = publish(games, per_shopper="1000", per_day="100", total="1000", p1_stock="1000")
    budget_store(app).set_limit("demo", "games.draw.shopper", (2, 3600))
    assert [draw(client, game, token()).status_code for _ in range(3)] == [303, 303, 429]
    assert games.get("demo", game.id).plays == 2

    def broken(*args, **kwargs):
        raise redis.ConnectionError("store down")

    monkeypatch.setattr(games, "_draw", broken)
    assert draw(client, game, token("bob")).status_code == 503
    monkeypatch.setattr(games, "current", broken)
    assert client.get(f"{LANDING}?c={token()}").status_code == 503


# ---- the console: who may configure -----------------------------------------------------------------


def good_form(csrf, **over):
    data = {"csrf_token": csrf, "title_en": "Weekend draw", "title_zh": "周末抽奖", "style": "scratch",
            "per_shopper": "3", "per_day": "1", "total": "20", "last_day": venue_today().isoformat(),
            "p1_kind": "coupon", "p1_title_en": "Free cake", "p1_value": "5", "p1_odds": "10", "p1_stock": "10",
            "p2_kind": "coupon", "p2_title_en": "Free drink", "p2_value": "", "p2_odds": "2.5", "p2_stock": "10"}
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


def test_logged_out_and_other_owners_may_not_configure(client, console, games, db):
    before = games.current("demo", "atrium").id
    resp = client.post(f"{CONSOLE}/publish", data=good_form(console.csrf()))
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    console.login("kopi")
    assert client.get(f"{CONSOLE}/").status_code == 403
    assert client.post(f"{CONSOLE}/publish", data=good_form(console.csrf())).status_code == 403
    assert client.post(f"{CONSOLE}/stop", data={"csrf_token": console.csrf()}).status_code == 403
    redeem = {"csrf_token": console.csrf(), "code": "ABCDE23456"}
    assert client.post(f"{CONSOLE}/redeem", data=redeem).status_code == 403
    assert games.current("demo", "atrium").id == before and games.current("demo", "atrium").status == "live"
    console.logout()
    console.login("events")
    assert client.post(f"{CONSOLE}/publish", data=good_form(None)).status_code == 400  # no CSRF token
    assert games.current("demo", "atrium").id == before


def test_points_prizes_are_published_by_the_operator_only(client, console, games, db):
    """Points are the mall's money: a zone owner's game gives coupons (403, nothing stored, and the form offers
    no points); the venue's operator may put points in any zone's game."""
    before, seq = games.current("demo", "atrium").id, db.get(GameKeys("demo").seq())
    points = {"p1_kind": "points", "p1_title_en": "1000000 points", "p1_value": "1000000", "p1_odds": "100",
              "p2_title_en": None, "p2_kind": None, "p2_value": None, "p2_odds": None, "p2_stock": None}
    console.login("events")
    page = client.get(f"{CONSOLE}/").get_data(as_text=True)
    assert 'value="points"' not in page and 'id="points-prizes-note"' in page
    resp = client.post(f"{CONSOLE}/publish", data=good_form(console.csrf(), **points))
    assert resp.status_code == 403 and "operator" in form_error(resp)
    assert games.current("demo", "atrium").id == before and db.get(GameKeys("demo").seq()) == seq
    console.logout()
    console.login("ops")
    assert 'value="points"' in client.get(f"{CONSOLE}/").get_data(as_text=True)
    assert client.post(f"{CONSOLE}/publish", data=good_form(console.csrf(), **points)).status_code == 303
    game = games.current("demo", "atrium")
    assert game.id != before and game.created_by == "ops" and game.prizes[0].kind == "points"


def test_owner_publishes_and_shoppers_see_the_new_odds(client, console, games, token, db):
    old = games.current("demo", "atrium")
    console.login("events")
    resp = client.post(f"{CONSOLE}/publish", data=good_form(console.csrf()))
    assert resp.status_code == 303
    game = games.current("demo", "atrium")
    assert game.id != old.id and game.created_by == "events" and game.style == "scratch"
    assert games.get("demo", old.id).status == "stopped"
    assert [p.odds for p in game.prizes] == [1000, 250] and game.prizes[1].value == 0
    page = client.get(f"{LANDING}?c={token()}").get_data(as_text=True)
    assert re.findall(r'<td class="odds">([^<]+)</td>', page) == ["10%", "2.5%", "87.5%"]
    # A shopper still looking at the old game's odds is shown the new ones instead of drawing.
    assert client.post(DRAW, data={"c": token(), "game": old.id}).status_code == 409
    assert any("games.publish" in e.decode() for e in db.lrange("mp:{demo}:audit", 0, 5))
    assert client.post(f"{CONSOLE}/stop", data={"csrf_token": console.csrf(), "confirm": "yes"}).status_code == 303
    assert client.post(f"{CONSOLE}/stop", data={"csrf_token": console.csrf()}).status_code == 404
    assert "Stopped" in client.get(f"{CONSOLE}/").get_data(as_text=True)


def test_publish_bad_input_is_400_and_stores_nothing(client, console, games, db):
    seq = db.get(GameKeys("demo").seq())
    console.login("events")
    for over in ({"title_en": "", "title_zh": ""}, {"per_day": "0"}, {"total": "lots"}, {"last_day": "2000-01-01"},
                 {"p1_odds": "99"}, {"p1_odds": "1.234"}, {"p2_kind": "cash"}, {"p1_title_en": "", "p2_title_en": ""},
                 {"style": "slots"}, {"title_en": "x" * 300}):
        resp = client.post(f"{CONSOLE}/publish", data=good_form(console.csrf(), **over))
        assert resp.status_code == 400 and 'id="form-error"' in resp.get_data(as_text=True), over
    assert db.get(GameKeys("demo").seq()) == seq


def form_error(resp) -> str:
    return re.search(r'id="form-error"[^>]*>(.*?)</p>', resp.get_data(as_text=True), re.S).group(1)


@pytest.mark.parametrize("over, label, raw", [
    ({"per_day": "0"}, "每人每天抽奖次数", "per_day"),
    ({"last_day": "2000-01-01"}, "最后一天", "last_day"),
    ({"p2_odds": "abc"}, "概率（百分比）", "p2_odds"),  # a prize row's box: its column, in its row
])
def test_form_errors_are_in_the_owners_language_naming_the_box(client, console, games, over, label, raw):
    console.login("events")
    resp = client.post(f"{CONSOLE}/publish?lang=zh", data=good_form(console.csrf(), **over))
    assert resp.status_code == 400
    text = form_error(resp)
    assert label in text and raw not in text and not re.match(r"\s*[a-z_]+:", text), text


def test_a_game_written_in_chinese_only_is_published_and_shown(client, console, games, token):
    """One language is enough for an owner's texts (README): the lucky draw took only an English title."""
    console.login("events")
    zh_only = {"title_en": "", "title_zh": "新春抽奖", "p1_title_en": "", "p1_title_zh": "100积分",
               "p2_title_en": "", "p2_title_zh": "免费饮品"}
    resp = client.post(f"{CONSOLE}/publish", data=good_form(console.csrf(), **zh_only))
    assert resp.status_code == 303
    game = games.current("demo", "atrium")
    assert (game.title_zh, game.title_en) == ("新春抽奖", "")
    page = client.get(f"{LANDING}?c={token()}&lang=zh").get_data(as_text=True)
    assert re.search(r'<h1 id="game-title">\s*新春抽奖\s*</h1>', page) and "免费饮品" in page
    page = client.get(f"{LANDING}?c={token()}&lang=en").get_data(as_text=True)  # shown marked as Chinese
    assert re.search(r'<h1 id="game-title"><span lang="zh">新春抽奖</span> <small class="lang-tag"', page)
    assert "<title>新春抽奖 ·" in page  # the tab title is plain text


def test_owner_hands_out_a_prize_exactly_once(client, console, games, token):
    game = publish(games)
    games.randbelow = lambda n: 2000  # the coupon
    code = re.search(r"/games/prize/([A-Z0-9]+)", draw(client, game, token()).headers["Location"]).group(1)
    console.login("events")
    csrf = console.csrf()
    resp = client.post(f"{CONSOLE}/redeem", data={"csrf_token": csrf, "code": f"{code[:5]}-{code[5:]}".lower()})
    assert resp.status_code == 200 and "Hand out the prize now" in resp.get_data(as_text=True)
    assert client.post(f"{CONSOLE}/redeem", data={"csrf_token": csrf, "code": code}).status_code == 409
    assert client.post(f"{CONSOLE}/redeem", data={"csrf_token": csrf, "code": "abc"}).status_code == 400
    assert client.post(f"{CONSOLE}/redeem", data={"csrf_token": csrf, "code": "ZZZZZ-ZZZZZ"}).status_code == 404
    page = client.get(f"/v/demo/games/prize/{code}?c={token()}").get_data(as_text=True)
    assert 'id="state" class="redeemed"' in page
    assert code not in client.get(f"/v/demo/me?c={token()}").get_data(as_text=True)


def test_the_desk_pressing_hand_out_twice_is_told_to_hand_it_out(client, console, games, token):
    """The same redeem form twice (a double press): not "already collected" for the prize it just gave out, but
    when this form handed it out; another form for the same code is refused as before."""
    game = publish(games)
    games.randbelow = lambda n: 2000  # the coupon
    code = re.search(r"/games/prize/([A-Z0-9]+)", draw(client, game, token()).headers["Location"]).group(1)
    console.login("events")
    data = {**form_fields(client.get(f"{CONSOLE}/").get_data(as_text=True)), "code": code}
    assert len(data["nonce"]) >= 16
    first, again = (client.post(f"{CONSOLE}/redeem", data=data) for _ in range(2))
    assert first.status_code == 200 and "Hand out the prize now" in first.get_data(as_text=True)
    # the second press is no refusal: it says when this form handed it out, and to hand it over if not yet
    assert again.status_code == 200 and "by this form" in again.get_data(as_text=True)
    fresh = form_fields(client.get(f"{CONSOLE}/").get_data(as_text=True))
    assert client.post(f"{CONSOLE}/redeem", data={**data, "nonce": fresh["nonce"]}).status_code == 409
    assert games.get("demo", game.id).redeemed == 1


def test_points_prizes_go_onto_the_membership_card_once(app, client, console, games, token):
    """Through the platform's points capability (portal/apps/capabilities.py), which the membership app provides."""
    members = app.extensions["light_app_stores"]["membership"]
    game = publish(games)
    bob = members.for_client("demo", "bob")
    resp = draw(client, game, token("bob"))  # a member wins: the points are on the card at once
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="state" class="credited"' in page
    assert members.get("demo", bob.id).points == bob.points + 200
    assert members.ledger("demo", bob.id)[0]["type"] == "grant"
    code = re.search(r"/games/prize/([A-Z0-9]+)", resp.headers["Location"]).group(1)
    assert code not in client.get(f"/v/demo/me?c={token('bob')}").get_data(as_text=True)

    # A prize not on a card (won before games with points prizes were for members only): it waits in Me with its
    # button; joining and pressing it adds the points once.
    code = games.draw("demo", "atrium", game.id, "erin", venue_today().isoformat()).code
    page = client.get(f"/v/demo/games/prize/{code}?c={token('erin')}").get_data(as_text=True)
    assert 'id="credit-button"' in page
    assert code[:5] in client.get(f"/v/demo/me?c={token('erin')}").get_data(as_text=True)
    credit = f"/v/demo/games/prize/{code}/credit"
    assert client.post(credit, data={"c": token("erin")}).status_code == 409
    assert client.post(credit, data={"c": token("bob")}).status_code == 404  # not bob's prize
    erin, _ = members.bind("demo", "+8613900001111", "erin")
    assert client.post(credit, data={"c": token("erin")}).status_code == 303
    assert client.post(credit, data={"c": token("erin")}).status_code == 303
    assert members.get("demo", erin.id).points == erin.points + 200

    # At the desk: the same step on the winner's behalf, once.
    console.login("events")
    csrf = console.csrf()
    assert client.post(f"{CONSOLE}/redeem", data={"csrf_token": csrf, "code": code}).status_code == 409
    code = games.draw("demo", "atrium", game.id, "frank", venue_today().isoformat()).code
    assert client.post(f"{CONSOLE}/redeem", data={"csrf_token": csrf, "code": code}).status_code == 409
    frank, _ = members.bind("demo", "+8613900003333", "frank")
    pressed = {"csrf_token": csrf, "code": code, "nonce": "desk-form-0123456789"}
    for _ in range(2):  # pressed twice: told the same both times
        resp = client.post(f"{CONSOLE}/redeem", data=pressed)
        assert resp.status_code == 200 and "200 points added" in resp.get_data(as_text=True)
    assert client.post(f"{CONSOLE}/redeem", data={"csrf_token": csrf, "code": code}).status_code == 409
    assert members.get("demo", frank.id).points == frank.points + 200
