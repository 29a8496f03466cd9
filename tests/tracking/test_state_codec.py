"""A tracked phone's motion state as the store keeps it (portal/tracking/locator.py encode_state/decode_state)."""

import json

import numpy as np
import pytest

from portal.tracking.locator import decode_state, encode_state


def test_a_state_round_trips_exactly_numpy_floats_included():
    state = {"ts": 1764700000.123456, "p": {"l1-s01": 0.912345, "l1-mall-n": 0.087655}, "floor": 1,
             "x": np.float64(12.345678901234567), "y": 45.6789, "offset": {"db": -3.25, "n": 4}}
    back = decode_state(encode_state(state))
    assert back == {**state, "x": float(state["x"])} and isinstance(back["x"], float)
    assert json.loads(encode_state(state)) == back  # plain JSON: any reader (the shopper's data export) reads it


def test_states_written_by_the_standard_library_still_read():
    """States kept by an earlier release (json.dumps, with spaces) read the same after an upgrade."""
    state = {"ts": 1.5, "p": {"z": 1.0}, "floor": 0, "x": 0.1, "y": 0.2}
    assert decode_state(json.dumps(state)) == state and decode_state(json.dumps(state).encode()) == state


def test_a_damaged_state_is_a_value_error():
    """The tracker's batch logs and skips a phone whose data fails with any exception; a ValueError here."""
    with pytest.raises(ValueError):
        decode_state(b"{not json")
