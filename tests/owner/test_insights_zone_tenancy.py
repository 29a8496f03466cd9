"""A zone owner's insights cover only the time its account held the zone (portal/auth.py `held_spans`): a zone
handed to a new tenant does not show it the previous tenant's funnel and shoppers, on the page or in an export,
nor in the moments preview; the tenant before, given another zone, does not see that zone's past either. Demo
owners hold theirs from the start (the demo's simulated history is theirs); an account from before the record
holds its zones from when the record began."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from portal.auth import AccountStore, _held_after, held_throughout
from portal.events.report import venue_tz
from tests.events.export_lines import export_lines

NEW = "a good long passphrase"


def day_start(app, svc, days_ago: int) -> tuple[str, float]:
    """The venue's day `days_ago` days back: (its date, its midnight)."""
    with app.app_context():
        tz = ZoneInfo(venue_tz(svc, svc.venues.get_map("demo")))
    day = datetime.now(tz).date() - timedelta(days=days_ago)
    return day.isoformat(), datetime.combine(day, datetime.min.time(), tz).timestamp()


def books_day(svc, start: float) -> None:
    """Six shoppers in Books for 10 minutes from 11:00, each landing on its page and buying there."""
    t = start + 11 * 3600
    for i in range(6):
        svc.consent.record("demo", f"s-{i}", location=True, marketing=True)
        svc.presence.record("demo", f"d{i}", "books", t + i)
        svc.events.emit("demo", "landing", at=t + i + 30, device=f"d{i}", shopper=f"s-{i}", zone="books")
        svc.events.emit("demo", "txn", at=t + i + 60, device=f"d{i}", shopper=f"s-{i}", zone="books",
                        app="coupons", action="coupon_claim")
        svc.presence.record("demo", f"d{i}", "books", t + i + 600)
    svc.presence.sweep("demo", t + 4 * 3600)


def hand_books_over(client, console, svc) -> None:
    """The audit's steps: the `books` owner moves to Lumen; a new account `newbooks` gets Books."""
    console.login("ops")
    assert client.post("/console/ops/demo/owners/books/zones",
                       data={"csrf_token": console.csrf(), "zones": "lumen"}).status_code == 303
    assert client.post("/console/ops/demo/owners", data={"csrf_token": console.csrf(), "username": "newbooks",
                                                          "zones": "books", "method": "password"}).status_code == 201
    AccountStore(svc.db).set_password("newbooks", NEW)  # the first sign-in's change, done
    console.logout()


def test_a_new_tenant_sees_none_of_the_zones_past(app, client, console, svc):
    day, start = day_start(app, svc, 3)
    books_day(svc, start)
    hand_books_over(client, console, svc)

    console.login("newbooks", NEW)
    for fmt in ("csv", "parquet"):
        resp = client.get(f"/console/owner/demo/insights/export.{fmt}?day={day}")
        assert resp.status_code == 409, resp.get_data(as_text=True)[:300]  # was 200, the old tenant's funnel
        assert "managed this zone since" in resp.get_data(as_text=True)
    for period in ("day", "week", "month"):
        page = client.get(f"/console/owner/demo/insights?day={day}&period={period}").get_data(as_text=True)
        assert 'id="insights-notice"' in page and 'id="funnels"' not in page and 'id="visitors"' not in page
        assert "You have managed this zone since" in page
    assert not svc.privacy.exports("demo")  # nothing handed out, nothing audited
    console.logout()

    console.login("books")  # the tenant before, now in Lumen: nothing of Lumen's past either
    resp = client.get(f"/console/owner/demo/insights/export.csv?day={day}")
    assert resp.status_code == 409
    console.logout()

    console.login("ops")  # the mall sees every period
    lines = export_lines(client.get(f"/console/ops/demo/insights/export.csv?day={day}").get_data(as_text=True))
    assert "funnel_transacted,books,,6,shown" in lines


def test_a_demo_owner_sees_its_zones_past(app, client, console, svc):
    day, start = day_start(app, svc, 3)
    books_day(svc, start)
    console.login("books")
    lines = export_lines(client.get(f"/console/owner/demo/insights/export.csv?day={day}").get_data(as_text=True))
    assert "funnel_transacted,books,,6,shown" in lines


