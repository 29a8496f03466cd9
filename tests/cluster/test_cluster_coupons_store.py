"""The coupons store's tests (its Lua scripts, transactions and races) run again on the local cluster."""

from lightapps.coupons.tests.test_coupons_store import *  # noqa: F403
