"""One owner of how an open visit is closed: the presence tracker's sweep (a phone unseen for LEAVE_AFTER_S) and a
shopper declining location (portal/consent.py) close a phone's visit with the same Lua (LUA_CLOSE_VISIT), so from
the same state they write the same events (a zone_leave with the stay's dwell, a leave with the visit's, at the last
sighting); each keeps its own trimming: the tracker trims the stream to its bound, the decline (which does not know
the configured bound) leaves it to the next write. On the real store."""

from __future__ import annotations

from portal.consent import _DECLINE, ConsentStore
from portal.events import PresenceTracker
from portal.events.log import EventKeys
from portal.events.presence import _PRESENCE, LUA_CLOSE_VISIT

T0 = 1_800_000_000.0
STATES = {  # phone -> its open visit, as the tracker keeps it: "zone|zone since|last seen|arrived"
    "in-zone": f"kopi|{T0 + 60.25:.3f}|{T0 + 612.5:.3f}|{T0:.3f}",
    "no-zone": f"|{T0 + 10:.3f}|{T0 + 70.125:.3f}|{T0 + 10:.3f}",
    "broken": "not a state",  # closed without an event by both
}


def open_visits(db, venue: str) -> None:
    keys = EventKeys(venue)
    db.hset(keys.presence(), mapping=STATES)
    db.zadd(keys.present_by_time(), {phone: T0 + 612.5 for phone in STATES})


def written(db, venue: str) -> list[dict]:
    return [{k.decode(): v.decode() for k, v in fields.items()} for _id, fields in db.xrange(EventKeys(venue).stream())]


def test_the_sweep_and_a_decline_close_a_visit_with_the_same_events(db):
    open_visits(db, "swept")
    open_visits(db, "declined")
    assert PresenceTracker(db, staff=lambda venue, now: ()).sweep("swept", T0 + 5000) == 3
    ConsentStore(db).record("declined", "s-1", location=False, marketing=False, phones=list(STATES), now=T0 + 5000)
    by_phone = {venue: sorted(written(db, venue), key=lambda f: f["dev"]) for venue in ("swept", "declined")}
    assert by_phone["swept"] == by_phone["declined"] == [
        {"k": "zone_leave", "at": "1800000612.500", "dev": "in-zone", "z": "kopi", "d": '{"dwell_s":552.2}'},
        {"k": "leave", "at": "1800000612.500", "dev": "in-zone", "d": '{"dwell_s":612.5}'},
        {"k": "leave", "at": "1800000070.125", "dev": "no-zone", "d": '{"dwell_s":60.1}'}]
    for venue in ("swept", "declined"):
        assert not db.exists(EventKeys(venue).presence()) and not db.exists(EventKeys(venue).present_by_time())


def test_both_scripts_close_with_the_one_fragment():
    for script in (_PRESENCE, _DECLINE):
        assert LUA_CLOSE_VISIT in script
        rest = script.replace(LUA_CLOSE_VISIT, "")
        assert "'XADD'" not in rest and "string.match" not in rest  # no event written, no state parsed of its own


def filled(db, venue: str) -> int:
    """The venue's stream with 2500 other events and its visits open: its length."""
    open_visits(db, venue)
    pipe = db.pipeline(transaction=False)
    for i in range(2500):
        pipe.xadd(EventKeys(venue).stream(), {"k": "filler", "at": f"{T0 + i:.3f}"})
    pipe.execute()
    return db.xlen(EventKeys(venue).stream())


def test_the_sweep_trims_the_stream_and_a_decline_does_not(db):
    filled(db, "swept")
    PresenceTracker(db, maxlen=1000, staff=lambda venue, now: ()).sweep("swept", T0 + 5000)
    assert 1000 <= db.xlen(EventKeys("swept").stream()) < 1200  # MAXLEN ~ 1000: trimmed by whole nodes of 100
    before = filled(db, "declined")
    ConsentStore(db).record("declined", "s-1", location=False, marketing=False, phones=list(STATES), now=T0 + 5000)
    assert db.xlen(EventKeys("declined").stream()) == before + 3
