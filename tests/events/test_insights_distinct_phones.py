"""k-anonymity counts phones, not events: a figure (a flow, a heatmap cell, a dwell bar, a top path, the mean
dwell) is shown only when at least k distinct phones stand behind it, however many moves, entries or stays
it counts; page, CSV and Parquet alike, and a week by the same test for each of its days. The hour-of-week
heatmap is named for what it counts: the venue's arrivals, a zone owner's zone entries."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from zoneinfo import ZoneInfo

from portal.events import report
from portal.events.insights import K_MIN, Insights, compute, figure, figures, k_safe, prepare, withhold
from portal.events.log import Event, EventKeys
from tests.events.export_lines import export_lines, five

TZ = ZoneInfo("Asia/Shanghai")  # the demo mall's zone
DAY = "2026-11-02"  # a Monday


def at(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 11, day, hour, minute, tzinfo=TZ).timestamp()


def bounce(phone: str, start: float, times: int = 6) -> list[Event]:
    """One visit of `phone`: kopi and books in turn, a minute each, `times` times each."""
    out = [Event("arrive", start, "v", phone)]
    for i in range(2 * times):
        t, zone = start + 60 * i, ("kopi", "books")[i % 2]
        out += [Event("zone_enter", t, "v", phone, zone=zone),
                Event("zone_leave", t + 60, "v", phone, zone=zone, data={"dwell_s": 60.0})]
    return [*out, Event("leave", start + 120 * times, "v", phone, data={"dwell_s": 120.0 * times})]


def test_k_safe_needs_k_phones_behind_a_count():
    assert [k_safe(n, phones=p) for n, p in ((0, 0), (6, 1), (6, 4), (6, 5), (5, None), (4, None))] == \
        [0, None, None, 6, 5, None]


def test_one_phone_bouncing_shows_no_figure_five_phones_do():
    since, until = at(2, 0), at(3, 0)
    alone = compute(bounce("p1", at(2, 12)), "v", since, until, tz=str(TZ), zones=["kopi"])
    assert alone.transitions[0][2] >= K_MIN and alone.heatmap[0][12] == 6 and len(alone.dwell_s) == 6
    shown = {key: alone.safe(key, n) for key, n in figures(alone).items() if n}
    assert set(shown.values()) == {None}, shown  # every count of one phone's doings, however large
    crowd = compute([e for i in range(5) for e in bounce(f"p{i}", at(2, 12) + i)], "v", since, until,
                    tz=str(TZ), zones=["kopi"])
    assert crowd.safe("flow:kopi>books", 30) == 30 and crowd.safe("heat:0:12", 30) == 30
    assert crowd.safe("stays", len(crowd.dwell_s)) == 30  # the mean dwell: over five phones' stays


def test_a_week_withholds_a_figure_one_phone_made_large_on_one_of_its_days():
    """Monday: five phones bounce; Tuesday: one phone, six moves each way. The week's flow (36) less
    Monday's (30) would give Tuesday's one phone."""
    events = [e for i in range(5) for e in bounce(f"p{i}", at(2, 12) + i)] + bounce("lonely", at(3, 12))
    history = prepare(events)
    days = [figure(history, "v", at(d, 0), at(d + 1, 0), top=None) for d in (2, 3)]
    week = figure(history, "v", at(2, 0), at(4, 0))
    assert days[0].safe("flow:kopi>books", 30) == 30 and figures(days[1])["flow:kopi>books"] == 6
    withhold(week, days)
    assert "flow:kopi>books" in week.withheld and week.safe("flow:kopi>books", 36) is None


def test_console_page_csv_and_parquet_hold_back_one_bouncing_phone(client, console, svc, demo):
    import pyarrow.parquet as pq

    for i in range(12):  # one phone, kopi and books in turn every minute
        svc.presence.record("demo", "p1", ("kopi", "books")[i % 2], at(2, 12) + 60 * i)
    svc.presence.record("demo", "p1", None, at(2, 12, 12))
    svc.presence.sweep("demo", at(2, 16))
    console.login("ops")
    page = client.get(f"/console/ops/demo/insights?day={DAY}").get_data(as_text=True)
    flows = re.search(r'<table class="compact" id="flows">(.*?)</table>', page, re.S).group(1)
    assert '<td colspan="3">—</td>' in flows and "Kopi Coffee" not in flows
    csv = export_lines(client.get(f"/console/ops/demo/insights/export.csv?day={DAY}").get_data(as_text=True))
    assert not [line for line in csv if line.startswith(("flow,", "path,"))]
    assert "arrivals_hour_of_week,*,Mon 12,,suppressed" in csv  # one arrival: "<5"

    console.login("kopi")
    page = client.get(f"/console/owner/demo/insights?day={DAY}").get_data(as_text=True)
    assert re.search(r'id="mean-dwell">—<', page)  # six stays, one phone: no mean
    assert "Zone entries by hour of the week" in page and "Arrivals by hour of the week" not in page
    # one phone's six entries: held back, and "withheld" rather than "<5", which would read as a count of 1-4
    assert "Mon 12h: withheld</title>" in page
    lines = export_lines(client.get(f"/console/owner/demo/insights/export.csv?day={DAY}").get_data(as_text=True))
    assert {"dwell_visits,kopi,0-5 min,,suppressed", "zone_entries_hour_of_week,kopi,Mon 12,,suppressed"} <= set(lines)
    assert not [line for line in lines if line.split(",")[-2] not in ("", "0")], lines
    resp = client.get(f"/console/owner/demo/insights/export.parquet?day={DAY}")
    table = five(pq.read_table(io.BytesIO(resp.data)).to_pylist())
    assert {"metric": "dwell_visits", "zone": "kopi", "key": "0-5 min", "value": None, "status": "suppressed"} in table
    assert not [row for row in table if row["value"]], table


def test_charts_are_well_formed_svg_with_withheld_counts_escaped():
    """A withheld count is drawn as "<5": escaped, so each chart parses as XML (a bare "<5" made it not)."""
    bars = report.bar_chart([("0-5 min", (None, "<5")), ("5-15 min", (7, "7"))], "Dwell", "dwell")
    heat = report.heatmap_chart([[(None, "<5")] * 24 for _ in range(7)], "Arrivals", "heat", "Shade: arrivals")
    for chart in (bars, heat):
        root = ET.fromstring(str(chart))
        assert "<5" in "".join(root.itertext())


def test_visitors_and_passers_by_are_shown_together_or_not_at_all(client, console, svc, demo):
    """A zone's funnel "in zone" (its phones of the day) is visitors plus passers-by: with 9 visitors shown
    beside "<5" passers-by, 11 in zone less 9 visitors gave the 2 passers-by. Both are held back, page and
    CSV, the funnel's total stays; five passers-by show all three."""
    def stay(phone: str, start: float, minutes: int) -> None:
        svc.presence.record("demo", phone, "kopi", start)
        svc.presence.record("demo", phone, "kopi", start + 60 * minutes)
        svc.presence.record("demo", phone, None, start + 60 * minutes + 30)

    for i in range(9):
        stay(f"long{i}", at(2, 11) + 97 * i, 10)
    for i in range(2):
        stay(f"short{i}", at(2, 14) + 97 * i, 1)
    svc.presence.sweep("demo", at(2, 18))
    console.login("kopi")
    lines = export_lines(client.get(f"/console/owner/demo/insights/export.csv?day={DAY}").get_data(as_text=True))
    assert "funnel_in_zone,kopi,,11,shown" in lines, lines
    assert "visitors,kopi,,,suppressed" in lines and "passers_by,kopi,,,suppressed" in lines, lines
    page = client.get(f"/console/owner/demo/insights?day={DAY}").get_data(as_text=True)
    # 9 visitors held back beside 2 passers-by read "withheld", not "<5" (a count of 1-4)
    assert 'id="visitors">withheld<' in page and re.search(r'id="passers-by">(&lt;|<)5<', page)

    for i in range(2, 5):
        stay(f"short{i}", at(2, 15) + 97 * i, 1)
    svc.presence.sweep("demo", at(2, 18))
    svc.db.incr(EventKeys("demo").insights_generation())  # a new cache generation: the figures read again
    lines = export_lines(client.get(f"/console/owner/demo/insights/export.csv?day={DAY}").get_data(as_text=True))
    assert {"visitors,kopi,,9,shown", "passers_by,kopi,,5,shown", "funnel_in_zone,kopi,,14,shown"} <= set(lines), lines


