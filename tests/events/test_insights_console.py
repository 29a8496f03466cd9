"""The insights pages and exports in the operator and zone-owner consoles (Flask test client): figures
and SVG charts, k-anonymity (<5), CSV and Parquet, who may see what, bad input, occupancy alerts,
staff phones. The events are written by hand here (cheap); the simulated day is tested elsewhere."""

from __future__ import annotations

import io
import json
import re
import time
from datetime import UTC, datetime

import pytest

from portal.events.log import EventKeys
from portal.operator.insights import COLUMNS
from tests.events.export_lines import export_lines, five

DAY = "2026-11-02"  # a Monday
T = datetime(2026, 11, 2, 12, tzinfo=UTC).timestamp()


@pytest.fixture
def crowd(svc, demo):
    """12 phones in Kopi for 10 min (all landed, 6 bought), 3 in Books for 2 min; one staff phone."""
    for i in range(12):
        svc.presence.record("demo", f"d{i}", "kopi", T + i)
        svc.presence.record("demo", f"d{i}", "kopi", T + i + 600)
        svc.consent.record("demo", f"s-{i}", location=True, marketing=False)  # identified events need it
        svc.events.emit("demo", "landing", at=T + i + 30, device=f"d{i}", shopper=f"s-{i}", zone="kopi")
        if i < 6:
            svc.events.emit("demo", "txn", at=T + i + 60, device=f"d{i}", shopper=f"s-{i}", zone="kopi",
                            app="coupons", action="coupon_claim")
    for i in range(3):
        svc.presence.record("demo", f"b{i}", "books", T + i)
        svc.presence.record("demo", f"b{i}", "books", T + i + 120)
    svc.presence.sweep("demo", T + 4 * 3600)
    return svc


def test_operator_sees_the_venue_with_charts_and_k_anonymity(client, console, crowd):
    console.login("ops")
    page = client.get(f"/console/ops/demo/insights?day={DAY}").get_data(as_text=True)
    assert 'id="chart-dwell"' in page and 'id="chart-heatmap"' in page and 'id="chart-funnel"' in page
    assert '<strong id="visitors">12</strong>' in page
    assert '<strong id="passers-by">&lt;5</strong>' in page  # 3 passers-by: fewer than k
    assert '<tr data-zone="kopi"><td>Kopi Coffee</td><td>12</td><td>12' in page
    assert '<strong id="new">6</strong>' in page


def test_exports_hold_the_same_k_safe_figures_and_are_audited(client, console, crowd):
    import pyarrow.parquet as pq

    console.login("ops")
    text = client.get(f"/console/ops/demo/insights/export.csv?day={DAY}").get_data(as_text=True)
    lines = text.splitlines()
    assert lines[0].startswith("\ufeff# ") and ",".join(COLUMNS) in lines  # metadata, then the header
    lines = export_lines(text)
    assert "visitors,*,,12,shown" in lines and "passers_by,*,,,suppressed" in lines  # suppressed: marked, no value
    resp = client.get(f"/console/ops/demo/insights/export.parquet?day={DAY}")
    table = five(pq.read_table(io.BytesIO(resp.data)).to_pylist())
    assert {"metric": "funnel_transacted", "zone": "kopi", "key": "", "value": 6, "status": "shown"} in table
    assert [e["what"] for e in crowd.privacy.exports("demo")] == ["insights.parquet", "insights.csv"]
    assert client.get(f"/console/ops/demo/insights/export.xlsx?day={DAY}").status_code == 404


def test_owner_sees_only_its_zones(client, console, crowd):
    console.login("kopi")
    page = client.get(f"/console/owner/demo/insights?day={DAY}").get_data(as_text=True)
    assert 'data-zone="kopi"' in page and 'data-zone="books"' not in page
    assert client.get(f"/console/owner/demo/insights?day={DAY}&zone=books").status_code == 403
    assert client.get(f"/console/owner/demo/insights/export.csv?day={DAY}&zone=books").status_code == 403
    text = client.get(f"/console/owner/demo/insights/export.csv?day={DAY}").get_data(as_text=True)
    assert "funnel_in_zone,kopi,,12,shown" in export_lines(text) and "books" not in text
    assert client.get("/console/ops/demo/insights").status_code == 403  # an owner is no operator
    for path in ("/console/owner/demo/insights?day=0001-01-01&days=3", "/console/owner/demo/insights/export.parquet"
                 "?day=9999-12-31", "/console/owner/demo/ledger?day=9999-12-31"):
        assert client.get(path).status_code == 400, path  # beyond the date types: a clear 400, not a 500


