"""A mall that upgrades late keeps its past days' figures: the store it brings was written by an older release, and
each of its days is read by the rules of its time. A privacy notice is in force from when the venue first showed it
(the old release kept showing the one before, and its shoppers' answers to that one stood until the upgrade); a
`payment` is the purchase while the apps did not write their own transaction for a paid order (the old release logged
only the money); an event an older release anonymised keeps its pseudonyms when the new release's first retention run
drops data that release kept (a second pseudonym made its shopper two on that day). On the real store."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from portal.consent import BY_DATE, NOTICE_VERSION, NOTICES, ConsentKeys, Notices, notice_at
from portal.events import report
from portal.events.insights import Funnel
from portal.events.log import PAID_TRANSACTIONS, Since, SinceKeys

TZ = "Asia/Shanghai"
PREVIOUS, CURRENT = NOTICES[-2], NOTICES[-1]
BEFORE, UPGRADE, AFTER = date(2026, 12, 7), date(2026, 12, 8), date(2026, 12, 9)  # the current notice's day: 12-06
OLD_PSEUDONYM = "anon-0123456789abcdef"  # what the old release's retention run wrote (one key a run)


def at(day: date, hour: int = 12) -> float:
    return datetime(day.year, day.month, day.day, hour, tzinfo=ZoneInfo(TZ)).timestamp()


def figures(app, svc, day: date):
    with app.test_request_context("/"):
        return report._figures(svc, svc.venues.get_map("demo"), day, 1, None, TZ)


def kopi(ins) -> list[Funnel]:
    return [f for f in ins.funnels if f.zone == "kopi"]


def visit(svc, day: date, i: int, *txns: dict, shopper: str | None = None) -> None:
    """A phone's visit to kopi at noon: it lands on the zone's page as its shopper, who makes `txns`."""
    phone, shopper, t = f"ph{i}", shopper or f"shp{i}", at(day) + i
    svc.events.emit("demo", "arrive", at=t, device=phone)
    svc.events.emit("demo", "zone_enter", at=t, device=phone, zone="kopi")
    svc.events.emit("demo", "landing", at=t + 30, device=phone, shopper=shopper, zone="kopi", app="coupons")
    for n, txn in enumerate(txns):
        svc.events.emit("demo", "txn", at=t + 60 + n, shopper=shopper, **txn)
    svc.events.emit("demo", "zone_leave", at=t + 600, device=phone, zone="kopi", dwell_s=600.0)
    svc.events.emit("demo", "leave", at=t + 600, device=phone, dwell_s=600.0)


def answered_the_old_notice(svc, shopper: str) -> None:
    """Her answer as the old release kept it: to the notice it showed."""
    svc.consent.record("demo", shopper, location=True, marketing=False)
    svc.db.hset(ConsentKeys("demo").consent(shopper), "version", PREVIOUS)


COUPON = {"zone": "kopi", "app": "coupons", "action": "coupon_claim"}


@pytest.fixture(autouse=True)
def venue_days(svc):
    svc.privacy.tz_of = lambda venue: ZoneInfo(TZ)  # the venue's days (the composition root passes the venues' zones)


# ---- the notice in force: from when the venue first showed it ----------------------------------------------------

def test_answers_to_the_notice_the_old_release_showed_cover_the_days_until_the_upgrade(app, svc, demo):
    svc.events.since.set("demo", NOTICE_VERSION, at(UPGRADE, 0))  # the new release first ran here then
    for i in range(6):
        answered_the_old_notice(svc, f"shp{i}")
        visit(svc, BEFORE, i, COUPON)  # after the new notice's day, before the mall upgraded
        visit(svc, AFTER, i, COUPON)
    assert kopi(figures(app, svc, BEFORE)) == [Funnel("kopi", 6, 6, 6, 0)]  # was landed 0, transacted 0
    assert figures(app, svc, BEFORE).new == 6
    assert kopi(figures(app, svc, AFTER)) == [Funnel("kopi", 6, 0, 0, 0)]  # the new notice, not answered yet
    for i in range(2):
        svc.consent.record("demo", f"shp{i}", location=True, marketing=False)
    assert kopi(figures(app, svc, AFTER)) == [Funnel("kopi", 6, 2, 2, 0)]


def test_the_first_run_on_the_old_store_is_the_upgrade(app, svc, demo):
    """No record on the store the old release left: the new release's first run here records it (HSETNX, when it
    first reads it: for a shopper's answer, for the insights), so every day before it (here the new notice's own first
    day) stays under the notice the old release showed."""
    assert not svc.db.exists(SinceKeys("demo").since())
    first_day = date.fromisoformat(CURRENT)
    for i in range(6):
        answered_the_old_notice(svc, f"shp{i}")
        visit(svc, first_day, i, COUPON)
    assert kopi(figures(app, svc, first_day)) == [Funnel("kopi", 6, 6, 6, 0)]  # was landed 0, transacted 0
    assert svc.consent.notices("demo").starts[-1] > at(first_day, 23)


def test_when_each_notice_came_into_force_at_a_venue():
    start = BY_DATE.starts[-1]
    assert notice_at(start) == CURRENT and notice_at(start - 1) == PREVIOUS  # a venue that showed each on its day
    late = Notices.shown({PREVIOUS: 0.0, CURRENT: start + 86400})  # the old release ran a day past the new day
    assert (notice_at(start, late), notice_at(start + 86400, late)) == (PREVIOUS, CURRENT)
    early = Notices.shown({CURRENT: start - 86400})  # a release shipped before its notice's day: from its day
    assert notice_at(start - 1, early) == "" and notice_at(start, early) == CURRENT
    skipped = Notices.shown({CURRENT: start + 5})  # never showed the one before (its records begin here)
    assert notice_at(start, skipped) == "" and notice_at(start + 5, skipped) == CURRENT


# ---- a payment before the apps wrote their own paid transaction ------------------------------------------------

def old_payment(app_name: str = "sale", order: str = "MP1") -> dict:
    """The old release's money event for a paid purchase: its only event for a flash sale (no zone)."""
    return {"app": app_name, "action": "payment", "amount_fen": 9900, "order": order}


