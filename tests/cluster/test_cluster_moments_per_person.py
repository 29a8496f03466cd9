"""The venue's notifications a day per person on the local cluster: one spend (and its give-back) counts a
notification against several of her ids at once (her phone, shopper id, member number), all in the venue's slot."""

from tests.events.test_moments_per_person import (  # noqa: F401 - collected here to run on the cluster
    test_a_members_new_phone_shares_her_days_notifications,
    test_a_refused_notification_gives_back_every_identity_it_counted,
)
