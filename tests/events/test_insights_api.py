"""The insights as a machine API (portal/insights_api.py): GET /api/v1/venues/<venue>/insights with a venue token of
the `insights` scope answers the console export's rows and metadata for the same period (one function makes both),
only once the period has settled, at every scope (before: 409 with `available_at` and Retry-After); 401 without a
valid token of that venue (before the venue is looked at), 403 for a token without the scope, 422 naming the
parameter, 409 for a period without figures, 429 past the token's budget or with two of its calls in flight; every
answered call is in the venue's audit log under the token's label, rolled up per hour, naming no shopper."""

from __future__ import annotations

import calendar
import json
import math
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fingerprints.model import Floor, VenueMap
from portal.apps.budgets import budget_store
from portal.auth import AccountKeys, AuditLog
from portal.call_slots import CallSlots
from portal.events import report
from portal.events.log import EventKeys
from portal.insights_api import BUDGET, CALL_SLOT_TTL_S, CALLS_RETRY_S, MAX_ZONES
from portal.operator.insights import COLUMNS
from tests.events.test_insights_console import DAY, crowd  # noqa: F401 - the fixture: 12 phones in Kopi, 3 in Books
from tests.events.test_insights_definitions_exports import read_csv

URL = "/api/v1/venues/demo/insights"
TZ = ZoneInfo("Asia/Shanghai")  # the demo venue's


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def partner(svc, demo):
    """A research firm's token: the insights scope only."""
    return svc.tokens.issue("demo", "research-firm", scopes=["insights"])


def exports(db) -> list[dict]:
    return [e for e in AuditLog(db).call_rollups("demo", 50) if e["action"] == "insights.export"]


def as_csv(value) -> str:
    """A JSON row's value as the CSV writes it ("" for a held-back one)."""
    return "" if value is None else str(value)


def test_tokens_are_checked_before_the_venue_and_need_the_scope(client, svc, partner):
    ingest = svc.tokens.issue("demo", "ap-relay")  # a report source's token: ingest only
    svc.venues.put_map(VenueMap(id="tiny", name="Tiny", name_zh="小", floors=[Floor(0, "G", 50, 30)]))
    other = svc.tokens.issue("tiny", "tiny-bi", scopes=["insights"])
    for path, headers in ((URL, {}), (URL, bearer("nope")), (URL, bearer(other)),
                          ("/api/v1/venues/nowhere/insights", bearer(partner))):
        resp = client.get(f"{path}?day={DAY}", headers=headers)
        assert resp.status_code == 401, (path, headers)
        assert resp.get_json() == {"error": "missing or invalid bearer token for this venue", "field": None}
        assert resp.headers["WWW-Authenticate"].startswith('Bearer realm="mallportal"')
    refused = client.get(f"{URL}?day={DAY}", headers=bearer(ingest))
    assert refused.status_code == 403 and refused.get_json()["field"] == "Authorization"
    assert "'insights' scope" in refused.get_json()["error"]
    assert 'scope="insights"' in refused.headers["WWW-Authenticate"]
    assert exports(svc.db) == [] and svc.privacy.exports("demo") == []


@pytest.mark.parametrize(("query", "field", "words"), [
    ("", "day", "YYYY-MM-DD"),
    ("day=yesterday", "day", "YYYY-MM-DD"),
    ("day=2026-02-30", "day", "is not a date"),
    ("day=1999-12-31", "day", "between 2000-01-01 and 2099-12-31"),
    ("day=2099-12-31", "day", "after the venue's today"),
    (f"day={DAY}&period=year", "period", "a day, a week or a month"),
    (f"day={DAY}&period=", "period", "a day, a week or a month"),
    (f"day={DAY}&zone=mars", "zone", "no zone 'mars'"),
    (f"day={DAY}&zone=", "zone", "no zone ''"),
    (f"day={DAY}&zone=kopi,mars", "zone", "no zone 'mars'"),
    (f"day={DAY}&zone=kopi,", "zone", "no zone ''"),
    (f"day={DAY}&zone=kopi,books,kopi", "zone", "a zone named twice"),
    (f"day={DAY}&zone=" + ",".join(["kopi"] * (MAX_ZONES + 1)), "zone", f"at most {MAX_ZONES} zones a call"),
])
def test_bad_parameters_are_a_422_naming_them(client, svc, partner, query, field, words):
    resp = client.get(f"{URL}?{query}", headers=bearer(partner))
    assert resp.status_code == 422, resp.get_json()
    body = resp.get_json()
    assert body["field"] == field and words in body["error"] and set(body) == {"error", "field"}
    assert exports(svc.db) == []