def test_bad_input_and_logged_out(client, console, crowd):
    assert client.get("/console/ops/demo/insights").status_code == 302
    assert client.get("/console/owner/demo/insights").status_code == 302
    console.login("ops")
    assert client.get("/console/ops/demo/insights?day=yesterday").status_code == 400
    for far in ("9999-12-31", "0001-01-01&days=2", "1999-12-31"):  # a period beyond the date types: no 500
        for path in ("/console/ops/demo/insights", "/console/ops/demo/insights/export.csv"):
            resp = client.get(f"{path}?day={far}")
            assert resp.status_code == 400 and "between 2000-01-01 and 2099-12-31" in resp.get_data(as_text=True)
    assert client.get("/console/ops/nowhere/insights").status_code == 403
    csrf = console.csrf()
    assert client.post("/console/ops/demo/insights/limit", data={"zone": "kopi", "limit": "-3",
                                                                 "csrf_token": csrf}).status_code == 400
    assert client.post("/console/ops/demo/insights/limit", data={"zone": "mars", "limit": "3",
                                                                 "csrf_token": csrf}).status_code == 400
    assert client.post("/console/ops/demo/insights/limit", data={"zone": "kopi", "limit": "3"}).status_code == 400
    assert crowd.presence.limits("demo") == {}
    for url in ("ftp://crm.example/x", "not a url"):
        assert client.post("/console/ops/demo/insights/alerts", data={"alert_url": url,
                                                                      "csrf_token": csrf}).status_code == 400
    assert client.post("/console/ops/demo/insights/alerts", data={"alert_url": "https://x.example/"}).status_code == 400
    assert crowd.moments.alert_url("demo") == ""
    assert client.post("/console/ops/demo/insights/staff", data={"mac": "nope", "csrf_token": csrf}).status_code == 400
    assert crowd.privacy.staff("demo") == set()


def test_occupancy_alert_and_staff_list(client, console, svc, demo):
    now = time.time()
    for i in range(6):
        svc.presence.record("demo", f"o{i}", "jade", now)
    console.login("ops")
    csrf = console.csrf()
    assert client.post("/console/ops/demo/insights/limit", data={"zone": "jade", "limit": "5",
                                                                 "csrf_token": csrf}).status_code == 303
    page = client.get("/console/ops/demo/insights").get_data(as_text=True)
    assert '<tr data-zone="jade" class="alert"' in page
    hook = "http://127.0.0.1:9/alerts"  # nothing listens: the alert is tried and retried later
    assert client.post("/console/ops/demo/insights/alerts", data={"alert_url": hook,
                                                                  "csrf_token": csrf}).status_code == 303
    assert svc.moments.alert_url("demo") == hook
    svc.moments.tick("demo")
    assert svc.moments.sender.wait_idle(60)  # the webhook is tried on the engine's sender thread
    [alert] = svc.moments.deliveries("demo", rule="occupancy")
    assert (alert.url, alert.status, json.loads(alert.body)["zone"]) == (hook, "retrying", "jade")
    assert client.post("/console/ops/demo/insights/staff", data={"mac": "AA:BB:CC:DD:EE:01",
                                                                 "csrf_token": csrf}).status_code == 303
    staff = svc.privacy.staff("demo")
    assert staff == {svc.hasher.client_id("aa:bb:cc:dd:ee:01")}
    console.logout()
    console.login("jade")
    page = client.get("/console/owner/demo/insights").get_data(as_text=True)
    assert '<li data-zone="jade" class="alert">' in page


def test_cli_simulates_and_shows(app, demo):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["insights", "simulate", "--days", "1", "--shoppers", "12", "--staff", "0"])
    assert result.exit_code == 0, result.output
    day = result.output.split(":")[0]
    shown = runner.invoke(args=["insights", "show", "--day", day])
    assert shown.exit_code == 0 and "visitors" in shown.output
    assert runner.invoke(args=["insights", "show", "--day", "nope"]).exit_code == 2
    assert runner.invoke(args=["insights", "simulate", "--venue", "nowhere"]).exit_code == 2


def test_cli_show_reads_the_day_and_venue_as_export_does(app, demo):
    """`insights show` reads --day by the consoles' and `export`'s rule (read_day) and the venue by known_venue: a day
    outside 2000-2099 is a usage error naming --day (9999-12-31 was a traceback: its day's end overflows)."""
    runner = app.test_cli_runner()
    for day, said in (("9999-12-31", "between 2000-01-01 and 2099-12-31"), ("2026-02-30", "2026-02-30 is not a date"),
                      ("26-1-2", "YYYY-MM-DD")):
        shown = runner.invoke(args=["insights", "show", "--day", day])
        assert shown.exit_code == 2 and "--day" in shown.output and said in shown.output, shown.output
    shown = runner.invoke(args=["insights", "show", "--venue", "nowhere", "--day", "2026-11-02"])
    assert shown.exit_code == 2 and "unknown venue 'nowhere'" in shown.output


def test_cli_simulates_no_shoppers_into_a_real_mall(app, svc, demo):
    """A venue that is no demo venue: simulated shoppers would be its real traffic in every figure, for good."""
    from portal.demo import DemoKeys

    svc.db.delete(DemoKeys("demo").marker())
    before = svc.db.xlen(EventKeys("demo").stream()) if svc.db.exists(EventKeys("demo").stream()) else 0
    result = app.test_cli_runner().invoke(args=["insights", "simulate", "--days", "1", "--shoppers", "5"])
    assert result.exit_code == 2 and "no demo venue" in result.output
    assert (svc.db.xlen(EventKeys("demo").stream()) if svc.db.exists(EventKeys("demo").stream()) else 0) == before


