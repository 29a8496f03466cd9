"""Fixtures the activities' page tests share: the store, and a shopper token per shopper."""

from __future__ import annotations

import functools

import pytest

from lightapps.activities.store import ActivityStore
from portal.shopper import Shopper, shopper_token


@pytest.fixture
def acts(svc):
    return ActivityStore(svc.db)


@pytest.fixture
def token(app):
    @functools.cache  # one token per shopper, as a browser keeps the one its links carry
    def make(client_id: str = "alice", venue: str = "demo") -> str:
        with app.app_context():
            return shopper_token(Shopper(venue, client_id))

    return make
