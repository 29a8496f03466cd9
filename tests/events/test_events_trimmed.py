"""The event stream is trimmed at EVENTS_MAXLEN entries (XADD MAXLEN ~): a period whose events it no longer
wholly holds shows no figures and says why (not a false 0), its exports are refused; a period whose 30-day
new-vs-repeat look-back is cut shows the rest without new and repeat shoppers. A stream that lost entries
only to an erasure or a retention run is not "trimmed". (EVENTS_MAXLEN=1000 here, the lowest the settings
allow; at the default 1,000,000 a mall of ~20k visits a day reaches it after ~5 days.)"""

from __future__ import annotations

import dataclasses
import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from portal.events.log import Event, EventKeys, EventLog
from tests.events.export_lines import export_lines

TZ = ZoneInfo("Asia/Shanghai")  # the demo mall's zone
OPS = "/console/ops/demo/insights"


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ).timestamp()


@pytest.fixture
def small(settings, db, demo):
    """The app with EVENTS_MAXLEN=1000, its services and a test client logged in as the operator."""
    from portal import create_app

    app = create_app(dataclasses.replace(settings, events_maxlen=1000))
    client = app.test_client()
    page = client.get("/console/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/console/login", data={"username": "ops", "password": "mallportal-demo",
                                               "csrf_token": csrf}).status_code == 303
    return app.extensions["mallportal"], client


def figures(client, url: str) -> tuple[dict[str, str], str]:
    page = client.get(url).get_data(as_text=True)
    return dict(re.findall(r'<strong id="([a-z-]+)">([^<]*)</strong>', page)), page


def week_of_visits() -> list[tuple[float, Event]]:
    """Mon 2 .. Fri 6 Nov, 60 phones a day through kopi (10 min) and books (5 min): 360 events a day."""
    out = []
    for day in range(2, 7):
        for i in range(60):
            dev, t = f"d{day}-{i}", at(day, 10) + i
            out += [(t, Event("arrive", t, "demo", dev)), (t, Event("zone_enter", t, "demo", dev, zone="kopi")),
                    (t + 600, Event("zone_leave", t + 600, "demo", dev, zone="kopi", data={"dwell_s": 600.0})),
                    (t + 600, Event("zone_enter", t + 600, "demo", dev, zone="books")),
                    (t + 900, Event("zone_leave", t + 900, "demo", dev, zone="books", data={"dwell_s": 300.0})),
                    (t + 900, Event("leave", t + 900, "demo", dev, data={"dwell_s": 900.0}))]
    return sorted(out, key=lambda pair: pair[0])


def test_trimmed_days_say_so_instead_of_zero(small):
    """The reviewer's scenario: a week written through the presence script, trimmed to ~1000 entries."""
    svc, client = small
    for d in range(5):
        t = at(2, 10) + d * 86400
        for i in range(60):
            svc.presence.record("demo", f"d{d}-{i}", "kopi", t + i)
            svc.presence.record("demo", f"d{d}-{i}", "books", t + i + 600)
            svc.presence.record("demo", f"d{d}-{i}", "books", t + i + 900)
        svc.presence.sweep("demo", t + 3 * 3600)
    assert svc.events.length("demo") < 5 * 360  # trimmed
    for url in (f"{OPS}?day=2026-11-02", f"{OPS}?day=2026-11-03", f"{OPS}?day=2026-11-02&period=week"):
        shown, page = figures(client, url)
        assert "visitors" not in shown and "passers-by" not in shown, url  # no false 0
        assert "would be incomplete" in page, url
    resp = client.get(f"{OPS}/export.csv?day=2026-11-03")
    assert resp.status_code == 409 and "would be incomplete" in resp.get_data(as_text=True)


def test_only_the_days_before_the_oldest_kept_event_are_incomplete(small):
    """Written as it happens (stream ids = the events' times): Monday, Tuesday and the start of Wednesday are
    trimmed away; Thursday and Friday are whole, but their 30-day look-back is not."""
    svc, client = small
    key = EventKeys("demo").stream()
    for when, event in week_of_visits():
        svc.db.xadd(key, event.fields(), id=f"{int(when * 1000)}-*", maxlen=1000, approximate=True)
    kept = svc.events.kept_since("demo")
    assert at(3, 11) < kept < at(4, 11)  # in Wednesday's visits
    for day in ("2026-11-02", "2026-11-03", "2026-11-04"):
        shown, page = figures(client, f"{OPS}?day={day}")
        assert "visitors" not in shown and "would be incomplete" in page, day
    for url in (f"{OPS}?day=2026-11-06&period=week", f"{OPS}?day=2026-11-06&period=month"):
        assert "visitors" not in figures(client, url)[0], url
    for day in ("2026-11-05", "2026-11-06"):
        shown, page = figures(client, f"{OPS}?day={day}")
        assert (shown["visitors"], shown["mean-dwell"], shown["new"], shown["repeat"]) == ("60", "15.0", "—", "—")
        assert 'id="lookback-notice"' in page and "would be incomplete" not in page
        lines = export_lines(client.get(f"{OPS}/export.csv?day={day}").get_data(as_text=True))
        assert "visitors,*,,60,shown" in lines and "incomplete,*,new_vs_repeat,,incomplete" in lines
        assert not [line for line in lines if line.startswith(("new_shoppers", "repeat_shoppers"))]


def test_the_mark_survives_a_larger_bound_and_an_erasure(db):
    log = EventLog(db, maxlen=1000)
    for i in range(1300):
        log.emit("v1", "zone_enter", at=1_800_000_000.0 + i, device=f"d{i}", zone="kopi")
    head = int(db.xrange(EventKeys("v1").stream(), count=1)[0][0].decode().split("-")[0]) / 1000
    assert log.kept_since("v1") == head
    log.delete_where("v1", lambda e: e.device in ("d1299", "d1298"))  # below the bound now
    assert EventLog(db, maxlen=5000).kept_since("v1") == head  # EVENTS_MAXLEN raised later


def test_an_erasure_or_a_retention_run_is_no_trimming(svc, demo):
    now = time.time()
    for i in range(20):
        svc.events.emit("demo", "landing", at=now - 100 * 86400 + i, device=f"d{i}", shopper=f"s{i}", zone="kopi")
    svc.events.delete_where("demo", lambda e: e.device == "d0")
    assert svc.privacy.apply_retention("demo", now)["events_anonymised"] == 19  # rewritten at the stream's end
    assert svc.events.kept_since("demo") is None
    assert svc.events.kept_since("nowhere") is None  # no stream at all


def test_the_cli_says_a_day_is_incomplete_rather_than_printing_zeros(small):
    """`flask insights show` prints raw counts for the operator's terminal: an incomplete day is an error naming
    from when the log holds events, and a cut look-back prints new and repeat as '-'."""
    svc, _client = small
    key = EventKeys("demo").stream()
    for when, event in week_of_visits():
        svc.db.xadd(key, event.fields(), id=f"{int(when * 1000)}-*", maxlen=1000, approximate=True)
    from portal import create_app

    runner = create_app(svc.settings).test_cli_runner()
    gone = runner.invoke(args=["insights", "show", "--day", "2026-11-02"])
    assert gone.exit_code == 1 and "incomplete" in gone.output and "visitors" not in gone.output
    whole = runner.invoke(args=["insights", "show", "--day", "2026-11-06"])
    assert whole.exit_code == 0 and "visitors 60" in whole.output and "new -, repeat -" in whole.output
