"""`VenueStore.edit`: one change of a map = lock, private copy, checked write, announcement."""

from __future__ import annotations

import pytest

from fingerprints import edits
from fingerprints.edits import EditError
from fingerprints.model import Floor, VenueMap
from fingerprints.store import MapChanged, StaleMapError, VenueStore

TINY = VenueMap(id="tiny", name="Tiny", name_zh="小", floors=[Floor(0, "G", 50, 30)])


def test_edit_stores_once_and_announces(db):
    venues = VenueStore(db)
    heard: list[MapChanged] = []
    venues.listen(heard.append)
    with venues.edit("tiny", "venue.create", create=TINY) as m:
        edits.add_floor(m, 1, "L1", 50, 30)
    assert m.version == 1 and venues.versions("tiny") == [1]
    with pytest.raises(EditError, match="already exists"), venues.edit("tiny", "floor.add") as m:
        edits.add_floor(m, 1, "L1", 50, 30)
    assert venues.versions("tiny") == [1]  # a refused edit stores nothing and is not announced
    with venues.edit("tiny", "ap.place", bssid="f0:9f:c2:1a:00:01") as m:
        edits.place_ap(m, "f0:9f:c2:1a:00:01", 1, 10, 10, "AP-1", 3.0, "U6")
    assert [(e.action, e.version, e.previous) for e in heard] == [("venue.create", 1, 0), ("ap.place", 2, 1)]
    assert heard[1].detail == {"bssid": "f0:9f:c2:1a:00:01"}
    assert venues.get_map("tiny").aps[0].height_m == 3.0
    venues.set_current("tiny", 1)
    assert heard[-1].action == "map.rollback" and heard[-1].version == 1


def test_a_write_on_a_stale_copy_is_refused(db):
    venues = VenueStore(db)
    venues.put_map(TINY)
    stale = venues.get_map("tiny", for_update=True)
    venues.put_map(venues.get_map("tiny", for_update=True), expected=1)
    with pytest.raises(StaleMapError):
        venues.put_map(stale, expected=stale.version)
    assert venues.versions("tiny") == [1, 2]


def test_a_failing_listener_does_not_undo_the_change(db):
    venues = VenueStore(db)
    venues.listen(lambda event: 1 / 0)
    with venues.edit("tiny", "venue.create", create=TINY):
        pass
    assert venues.current_version("tiny") == 1
