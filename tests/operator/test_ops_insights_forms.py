"""The operator's insights and footfall pages, as an operator-console review found them: the retention form
saves all its days or none (audited, a refused form shown again in the page's language with what was typed),
the occupancy limit likewise; digits other than ASCII ("²", "①": str.isdigit() passes them, int() refuses
them) a clear 400 on every ops page that reads a number, never a 500; the footfall page names the zone its
hours are counted in, and its zone names follow the page's language however it was chosen; a month's export
audited and named as the month."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask_babel import gettext

from portal.auth import AuditLog
from portal.events.privacy import RetentionError

RETENTION_URL = "/console/ops/demo/insights/retention"
DEFAULTS = {"events_anonymise": 90, "events_delete": 395, "deliveries_delete": 30}


def in_zh(app, message: str, **params) -> str:
    """A catalog message as the zh page shows it (whatever the catalog holds now)."""
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        return gettext(message, **params)


def errors_of(page: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="error" id="([^"]+)-error" role="alert">([^<]*)</p>', page))


def typed_of(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input id="ret-([a-z_]+)" name="[a-z_]+" inputmode="numeric" value="([^"]*)"', page))


def test_a_refused_retention_form_saves_nothing_and_shows_again_in_the_pages_language(app, client, console, svc):
    console.login("ops")
    client.set_cookie("lang", "zh")  # the language from the cookie, not ?lang=
    form = {"csrf_token": console.csrf(), "events_anonymise": "5", "events_delete": "9000", "deliveries_delete": "5"}
    resp = client.post(RETENTION_URL, data=form)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert svc.privacy.retention("demo") == DEFAULTS  # events_anonymise=5 was once saved before the refusal
    assert errors_of(page) == {"ret-events_delete": in_zh(app, "Keep it from %(low)d to %(high)d days.", low=7,
                                                          high=3650)}
    assert typed_of(page) == {"events_anonymise": "5", "events_delete": "9000", "deliveries_delete": "5"}
    assert "must be kept" not in page  # the store's English message no more
    assert [e["action"] for e in AuditLog(svc.db).recent("demo", 1)] == ["login"]

    form.update(events_anonymise="50", events_delete="40", deliveries_delete="①")  # two problems at once
    page = client.post(RETENTION_URL, data=form).get_data(as_text=True)
    assert errors_of(page) == {"ret-events_anonymise": "事件必须先匿名化再删除。",
                               "ret-deliveries_delete": "天数必须是整数。"}
    assert typed_of(page)["deliveries_delete"] == "①"
    assert svc.privacy.retention("demo") == DEFAULTS


def test_a_saved_retention_is_written_whole_and_audited_with_what_it_was(client, console, svc):
    console.login("ops")
    form = {"csrf_token": console.csrf(), "events_anonymise": "30", "events_delete": "365", "deliveries_delete": "30"}
    assert client.post(RETENTION_URL, data=form).status_code == 303
    assert svc.privacy.retention("demo") == {"events_anonymise": 30, "events_delete": 365, "deliveries_delete": 30}
    [entry] = AuditLog(svc.db).recent("demo", 1)
    assert (entry["user"], entry["action"]) == ("ops", "insights.retention")
    assert entry["detail"] == {"events_anonymise": "90 -> 30", "events_delete": "395 -> 365",
                               "deliveries_delete": "30 -> 30"}


def test_the_store_writes_every_kind_or_none(svc):
    with pytest.raises(RetentionError) as refused:
        svc.privacy.set_retention("demo", {"events_anonymise": 5, "events_delete": 9000, "deliveries_delete": 5})
    assert refused.value.field == "events_delete"
    with pytest.raises(RetentionError):
        svc.privacy.set_retention("demo", {"events_anonymise": 5})  # half a setting: refused, not half saved
    with pytest.raises(ValueError, match="unknown data kind"):
        svc.privacy.set_retention("demo", {**DEFAULTS, "cookies": 1})
    assert svc.privacy.retention("demo") == DEFAULTS
    assert svc.privacy.set_retention("demo", {**DEFAULTS, "deliveries_delete": 7}) == DEFAULTS  # what it was
    assert svc.privacy.retention("demo")["deliveries_delete"] == 7


def test_a_refused_limit_shows_again_by_its_zone(app, client, console, svc):
    console.login("ops")
    csrf = console.csrf()
    for typed in ("²", "①", "100001", "-3", "12345678901234567890"):
        resp = client.post("/console/ops/demo/insights/limit", data={"zone": "jade", "limit": typed,
                                                                     "csrf_token": csrf},
                           headers={"Accept-Language": "zh"})
        page = resp.get_data(as_text=True)
        assert resp.status_code == 400, typed
        row = re.search(r'<tr data-zone="jade".*?</tr>', page, re.S).group(0)
        assert f'value="{typed}"' in row and 'aria-invalid="true"' in row
        assert errors_of(row) == {"limit": in_zh(app, "The limit must be a whole number from 0 to %(n)d.", n=100000)}
    assert svc.presence.limits("demo") == {}
    assert [e["action"] for e in AuditLog(svc.db).recent("demo", 1)] == ["login"]


def test_unicode_digits_are_a_clear_400_on_every_ops_page(client, console, svc):
    console.login("ops")
    csrf = console.csrf()
    bssid = svc.venues.get_map("demo").aps[0].bssid
    for digits in ("²", "①"):
        for path in (f"quality?v={digits}", f"quality/0/confusion.png?v={digits}", f"quality/0/heatmap.png?v={digits}",
                     f"aps/{bssid}/heatmap.png?v={digits}", f"outbox?page={digits}",
                     f"setup/floor/0/overlay.svg?v={digits}"):
            assert client.get(f"/console/ops/demo/{path}").status_code == 400, path
        for form in ({"events_anonymise": "90", "events_delete": digits, "deliveries_delete": "30"},):
            assert client.post(RETENTION_URL, data={**form, "csrf_token": csrf}).status_code == 400
    assert client.get(f"/console/ops/demo/outbox?page={'9' * 5000}").status_code == 400  # beyond int()'s limit
    assert client.get("/console/ops/demo/quality?v=" + "9" * 5000).status_code == 400
    assert client.get("/console/ops/demo/outbox?page=2").status_code == 200
    assert svc.privacy.retention("demo") == DEFAULTS


def test_the_footfall_page_names_its_time_zone_and_the_zones_in_the_pages_language(app, client, console, svc):
    at = datetime(2026, 3, 10, 2, 30, tzinfo=UTC).timestamp()
    svc.footfall.record("demo", "c" * 16, "jade", 1, 10.0, 10.0, at)
    zone = str(svc.footfall.tz_of("demo"))
    console.login("ops")
    page = client.get("/console/ops/demo/footfall?day=2026-03-10").get_data(as_text=True)
    note = re.search(r'<p class="small" id="footfall-note">([^<]*)</p>', page).group(1)
    assert zone in note and "UTC" not in note.replace(zone, "")
    names = svc.venues.get_map("demo").zone("jade")
    for how in ({"headers": {"Accept-Language": "zh"}}, {"query_string": {"day": "2026-03-10", "lang": "zh"}}, {}):
        # the browser's language; ?lang=zh; then the cookie that ?lang=zh left (no ?lang= on this request)
        query = how.pop("query_string", {"day": "2026-03-10"})
        page = client.get("/console/ops/demo/footfall", query_string=query, **how).get_data(as_text=True)
        assert f"<tr><td>{names.name_zh}</td>" in page and f"<tr><td>{names.name}</td>" not in page, how


def test_a_months_export_is_audited_and_named_as_the_month(client, console, svc):
    console.login("ops")
    resp = client.get("/console/ops/demo/insights/export.csv?day=2026-03-10&period=month")
    assert resp.headers["Content-Disposition"] == 'attachment; filename="insights-demo-month-2026-03-01_2026-03-31.csv"'
    assert svc.privacy.exports("demo", 1)[0]["scope"] == "month 2026-03-01..2026-03-31 venue"
    resp = client.get("/console/ops/demo/insights/export.csv?day=2026-03-11&period=week")  # Wednesday
    assert resp.headers["Content-Disposition"].endswith('filename="insights-demo-week-2026-03-09_2026-03-15.csv"')
    resp = client.get("/console/ops/demo/insights/export.csv?day=2026-03-10")
    assert resp.headers["Content-Disposition"].endswith('filename="insights-demo-2026-03-10.csv"')  # a day: as before
    assert [e["scope"] for e in svc.privacy.exports("demo", 3)] == [
        "2026-03-10 venue", "week 2026-03-09..2026-03-15 venue", "month 2026-03-01..2026-03-31 venue"]
    page = client.get("/console/ops/demo/insights").get_data(as_text=True)
    assert "<td>month 2026-03-01 – 2026-03-31 whole venue</td>" in page
