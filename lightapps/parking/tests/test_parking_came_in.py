"""The second factor of "find my car" is the hour the car came in: its stay's entry, as the fee page asks it
and the fee counts from, never the plate's latest read (bay cameras read a parked plate again and again)."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

from parking_fixtures import (  # noqa: F401 (the `garage` fixture)
    LANDING,
    VENUE,
    find,
    garage_fixture,
    plate,
    post_events,
    shopper_c,
    verify,
)

from lightapps.parking import plates
from lightapps.parking.store import Event, ParkingStore

PLATE = "京AD12345"


def _hour_of(ts: float) -> int:
    return int(datetime.fromtimestamp(ts).replace(minute=0, second=0, microsecond=0).timestamp())


def _lookup(client, who: str) -> str:
    resp = find(client, PLATE, shopper_c(client.application, who))
    assert resp.status_code == 303
    return resp.headers["Location"]


def test_a_later_read_at_the_same_bay_does_not_move_the_hour(client, garage):
    """The reviewer's case: parked 3 h 10 min ago, read again at the same bay 5 min ago."""
    now = time.time()
    parked = now - 3 * 3600 - 600
    post_events(client, garage, plate(PLATE, "G-A01", parked))
    post_events(client, garage, plate(PLATE, "G-A01", now - 300))  # the bay camera reads it again
    location = _lookup(client, "owner")
    wrong = verify(client, location, _hour_of(now - 300))
    assert wrong.status_code == 403 and "That is not when this car came in" in wrong.get_data(as_text=True)
    assert verify(client, location, _hour_of(parked)).status_code == 303
    assert '<strong id="bay">G-A01</strong>' in client.get(location).get_data(as_text=True)


def test_a_move_to_another_bay_shows_the_new_bay_but_keeps_the_hour(client, garage):
    now = time.time()
    parked = now - 3 * 3600 - 600
    post_events(client, garage, plate(PLATE, "G-A01", parked), plate(PLATE, "G-C07", now - 300))
    location = _lookup(client, "owner")
    assert verify(client, location, _hour_of(now - 300)).status_code == 403
    assert verify(client, location, _hour_of(parked)).status_code == 303
    assert '<strong id="bay">G-C07</strong>' in client.get(location).get_data(as_text=True)


def test_the_barriers_entry_is_the_hour_on_both_pages(client, garage):
    """One rule with the fee: where the car park reports entries, the entry is the hour asked, on the car
    page as on the fee page (the hour it reached its bay is not)."""
    now = time.time()
    entered = now - 3 * 3600 - 600
    post_events(client, garage, {"type": "entry", "plate": PLATE, "ts": entered}, plate(PLATE, "G-A01", now - 300))
    location = _lookup(client, "owner")
    assert verify(client, location, _hour_of(now - 300)).status_code == 403
    assert verify(client, location, _hour_of(entered)).status_code == 303
    c = shopper_c(client.application, "payer")
    fee = client.post(f"{LANDING}/fee", data={"plate": PLATE, "c": c})
    path, _q, query = fee.headers["Location"].partition("?")
    assert client.post(f"{path}/verify?{query}", data={"hour": str(_hour_of(entered))}).status_code == 303


def test_a_car_in_for_more_than_a_day_can_still_be_verified(client, garage, svc):
    """A car read again and again stays findable past 24 h: its entry hour is offered (the last 7 days, as
    on the fee page, for every plate alike)."""
    now = time.time()
    entered = now - 30 * 3600  # older than the API takes: the store's own event
    h = plates.PlateHasher(svc.settings.mac_hash_key).digest(VENUE, plates.plate_from_system(PLATE))
    store = ParkingStore(svc.db)
    assert store.apply_events(VENUE, [Event("entry", int(entered * 1000), plate_hash=h)], now=entered) == ["applied"]
    post_events(client, garage, plate(PLATE, "G-A01", now - 300))
    location = _lookup(client, "owner")
    page = client.get(location).get_data(as_text=True)
    assert f'<option value="{_hour_of(entered)}">' in page and page.count("<option ") == 24 * 7 + 1
    assert verify(client, location, _hour_of(entered)).status_code == 303


def test_no_open_stay_verifies_nothing(client, garage, db):
    """The hour is the open stay's: a plate record left without one (its stay gone) is never verified."""
    now = time.time()
    post_events(client, garage, plate(PLATE, "G-A01", now - 600))
    location = _lookup(client, "owner")
    for key in db.scan_iter(match=b"mp:{demo}:parking:stay:*"):
        db.delete(key)
    assert verify(client, location, _hour_of(now - 600)).status_code == 403


LONDON = ZoneInfo("Europe/London")


def _hours(app, now: datetime, days: int = 1) -> list[tuple[int, str]]:
    from lightapps.parking.views import came_in_hours

    with app.test_request_context("/?lang=en"):
        return came_in_hours(now, days=days)


def test_every_hour_is_offered_the_night_clocks_go_back(app):
    """Europe/London, 2026-10-25: 01:00-01:59 happens twice (BST, then GMT). Each real hour is offered once,
    the repeated one told apart by its UTC offset: a car that came in at the second 01:30 can be verified."""
    hours = _hours(app, datetime(2026, 10, 25, 4, 10, tzinfo=LONDON))
    starts = [start for start, _label in hours]
    assert all(a - b == 3600 for a, b in zip(starts, starts[1:], strict=False))
    second = datetime(2026, 10, 25, 1, 30, fold=1, tzinfo=LONDON).timestamp()  # 01:30 GMT
    first = datetime(2026, 10, 25, 1, 30, fold=0, tzinfo=LONDON).timestamp()  # 01:30 BST, an hour before
    labels = dict(hours)
    (at_second,) = [s for s in starts if s <= second < s + 3600]
    (at_first,) = [s for s in starts if s <= first < s + 3600]
    assert labels[at_second] == "01:00 - 01:59 (UTC+00:00)" and labels[at_first] == "01:00 - 01:59 (UTC+01:00)"
    assert [label for _s, label in hours[:5]] == ["04:00 - 04:59", "03:00 - 03:59", "02:00 - 02:59",
                                                   "01:00 - 01:59 (UTC+00:00)", "01:00 - 01:59 (UTC+01:00)"]
    assert len(set(labels.values())) == len(labels)


def test_no_hour_that_never_happened_is_offered_the_night_clocks_go_forward(app):
    """Europe/London, 2026-03-29: 01:00 GMT is followed by 02:00 BST (01:00-01:59 BST never happens)."""
    hours = _hours(app, datetime(2026, 3, 29, 4, 10, tzinfo=LONDON))
    starts = [start for start, _label in hours]
    assert all(a - b == 3600 for a, b in zip(starts, starts[1:], strict=False))
    assert [label for _s, label in hours[:5]] == ["04:00 - 04:59", "03:00 - 03:59", "02:00 - 02:59",
                                                   "00:00 - 00:59", "23:00 - 23:59 (yesterday)"]


def test_hours_in_a_zone_without_daylight_saving_are_as_before(app):
    hours = _hours(app, datetime(2026, 10, 25, 0, 10, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert hours[0][1] == "00:00 - 00:59" and hours[1][1] == "23:00 - 23:59 (yesterday)"
    assert hours[-1][1] == "00:00 - 00:59 (yesterday)" and len(hours) == 25
    assert all("UTC" not in label for _s, label in hours)
