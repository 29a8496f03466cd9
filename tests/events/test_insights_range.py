"""Reading and figuring a long range: the look-back before the staff window is read sparsely (only what
identifies someone), every event written late is still read, and a period with its days is figured from one
history read and prepared once, with the figures each day has read alone."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

TZ = "Asia/Shanghai"
T0 = datetime(2026, 11, 2, tzinfo=ZoneInfo(TZ)).timestamp()


def test_the_look_back_is_read_sparsely(svc):
    svc.events.emit("v1", "zone_enter", at=T0 - 10 * 86400, device="d1", zone="kopi")  # presence: skipped
    svc.events.emit("v1", "landing", at=T0 - 10 * 86400, device="d1", shopper="s1", zone="kopi")
    svc.events.emit("v1", "txn", at=T0 - 9 * 86400, zone="kopi", app="payments", action="payment")
    svc.events.emit("v1", "leave", at=T0 - 86400, device="d1", dwell_s=60.0)  # in the staff window: kept
    svc.events.emit("v1", "zone_enter", at=T0 + 60, device="d2", zone="kopi")
    got = svc.events.read("v1", since=T0 - 30 * 86400, until=T0 + 86400, sparse_until=T0 - 7 * 86400)
    assert [(e.kind, e.shopper) for e in got] == [("landing", "s1"), ("txn", None), ("leave", None),
                                                  ("zone_enter", None)]
    assert len(list(svc.events.read("v1", since=T0 - 30 * 86400, until=T0 + 86400))) == 5


def test_an_event_written_after_the_period_is_read(svc):
    """Ids are write times, but an event may be written long after it happened (a retention run rewrites old
    events at the stream's end; a sweep writes a `leave` late): the scan is not cut at the period's end."""
    svc.events.emit("v1", "leave", at=T0 - 30 * 86400, device="d1", dwell_s=600.0)
    [event] = svc.events.read("v1", since=T0 - 31 * 86400, until=T0 - 29 * 86400)
    assert (event.kind, event.device) == ("leave", "d1")


def crowd(svc, days: int, seed: int = 3) -> None:
    """Visits over `days` days from T0 (some across midnight) with landings and purchases by returning
    shoppers, written in no particular time order."""
    from portal.events.log import Event

    rng, out = random.Random(seed), []
    for _ in range(days * 40):
        dev, shopper = f"p{rng.randrange(60)}", f"s{rng.randrange(30)}"
        t, stay = T0 + rng.uniform(0, days * 86400), rng.uniform(60, 3000)
        a, b = rng.choice(["kopi", "books", "lumen"]), rng.choice(["jade", "kopi", "atrium"])
        out += [Event("arrive", t, "demo", dev), Event("zone_enter", t, "demo", dev, zone=a),
                Event("zone_leave", t + stay, "demo", dev, zone=a, data={"dwell_s": stay}),
                Event("zone_enter", t + stay, "demo", dev, zone=b),
                Event("zone_leave", t + 2 * stay, "demo", dev, zone=b, data={"dwell_s": stay}),
                Event("leave", t + 2 * stay, "demo", dev, data={"dwell_s": 2 * stay})]
        if rng.random() < 0.3:
            out += [Event("landing", t + 10, "demo", dev, shopper, zone=a),
                    Event("txn", t + 20, "demo", None, shopper, zone=a, data={"action": "coupon_claim"})]
    rng.shuffle(out)
    for e in out:
        svc.events.emit("demo", e.kind, at=e.at, device=e.device, shopper=e.shopper, zone=e.zone, **e.data)


def test_a_month_reads_and_prepares_its_history_once(app, svc, demo, monkeypatch):
    """Not once per day: a month of a large log took a minute (each day recomputed over the whole history)."""
    from portal.events import report

    crowd(svc, days=3)
    calls = {"read": 0, "prepare": 0}
    read, prepare = svc.events.read, report.prepare

    def counted(name, fn):
        def call(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return call

    monkeypatch.setattr(svc.events, "read", counted("read", read))
    monkeypatch.setattr(report, "prepare", counted("prepare", prepare))
    with app.test_request_context("/console/ops/demo/insights"):
        month = report.day_insights(svc, svc.venues.get_map("demo"), date(2026, 11, 30), days=30)
    assert calls == {"read": 1, "prepare": 1} and month.visitors > 0


def test_a_week_withholds_what_one_of_its_days_alone_has_too_few_of(app, svc, demo):
    """The week's days come from the week's one history; each day read and figured alone agrees with them
    (flows and paths aside: a day alone shows its top ten only)."""
    from portal.events import report
    from portal.events.insights import figures

    crowd(svc, days=7, seed=5)
    venue_map, last = svc.venues.get_map("demo"), date(2026, 11, 8)
    with app.test_request_context("/console/ops/demo/insights"):
        for zones in (None, ["kopi"]):
            week = report.day_insights(svc, venue_map, last, zones=zones, days=7, now=T0 + 30 * 86400)
            alone = [report.day_insights(svc, venue_map, last - timedelta(days=n), zones=zones, now=T0 + 30 * 86400)
                     for n in range(7)]
            # shown by a day's own page: 0, or k or more with k phones behind it, and not hidden by its second
            # suppressions (a bar hidden with the only other hidden one, an owner's visitors with passers-by)
            expected = [key for key in figures(week) if any(day.safe(key, figures(day).get(key, 0)) is None
                                                            for day in alone)]
            assert [k for k in week.withheld if not k.startswith(("flow:", "path:"))] == \
                sorted(k for k in expected if not k.startswith(("flow:", "path:"))) != [], zones
