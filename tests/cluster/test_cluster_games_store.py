"""The games store on the local cluster: each of its store methods (the draw and redeem scripts, the
publishing transaction) once, and the race that proves a draw never oversells (tests.cluster.store_paths
says why not every test)."""

from lightapps.games.store import GameStore
from tests.cluster.store_paths import rerun

rerun(globals(), "lightapps.games.tests.test_games_store",
      "test_rolls_map_to_prizes_exactly_by_the_odds", "test_a_prize_that_is_gone_falls_to_no_prize",
      "test_the_hard_total_caps_all_prizes", "test_stock_and_total_are_never_oversold_under_threads",
      "test_limits_per_shopper_and_per_day", "test_refusals_change_nothing",
      "test_redeem_exactly_once_in_its_zone_until_the_deadline", "test_a_repeated_form_gets_the_first_answer",
      "test_forget_and_export")


def test_seed_slot_failure_brake_and_an_empty_win_list(db):
    games = GameStore(db)
    assert games.claim_seed_slot("demo", "atrium") is True
    assert games.claim_seed_slot("demo", "atrium") is False
    for _ in range(GameStore.MAX_REDEEM_FAILURES):
        assert not games.too_many_failures("demo", "desk")
        games.note_failure("demo", "desk")  # a MULTI on the venue's slot
    assert games.too_many_failures("demo", "desk")
    assert games.recent_wins("demo", "no-such-game") == []