def test_the_rows_and_metadata_are_the_csv_exports(client, console, crowd, partner):  # noqa: F811
    console.login("ops")
    for query in (f"day={DAY}", f"day={DAY}&period=week", f"day={DAY}&period=month"):
        meta, rows = read_csv(client.get(f"/console/ops/demo/insights/export.csv?{query}").get_data(as_text=True))
        answer = client.get(f"{URL}?{query}", headers=bearer(partner)).get_json()
        assert answer["partial"] is False
        assert [{k: as_csv(v) for k, v in r.items()} for r in answer["rows"]] == list(rows.values()), query
        assert answer["columns"] == list(COLUMNS)
        got = answer["metadata"]  # a JSON object: its keys in no order
        assert {k: v for k, v in got.items() if k != "exported_at"} == {
            k: v for k, v in meta.items() if k != "exported_at"}
    kopi = answer["rows"][0]
    assert {k: kopi[k] for k in ("venue", "metric", "zone", "value", "status")} == {
        "venue": "demo", "metric": "visitors", "zone": "*", "value": 12, "status": "shown"}
    held = next(r for r in client.get(f"{URL}?day={DAY}", headers=bearer(partner)).get_json()["rows"]
                if r["metric"] == "passers_by")
    assert (held["value"], held["status"]) == (None, "suppressed")  # 3 passers-by: below k, never a 0


def test_a_zone_is_the_zone_owners_export(client, console, crowd, partner):  # noqa: F811
    console.login("kopi")
    _meta, rows = read_csv(client.get(f"/console/owner/demo/insights/export.csv?day={DAY}").get_data(as_text=True))
    answer = client.get(f"{URL}?day={DAY}&zone=kopi", headers=bearer(partner)).get_json()
    assert [{k: as_csv(v) for k, v in r.items()} for r in answer["rows"]] == list(rows.values())
    assert answer["metadata"]["scope"] == "kopi (Kopi Coffee)"
    zh = client.get(f"{URL}?day={DAY}&zone=kopi&lang=zh", headers=bearer(partner)).get_json()
    assert zh["rows"][0]["zone_name"] == "考比咖啡"


def test_several_zones_are_each_zones_own_figures_never_their_sum(client, crowd, partner):  # noqa: F811
    """`zone=kopi,books`: Kopi's rows then Books' as a call for each alone gives them (no row adds the two up: a sum
    of zones each k-safe alone, less one of them, would give the other's held-back figures away), the scope naming
    both, one audited call naming both, a unit of the token's budget each."""
    alone = {zone: client.get(f"{URL}?day={DAY}&zone={zone}", headers=bearer(partner)).get_json()
             for zone in ("kopi", "books")}
    both = client.get(f"{URL}?day={DAY}&zone=kopi,books", headers=bearer(partner)).get_json()
    assert both["rows"] == alone["kopi"]["rows"] + alone["books"]["rows"]
    assert {row["zone"] for row in both["rows"]} == {"kopi", "books"}
    assert both["metadata"]["scope"] == "kopi (Kopi Coffee); books (Mango Tree Books)" and both["partial"] is False
    assert {k: v for k, v in both["metadata"].items() if k not in ("scope", "exported_at")} == {
        k: v for k, v in alone["kopi"]["metadata"].items() if k not in ("scope", "exported_at")}
    [entry] = exports(crowd.db)
    assert entry["detail"]["count"] == 3 and entry["detail"]["period"][-1] == f"{DAY} kopi,books"


