"""The games store on the local cluster: each of its store methods (the draw and redeem scripts, the
publishing (once per form) and text-editing scripts) once, and the race that proves a draw never oversells
(tests.cluster.store_paths says why not every test)."""

from lightapps.games.store import GameStore
from lightapps.games.tests.test_games_changes import (  # noqa: F401 - rerun here: fixing texts, carrying a game on
    test_a_new_game_over_a_running_one_carries_its_counts_on,
    test_a_title_is_fixed_in_place_with_the_counts_kept,
    test_draws_racing_a_change_stay_within_the_limits,
)
from lightapps.games.tests.test_games_run_counts import (  # noqa: F401 - rerun here: counts kept for the run
    test_a_publish_form_sent_twice_publishes_one_game,
    test_a_replacement_games_counts_last_until_its_own_end,
    test_counts_the_previous_release_kept_are_honoured_to_the_runs_end,
)
from tests.cluster.store_paths import rerun

rerun(globals(), "lightapps.games.tests.test_games_store",
      "test_rolls_map_to_prizes_exactly_by_the_odds", "test_a_prize_that_is_gone_falls_to_no_prize",
      "test_the_hard_total_caps_all_prizes", "test_stock_and_total_are_never_oversold_under_threads",
      "test_limits_per_shopper_and_per_day", "test_refusals_change_nothing",
      "test_redeem_exactly_once_in_its_zone_until_the_deadline", "test_a_repeated_form_gets_the_first_answer",
      "test_forget_and_export")


def test_seed_slot_and_an_empty_win_list(db):
    games = GameStore(db)
    assert games.claim_seed_slot("demo", "atrium") is True
    assert games.claim_seed_slot("demo", "atrium") is False
    assert games.recent_wins("demo", "no-such-game") == []