def test_cli_show_gives_the_simulated_days_truth(app, demo):
    """README "A simulated day": `insights show --day D` of a day `insights simulate` printed gives its ground
    truth. The venue's days are in its time zone (Asia/Shanghai here, the default), so the simulation's are too."""
    runner = app.test_cli_runner()
    result = runner.invoke(args=["insights", "simulate", "--days", "1", "--shoppers", "30", "--staff", "0"])
    assert result.exit_code == 0, result.output
    day, truth = re.search(r"^(\d{4}-\d\d-\d\d): \d+ visits, (\d+ visitors, \d+ passers-by)", result.output,
                           flags=re.M).groups()
    shown = runner.invoke(args=["insights", "show", "--day", day])
    assert shown.exit_code == 0, shown.output
    visitors, passers_by = re.search(r"visitors (\d+), passers-by (\d+)", shown.output).groups()
    assert f"{visitors} visitors, {passers_by} passers-by" == truth


def test_consent_filters_identified_events_and_moments(svc):
    from portal.events.insights import compute

    t = 1_800_000_000.0
    for i in range(6):
        svc.events.emit("v1", "zone_enter", at=t, device=f"d{i}", zone="kopi")
        svc.events.emit("v1", "landing", at=t + 1, device=f"d{i}", shopper=f"s-{i}", zone="kopi")
    granted = {"s-0", "s-1"}
    svc.privacy.consents = lambda venue, shopper, *purposes, at=None: shopper in granted
    got = compute(svc.events.read("v1"), "v1", t - 1, t + 10, allowed=svc.privacy.allowed("v1"))
    assert (got.funnels[0].in_zone, got.funnels[0].landed) == (6, 2)  # presence counts; landings need consent
    assert svc.privacy.may_contact("v1", "d0", "s-0") and not svc.privacy.may_contact("v1", "d5", "s-5")
    assert not svc.privacy.may_contact("v1", "d9", None)
    svc.privacy.consents = None
    assert svc.privacy.allowed("v1") is None and svc.privacy.may_contact("v1", "d9", None)



def test_a_withdrawn_location_consent_leaves_cached_figures_at_once(client, console, svc):
    """Past days' figures are cached for minutes; a changed location answer starts a new generation of them."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Shanghai")  # the demo venue's
    yesterday = datetime.now(tz).date() - timedelta(days=1)
    noon = datetime.combine(yesterday, datetime.min.time(), tz).timestamp() + 12 * 3600
    for i in range(5):
        svc.consent.record("demo", f"s{i}", location=True, marketing=False)
        svc.events.emit("demo", "txn", at=noon + i, shopper=f"s{i}", zone="kopi", app="coupons",
                        action="coupon_claim")
    console.login("ops")

    def new_shoppers() -> list[str]:
        text = client.get(f"/console/ops/demo/insights/export.csv?day={yesterday}").get_data(as_text=True)
        return [line for line in export_lines(text) if line.startswith("new_shoppers,*")]

    assert new_shoppers() == ["new_shoppers,*,,5,shown"]
    svc.consent.record("demo", "s1", location=True, marketing=True)  # location unchanged: the cache stands
    assert new_shoppers() == ["new_shoppers,*,,5,shown"]
    svc.consent.record("demo", "s0", location=False, marketing=False)  # withdrawn
    assert new_shoppers() == ["new_shoppers,*,,,suppressed"]  # 4 now: under k, held back

def test_a_week_fills_the_hour_of_week_map(client, console, crowd):
    console.login("ops")
    assert client.get(f"/console/ops/demo/insights?day={DAY}&days=40").status_code == 400
    week = client.get("/console/ops/demo/insights?day=2026-11-08&days=7").get_data(as_text=True)
    assert '<strong id="visitors">12</strong>' in week  # Monday the 2nd lies in the week ending Sunday the 8th
    day_after = client.get("/console/ops/demo/insights?day=2026-11-08").get_data(as_text=True)
    assert '<strong id="visitors">0</strong>' in day_after


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data/", "http://[fe80::1]:8080/a",
                                 "https://192.168.0.10/alerts"])
def test_an_alert_address_inside_the_network_is_refused(settings, demo, svc, url):
    """An internal alert address is refused when saved (400, the address named, nothing stored) unless
    WEBHOOK_ALLOW_PRIVATE; a public one is saved."""
    from tests.events.test_moments_console import as_deployed_ops

    client, csrf = as_deployed_ops(settings)
    resp = client.post("/console/ops/demo/insights/alerts", data={"alert_url": url, "csrf_token": csrf})
    assert resp.status_code == 400 and "internal address" in resp.get_data(as_text=True)
    assert svc.moments.alert_url("demo") == ""
    assert client.post("/console/ops/demo/insights/alerts", data={"alert_url": "https://crm.example/alerts",
                                                                  "csrf_token": csrf}).status_code == 303
    assert svc.moments.alert_url("demo") == "https://crm.example/alerts"
