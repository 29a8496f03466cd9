"""The queue store's tests (its Lua scripts, transactions and races) run again on the local cluster."""

from lightapps.queue.tests.test_queue_store import *  # noqa: F403
