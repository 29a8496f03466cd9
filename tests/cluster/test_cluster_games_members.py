"""A member's draws on the local cluster: the draw script with the member's play counts (one more key in the
venue's slot) and the race that proves them atomic (the rest of the games store: test_cluster_games_store.py)."""

from lightapps.games.tests.test_games_members import (  # noqa: F401 - rerun here, on the cluster's `db`
    test_a_members_draws_count_on_every_shopper_id,
    test_a_members_draws_sent_at_once_from_many_shopper_ids_stay_within_the_limit,
)
