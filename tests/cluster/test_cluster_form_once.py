"""A form's one-time record named by its token and content (portal.apps.once.read_form_once) on the local cluster:
the create script's keys, that record among them, still share the venue's slot."""

from lightapps.coupons.tests.test_coupons_once_edited import (  # noqa: F401 - rerun here
    test_one_token_with_two_contents_makes_two_coupons_each_once,
)
