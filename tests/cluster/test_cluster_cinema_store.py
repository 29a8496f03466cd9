"""The cinema store's tests (its Lua scripts, transactions and races) run again on the local cluster."""

from lightapps.cinema.tests.test_cinema_store import *  # noqa: F403
