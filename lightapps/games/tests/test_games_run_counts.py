"""Each person's draws count for as long as the run of games they were drawn in (a game published over a running one
carries them on to its own end), counts the previous release kept per person are still honoured, and the publish
form is sent once: a double tap publishes one game. Against a real Valkey; the store's part is rerun on the cluster
(tests/cluster/test_cluster_games_store.py). Time is moved on by removing what would have expired by then."""

from __future__ import annotations

import time
from datetime import date, timedelta

from lightapps.games.rules import parse_game
from lightapps.games.store import GameKeys, GameStore
from lightapps.games.tests.test_games_views import CONSOLE, good_form
from lightapps.games.tests.test_games_views import games as games  # noqa: F401 - the fixture
from portal.apps.erasure import keys_matching

DAY, LATER = "2026-12-20", "2026-12-23"  # venue days (any labels)
NEVER = 9_999  # a roll above every prize's odds: no prize


def spec(last_day: int, per_shopper: str = "1"):
    today = date.today()
    return parse_game({"title_en": "Draw", "style": "draw", "per_shopper": per_shopper, "per_day": "1",
                       "total": "100", "last_day": (today + timedelta(days=last_day)).isoformat(),
                       "p1_kind": "coupon", "p1_title_en": "Tea", "p1_value": "", "p1_odds": "50",
                       "p1_stock": "100"}, today)


def expire_by(db, at: float) -> None:
    """The venue's keys as the store will hold them at `at`: each one set to expire by then removed."""
    for key in keys_matching(db, GameKeys("demo").key("games", "*")):
        if 0 < db.pexpiretime(key) <= at * 1000:
            db.delete(key)


def test_a_replacement_games_counts_last_until_its_own_end(db):
    """The reviewer's case: game A ends tomorrow, 1 draw per person; she draws it; B carries A on for 10 days.
    Two days after A's end she is still at her limit in B (the counts are kept to B's end, not A's)."""
    store = GameStore(db, randbelow=lambda n: NEVER)
    a = store.publish("demo", "atrium", spec(last_day=1), now=time.time() - 60)
    assert store.draw("demo", "atrium", a.id, "alice", DAY).status == "NO_PRIZE"
    b = store.publish("demo", "atrium", spec(last_day=10), now=time.time() - 30)
    assert b.run == a.id
    at = a.ends_at + 2 * 86400
    expire_by(db, at)
    assert store.draws_left("demo", b, "alice", LATER) == (0, 1)
    assert store.draw("demo", "atrium", b.id, "alice", LATER, now=at).status == "LIMIT_GAME"
    expire_by(db, b.ends_at + 86400 + 1)  # and nothing of them outlives the run by more than a day
    assert store.draws_left("demo", b, "alice", LATER) == (1, 1)


def legacy_counts(db, game_id: str, kind: str, who: str, ends_at: float) -> None:
    """A person's counts as the previous release kept them: a hash per game and person, expiring a day after it."""
    key = GameKeys("demo").key("games", "g", game_id, kind, who)
    db.hset(key, mapping={"all": 1, "day": DAY, "today": 1})
    db.expireat(key, int(ends_at) + 86400)


def test_counts_the_previous_release_kept_are_honoured_to_the_runs_end(db):
    """A game published by the previous release (no run of its own stored), its shopper's and member's counts in
    their old keys: read in its draws and in a game that carries it on, until that one's end."""
    store = GameStore(db, randbelow=lambda n: NEVER)
    a = store.publish("demo", "atrium", spec(last_day=1), now=time.time() - 60)
    db.hdel(GameKeys("demo").game(a.id), "run", "follows", "carried")
    legacy_counts(db, a.id, "p", "alice", a.ends_at)
    legacy_counts(db, a.id, "m", "m-1", a.ends_at)
    assert store.draws_left("demo", a, "alice", DAY) == (0, 0)
    assert store.draw("demo", "atrium", a.id, "alice", DAY).status == "LIMIT_GAME"
    assert store.draw("demo", "atrium", a.id, "sheet-2", DAY, member="m-1").status == "LIMIT_GAME"
    assert store.draw("demo", "atrium", a.id, "bob", DAY).status == "NO_PRIZE"
    b = store.publish("demo", "atrium", spec(last_day=10), now=time.time() - 30)
    at = a.ends_at + 2 * 86400
    expire_by(db, at)
    for client, member in (("alice", None), ("sheet-3", "m-1"), ("bob", None)):
        assert store.draw("demo", "atrium", b.id, client, LATER, member=member, now=at).status == "LIMIT_GAME"
    assert store.draws_left("demo", b, "sheet-4", LATER, member="m-1") == (0, 1)


def test_forgetting_a_shopper_removes_her_counts(db):
    store = GameStore(db, randbelow=lambda n: NEVER)
    game = store.publish("demo", "atrium", spec(last_day=3, per_shopper="2"), now=time.time() - 60)
    for client in ("alice", "bob"):
        assert store.draw("demo", "atrium", game.id, client, DAY).status == "NO_PRIZE"
    store.forget_shopper("demo", "alice")
    assert store.draws_left("demo", game, "alice", DAY) == (2, 1)
    assert store.draws_left("demo", game, "bob", DAY) == (1, 0)


def test_a_publish_form_sent_twice_publishes_one_game(db):
    """The store replays by the once key it is given (the console gives `<token>.<digest>`: read_form_once)."""
    store = GameStore(db)
    first, replayed = store.publish_by_form("demo", "atrium", spec(last_day=3), "n" * 22, now=time.time() - 60)
    assert not replayed
    again, replayed = store.publish_by_form("demo", "atrium", spec(last_day=5), "n" * 22, now=time.time() - 50)
    assert replayed and again == first and store.current("demo", "atrium").id == first.id
    other, replayed = store.publish_by_form("demo", "atrium", spec(last_day=5), "m" * 22, now=time.time() - 40)
    assert not replayed and other.follows == first.id
    assert [g.id for g in store.past("demo", "atrium")] == [first.id]


def test_the_console_publishes_once_for_a_double_tap(client, console, games, db):  # noqa: F811
    console.login("events")
    before = games.current("demo", "atrium").id
    form = {**good_form(console.csrf()), "nonce": "t" * 22}
    first, second = client.post(f"{CONSOLE}/publish", data=form), client.post(f"{CONSOLE}/publish", data=form)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    published = games.current("demo", "atrium")
    assert f"published={published.id}" in first.headers["Location"]
    assert [g.id for g in games.past("demo", "atrium")] == [before]
    assert 'name="nonce"' in client.get(f"{CONSOLE}/").get_data(as_text=True).split('id="new-title"')[1]


def test_an_edited_resend_of_the_publish_form_publishes_what_it_now_says(client, console, games):  # noqa: F811
    """The back button, an edit, Publish again: the same token with other content is a new form (read_form_once),
    not a replay of the first answer that would say the edit is live when nothing was published."""
    console.login("events")
    form = {**good_form(console.csrf()), "nonce": "u" * 22}
    first = client.post(f"{CONSOLE}/publish", data=form)
    edited = client.post(f"{CONSOLE}/publish", data={**form, "title_en": "Edited draw"})
    assert first.status_code == edited.status_code == 303 and first.headers["Location"] != edited.headers["Location"]
    assert games.current("demo", "atrium").title_en == "Edited draw"
