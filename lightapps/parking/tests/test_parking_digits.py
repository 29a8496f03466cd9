"""Digits other than ASCII in the shopper's forms ("²", "①": str.isdigit() passes them, int() refuses them):
the hour a car came in (car finder and fee page) and the points to spend are a clear 4xx, never a 500."""

from __future__ import annotations

import re
import time

from parking_fixtures import LANDING, find, garage_fixture, plate, post_events, shopper_c  # noqa: F401

ODD_DIGITS = ("²", "①")


def _offered_hour(page: str, entered: float) -> str:
    """The offered hour (its start, epoch s) that holds `entered`, read from the page's list."""
    starts = [int(v) for v in re.findall(r'<option value="(\d+)"', page)]
    return str(next(s for s in starts if s <= entered < s + 3600))


def test_the_car_finders_hour_refuses_odd_digits(client, garage):
    parked = time.time() - 3 * 3600
    post_events(client, garage, plate("ODD12345", "G-C07", parked))
    location = find(client, "ODD12345", shopper_c(client.application)).headers["Location"]
    path, _q, query = location.partition("?")
    for hour in ODD_DIGITS:
        assert client.post(f"{path}/verify?{query}", data={"hour": hour}).status_code == 400, hour
    assert 'id="verify"' in client.get(location).get_data(as_text=True)  # still asked: nothing verified


def test_the_fee_pages_hour_and_points_refuse_odd_digits(client, garage):
    entered = time.time() - 2 * 3600
    post_events(client, garage, {"type": "entry", "plate": "ODD67890", "ts": entered},
                plate("ODD67890", "G-A01", entered + 120))
    c = shopper_c(client.application, "odd-driver")
    found = client.post(f"{LANDING}/fee", data={"plate": "ODD67890", "c": c})
    assert found.status_code == 303, found.get_data(as_text=True)[:300]
    location = found.headers["Location"]
    path, _q, query = location.partition("?")
    for hour in ODD_DIGITS:
        assert client.post(f"{path}/verify?{query}", data={"hour": hour}).status_code == 400, hour
    hour = _offered_hour(client.get(location).get_data(as_text=True), entered)
    assert client.post(f"{path}/verify?{query}", data={"hour": hour}).status_code == 303
    for points in ODD_DIGITS:
        resp = client.post(f"{path}/pay?{query}", data={"attempt": "attempt-0001", "points": points, "c": c})
        assert resp.status_code == 422, points