def test_each_zone_of_a_call_is_a_unit_of_the_tokens_budget(app, client, crowd, partner):  # noqa: F811
    """Refused for want of units, a call of several zones spends none (as a call of one zone refused) and its
    Retry-After is when all its units fit: told when its other zones alone would, a partner retrying then spent a
    first unit again and came up one short, every time."""
    budgets = budget_store(app)
    budgets.set_limit("demo", "insights.api.token", (3, 3600))
    assert client.get(f"{URL}?day={DAY}&zone=kopi,books", headers=bearer(partner)).status_code == 200  # 2 of 3
    over = client.get(f"{URL}?day={DAY}&zone=kopi,books", headers=bearer(partner))
    assert over.status_code == 429 and "too many insights calls" in over.get_json()["error"]
    assert exports(crowd.db)[0]["detail"]["count"] == 1  # the refused call handed nothing out
    whole = budgets.spend("demo", "insights.api", {"token": "research-firm"}, cost=2, check_only=True)
    part = budgets.spend("demo", "insights.api", {"token": "research-firm"}, cost=1, check_only=True)
    assert part is None and whole is not None  # one unit is left, and then two fit only later
    assert abs(int(over.headers["Retry-After"]) - whole.retry_after_s) <= 2  # the wait for both units
    assert client.get(f"{URL}?day={DAY}&zone=kopi", headers=bearer(partner)).status_code == 200  # the unit left
    assert client.get(f"{URL}?day={DAY}", headers=bearer(partner)).status_code == 429


def test_more_zones_than_the_budget_holds_are_a_422_not_a_429_forever(app, client, crowd, partner):  # noqa: F811
    """A venue that set its token budget below the zones a call names: that call could never be answered, so a 429
    (wait and retry) would be a lie; a 422 on `zone` says how many fit. As any call the budget refuses, it spends
    nothing, and nothing is handed out."""
    budget_store(app).set_limit("demo", "insights.api.token", (2, 3600))
    third = next(z.id for z in crowd.venues.get_map("demo").zones if z.id not in ("kopi", "books"))
    refused = client.get(f"{URL}?day={DAY}&zone=kopi,books,{third}", headers=bearer(partner))
    assert refused.status_code == 422
    assert refused.get_json()["field"] == "zone" and "name at most 2 zones a call" in refused.get_json()["error"]
    assert "Retry-After" not in refused.headers and exports(crowd.db) == []
    for _ in range(2):  # both units are there
        assert client.get(f"{URL}?day={DAY}&zone=kopi", headers=bearer(partner)).status_code == 200
    assert client.get(f"{URL}?day={DAY}&zone=kopi", headers=bearer(partner)).status_code == 429
    # The budget spent, such a call is the 422 it will be after any wait, not a 429 that leads to it
    again = client.get(f"{URL}?day={DAY}&zone=kopi,books,{third}", headers=bearer(partner))
    assert again.status_code == 422 and again.get_json()["field"] == "zone" and "Retry-After" not in again.headers
    two = client.get(f"{URL}?day={DAY}&zone=kopi,books", headers=bearer(partner))  # fits once both units are back
    whole = budget_store(app).spend("demo", "insights.api", {"token": "research-firm"}, cost=2, check_only=True)
    assert two.status_code == 429 and abs(int(two.headers["Retry-After"]) - whole.retry_after_s) <= 2


def test_a_token_budget_set_to_0_is_a_403_with_no_retry_after(app, client, partner):  # noqa: F811
    """The venue switched the token's calls off: no wait makes room (`api_over_budget`)."""
    budget_store(app).set_limit("demo", "insights.api.token", (0, 3600))
    refused = client.get(f"{URL}?day={DAY}", headers=bearer(partner))
    assert refused.status_code == 403 and "Retry-After" not in refused.headers
    assert "switched off for this venue" in refused.get_json()["error"]


@pytest.mark.parametrize("days", [1, 7])
def test_zones_figured_from_one_read_are_each_as_figured_alone(svc, crowd, days):  # noqa: F811
    """report.scopes_insights reads the venue's events once for the scopes not cached: each scope's figures are what
    day_insights gives it alone (from an empty cache both times: a new cache generation in between)."""
    venue_map, day = svc.venues.get_map("demo"), date.fromisoformat(DAY)
    scopes = [["kopi"], ["books"], None, ["kopi", "books"]]
    together = report.scopes_insights(svc, venue_map, day, scopes, days, settled_only=True)
    assert all(f.hidden_until is None for f in together) and together[0].visitors == 12  # figured, not refused
    svc.db.incr(EventKeys("demo").insights_generation())
    for zones, figures in zip(scopes, together, strict=True):
        alone = report.day_insights(svc, venue_map, day, zones, days, settled_only=True)
        assert report.insights_to_json(figures) == report.insights_to_json(alone), zones


