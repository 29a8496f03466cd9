"""The one venue-id rule every request path uses (core.ids.is_venue_id): ASCII only, whole string."""

import pytest

from core.ids import is_venue_id


@pytest.mark.parametrize("venue", ["demo", "harbour-light", "mall_101", "A1", "a" * 64, "9"])
def test_well_formed_ids(venue):
    assert is_venue_id(venue)


@pytest.mark.parametrize("venue", [
    "", "a" * 65, "demo\n", "demo\r\n", "\ndemo", " demo", "de mo", "dé", "商场", "ｄｅｍｏ", "demo١",
    "-", "_", "-demo", "demo.x", "demo/x", "{demo}", None, 42,
])
def test_malformed_ids(venue):
    assert not is_venue_id(venue)

