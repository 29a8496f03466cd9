"""Fixtures the security tests share."""

from __future__ import annotations

import pytest

from portal.auth import AccountStore

GOOD = "correct horse battery"  # a password the console accepts


@pytest.fixture
def owner(db, demo):
    """A zone owner of the demo venue (kopi), password GOOD."""
    AccountStore(db).create("tea-house", GOOD, "owner", "demo", ("kopi",))
    return "tea-house"