def test_a_call_of_several_zones_reads_the_venues_events_once(client, svc, crowd, partner, monkeypatch):  # noqa: F811
    """Each zone is figured alone, from one read of the venue's events (a month's call reads two months of the log):
    read again per zone, MAX_ZONES zones held the worker MAX_ZONES times as long."""
    reads = []
    real_read = type(svc.events).read

    def counted(log, *args, **kwargs):
        reads.append(args)
        return real_read(log, *args, **kwargs)

    monkeypatch.setattr(type(svc.events), "read", counted)
    assert client.get(f"{URL}?day={DAY}&zone=kopi,books", headers=bearer(partner)).status_code == 200
    assert len(reads) == 1
    assert client.get(f"{URL}?day={DAY}&zone=kopi,books", headers=bearer(partner)).status_code == 200
    assert len(reads) == 1  # both cached: none read


def test_a_call_of_several_zones_refused_costs_one_unit(app, client, svc, crowd, partner):  # noqa: F811
    """Refused with the token's calls in flight (429) or for a period not settled (409), a call of four zones spends
    what a call of one does: a partner retrying as Retry-After says is not drained four times as fast."""
    budget_store(app).set_limit("demo", "insights.api.token", (MAX_ZONES + 2, 3600))
    zones = ",".join(z.id for z in svc.venues.get_map("demo").zones[:MAX_ZONES])
    slots = CallSlots(svc.db)
    held = [slots.take("demo", BUDGET, "research-firm", 2, CALL_SLOT_TTL_S) for _ in range(2)]
    assert client.get(f"{URL}?day={DAY}&zone={zones}", headers=bearer(partner)).status_code == 429
    for slot in held:
        slots.give_back("demo", BUDGET, "research-firm", slot)
    today = datetime.now(TZ).date().isoformat()
    assert client.get(f"{URL}?day={today}&zone={zones}", headers=bearer(partner)).status_code == 409
    # two units spent, MAX_ZONES left: a call of all its zones is still within the budget, and then none
    assert client.get(f"{URL}?day={DAY}&zone={zones}", headers=bearer(partner)).status_code == 200
    assert client.get(f"{URL}?day={DAY}", headers=bearer(partner)).status_code == 429


def settles_at(svc, day) -> float:
    """When the figures of the demo venue's period ending with `day` settle (report.shown_from)."""
    return report.shown_from(svc, report.day_bounds(day, "Asia/Shanghai")[1])


def refused_until(client, query: str, token: str, settles: float) -> dict:
    """A 409 for a period not settled yet: when it will be, with the venue's offset, and the seconds to wait."""
    before = time.time()
    refused = client.get(f"{URL}?{query}", headers=bearer(token))
    after = time.time()
    assert refused.status_code == 409, refused.get_json()
    body = refused.get_json()
    assert set(body) == {"error", "field", "available_at"} and body["field"] == "day"
    assert body["available_at"] == datetime.fromtimestamp(math.ceil(settles), TZ).isoformat(timespec="seconds")
    assert datetime.fromisoformat(body["available_at"]).utcoffset() == timedelta(hours=8)
    assert math.ceil(settles - after) <= int(refused.headers["Retry-After"]) <= math.ceil(settles - before)
    return body


def test_today_is_refused_at_every_scope_saying_when(client, svc, demo, partner):
    """Today's venue-wide figures, polled, told when one phone arrived and where it went (Mon 19 13 -> 14, kopi's
    funnel 7 -> 8): no scope gives a period before it has settled."""
    today = datetime.now(TZ).date()
    month_end = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    for query, last in ((f"day={today}", today), (f"day={today}&zone=kopi", today),
                        (f"day={today}&period=month", month_end)):
        body = refused_until(client, query, partner, settles_at(svc, last))
        assert "single out one shopper" in body["error"], body
    assert exports(svc.db) == [] and svc.privacy.exports("demo") == []


def test_a_period_over_but_not_settled_is_refused_too(client, svc, demo, partner, monkeypatch):
    """Just after midnight a day's last visits still land, dated back: told "partial": false then, a partner stored
    figures that changed later. (SETTLE_S long: yesterday is in that window now.)"""
    monkeypatch.setattr(report, "SETTLE_S", 3 * 86400)
    yesterday = datetime.now(TZ).date() - timedelta(days=1)
    body = refused_until(client, f"day={yesterday}", partner, settles_at(svc, yesterday))
    assert "These figures appear at" in body["error"]
    assert exports(svc.db) == []


