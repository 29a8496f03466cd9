"""On the cluster: the scripts that write a stale page's merged settings only over the version they were merged with
(the zone's app and config, a queue menu row: portal/apps/edits.py), and the queue's call-next under a form's
one-time token, each key in the venue's slot."""

from lightapps.queue.tests.test_queue_owner_first_week import (  # noqa: F401 (collected here, on the cluster)
    test_a_call_next_form_token_is_kept_per_class_and_answers_nothing_when_nobody_waits,
    test_a_menu_write_is_refused_over_a_version_it_was_not_merged_with,
)
from tests.owner.test_owner_stale_settings import (  # noqa: F401
    test_the_store_writes_nothing_over_an_assignment_that_changed_since,
)
