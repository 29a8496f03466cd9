"""A game's "per person" and a points prize won in a phone's WiFi sign-in window (which keeps no cookies: each
sign-in is a new shopper id): a member's draws count on her card on every shopper id (the draw script, and
the pages), a game with points prizes is for members, and the desk puts a stranded points prize onto the card
whose member code the winner shows, checked as at the till."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import pytest

from lightapps.games.rules import parse_game
from lightapps.games.store import GameKeys, GameStore
from lightapps.games.tests.test_games_views import CONSOLE, DRAW, LANDING, draw, form_fields, venue_today
from lightapps.games.tests.test_games_views import games as games  # noqa: F401 - the fixture
from lightapps.games.tests.test_games_views import publish as publish_here
from lightapps.games.tests.test_games_views import token as token  # noqa: F401 - the fixture
from lightapps.membership.codes import code_matches, short_code, step_of, totp
from lightapps.membership.store import MemberKeys

CNA_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Mobile/15E148")

DAY, TOMORROW = "2026-11-30", "2026-12-01"  # the venue days the per-day limit compares (any two)

# ---- the store: one member on several shopper ids --------------------------------------------------------------


def publish(store: GameStore, **over):
    """A live game whose every draw wins its points prize (with a roll of 0)."""
    today = date.today()
    form = {"title_en": "Draw", "style": "draw", "per_shopper": "3", "per_day": "2", "total": "1000",
            "last_day": (today + timedelta(days=7)).isoformat(), "p1_kind": "points", "p1_title_en": "200 points",
            "p1_value": "200", "p1_odds": "20", "p1_stock": "1000"}
    return store.publish("demo", "atrium", parse_game({**form, **over}, today), now=time.time() - 60)


def test_a_members_draws_count_on_every_shopper_id(db):
    """Each sign-in window is a new shopper id; the member key is the same: the limits hold for the member."""
    store = GameStore(db, randbelow=lambda n: 0)
    game = publish(store, per_shopper="3", per_day="2")
    assert [store.draw("demo", "atrium", game.id, f"sheet-{i}", DAY, member="m-1").status
            for i in range(3)] == ["WON", "WON", "LIMIT_DAY"]
    assert store.draws_left("demo", game, "sheet-9", DAY, member="m-1") == (1, 0)
    assert store.draws_left("demo", game, "sheet-9", DAY) == (3, 2)  # the shopper id alone: not yet played
    assert store.draw("demo", "atrium", game.id, "sheet-3", TOMORROW, member="m-1").status == "WON"
    assert store.draw("demo", "atrium", game.id, "sheet-4", TOMORROW, member="m-1").status == "LIMIT_GAME"
    # Another member on a shopper id that has played: the shopper's own count still holds.
    assert store.draw("demo", "atrium", game.id, "sheet-0", TOMORROW, member="m-2").status == "WON"
    assert store.draws_left("demo", game, "sheet-0", TOMORROW, member="m-2") == (1, 1)
    assert store.get("demo", game.id).plays == 4
    keys = GameKeys("demo")
    assert db.ttl(keys.counts(game.run)) > 0 and db.hexists(keys.counts(game.run), "m:m-1")  # gone a day after


def test_a_members_draws_sent_at_once_from_many_shopper_ids_stay_within_the_limit(db):
    """The member's count is checked and written in the draw script itself (one step), not before it."""
    store = GameStore(db, randbelow=lambda n: 0)
    game = publish(store, per_shopper="3", per_day="3")
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: store.draw("demo", "atrium", game.id, f"sheet-{i}", DAY,
                                                     member="m-1").status, range(24)))
    assert results.count("WON") == 3 and store.get("demo", game.id).plays == 3


# ---- the shopper pages -----------------------------------------------------------------------------------------


def new_sheet(app, members, phone: str, n: int) -> str:
    """A new sign-in window (a new shopper id) that joins the card with `phone` again (its SMS code verified)."""
    client_id = f"sheet-{phone[-4:]}-{n}"
    members.bind("demo", phone, client_id)
    return client_id