def test_a_settled_period_is_never_partial(client, crowd, partner):  # noqa: F811
    answer = client.get(f"{URL}?day={DAY}", headers=bearer(partner)).get_json()
    assert answer["partial"] is False and answer["metadata"]["partial"] == "false"
    assert answer["metadata"]["until"] == "2026-11-03T00:00+08:00"


def test_calls_are_audited_as_one_entry_per_label_and_hour(client, crowd, partner):  # noqa: F811
    """A partner's calls pushed the operators' token, staff and retention entries out of the log (one entry a call,
    up to 4,800 a day) and filled the insights page's export list: now one entry an hour, kept apart."""
    logged = crowd.db.llen(AccountKeys("demo").audit())
    for query in (f"day={DAY}", f"day={DAY}", f"day={DAY}&period=week&zone=kopi"):
        assert client.get(f"{URL}?{query}", headers=bearer(partner)).status_code == 200
    [entry] = exports(crowd.db)
    assert entry["user"] == "research-firm" and entry["detail"] == {
        "format": "json", "via": "api", "count": 3, "period": [f"{DAY} venue", "week 2026-11-02..2026-11-08 kopi"]}
    assert crowd.db.llen(AccountKeys("demo").audit()) == logged  # the log itself: not one entry more
    assert crowd.privacy.exports("demo") == []  # the insights page's list: the consoles' and shoppers' own
    other = crowd.tokens.issue("demo", "brand-hq", scopes=["insights"])
    assert client.get(f"{URL}?day={DAY}", headers=bearer(other)).status_code == 200
    assert [(e["user"], e["detail"]["count"]) for e in exports(crowd.db)] == [("brand-hq", 1), ("research-firm", 3)]


def test_flask_audit_prints_the_roll_up(app, client, crowd, partner):  # noqa: F811
    for _ in range(2):
        assert client.get(f"{URL}?day={DAY}", headers=bearer(partner)).status_code == 200
    printed = app.test_cli_runner().invoke(args=["audit", "demo"])
    assert printed.exit_code == 0
    assert "research-firm  insights.export  format=json via=api count=2" in printed.output, printed.output


def test_a_roll_up_counts_a_call_once_however_often_its_write_is_sent(db):
    log = AuditLog(db)
    hour = 1_796_000_000 // 3600 * 3600
    assert log.record_call("demo", "bi", "insights.export", "call-1", "2026-11-02 venue", now=hour + 5)
    assert not log.record_call("demo", "bi", "insights.export", "call-1", "2026-11-02 venue", now=hour + 6)
    log.record_call("demo", "bi", "insights.export", "call-2", "2026-11-03 venue", now=hour + 3599)
    log.record_call("demo", "bi", "insights.export", "call-3", "2026-11-03 venue", now=hour + 3600)  # the next hour
    log.record_call("demo", "ads", "insights.export", "call-4", "2026-11-03 venue", now=hour + 3601)
    rollups = log.call_rollups("demo", 10)
    assert [(e["user"], e["ts"], e["detail"]["count"], e["detail"]["period"]) for e in rollups] == [
        ("ads", hour + 3601, 1, ["2026-11-03 venue"]), ("bi", hour + 3600, 1, ["2026-11-03 venue"]),
        ("bi", hour + 5, 2, ["2026-11-02 venue", "2026-11-03 venue"])]


def test_roll_ups_keep_their_own_bound_apart_from_the_log(db, monkeypatch):
    log = AuditLog(db)
    monkeypatch.setattr(AuditLog, "CALL_ROLLUPS_KEPT", 3)
    monkeypatch.setattr(AuditLog, "PERIODS_LISTED", 2)
    hour = 1_796_000_000 // 3600 * 3600
    for n in range(5):
        for day in (1, 2, 3):
            log.record_call("demo", "bi", "insights.export", f"c{n}-{day}", f"2026-11-0{day} venue",
                            now=hour + n * 3600)
    issued = {"ts": hour + 3 * 3600 + 10, "user": "ops", "action": "token.issue", "detail": {}}
    db.lpush(AccountKeys("demo").audit(), json.dumps(issued))
    assert [(e["action"], e["ts"]) for e in log.call_rollups("demo", 10)] == [
        ("insights.export", hour + 4 * 3600), ("insights.export", hour + 3 * 3600),
        ("insights.export", hour + 2 * 3600)]  # the newest 3 kept
    assert [e["action"] for e in log.recent("demo")] == ["token.issue"]  # the log alone: no roll-up takes its place
    newest = log.call_rollups("demo", 1)[0]["detail"]
    assert (newest["count"], newest["period"]) == (3, ["2026-11-01 venue", "2026-11-02 venue"])  # listed: the first 2
    assert db.hlen(AccountKeys("demo").call_rollups()) == 9  # 3 kept, each its entry, count and periods


