"""A request reads its venue's current map version once (`VenueStore.work_scope`, the host's per-request scope):
the same version throughout the page, one store read instead of one per part that asks (the view, the hub's links,
the apps' parts), a change made in the request seen by the rest of it, and the next request reading afresh."""

from __future__ import annotations

from fingerprints import edits
from fingerprints.model import Floor, VenueMap
from fingerprints.store import VenueKeysMap, VenueStore
from tests.store_sends import store_sends

TINY = VenueMap(id="tiny", name="Tiny", name_zh="小", floors=[Floor(0, "G", 50, 30)])


def scoped(db) -> tuple[VenueStore, dict[str, int]]:
    venues = VenueStore(db)
    seen: dict[str, int] = {}
    venues.work_scope = lambda: seen
    return venues, seen


def published_elsewhere(db, venue: str, version: int) -> None:
    """Another process makes `version` current (as its rollback does), behind this store's back."""
    db.set(VenueKeysMap(venue).current_version(), version)


def test_a_unit_of_work_keeps_the_version_it_read_first_and_a_change_reads_afresh(db):
    venues, seen = scoped(db)
    VenueStore(db).put_map(TINY)
    VenueStore(db).put_map(TINY)  # versions 1 and 2
    assert venues.current_version("tiny") == 2 and seen == {"tiny": 2}
    published_elsewhere(db, "tiny", 1)
    assert venues.current_version("tiny") == 2 and venues.get_map("tiny").version == 2  # one version per request
    assert venues.current_version("tiny", fresh=True) == 1
    assert venues.get_map("tiny", for_update=True).version == 1  # a change starts from what the store holds
    assert VenueStore(db).current_version("tiny") == 1  # outside a unit of work: read every time


def test_a_change_made_in_the_unit_of_work_is_what_the_rest_of_it_reads(db):
    venues, seen = scoped(db)
    assert venues.current_version("tiny") == 0 and seen == {}  # no map yet: not kept, one may be made below
    with venues.edit("tiny", "venue.create", create=TINY) as m:
        edits.add_floor(m, 1, "L1", 50, 30)
    assert venues.current_version("tiny") == 1 and len(venues.get_map("tiny").floors) == 2
    assert venues.put_map(venues.get_map("tiny", for_update=True)) == 2 and venues.current_version("tiny") == 2
    venues.set_current("tiny", 1)
    assert venues.current_version("tiny") == 1 and seen == {"tiny": 1}


def version_reads(sent: list[bytes]) -> int:
    return sum(raw.count(VenueKeysMap("demo").current_version().encode()) for raw in sent)


def test_a_page_reads_its_venues_version_once_and_the_next_page_afresh(client, svc, demo, monkeypatch):
    client.get("/v/demo/me")
    with store_sends(monkeypatch) as sent:
        assert client.get("/v/demo/me").status_code == 200  # the view, the hub's links, parking's and the queue's parts
    assert version_reads(sent) == 1
    with store_sends(monkeypatch) as sent:
        assert client.get("/v/demo/nope").status_code == 404  # the error page names the venue too
    assert version_reads(sent) == 1
    current = svc.venues.current_version("demo")
    svc.venues.put_map(svc.venues.get_map("demo", for_update=True))
    assert svc.venues.current_version("demo") == current + 1
    seen = []
    monkeypatch.setattr(svc.venues, "_parse", lambda venue, version, parse=svc.venues._parse: (
        seen.append(version), parse(venue, version))[1])
    assert client.get("/v/demo/").status_code == 200 and seen == [current + 1]  # the next request: the new one
