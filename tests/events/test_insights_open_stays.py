"""A stay whose exit is not in the event log ends by LEAVE_AFTER_S after the phone's last event, the tracker's own
rule: a phone whose shopper declined location mid-stay, or whose stay was cut in two by an anonymisation run, was "in
the zone" on every day whose history held its entry, for up to 8 days. Declining now ends the visit open then, as the
tracker's sweep would: a zone_leave and a leave at its last sighting, nothing more. On the real store."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from portal.events import report
from portal.events.insights import figure, prepare
from portal.events.log import Event

TZ = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ).timestamp()


def in_zone(app, svc, day: int) -> int:
    with app.test_request_context("/"):
        ins = report._figures(svc, svc.venues.get_map("demo"), date(2026, 11, day), 1, None, "Asia/Shanghai")
    return sum(f.in_zone for f in ins.funnels if f.zone == "kopi")


def test_declining_mid_stay_ends_the_stay(app, svc, demo):
    for i in range(6):
        for m in range(3):
            svc.presence.record("demo", f"d{i}", "kopi", at(2, 14, m) + i)
        svc.consent.record("demo", f"dsh{i}", location=False, marketing=False, phones=[f"d{i}"], now=at(2, 14, 5))
    svc.presence.sweep("demo", at(3, 12))
    assert {d: in_zone(app, svc, d) for d in (2, 3, 5, 8, 9)} == {2: 6, 3: 0, 5: 0, 8: 0, 9: 0}  # was 6 on each
    closed = [(e.kind, e.at, e.data.get("dwell_s")) for e in svc.events.read("demo") if e.device == "d0"]
    last = round(at(2, 14, 2), 3)  # its last sighting: nothing the log would not have had
    assert closed == [("arrive", at(2, 14), None), ("zone_enter", at(2, 14), None),
                      ("zone_leave", last, 120.0), ("leave", last, 120.0)]


def test_a_stay_with_no_exit_ends_by_leave_after_its_last_event():
    """The stays already in the log: entries whose exit was never written (declined before this fix, or cut apart
    by an anonymisation run)."""
    events = [Event("arrive", at(2, 14), "v", "a"), Event("zone_enter", at(2, 14), "v", "a", zone="kopi"),
              Event("landing", at(2, 14, 5), "v", "a", "s-a", zone="kopi"),
              Event("arrive", at(9, 10), "v", "a"),  # back a week later: no stay in between
              Event("zone_enter", at(9, 10), "v", "a", zone="books"),
              Event("zone_leave", at(9, 10, 30), "v", "a", zone="books", data={"dwell_s": 1800.0}),
              # sitting still for three hours writes nothing: its own exit still ends its one stay
              Event("zone_enter", at(4, 10), "v", "b", zone="kopi"),
              Event("zone_leave", at(4, 13), "v", "b", zone="kopi", data={"dwell_s": 10800.0}),
              # the history ends 10 minutes after its entry at 23:55: it may be there still after midnight
              Event("zone_enter", at(5, 23, 55), "v", "c", zone="kopi")]
    history = prepare(events, leave_after_s=1200.0)

    def phones(day: int) -> list[tuple[str, str]]:
        return sorted((s.device, s.zone) for s in history.stays_during(at(day, 0), at(day + 1, 0)))

    assert [phones(d) for d in range(2, 10)] == [
        [("a", "kopi")], [], [("b", "kopi")], [("c", "kopi")], [("c", "kopi")], [], [], [("a", "books")]]
    assert [s.end for s in history.stays_during(at(4, 0), at(5, 0))] == [at(4, 13)]
    kopi = figure(history, "v", at(2, 0), at(3, 0), zones=["kopi"])
    assert kopi.funnels[0].in_zone == 1 and kopi.visitors + kopi.passers_by == 0  # no exit: no dwell to count
