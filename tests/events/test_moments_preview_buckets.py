"""A zone owner's moments preview ("would have hit yesterday") comes in buckets (portal/operator/moments.py
PREVIEW_BUCKETS): an owner picks a rule's hours, dwell and tiers, so two exact counts, each k-safe alone, gave
one shopper away by their difference (15-16h: 5 phones, 15-17h: 6, so exactly one entered between 16:00 and
17:00). The operator's preview stays exact."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from portal.events.report import venue_tz
from portal.operator.moments import bucket


def form(csrf: str, **over) -> dict:
    data = {"csrf_token": csrf, "name": "probe", "trigger": "zone_enter", "zone": "kopi", "action": "offer",
            "message_en": "hi", "cap_per_day": "1", "cooldown_h": "12", "budget": "0"}
    return {**data, **over}


def previews(client, path: str) -> dict[str, str]:
    page = client.get(path).get_data(as_text=True)
    return dict(re.findall(r'<tr data-rule="[^"]+"><td>([^<]+)</td>.*?class="preview">([^<]*)<', page, re.S))


def test_two_rules_an_hour_apart_no_longer_single_out_a_shopper(app, client, console, svc):
    with app.app_context():
        tz = ZoneInfo(venue_tz(svc, svc.venues.get_map("demo")))
    day = datetime.now(tz).date() - timedelta(days=1)
    base = datetime.combine(day, datetime.min.time(), tz).timestamp()
    for i in range(6):  # five shoppers entered Kopi 15:00-15:59 yesterday, the sixth at 16:20
        t = base + (15 * 3600 + i * 60 if i < 5 else 16 * 3600 + 1200)
        svc.consent.record("demo", f"s-{i}", location=True, marketing=True)
        svc.events.emit("demo", "landing", at=t - 30, device=f"dev-{i}", shopper=f"s-{i}", zone="atrium")
        svc.events.emit("demo", "zone_enter", at=t, device=f"dev-{i}", zone="kopi")
    console.login("kopi")
    for h in ("16", "17"):
        resp = client.post("/console/owner/demo/moments", data=form(console.csrf(), name=f"15-{h}", hour_from="15",
                                                                   hour_to=h))
        assert resp.status_code == 303
    got = previews(client, "/console/owner/demo/moments")
    assert got == {"15-16": "fewer than 10 phones, fewer than 10 times",
                   "15-17": "fewer than 10 phones, fewer than 10 times"}, got  # were 5 and 6
    console.logout()
    console.login("ops")
    got = previews(client, "/console/ops/demo/moments")
    assert got == {"15-16": "5 phones, 5 times", "15-17": "6 phones, 6 times"}, got


def test_the_buckets(app):
    with app.test_request_context("/"):
        assert [bucket(n) for n in (0, 4, 9, 10, 19, 20, 49, 50, 999, 1000, 10**6)] == [
            "fewer than 10", "fewer than 10", "fewer than 10", "10–19", "10–19", "20–49", "20–49", "50–99",
            "500–999", "1000 or more", "1000 or more"]