def test_a_payment_before_the_apps_wrote_their_own_is_the_purchase(app, svc, demo):
    svc.events.since.set("demo", PAID_TRANSACTIONS, at(UPGRADE, 0))
    for i in range(6):
        svc.consent.record("demo", f"shp{i}", location=True, marketing=False)
        visit(svc, BEFORE, i, old_payment(order=f"MP{i}"))  # the old release's paid flash-sale unit
        # the new release's: the app's own transaction, and the money beside it
        visit(svc, AFTER, i, {"zone": "kopi", "app": "activities", "action": "activity_join", "paid": "1"},
              {"zone": "kopi", **old_payment(order=f"MQ{i}")}, shopper=f"new{i}")
        svc.consent.record("demo", f"new{i}", location=True, marketing=False)
    assert (figures(app, svc, BEFORE).new, figures(app, svc, BEFORE).repeat) == (6, 0)  # was 0
    after = figures(app, svc, AFTER)
    assert (after.new, after.repeat) == (6, 0) and kopi(after) == [Funnel("kopi", 6, 6, 6, 0)]  # each once


def test_an_old_payment_still_counts_once_anonymised(app, svc, demo):
    """The new release's run gives the old payment a pseudonym of its own (a money event) and drops its order: it is
    still that day's purchase, by when it happened (its stream entry is rewritten at the stream's end)."""
    svc.events.since.set("demo", PAID_TRANSACTIONS, at(UPGRADE, 0))
    for i in range(6):
        svc.consent.record("demo", f"shp{i}", location=True, marketing=False)
        visit(svc, BEFORE, i, old_payment(order=f"MP{i}"))
    assert figures(app, svc, BEFORE).new == 6
    assert svc.privacy.apply_retention("demo", at(BEFORE, 23) + 90 * 86400)["events_anonymised"] > 0
    payments = [e for e in svc.events.read("demo") if e.data.get("action") == "payment"]
    assert len(payments) == 6 and all(e.shopper.startswith("anon-") and "order" not in e.data for e in payments)
    assert figures(app, svc, BEFORE).new == 6


