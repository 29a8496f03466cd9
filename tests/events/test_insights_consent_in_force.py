"""An event counts under the location consent that stood when it happened (`Consent.covers`): a new privacy notice
asks every shopper again, but does not take back the days her answer to the old one covered (every past day's
landings and purchases dropped to 0 the day the notice changed); an event under a newer notice she has not answered
does not count until she answers it; her no takes back every day. On the real store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from portal.consent import NOTICE_VERSION, NOTICES, Consent, ConsentKeys, notice_at
from portal.events import report
from portal.events.insights import Funnel

TZ = "Asia/Shanghai"
PREVIOUS, CURRENT = NOTICES[-2], NOTICES[-1]
UNDER_PREVIOUS = date.fromisoformat(CURRENT) - timedelta(days=1)  # the old notice was in force then
UNDER_CURRENT = date.fromisoformat(CURRENT) + timedelta(days=1)


def noon(day: date) -> float:
    return datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(TZ)).timestamp()


def shop(svc, day: date, i: int) -> None:
    phone, shopper, t = f"ph{i}", f"shp{i}", noon(day) + i
    svc.events.emit("demo", "arrive", at=t, device=phone)
    svc.events.emit("demo", "zone_enter", at=t, device=phone, zone="kopi")
    svc.events.emit("demo", "landing", at=t + 30, device=phone, shopper=shopper, zone="kopi", app="coupons")
    svc.events.emit("demo", "txn", at=t + 60, device=phone, shopper=shopper, zone="kopi", app="coupons",
                    action="coupon_claim")
    svc.events.emit("demo", "zone_leave", at=t + 600, device=phone, zone="kopi", dwell_s=600.0)
    svc.events.emit("demo", "leave", at=t + 600, device=phone, dwell_s=600.0)


def figures(app, svc, day: date):
    with app.test_request_context("/"):
        ins = report._figures(svc, svc.venues.get_map("demo"), day, 1, None, TZ)
    return [f for f in ins.funnels if f.zone == "kopi"], ins.new, ins.repeat


def test_a_new_notice_keeps_the_days_the_old_one_covered(app, svc, demo):
    for version in NOTICES:  # an install that showed each notice from its day on (else: from its first run, now)
        svc.events.since.set("demo", version, datetime.fromisoformat(version).replace(tzinfo=UTC).timestamp())
    for i in range(6):
        svc.consent.record("demo", f"shp{i}", location=True, marketing=False)
        shop(svc, UNDER_PREVIOUS, i)
        shop(svc, UNDER_CURRENT, i)
    before = figures(app, svc, UNDER_PREVIOUS)
    assert before == ([Funnel("kopi", 6, 6, 6, 0)], 6, 0)
    for i in range(6):  # their answers were to the notice before: they are asked again
        svc.db.hset(ConsentKeys("demo").consent(f"shp{i}"), "version", PREVIOUS)
    assert figures(app, svc, UNDER_PREVIOUS) == before  # was: landed 0, transacted 0, new 0
    # under the notice they have not answered yet, their landings and purchases do not count ...
    assert figures(app, svc, UNDER_CURRENT)[0] == [Funnel("kopi", 6, 0, 0, 0)]
    for i in range(3):  # ... until they answer it
        svc.consent.record("demo", f"shp{i}", location=True, marketing=False)
    assert figures(app, svc, UNDER_CURRENT)[0] == [Funnel("kopi", 6, 3, 3, 0)]
    svc.consent.record("demo", "shp0", location=False, marketing=False)  # her no takes back every day
    assert figures(app, svc, UNDER_PREVIOUS)[0] == [Funnel("kopi", 6, 5, 5, 0)]
    svc.consent.forget("demo", "shp1")  # and so does an erasure of her answer
    assert figures(app, svc, UNDER_PREVIOUS)[0] == [Funnel("kopi", 6, 4, 4, 0)]


def test_which_notice_an_answer_covers():
    assert NOTICE_VERSION == CURRENT and notice_at(0) == ""
    start = datetime.fromisoformat(CURRENT).replace(tzinfo=UTC).timestamp()  # in force from that day's UTC midnight
    assert (notice_at(start - 1), notice_at(start)) == (PREVIOUS, CURRENT)
    old = Consent(location=True, marketing=True, version=PREVIOUS, at=0)
    assert old.covers(start - 1) and old.allows("location", at=start - 1)
    assert not old.covers(start) and not old.allows("location", at=start)
    assert not old.allows("location")  # now: the notice in force is asked again (an older answer counts as no)
    new = Consent(location=True, marketing=False, version=CURRENT, at=start)
    assert new.covers(0) and new.allows("location", at=0) and not new.allows("marketing", at=0)
    assert not Consent(location=False, marketing=True, version=CURRENT, at=start).allows("location", at=start)