def test_an_owners_export_without_a_day_is_yesterdays_as_the_page(client, console, svc, demo):
    """The owner's page opens on the latest day shown (today is not over: 409); its export without `day` answered
    409, and until 2026-12-04 also in the first minutes after the venue's midnight (yesterday not yet shown)."""
    console.login("kopi")
    resp = client.get("/console/owner/demo/insights/export.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv", resp.get_data(as_text=True)[:200]


def test_the_latest_day_an_owner_sees_is_yesterday_once_its_last_stays_are_closed(svc, demo):
    """Just after the venue's midnight yesterday's last stays are still open (shown_from): the owner's default day
    is the day before until then, yesterday from then on; both are days `day_insights` shows an owner."""
    venue_map = svc.venues.get_map("demo")
    midnight = datetime(2026, 11, 3, tzinfo=ZoneInfo(report.venue_tz(svc, venue_map))).timestamp()
    opens = report.shown_from(svc, midnight)
    assert opens > midnight + 60
    assert report.latest_shown_day(svc, venue_map, now=midnight + 60).isoformat() == "2026-11-01"
    assert report.latest_shown_day(svc, venue_map, now=opens - 1).isoformat() == "2026-11-01"
    assert report.latest_shown_day(svc, venue_map, now=opens).isoformat() == "2026-11-02"
    for now in (midnight + 60, opens):
        shown = report.latest_shown_day(svc, venue_map, now=now)
        assert report.day_insights(svc, venue_map, shown, zones=["kopi"], now=now).hidden_until is None
    assert report.day_insights(svc, venue_map, datetime(2026, 11, 2).date(), zones=["kopi"],
                               now=midnight + 60).hidden_until == opens  # what the default used to open on


def test_a_cell_hidden_alone_takes_the_smallest_other_with_it():
    """The hour-of-week cells add up to the arrivals the page shows, the dwell bars to the visits: one cell
    hidden alone ("<5") would be the total less the others. The smallest other cell above 0 is hidden with it;
    with two hidden already, only their sum could be worked out, and nothing more is hidden."""
    ins = Insights("v", at(2, 0), at(3, 0), zones=None)
    for hour, n in ((10, 5), (11, 6), (20, 1)):
        ins.heatmap[0][hour] = n
        ins.phones[f"heat:0:{hour}"] = n
    shown = {hour: ins.safe(f"heat:0:{hour}", ins.heatmap[0][hour]) for hour in (10, 11, 20, 21)}
    assert shown == {10: None, 11: 6, 20: None, 21: 0}
    ins.heatmap[0][21], ins.phones["heat:0:21"] = 2, 2  # a second small cell: hidden on its own
    assert ins.safe("heat:0:10", 5) == 5 and ins.safe("heat:0:11", 6) == 6
    assert ins.safe("heat:0:20", 1) is None and ins.safe("heat:0:21", 2) is None
    ins.dwell_s = [60.0] * 3 + [600.0] * 5 + [1200.0] * 7  # 0-5 min: 3 (hidden), 5-15: 5, 15-30: 7
    ins.phones |= {"dwell:0-5 min": 3, "dwell:5-15 min": 5, "dwell:15-30 min": 7}
    assert [ins.safe(f"dwell:{label}", n) for label, n in ins.dwell_histogram()][:3] == [None, None, 7]


def test_a_week_keeps_hidden_what_its_days_second_suppression_hid():
    """Day D hides its 0-5 min bar (2) and, with it, 5-15 min (6); day E shows 5-15 min (30). Had the week shown
    its 5-15 min (36), D's would be 36 - 30 = 6 and D's 0-5 min the visits less the rest."""
    def day(bins: dict[float, int]) -> Insights:
        ins = Insights("v", at(2, 0), at(3, 0), zones=None)
        ins.dwell_s = [s for s, n in bins.items() for _ in range(n)]
        ins.phones = {f"dwell:{label}": n for label, n in ins.dwell_histogram()}
        return ins

    d, e = day({60.0: 2, 600.0: 6, 1200.0: 20}), day({600.0: 30})
    assert d.safe("dwell:5-15 min", 6) is None and e.safe("dwell:5-15 min", 30) == 30
    week = day({60.0: 2, 600.0: 36, 1200.0: 20})
    withhold(week, [d, e])
    assert week.safe("dwell:5-15 min", 36) is None and week.safe("dwell:0-5 min", 2) is None
