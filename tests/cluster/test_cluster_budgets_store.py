"""The abuse budgets' store on the local cluster: its spend and give-back scripts (the venue's config hash and every
counter of an action in the venue's slot), a refusal for good, and the per-venue limits."""

from tests.cluster.store_paths import rerun

rerun(globals(), "tests.security.test_budgets",
      "test_spends_until_a_budget_is_out_then_refuses_with_a_wait",
      "test_a_cost_beyond_a_whole_count_is_refused_for_good_whatever_the_counters_hold",
      "test_venue_limits_override_the_defaults", "test_give_back_takes_a_spend_back_never_below_zero",
      store="portal.apps.budgets")
