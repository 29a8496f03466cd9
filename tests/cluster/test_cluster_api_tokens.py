"""The API token store's scripts on the local cluster (portal/ingest/tokens.py: issue, lookup with its hourly
last-use stamp, list, rotate with a grace period, revoke by label or id), each once, on the venue's slot."""

from tests.cluster.store_paths import rerun

rerun(globals(), "tests.security.test_token_rotation",
      "test_last_use_is_written_at_most_once_an_hour",
      "test_issue_names_the_labels_other_live_tokens",
      "test_a_grace_period_is_enforced_and_never_lengthened",
      "test_revoke_by_label_or_id",
      "test_the_store_refuses_bad_rotations_and_writes_nothing",
      store="portal.ingest.tokens")
