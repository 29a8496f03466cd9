"""The footfall page's hourly table has a column per hour of the venue's day: 25 the day the clocks go back
(Europe/Madrid, 2026-10-25: the two 02 hours labelled with their UTC offsets), 23 the day they go forward."""

from __future__ import annotations

import re

from portal.captive.config import PortalConfigStore


def header(page: str) -> list[str]:
    row = re.search(r'<table class="compact" id="by-hour"[^>]*>\s*<thead><tr>(.*?)</tr>', page, re.S).group(1)
    return re.findall(r"<th>([^<]*)</th>", row)


def test_the_hourly_table_shows_the_days_real_hours(client, console, svc, demo):
    PortalConfigStore(svc.db).set("demo", {"time_zone": "Europe/Madrid"})
    console.login("ops")
    back = header(client.get("/console/ops/demo/footfall?day=2026-10-25").get_data(as_text=True))
    hours = back[1:-3]  # between "Zone" and Day, Visits, Mean dwell
    assert len(hours) == 25 and hours[2:4] == ["02 (UTC+02:00)", "02 (UTC+01:00)"]
    forward = header(client.get("/console/ops/demo/footfall?day=2026-03-29").get_data(as_text=True))[1:-3]
    assert len(forward) == 23 and "02" not in forward
    plain = header(client.get("/console/ops/demo/footfall?day=2026-10-24").get_data(as_text=True))[1:-3]
    assert plain == [f"{h:02d}" for h in range(24)]