def test_one_member_signing_in_again_draws_no_more_than_the_game_allows(app, client, games, token):  # noqa: F811
    members = app.extensions["light_app_stores"]["membership"]
    game = publish_here(games, per_shopper="3", per_day="3", p1_stock="50", total="50")
    wins = 0
    for n in range(4):
        sheet = new_sheet(app, members, "+8613900004444", n)
        page = client.get(f"{LANDING}?c={token(sheet)}").get_data(as_text=True)
        assert (n == 0) == ('id="draw-form"' in page), n  # the second sheet on is told its draws are used
        for _ in range(3):
            wins += "/games/prize/" in draw(client, game, token(sheet)).headers.get("Location", "")
    assert wins == 3
    member = members.for_client("demo", sheet)
    assert member.points == 3 * 200 and sum(e["type"] == "grant" for e in members.ledger("demo", member.id)) == 3


def test_a_game_with_points_prizes_is_for_members_and_says_so(app, client, games, token, db):  # noqa: F811
    game = publish_here(games)
    page = client.get(f"{LANDING}?c={token('newcomer')}").get_data(as_text=True)
    assert 'id="members-only"' in page and 'id="draw-form"' not in page
    assert re.search(r'id="join-link" href="/v/demo/member\?[^"]*c=', page)  # the demo's pixel runs the card
    assert "Points go straight onto your membership card" not in page  # not for her: she has no card here
    assert "a person is a membership card" in page
    budget = set(db.keys("mp:{demo}:budget:games*"))
    resp = draw(client, game, token("newcomer"))
    assert resp.status_code == 403 and "for members" in resp.get_data(as_text=True)
    assert games.get("demo", game.id).plays == 0 and set(db.keys("mp:{demo}:budget:games*")) == budget
    member_page = client.get(f"{LANDING}?c={token('alice')}").get_data(as_text=True)
    assert 'id="draw-form"' in member_page and "Points go straight onto your membership card" in member_page
    zh = client.get(f"{LANDING}?c={token('newcomer')}&lang=zh").get_data(as_text=True)
    assert 'id="members-only"' in zh

    # A game of coupons only: anyone draws, and the page says what "per person" is for whom.
    coupons = publish_here(games, p1_kind="coupon", p1_value="5")
    page = client.get(f"{LANDING}?c={token('newcomer')}&lang=en").get_data(as_text=True)
    assert 'id="draw-form"' in page and "for anyone else, a browser" in page
    assert draw(client, coupons, token("newcomer")).status_code == 303


# ---- a points prize stranded in a sign-in window ---------------------------------------------------------------


def stranded_prize(games: GameStore, game, client_id: str = "cna-sheet", member: str | None = None) -> str:
    """A points prize won by a shopper id that is no member now (the sign-in window that won it is closed), by
    the member whose key is `member` when given."""
    return games.draw("demo", "atrium", game.id, client_id, venue_today().isoformat(), member=member).code


def winner_key(app, client_id: str) -> str:
    """The member key (the points capability's) of the member this shopper id is."""
    return app.extensions["light_app_capabilities"]["points"].member_key("demo", client_id)


def card_code(member) -> str:
    """The code her card shows now."""
    return short_code(member.id, totp(member.secret, step_of(time.time())))


def wrong_code(member) -> str:
    """A code of her number that her card does not show (now, or a step either side)."""
    digits = next(d for d in ("000000", "111111", "222222") if not code_matches(member.secret, d, time.time()))
    return short_code(member.id, digits)


def test_the_prize_page_of_a_points_prize_tells_a_non_member_what_to_do(client, games, token):  # noqa: F811
    code = stranded_prize(games, publish_here(games))
    page = client.get(f"/v/demo/games/prize/{code}?c={token('cna-sheet')}",
                      headers={"User-Agent": CNA_UA}).get_data(as_text=True)
    assert "Show this prize code and your card at the service desk" in page
    assert re.search(r'id="prize-code">[A-Z0-9]{5}-[A-Z0-9]{5}<', page) and 'id="credit-button"' in page
    assert 'id="keep-offer"' in page and 'id="keep-link"' in page  # keep the prize in the phone's browser
    assert "Points go straight" not in page and "Join the card first" not in page


