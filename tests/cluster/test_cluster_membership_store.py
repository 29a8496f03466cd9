"""The membership store's tests (its Lua scripts, transactions and races) run again on the local cluster."""

from lightapps.membership.tests.test_membership_store import *  # noqa: F403
