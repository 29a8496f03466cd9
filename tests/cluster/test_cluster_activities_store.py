"""The activities store's tests (its Lua scripts, transactions and races) run again on the local cluster."""

from lightapps.activities.tests.test_activities_store import *  # noqa: F403