def test_the_moments_preview_of_a_zone_not_held_yesterday_is_blank(app, client, console, svc):
    _day, start = day_start(app, svc, 1)
    books_day(svc, start)
    hand_books_over(client, console, svc)
    console.login("newbooks", NEW)
    form = {"csrf_token": console.csrf(), "name": "probe", "trigger": "zone_enter", "zone": "books",
            "action": "offer", "message_en": "hi", "cap_per_day": "1", "cooldown_h": "12", "budget": "0"}
    assert client.post("/console/owner/demo/moments", data=form).status_code == 303
    page = client.get("/console/owner/demo/moments").get_data(as_text=True)
    assert re.findall(r'class="preview">([^<]*)<', page) == ["— (you did not manage this zone all of yesterday)"]


def test_the_store_records_each_zone_gained_and_lost_with_the_change(svc, demo):
    store = AccountStore(svc.db)
    store.create("tenant", None, "owner", "demo", ("kopi",))
    (gained, until), = store.held_spans("tenant")["kopi"]
    assert until is None and abs(gained - datetime.now().timestamp()) < 600
    assert store.set_zones("tenant", ("books",)) == ("kopi",)
    spans = store.held_spans("tenant")
    (kopi_from, kopi_until), = spans["kopi"]
    (books_from, books_until), = spans["books"]
    assert kopi_from == gained and kopi_until is not None and books_until is None and books_from >= kopi_until
    assert not held_throughout(spans["kopi"], gained - 1, kopi_until)  # before it gained the zone
    assert held_throughout(spans["kopi"], gained, kopi_until)
    assert not held_throughout(spans["kopi"], gained, kopi_until + 1)  # after it lost it
    store.set_zones("tenant", ("books", "kopi"))  # back: a new span, the gap between stays out
    kopi = store.held_spans("tenant")["kopi"]
    assert len(kopi) == 2 and kopi[1][1] is None and not held_throughout(kopi, gained, kopi[1][0] + 1)


def test_an_account_from_before_the_record_holds_its_zones_from_when_it_began(svc, demo):
    """No creation time is stored, so the safe answer: from when the record began (its first use), never earlier."""
    store = AccountStore(svc.db)
    store.create("legacy", None, "owner", "demo", ("kopi", "books"))
    svc.db.hdel("mp:{_accounts}:account:legacy", "held")  # as an account made before the upgrade
    svc.db.delete(store.keys.held_records_since())
    before = datetime.now().timestamp()
    spans = store.held_spans("legacy")
    (began, until), = spans["kopi"]
    assert until is None and began >= before and spans["books"] == [(began, None)]
    assert store.held_spans("legacy")["kopi"] == [(began, None)]  # read again: the same start, kept
    store.set_zones("legacy", ("books",))  # its first change writes the record: books still from then
    spans = store.held_spans("legacy")
    assert spans["books"] == [(began, None)] and spans["kopi"][0][0] == began and spans["kopi"][0][1] is not None


def test_a_span_closed_the_instant_the_record_began_never_ends_before_it_starts():
    """An account from before the record (held from `legacy_from()`, read a moment after `now`) losing its zone then:
    the span ends where it begins, never microseconds before (a negative span)."""
    held = _held_after({}, ("kopi",), (), now=100.0, legacy_from=lambda: 100.000006)
    assert held == {"kopi": [(100.000006, 100.000006)]}


def test_a_new_tenants_new_and_repeat_wait_for_a_look_back_of_its_own(app, client, console, svc):
    """A day the new tenant held the zone all through shows its figures, but not new and repeat shoppers while their
    30-day look-back reaches before the tenancy: the previous tenant's buyers would read as this one's regulars."""
    day, start = day_start(app, svc, 3)
    books_day(svc, start)
    hand_books_over(client, console, svc)
    key = AccountStore(svc.db).keys.account("newbooks")
    assert svc.db.hget(key, "held") is not None
    svc.db.hset(key, "held", json.dumps({"books": [[start - 86400, None]]}))  # since the day before: 4 days, not 30
    console.login("newbooks", NEW)
    page = client.get(f"/console/owner/demo/insights?day={day}").get_data(as_text=True)
    assert 'id="funnels"' in page and 'id="lookback-notice"' in page and "only since" in page
    assert re.search(r'id="new">—<', page) and re.search(r'id="repeat">—<', page)
    lines = export_lines(client.get(f"/console/owner/demo/insights/export.csv?day={day}").get_data(as_text=True))
    assert "incomplete,books,new_vs_repeat,,incomplete" in lines and not any(ln.startswith("new,") for ln in lines)
    console.logout()
