"""The coupon publish form's one-time token on the local cluster: taps at the same moment make one coupon (the
create script's keys, the form's record among them, share the venue's slot)."""

from lightapps.coupons.tests.test_coupons_confirm_and_once import (  # noqa: F401 - rerun here
    test_publish_taps_at_the_same_moment_make_one_coupon,
)