def test_a_token_with_two_calls_in_flight_waits(client, svc, crowd, partner):  # noqa: F811
    """20 parallel uncached calls of one partner held every web worker the captive portal answers phones with: two
    calls of a token at once (its slots held here, as two calls running would hold them)."""
    slots = CallSlots(svc.db)
    held = [slots.take("demo", BUDGET, "research-firm", 2, CALL_SLOT_TTL_S) for _ in range(2)]
    over = client.get(f"{URL}?day={DAY}", headers=bearer(partner))
    assert over.status_code == 429 and over.headers["Retry-After"] == str(CALLS_RETRY_S)
    assert over.get_json() == {"error": f"2 calls with this token are still running: wait for one to end; retry in "
                                        f"{CALLS_RETRY_S} seconds", "field": None}
    assert exports(svc.db) == []
    other = svc.tokens.issue("demo", "brand-hq", scopes=["insights"])  # another partner's calls are its own
    assert client.get(f"{URL}?day={DAY}", headers=bearer(other)).status_code == 200
    slots.give_back("demo", BUDGET, "research-firm", held[0])
    assert client.get(f"{URL}?day={DAY}", headers=bearer(partner)).status_code == 200
    assert slots.in_flight("demo", BUDGET, "research-firm") == 1  # the call gave its slot back: the one held here


def test_a_slot_lapses_and_is_given_back_whatever_the_answer(client, svc, demo, partner):
    """A worker killed mid-call holds its slot only CALL_SLOT_TTL_S (these two were taken that long ago); a refused
    call (409) gives its slot back; the holder's set expires while a slot is held, and is gone once none is."""
    slots = CallSlots(svc.db)
    for _ in range(2):
        assert slots.take("demo", BUDGET, "research-firm", 2, CALL_SLOT_TTL_S, now=time.time() - CALL_SLOT_TTL_S - 1)
    today = datetime.now(TZ).date()
    for _ in range(3):
        assert client.get(f"{URL}?day={today}", headers=bearer(partner)).status_code == 409
    assert slots.in_flight("demo", BUDGET, "research-firm") == 0
    assert svc.db.keys("mp:{demo}:slots:*") == []  # the empty set went with its last slot
    with slots.held("demo", BUDGET, "research-firm", 2, CALL_SLOT_TTL_S):
        [key] = svc.db.keys("mp:{demo}:slots:*")
        assert 0 < svc.db.ttl(key) <= math.ceil(CALL_SLOT_TTL_S)  # held: its set lapses too, should no one give it back
    assert svc.db.keys("mp:{demo}:slots:*") == []


def test_each_token_has_a_budget_of_calls(app, client, svc, demo, partner):
    budget_store(app).set_limit("demo", "insights.api.token", (2, 3600))
    for _ in range(2):
        assert client.get(f"{URL}?day={DAY}", headers=bearer(partner)).status_code == 200
    over = client.get(f"{URL}?day={DAY}", headers=bearer(partner))
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
    assert over.get_json() == {"error": f"too many insights calls with this token; retry in "
                                        f"{over.headers['Retry-After']} seconds", "field": None}
    assert exports(svc.db)[0]["detail"]["count"] == 2  # the refused call handed nothing out
    other = svc.tokens.issue("demo", "brand-hq", scopes=["insights"])  # another partner's budget is its own
    assert client.get(f"{URL}?day={DAY}", headers=bearer(other)).status_code == 200


