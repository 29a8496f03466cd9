"""The footfall page names its counts for what they count: phones seen (passers-by included), not
"visitors", which the insights page keeps for stays of at least 5 minutes (6 phones crossing a zone in a
minute: footfall 6 phones seen, insights 0 visitors and 6 passers-by)."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

T = datetime(2026, 11, 2, 12, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
DAY = "2026-11-02"


def test_the_footfall_page_says_phones_seen_and_which_count_the_insights_call_visitors(client, console, svc, demo):
    for i in range(6):  # six phones cross kopi in a minute: passers-by all
        svc.footfall.record("demo", f"w{i}", "kopi", 0, 10.0, 10.0, T + i)
        svc.footfall.record("demo", f"w{i}", "kopi", 0, 10.0, 10.0, T + 60 + i)
    console.login("ops")
    page = client.get(f"/console/ops/demo/footfall?day={DAY}").get_data(as_text=True)
    assert re.search(r'id="visitors-total">Phones seen on 2026-11-02: <strong>6</strong>', page)
    assert "<h2>Phones seen per hour</h2>" in page
    assert "visitors" not in re.sub(r'id="[^"]*"|<p class="small" id="footfall-(counts|insights)-note">.*?</p>', "",
                                    page, flags=re.S).lower()  # the word only where the notes say what it is
    note = re.search(r'id="footfall-counts-note">(.*?)</p>', page, re.S).group(1)
    assert "passers-by included" in note and "visitors only stays of at least 5 minutes" in note
    assert f'href="/console/ops/demo/insights?day={DAY}"' in note


def test_one_phones_many_visits_show_no_visit_count_or_mean_dwell(client, console, svc, demo):
    """One phone walking between kopi and books, a minute each, twelve times: six visits to kopi and a mean
    dwell that are one person's; neither shown (they were: 6 and 1 min). The visits read "withheld", as the
    insights say a count of k or more held back: "<5" (report.label's 1-4) beside six visits said they were few."""
    for i in range(12):
        svc.footfall.record("demo", "p1", ("kopi", "books")[i % 2], 0, 10.0, 10.0, T + 60 * i)
    svc.footfall.close_idle("demo", T + 3600)
    assert svc.footfall.report("demo", DAY, ["kopi"]).zones["kopi"].visits == 6  # counted, only not shown
    console.login("ops")
    page = client.get(f"/console/ops/demo/footfall?day={DAY}").get_data(as_text=True)
    [row] = [r for r in re.findall(r"<tr><td>(.*?)</tr>", page, re.S) if r.startswith("Kopi")]
    visits, dwell = re.findall(r"<td>([^<]*)</td>", row)[-2:]
    assert visits == "withheld" and dwell in ("&lt;5", "—", "")
    note = re.search(r'id="footfall-k-note">(.*?)</p>', page, re.S).group(1)
    assert "“withheld”: a count of 5 or more held back because fewer than 5 phones stand behind it" in note
    zh = client.get(f"/console/ops/demo/footfall?day={DAY}&lang=zh").get_data(as_text=True)
    [row] = [r for r in re.findall(r"<tr><td>(.*?)</tr>", zh, re.S) if r.startswith("考比咖啡")]
    assert re.findall(r"<td>([^<]*)</td>", row)[-2] == "已隐藏"
    assert "“已隐藏”" in re.search(r'id="footfall-k-note">(.*?)</p>', zh, re.S).group(1)
