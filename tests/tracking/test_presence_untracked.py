"""The presence script leaves out the phones whose shopper declined location-based services (EventKeys.untracked,
kept by portal/consent.py): no arrive / zone_enter / zone_leave / dwell / leave, no state, in a batch of any size
(the set read once per call, 500 phones a read), until the answer's time runs out or she agrees again; the other
phones of the batch as before. On the real store, at fixed times."""

from __future__ import annotations

from portal.consent import KEEP_S, ConsentStore
from portal.events import EventLog, PresenceTracker
from portal.events.log import EventKeys

T0 = 1_800_000_000.0


def kinds(db, device: str) -> list[str]:
    return [e.kind for e in EventLog(db).read("v1") if e.device == device]


def test_a_declined_phone_gets_no_event_and_no_state_the_others_do(db):
    presence, consent = PresenceTracker(db, staff=lambda venue, now: ()), ConsentStore(db)
    db.sadd(EventKeys("v1").dwell_marks(), 1)  # a dwell event after a minute in a zone
    presence.record_many("v1", [("p1", "kopi"), ("p2", "kopi")], T0)
    consent.record("v1", "s-1", location=False, marketing=False, phones=["p1"], now=T0 + 1)
    assert not db.hexists(EventKeys("v1").presence(), "p1")  # her visit ended with her answer, at its last sighting
    presence.record_many("v1", [("p1", "kopi"), ("p2", "kopi")], T0 + 90)  # a minute passed: p2's dwell
    presence.record_many("v1", [("p1", "books"), ("p2", "books")], T0 + 120)
    presence.sweep("v1", T0 + 5000)  # both gone quiet
    assert kinds(db, "p1") == ["arrive", "zone_enter", "zone_leave", "leave"]  # what came before her answer only
    assert kinds(db, "p2") == ["arrive", "zone_enter", "dwell", "zone_leave", "zone_enter", "zone_leave", "leave"]
    assert not db.hexists(EventKeys("v1").presence(), "p1")
    assert db.zscore(EventKeys("v1").present_by_time(), "p1") is None

    consent.record("v1", "s-1", location=True, marketing=False, phones=["p1"], now=T0 + 6000)  # she agrees again
    presence.record_many("v1", [("p1", "kopi")], T0 + 6001)
    assert kinds(db, "p1") == ["arrive", "zone_enter", "zone_leave", "leave", "arrive", "zone_enter"]


def test_a_large_batch_is_read_in_chunks(db):
    presence, consent = PresenceTracker(db, staff=lambda venue, now: ()), ConsentStore(db)
    declined = ["c0007", "c0499", "c0500", "c1199"]  # either side of the 500-phone chunks
    consent.record("v1", "s-1", location=False, marketing=False, phones=declined, now=T0)
    presence.record_many("v1", [(f"c{i:04d}", "kopi") for i in range(1200)], T0 + 1)
    here = {d.decode() for d in db.hkeys(EventKeys("v1").presence())}
    assert here == {f"c{i:04d}" for i in range(1200)} - set(declined)
    devices = {e.device for e in EventLog(db).read("v1")}
    assert devices == here


def test_the_answer_runs_out_with_its_time(db):
    """A member's score is when her answer's keeping ends (its time + KEEP_S): a position after it is tracked (the
    set's own members past their time go at the next answer)."""
    presence, consent = PresenceTracker(db, staff=lambda venue, now: ()), ConsentStore(db)
    consent.record("v1", "s-1", location=False, marketing=False, phones=["p1"], now=T0)
    assert db.zscore(EventKeys("v1").untracked(), "p1") == T0 + KEEP_S
    presence.record_many("v1", [("p1", "kopi")], T0 + KEEP_S - 1)
    assert kinds(db, "p1") == []
    presence.record_many("v1", [("p1", "kopi")], T0 + KEEP_S + 1)
    assert kinds(db, "p1") == ["arrive", "zone_enter"]
    consent.record("v1", "s-2", location=False, marketing=False, phones=["p2"], now=T0 + KEEP_S + 2)
    assert db.zrange(EventKeys("v1").untracked(), 0, -1) == [b"p2"]


def test_a_yes_keeps_the_phone_tracked_and_no_set(db):
    """A first answer with location on adds nothing: no set (the script skips reading one that does not exist), the
    phone's visit goes on and ends as before."""
    presence = PresenceTracker(db, staff=lambda venue, now: ())
    presence.record_many("v1", [("p1", "kopi")], T0)
    assert not db.exists(EventKeys("v1").untracked())
    ConsentStore(db).record("v1", "s-1", location=True, marketing=True, phones=["p1"], now=T0)  # a yes adds none
    assert not db.exists(EventKeys("v1").untracked())
    assert presence.sweep("v1", T0 + 5000) == 1 and kinds(db, "p1") == ["arrive", "zone_enter", "zone_leave", "leave"]