def test_issue_token_takes_the_insights_scope(app, svc, demo):
    result = app.test_cli_runner().invoke(args=["issue-token", "demo", "bi-group", "--scope", "insights"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1].split()[-1]
    assert svc.tokens.source_for("demo", token).scopes == frozenset({"insights"})


@pytest.mark.parametrize("first", ["bi:n", "bi"])
def test_labels_that_differ_by_a_suffix_keep_their_own_roll_ups(db, first):
    """A roll-up's counters were stored at "<field>:n" and "<field>:p", and a label may hold a colon: the label `bi:n`
    got exactly the field of `bi`'s count, so one label's calls went missing or the other's count met JSON (the
    script failed and every call of that label answered 503 for the rest of the hour)."""
    log, hour = AuditLog(db), 1_796_000_000 // 3600 * 3600
    labels = [first, *(label for label in ("bi", "bi:n", "bi:p", "bi|x", "bi|x:n") if label != first)]
    for n, label in enumerate(labels):
        for call in range(n + 1):
            assert log.record_call("demo", label, "insights.export", f"{label}-{call}", f"2026-11-0{n + 1} venue",
                                   now=hour + 10 + n)
    assert {e["user"]: (e["detail"]["count"], e["detail"]["period"]) for e in log.call_rollups("demo", 10)} == {
        label: (n + 1, [f"2026-11-0{n + 1} venue"]) for n, label in enumerate(labels)}


def rollups_after(db, n: int, label: str = "bi") -> None:
    """`n` hourly roll-ups of `label`, each newer than anything the test recorded before."""
    hour = int(time.time()) // 3600 * 3600 + 3600
    for h in range(n):
        AuditLog(db).record_call("demo", label, "insights.export", f"c{h}", f"{DAY} venue", now=hour + h * 3600,
                                 format="json", via="api")


def test_the_owners_zone_history_is_not_spent_on_roll_ups(client, console, db, monkeypatch):
    """The zone history scans the newest HISTORY_SCAN entries for its zone: roll-ups, which name none, took them."""
    monkeypatch.setattr("portal.owner.views.HISTORY_SCAN", 3)
    console.login("kopi")
    client.post("/console/owner/demo/zone/kopi", data={"csrf_token": console.csrf(), "app": "directory",
                                                       "welcome_en": "Hi", "welcome_zh": "你好"})
    rollups_after(db, 3)
    html = client.get("/console/owner/demo/zone/kopi?lang=en").get_data(as_text=True)
    assert "Landing app changed to Mall directory" in html.split('id="history"')[1].split("</ul>")[0]


def test_the_audit_page_lists_roll_ups_apart(client, console, db, svc, monkeypatch):
    """Merged, the newest SHOWN entries were an hourly partner's roll-ups within a day or two."""
    monkeypatch.setattr("portal.operator.audit.SHOWN", 2)
    monkeypatch.setattr("portal.operator.audit.CALLS_SHOWN", 2)
    svc.tokens.issue("demo", "pos-1")
    AuditLog(db).record("demo", "cli", "token.issue", label="pos-1", scopes="ingest")
    console.login("ops")
    rollups_after(db, 3)
    page = client.get("/console/ops/demo/audit?lang=en").get_data(as_text=True)
    log, calls = page.split('id="audit"')[1].split("</table>")[0], page.split('id="api-calls"')[1].split("</table>")[0]
    assert "API token issued" in log and "Signed in" in log and "insights.export" not in log
    assert calls.count("<td>bi</td>") == 2 and "Through: api" in calls and "How many: 1" in calls
    assert "途径：api" in client.get("/console/ops/demo/audit?lang=zh").get_data(as_text=True)


def test_flask_audit_prints_roll_ups_after_the_log(app, db, demo):
    AuditLog(db).record("demo", "cli", "token.issue", label="pos-1", scopes="ingest")
    rollups_after(db, 3)
    lines = app.test_cli_runner().invoke(args=["audit", "demo", "--limit", "1", "--calls", "2"]).output.splitlines()
    assert "  cli  token.issue  label=pos-1" in lines[0]
    assert lines[1:3] == ["", "machine API calls, one entry per token label and hour (the newest 2 at most):"]
    assert len(lines) == 5 and all("  bi  insights.export  format=json via=api count=1" in line for line in lines[3:])
    only_log = app.test_cli_runner().invoke(args=["audit", "demo", "--limit", "1", "--calls", "0"]).output
    assert only_log.splitlines() == lines[:1]