def test_the_desk_puts_a_stranded_points_prize_on_the_card_whose_code_she_shows(app, client, console, games,
                                                                               db):  # noqa: F811
    members = app.extensions["light_app_stores"]["membership"]
    safari, _ = members.bind("demo", "+8613900001111", "safari")  # her card, in her real browser
    other, _ = members.bind("demo", "+8613900002222", "someone-else")
    code = stranded_prize(games, publish_here(games), member=winner_key(app, "safari"))
    console.login("ops")
    form = form_fields(client.get(f"{CONSOLE}/").get_data(as_text=True))
    assert 'id="member_code"' in client.get(f"{CONSOLE}/").get_data(as_text=True)

    resp = client.post(f"{CONSOLE}/redeem", data={**form, "code": code})  # no member code: how to go on
    assert resp.status_code == 409 and "type the member code" in resp.get_data(as_text=True)
    assert client.post(f"{CONSOLE}/redeem", data={**form, "code": code,
                                                  "member_code": wrong_code(safari)}).status_code == 422
    assert client.post(f"{CONSOLE}/redeem", data={**form, "code": code, "member_code": "hello"}).status_code == 400
    for not_hers in ("999999-123456", card_code(other)):  # another number, even with its right code: refused as
        assert client.post(f"{CONSOLE}/redeem", data={**form, "code": code,  # wrong, the code never judged
                                                      "member_code": not_hers}).status_code == 422
    assert members.get("demo", other.id).points == 0
    assert members.get("demo", safari.id).points == 0 and games.voucher("demo", code).state == "issued"

    shown = {**form, "code": code, "member_code": card_code(safari)}
    for _ in range(2):  # pressed twice: the points go on once, told the same both times
        resp = client.post(f"{CONSOLE}/redeem", data=shown)
        assert resp.status_code == 200 and "200 points added" in resp.get_data(as_text=True)
    assert members.get("demo", safari.id).points == 200 and games.voucher("demo", code).state == "credited"
    fresh = form_fields(client.get(f"{CONSOLE}/").get_data(as_text=True))
    assert client.post(f"{CONSOLE}/redeem", data={**shown, "nonce": fresh["nonce"]}).status_code == 409
    assert members.get("demo", safari.id).points == 200
    audited = [e.decode() for e in db.lrange("mp:{demo}:audit", 0, 20) if b"games.credit" in e]
    assert len(audited) == 1 and members.audit_ref(safari.id) in audited[0] and code[-4:] in audited[0]
    assert "Not collected" not in client.get(f"{CONSOLE}/").get_data(as_text=True)


def test_member_codes_typed_at_the_prize_desk_spend_the_accounts_till_budget(app, client, console, games, db):  # noqa: F811
    """The desk's wrong member codes count as the till's (MemberStore.identify, the account's own count): past
    its limit nothing is judged, the right code included."""
    members = app.extensions["light_app_stores"]["membership"]
    safari, _ = members.bind("demo", "+8613900001111", "safari")
    code = stranded_prize(games, publish_here(games), member=winner_key(app, "safari"))
    console.login("ops")
    form = form_fields(client.get(f"{CONSOLE}/").get_data(as_text=True))
    answers = []
    while 429 not in answers:  # as many as the till's limit lets one account type
        answers.append(client.post(f"{CONSOLE}/redeem", data={**form, "code": code,
                                                              "member_code": wrong_code(safari)}).status_code)
        assert len(answers) <= 50
    assert set(answers[:-1]) == {422} and len(answers) > 1
    assert db.exists(MemberKeys("demo").caller_failures("account:ops"))  # the till's count of this account
    resp = client.post(f"{CONSOLE}/redeem", data={**form, "code": code, "member_code": card_code(safari)})
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert members.get("demo", safari.id).points == 0 and games.voucher("demo", code).state == "issued"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_desk_form_asks_for_the_member_code_in_the_owners_language(client, console, games, lang):  # noqa: F811
    console.login("ops")
    page = client.get(f"{CONSOLE}/?lang={lang}").get_data(as_text=True)
    assert 'name="member_code"' in page and 'id="per-person-note"' in page


def test_a_double_tapped_draw_by_a_member_is_one_play_for_the_member(client, games, token):  # noqa: F811
    """The form's nonce still answers a repeat with the first answer, now with the member's count in the script."""
    game = publish_here(games, per_day="1")
    data = form_fields(client.get(f"{LANDING}?c={token()}").get_data(as_text=True), "draw-form")
    first, second = client.post(DRAW, data=data), client.post(DRAW, data=data)
    assert first.headers["Location"] == second.headers["Location"] and games.get("demo", game.id).plays == 1
