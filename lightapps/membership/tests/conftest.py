"""Fixtures the membership app's page tests share: the store as the app built it, and its code sender."""

from __future__ import annotations

import pytest

from lightapps.membership.sender import EXTENSION
from lightapps.membership.store import MemberStore


@pytest.fixture
def members(app, svc) -> MemberStore:
    return MemberStore.from_services(svc)


@pytest.fixture
def sender(app):
    return app.extensions[EXTENSION]
