"""A zone owner of several zones sees the insights of one zone at a time, never of their union: the figures
of both zones less those of each would say how many shoppers visited both (kopi 6, books 6, kopi or books
11: one shopper), new vs repeat and top paths alike. The page, its zone choice and the exports."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from portal.auth import AccountStore
from tests.events.export_lines import export_lines

TZ = ZoneInfo("Asia/Shanghai")  # the demo mall's zone
BASE = "/console/owner/demo/insights"
PASSWORD = "Tw0-shops-long-pass!"


def at(day: int, hour: int) -> float:
    return datetime(2026, 11, day, hour, tzinfo=TZ).timestamp()


def shown(client, url: str) -> dict[str, str]:
    page = client.get(url).get_data(as_text=True)
    return {i: re.search(rf'id="{i}">([^<]*)<', page).group(1) for i in ("visitors", "passers-by", "new", "repeat")}


@pytest.fixture
def two_shops(client, console, svc, demo):
    """Five shoppers in kopi, five in books (10 min each, each buys there), and one who visits both."""
    AccountStore(svc.db).create("twoshops", PASSWORD, "owner", "demo", ("kopi", "books"), demo=True)
    for i in range(5):
        for zone in ("kopi", "books"):
            svc.consent.record("demo", f"s-{zone}{i}", location=True, marketing=False)
            svc.presence.record("demo", f"{zone}{i}", zone, at(2, 14) + i)
            svc.events.emit("demo", "txn", at=at(2, 14) + i + 60, device=f"{zone}{i}", shopper=f"s-{zone}{i}",
                            zone=zone, app="coupons", action="coupon_claim")
            svc.presence.record("demo", f"{zone}{i}", zone, at(2, 14) + i + 600)
    svc.consent.record("demo", "s-lonely", location=True, marketing=False)
    svc.presence.record("demo", "lonely", "kopi", at(2, 16))
    svc.presence.record("demo", "lonely", "kopi", at(2, 16) + 600)
    svc.presence.record("demo", "lonely", "books", at(2, 16) + 700)
    svc.events.emit("demo", "txn", at=at(2, 16) + 800, device="lonely", shopper="s-lonely", zone="books",
                    app="coupons", action="coupon_claim")
    svc.events.emit("demo", "txn", at=at(2, 16) + 100, device="lonely", shopper="s-lonely", zone="kopi",
                    app="coupons", action="coupon_claim")
    svc.presence.record("demo", "lonely", "books", at(2, 16) + 1300)
    svc.presence.sweep("demo", at(3, 12))
    console.login("twoshops", PASSWORD)
    return svc


def test_no_union_of_zones_to_subtract(client, two_shops):
    kopi, books = shown(client, f"{BASE}?day=2026-11-02&zone=kopi"), shown(client, f"{BASE}?day=2026-11-02&zone=books")
    assert kopi["visitors"] == books["visitors"] == "6" and kopi["new"] == books["new"] == "6"
    default = shown(client, f"{BASE}?day=2026-11-02")
    assert default == kopi  # no zone given: the first zone (map order), not kopi-or-books ("11")
    for period in ("week", "month"):
        assert shown(client, f"{BASE}?day=2026-11-02&period={period}")["visitors"] in (kopi["visitors"], "&lt;5")
    page = client.get(f"{BASE}?day=2026-11-02").get_data(as_text=True)
    assert 'id="zone-shown" data-zone="kopi"' in page and 'id="one-zone"' in page
    assert '<option value="books" >' in page and '<option value="kopi" selected>' in page  # the other zone: a choice


def test_the_exports_are_of_one_zone_too(client, two_shops):
    lines = export_lines(client.get(f"{BASE}/export.csv?day=2026-11-02").get_data(as_text=True))
    assert "visitors,kopi,,6,shown" in lines and "new_shoppers,kopi,,6,shown" in lines
    assert not [ln for ln in lines if ln.startswith(("visitors", "new_shoppers", "passers_by")) and "books" in ln]
    lines = export_lines(client.get(f"{BASE}/export.csv?day=2026-11-02&zone=books").get_data(as_text=True))
    assert "visitors,books,,6,shown" in lines
    assert [e["what"] for e in two_shops.privacy.exports("demo")] == ["insights.csv", "insights.csv"]


def test_a_single_zone_owner_sees_no_zone_choice(client, console, two_shops):
    console.login("kopi")
    page = client.get(f"{BASE}?day=2026-11-02").get_data(as_text=True)
    assert 'id="zone-shown" data-zone="kopi"' in page and 'id="one-zone"' not in page and 'id="zone"' not in page
    assert client.get(f"{BASE}?day=2026-11-02&zone=books").status_code == 403


def test_a_months_export_names_its_span_in_the_audit_and_the_file(client, two_shops):
    resp = client.get(f"{BASE}/export.csv?day=2026-11-02&period=month&zone=books")
    assert resp.status_code == 200
    assert 'filename="insights-demo-month-2026-11-01_2026-11-30.csv"' in resp.headers["Content-Disposition"]
    assert two_shops.privacy.exports("demo")[0]["scope"] == "month 2026-11-01..2026-11-30 books"
