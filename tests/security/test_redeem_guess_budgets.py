"""Unknown codes typed at a till (a coupon) or a prize desk (a game) spend the platform's budgets
("coupons.redeem_miss", "games.redeem_miss": per console account and venue, core/settings.py DEFAULT_BUDGETS):
past the limit nothing is looked up, a right code included, with the budgets' 429; an operator changes the limit
with `flask budgets set`; the stores keep no count of their own."""

from __future__ import annotations

import re
import time

import pytest

from core.settings import DEFAULT_BUDGETS
from lightapps.coupons.store import CouponStore
from lightapps.games.store import GameStore
from lightapps.games.tests.test_games_views import CONSOLE as GAMES_CONSOLE
from lightapps.games.tests.test_games_views import draw, publish
from lightapps.games.tests.test_games_views import games as games  # noqa: F401 - the fixture
from lightapps.games.tests.test_games_views import token as token  # noqa: F401 - the fixture
from portal.apps.budgets import BudgetKeys

COUPONS_CONSOLE = "/console/apps/coupons/demo/kopi"
UNKNOWN = "ZZZZZ-ZZZZZ"


def coupon_code(svc) -> str:
    """A code a shopper claimed for a kopi coupon: a right code at kopi's till."""
    coupons = CouponStore(svc.db)
    coupon = coupons.create("demo", "kopi", {"title_en": "Guess test", "title_zh": "测试", "description_en": "d",
                                             "stock": 5, "valid_from": time.time() - 60,
                                             "valid_until": time.time() + 86400})
    return coupons.claim("demo", "kopi", coupon.id, "alice").code


def prize_code(client, games, token) -> str:  # noqa: F811
    game = publish(games)
    games.randbelow = lambda n: 2000  # the coupon prize: handed out at the desk without a member code
    return re.search(r"/games/prize/([A-Z0-9]+)", draw(client, game, token()).headers["Location"]).group(1)


def guess_until_refused(client, url: str, csrf: str, most: int) -> list[int]:
    answers = []
    while 429 not in answers:
        answers.append(client.post(url, data={"csrf_token": csrf, "code": UNKNOWN}).status_code)
        assert len(answers) <= most
    return answers


def assert_refused_with_the_budgets_429(resp) -> None:
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 0
    assert "Too many requests from this device, number or place for now." in resp.get_data(as_text=True)


def test_unknown_coupon_codes_spend_the_tills_budget(client, console, svc, demo):
    limit = DEFAULT_BUDGETS["coupons.redeem_miss.account"]
    assert limit == (30, 600)  # the limit the stores' own count had: 30 in 10 minutes per account
    code = coupon_code(svc)
    console.login("kopi")
    answers = guess_until_refused(client, f"{COUPONS_CONSOLE}/redeem", console.csrf(), limit[0] + 1)
    assert answers == [404] * limit[0] + [429]
    resp = client.post(f"{COUPONS_CONSOLE}/redeem", data={"csrf_token": console.csrf(), "code": code})
    assert_refused_with_the_budgets_429(resp)
    assert CouponStore(svc.db).issued("demo", code).state == "issued"  # the right code is not judged either
    assert svc.db.keys(BudgetKeys("demo").counter("coupons.redeem_miss.account", "*"))


def test_unknown_prize_codes_spend_the_desks_budget(client, console, svc, games, token):  # noqa: F811
    limit = DEFAULT_BUDGETS["games.redeem_miss.account"]
    assert limit == (30, 600)
    code = prize_code(client, games, token)
    console.login("events")
    answers = guess_until_refused(client, f"{GAMES_CONSOLE}/redeem", console.csrf(), limit[0] + 1)
    assert answers == [404] * limit[0] + [429]
    resp = client.post(f"{GAMES_CONSOLE}/redeem", data={"csrf_token": console.csrf(), "code": code})
    assert_refused_with_the_budgets_429(resp)
    assert games.voucher("demo", code).state == "issued"


@pytest.mark.parametrize("name", ["coupons.redeem_miss.account", "games.redeem_miss.account"])
def test_an_operator_sets_the_limit_with_the_budgets_command(app, client, console, svc, games, name):  # noqa: F811
    result = app.test_cli_runner().invoke(args=["budgets", "set", "demo", name, "2/10m"])
    assert result.exit_code == 0, result.output
    url, user = ((f"{COUPONS_CONSOLE}/redeem", "kopi") if name.startswith("coupons")
                 else (f"{GAMES_CONSOLE}/redeem", "events"))
    console.login(user)
    assert guess_until_refused(client, url, console.csrf(), 3) == [404, 404, 429]


def test_the_other_accounts_of_the_venue_are_not_held_back(client, console, svc, demo):
    svc.db.hset(BudgetKeys("demo").config(), "coupons.redeem_miss.account", "1/600")
    console.login("kopi")
    assert guess_until_refused(client, f"{COUPONS_CONSOLE}/redeem", console.csrf(), 2) == [404, 429]
    console.logout()
    console.login("ops")
    assert client.post(f"{COUPONS_CONSOLE}/redeem", data={"csrf_token": console.csrf(),
                                                           "code": UNKNOWN}).status_code == 404


def test_the_stores_keep_no_count_of_their_own():
    for store in (CouponStore, GameStore):
        for gone in ("note_failure", "too_many_failures", "MAX_REDEEM_FAILURES", "FAILURE_WINDOW_S"):
            assert not hasattr(store, gone), (store.__name__, gone)
