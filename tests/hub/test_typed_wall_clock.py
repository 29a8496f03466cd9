"""A wall-clock time typed at the venue -> the instant (portal/apps/locale.py `typed_instant`): a time the zone
skips (the clocks go forward over it) is refused, never moved an hour; a time that happens twice (the clocks
go back) is the first of the two."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from portal.apps.locale import NoSuchLocalTime, typed_instant

MADRID = ZoneInfo("Europe/Madrid")


@pytest.mark.parametrize("typed", [datetime(2027, 3, 28, 2, 0), datetime(2027, 3, 28, 2, 30),
                                   datetime(2027, 3, 28, 2, 59, 59)])
def test_a_time_in_the_spring_gap_is_refused(typed):
    with pytest.raises(NoSuchLocalTime) as exc:
        typed_instant(typed, MADRID)
    assert exc.value.params == {"time": typed.strftime("%H:%M"), "day": "2027-03-28", "zone": "Europe/Madrid"}
    assert str(exc.value) == f"{typed:%H:%M} does not exist on 2027-03-28 in Europe/Madrid (the clocks go forward)"


@pytest.mark.parametrize("typed, utc", [
    (datetime(2027, 3, 28, 1, 59), datetime(2027, 3, 28, 0, 59)),    # the last minute before the gap (CET)
    (datetime(2027, 3, 28, 3, 0), datetime(2027, 3, 28, 1, 0)),      # the first after it (CEST)
    (datetime(2027, 10, 31, 2, 30), datetime(2027, 10, 31, 0, 30)),  # twice that night: the first (CEST)
    (datetime(2027, 7, 1, 19, 30), datetime(2027, 7, 1, 17, 30)),
])
def test_other_times_are_the_instant_typed(typed, utc):
    assert typed_instant(typed, MADRID) == utc.replace(tzinfo=UTC).timestamp()


def test_a_time_with_an_offset_is_taken_as_given():
    given = datetime(2027, 3, 28, 2, 30, tzinfo=UTC)
    assert typed_instant(given, MADRID) == given.timestamp()
