"""The insights as a machine API (portal/insights_api.py): GET /api/v1/venues/<venue>/insights with a venue token of
the `insights` scope answers the console export's rows and metadata for the same period (one function makes both),
a period still under way as partial; 401 without a valid token of that venue (before the venue is looked at), 403
for a token without the scope, 422 naming the parameter, 409 for a period without figures, 429 past the token's
budget; every answered call is in the venue's audit log under the token's label, naming no shopper."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from fingerprints.model import Floor, VenueMap
from portal.apps.budgets import budget_store
from portal.auth import AuditLog
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
    return [e for e in AuditLog(db).recent("demo", 50) if e["action"] == "insights.export"]


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


def test_a_period_under_way_is_partial_and_a_zones_waits_for_its_end(client, svc, demo, partner):
    today = datetime.now(TZ).date()
    before = datetime.now(TZ).replace(microsecond=0)
    answer = client.get(f"{URL}?day={today}&period=month", headers=bearer(partner)).get_json()
    assert answer["partial"] is True and answer["metadata"]["partial"] == "true"
    until = datetime.fromisoformat(answer["metadata"]["until"])
    assert before <= until <= datetime.now(TZ)  # when the figures were made, not the month's end
    assert {r["period_until"] for r in answer["rows"]} == {answer["metadata"]["until"]}
    refused = client.get(f"{URL}?day={today}&zone=kopi", headers=bearer(partner))
    assert refused.status_code == 409 and refused.get_json()["field"] == "day"
    assert "once the day is over" in refused.get_json()["error"]
    [entry] = exports(svc.db)  # the refused one handed nothing out
    assert entry["detail"]["until"] == answer["metadata"]["until"]


def test_each_call_is_audited_under_the_tokens_label(client, crowd, partner):  # noqa: F811
    assert client.get(f"{URL}?day={DAY}", headers=bearer(partner)).status_code == 200
    assert client.get(f"{URL}?day={DAY}&period=week&zone=kopi", headers=bearer(partner)).status_code == 200
    assert [(e["user"], e["detail"]) for e in exports(crowd.db)] == [
        ("research-firm", {"format": "json", "scope": "kopi", "period": "week 2026-11-02..2026-11-08", "via": "api"}),
        ("research-firm", {"format": "json", "scope": "venue", "period": DAY, "via": "api"})]
    assert [(e["who"], e["what"], e["scope"]) for e in crowd.privacy.exports("demo")] == [
        ("research-firm", "insights.json", "week 2026-11-02..2026-11-08 kopi"),
        ("research-firm", "insights.json", f"{DAY} venue")]


def test_each_token_has_a_budget_of_calls(app, client, svc, demo, partner):
    budget_store(app).set_limit("demo", "insights.api.token", (2, 3600))
    for _ in range(2):
        assert client.get(f"{URL}?day={DAY}", headers=bearer(partner)).status_code == 200
    over = client.get(f"{URL}?day={DAY}", headers=bearer(partner))
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
    assert over.get_json() == {"error": f"too many insights calls with this token; retry in "
                                        f"{over.headers['Retry-After']} seconds", "field": None}
    assert len(exports(svc.db)) == 2  # the refused call handed nothing out
    other = svc.tokens.issue("demo", "brand-hq", scopes=["insights"])  # another partner's budget is its own
    assert client.get(f"{URL}?day={DAY}", headers=bearer(other)).status_code == 200


def test_issue_token_takes_the_insights_scope(app, svc, demo):
    result = app.test_cli_runner().invoke(args=["issue-token", "demo", "bi-group", "--scope", "insights"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1].split()[-1]
    assert svc.tokens.source_for("demo", token).scopes == frozenset({"insights"})
