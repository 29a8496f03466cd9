"""An activity's time typed inside the spring-forward gap (a time the mall's clocks skip) is refused naming the
field, with a message the console can say in the owner's language; not moved an hour."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from lightapps.activities.store import NO_SUCH_TIME, ActivityInputError, parse_activity

MADRID = ZoneInfo("Europe/Madrid")
NOW = datetime(2027, 3, 20, 12, 0, tzinfo=MADRID).timestamp()


@pytest.mark.parametrize("kind, form, field", [
    ("event", {"starts_at": "2027-03-28T02:30", "ends_at": "2027-03-28T05:00", "capacity": "5"}, "starts_at"),
    ("sale", {"starts_at": "2027-03-28T01:00", "ends_at": "2027-03-28 02:15", "stock": "5"}, "ends_at"),
    ("group", {"ends_at": "2027-03-28T02:00", "needed": "3"}, "ends_at"),
])
def test_a_time_in_the_spring_gap_is_refused_naming_the_field(kind, form, field):
    with pytest.raises(ActivityInputError) as exc:
        parse_activity(kind, {"title_en": "T", **form}, NOW, tz=MADRID)
    assert exc.value.field == field and exc.value.template == NO_SUCH_TIME
    assert exc.value.params["day"] == "2027-03-28" and exc.value.params["zone"] == "Europe/Madrid"
    assert "does not exist on 2027-03-28 in Europe/Madrid (the clocks go forward)" in exc.value.message


def test_the_times_around_the_gap_are_the_times_typed():
    fields = parse_activity("event", {"title_en": "T", "starts_at": "2027-03-28T01:59", "ends_at": "2027-03-28T03:00",
                                      "capacity": "5"}, NOW, tz=MADRID)
    assert fields["ends_at"] - fields["starts_at"] == 60  # one minute of wall clock, an hour skipped between