# ---- an older release's anonymised events -------------------------------------------------------------------------

def old_anonymised_day(svc, day: date, shoppers: int) -> None:
    """What the old release's run left: ids replaced by its pseudonyms (one key a run), the member number dropped, the
    rest of the data kept (a member's tier, a referral's campaign, a payment's order)."""
    for i in range(shoppers):
        phone, shopper, t = f"{OLD_PSEUDONYM[:-2]}p{i}", f"{OLD_PSEUDONYM[:-2]}s{i}", at(day) + i
        svc.events.emit("demo", "arrive", at=t, device=phone)
        svc.events.emit("demo", "zone_enter", at=t, device=phone, zone="kopi")
        svc.events.emit("demo", "landing", at=t + 30, device=phone, shopper=shopper, zone="kopi", app="membership")
        svc.events.emit("demo", "txn", at=t + 40, device=phone, shopper=shopper, zone="kopi", app="membership",
                        action="member_join", tier="gold")
        svc.events.emit("demo", "txn", at=t + 50, device=phone, shopper=shopper, zone="kopi", app="activities",
                        action="referral", link="l1", campaign="xmas")
        svc.events.emit("demo", "txn", at=t + 60, shopper=shopper, app="sale", action="payment", amount_fen=9900,
                        order=f"MP{i}")
        svc.events.emit("demo", "zone_leave", at=t + 600, device=phone, zone="kopi", dwell_s=600.0)
        svc.events.emit("demo", "leave", at=t + 600, device=phone, dwell_s=600.0)


def test_the_new_run_only_drops_the_data_an_older_run_kept(app, svc, demo):
    svc.events.since.set("demo", PAID_TRANSACTIONS, at(UPGRADE, 0))
    old_anonymised_day(svc, BEFORE, 6)
    before = figures(app, svc, BEFORE)
    assert (before.new, kopi(before)) == (6, [Funnel("kopi", 6, 6, 6, 6)])
    ids = sorted((e.kind, e.at, e.device, e.shopper) for e in svc.events.read("demo"))
    assert svc.privacy.apply_retention("demo", at(BEFORE, 23) + 90 * 86400)["events_anonymised"] == 18
    events = list(svc.events.read("demo"))
    assert sorted((e.kind, e.at, e.device, e.shopper) for e in events) == ids  # each keeps its pseudonyms
    assert not [e for e in events if {"tier", "campaign", "order"} & e.data.keys()]
    after = figures(app, svc, BEFORE)
    assert (after.new, kopi(after)) == (6, [Funnel("kopi", 6, 6, 6, 6)])  # was transacted 0, referred 0


# ---- the record itself ---------------------------------------------------------------------------------------------

def test_each_feature_is_recorded_once_by_the_first_process_that_runs_it(db):
    first = Since(db).running("a")
    assert first.read("demo", now=100.0) == {"a": 100.0}
    later = Since(db).running("a").running("b")  # another process, of a later release
    assert later.read("demo", now=200.0) == {"a": 100.0, "b": 200.0}
    assert Since(db).read("demo", now=300.0) == {"a": 100.0, "b": 200.0}  # a read records only what it runs
    assert later.read("other", now=400.0) == {"a": 400.0, "b": 400.0}  # each venue its own
    db.hset(SinceKeys("demo").since(), "a", "50")
    assert first.read("demo") == {"a": 100.0}  # read once a process: it changes only on a deploy
    assert SinceKeys("demo").since().startswith("mp:{demo}:") and Since.of(db) is Since.of(db)
