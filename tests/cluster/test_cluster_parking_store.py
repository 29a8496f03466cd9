"""The parking store's tests (its Lua scripts, transactions and races) run again on the local cluster."""

from lightapps.parking.tests.test_parking_store import *  # noqa: F403
