"""tests/security/test_bounded_listings.py on the local cluster: a shopper's token set and an account's session set
pruned of their dead members (one pipelined EXISTS over the records, in the set's slot), the previous release's
bloated sets too, then revoke and signing out everywhere."""

from __future__ import annotations

from tests.security.conftest import owner  # noqa: F401
from tests.security.test_bounded_listings import *  # noqa: F403
