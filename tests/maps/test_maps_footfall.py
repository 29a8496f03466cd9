"""Footfall: visitors per zone-hour (HyperLogLog), dwell time, presence heatmap; aggregated, with TTLs,
no per-device history once a visit is closed; correct under many concurrent writers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import numpy as np
import pytest
import redis

from portal.captive.config import PortalConfigKeys, PortalConfigStore, VenueTimeZones
from portal.tracking import footfall
from portal.tracking.footfall import (
    DAYS_KEPT,
    TTL_DAYS,
    FootfallKeys,
    FootfallStore,
    footfall_report,
    presence_heatmap_png,
)

T0 = datetime(2026, 3, 14, 10, 0, tzinfo=UTC).timestamp()  # a Saturday, 10:00 UTC
DAY = "2026-03-14"


@pytest.fixture
def ff(db):
    return FootfallStore(db)


def test_visitors_per_zone_per_hour(ff):
    for k in range(5):
        ff.record("demo", f"c{k}", "atrium", 0, 50.0, 30.0, T0 + k)
    for k in range(3):
        ff.record("demo", f"c{k}", "cinema", 1, 10.0, 10.0, T0 + 3600 + k)  # 11:00
    ff.record("demo", "c0", "cinema", 1, 11.0, 10.0, T0 + 3700)  # same visitor again: still 3
    report = ff.report("demo", DAY)
    assert report.visitors == 5
    assert report.visitors_by_hour[10] == 5 and report.visitors_by_hour[11] == 3
    assert report.zones["atrium"].visitors == 5 and report.zones["atrium"].visitors_by_hour[10] == 5
    assert report.zones["cinema"].visitors == 3 and report.zones["cinema"].visitors_by_hour[11] == 3
    assert report.zones["cinema"].visitors_by_hour[10] == 0
    assert set(report.zones) == {"atrium", "cinema"}
    # another day is empty
    assert ff.report("demo", "2026-03-15").visitors == 0


def test_dwell_time(ff):
    for t in (0, 60, 120, 300):
        ff.record("demo", "alice", "kopi", 0, 90.0, 10.0, T0 + t)
    ff.record("demo", "alice", "books", 0, 110.0, 10.0, T0 + 310)  # leaves kopi after 300 s
    ff.record("demo", "alice", "books", 0, 110.0, 12.0, T0 + 400)
    ff.record("demo", "bob", "kopi", 0, 90.0, 12.0, T0 + 400)
    report = ff.report("demo", DAY)
    assert report.zones["kopi"].visits == 1 and report.zones["kopi"].mean_dwell_s == pytest.approx(300)
    assert report.zones["kopi"].dwell_by_hour[10] == pytest.approx(300)
    assert report.zones["books"].visits == 0  # alice is still there
    # alice falls silent; 10 minutes later the next position of anyone closes her visit
    ff.record("demo", "carol", "atrium", 0, 50.0, 30.0, T0 + 400 + 601)
    report = ff.report("demo", DAY)
    assert report.zones["books"].visits == 1 and report.zones["books"].mean_dwell_s == pytest.approx(90)
    assert report.zones["kopi"].visits == 2 and report.zones["kopi"].mean_dwell_s == pytest.approx(150)


def test_a_silent_gap_starts_a_new_visit(ff):
    ff.record("demo", "dan", "lumen", 0, 100.0, 45.0, T0)
    ff.record("demo", "dan", "lumen", 0, 100.0, 45.0, T0 + 100)
    ff.record("demo", "dan", "lumen", 0, 100.0, 45.0, T0 + 100 + 700)  # back after 11+ minutes
    ff.record("demo", "dan", "lumen", 0, 100.0, 45.0, T0 + 100 + 760)
    ff.record("demo", "dan", None, None, None, None, T0 + 900)  # left every zone
    z = ff.report("demo", DAY).zones["lumen"]
    # dwell runs from entry to the last fix in the zone: 100 s, then 60 s
    assert z.visits == 2 and z.mean_dwell_s == pytest.approx((100 + 60) / 2)


def test_close_idle_and_report_helper(ff):
    ff.record("demo", "erin", "jade", 1, 100.0, 10.0, T0)
    ff.record("demo", "erin", "jade", 1, 100.0, 10.0, T0 + 240)
    assert ff.report("demo", DAY).zones["jade"].visits == 0
    report = footfall_report(ff, "demo", DAY, now=T0 + 240 + 601)
    assert report.zones["jade"].visits == 1 and report.zones["jade"].mean_dwell_s == pytest.approx(240)
    assert report.visitors == 1  # closing adds no visitor


def test_presence_heatmap(ff, demo_map):
    for k in range(10):
        ff.record("demo", f"p{k}", "atrium", 0, 50.5, 31.9, T0 + k)
    ff.record("demo", "q", "cinema", 1, 3.0, 3.0, T0)
    assert ff.presence("demo", DAY, 0) == {(25, 15): 10}
    grid = ff.presence_grid("demo", DAY, 0, 120, 60)
    assert grid.shape == (30, 60) and grid[15, 25] == 10 and grid.sum() == 10
    png = presence_heatmap_png(ff, demo_map, DAY, 0)
    assert png.startswith(b"\x89PNG")
    assert presence_heatmap_png(ff, demo_map, "2026-01-01", 1).startswith(b"\x89PNG")  # empty day


def test_presence_heatmap_in_the_pages_language(ff, demo_map, recwarn):
    """The operator's footfall page draws the heatmap's title and scale in its language (a CJK font found through
    fontconfig; without one the chart keeps its English words, never boxes)."""
    from fingerprints.quality import ENGLISH, cjk_font_family

    if cjk_font_family() is None:
        pytest.skip("no font with Chinese glyphs on this machine (fc-list :lang=zh): charts stay English")
    ff.record("demo", "p", "atrium", 0, 50.5, 31.9, T0)
    zh = ENGLISH.__class__(fixes_per_cell="每 %(cell)s 米格的定位次数", x_m="x（米）", y_m="y（米）",
                           presence_title="%(venue)s：%(floor)s 层到访，%(day)s")
    assert presence_heatmap_png(ff, demo_map, DAY, 0, zh) != presence_heatmap_png(ff, demo_map, DAY, 0)
    assert not [w for w in recwarn if "missing from font" in str(w.message)]


def test_aggregated_with_ttls_and_no_device_history(ff, db):
    ff.record("demo", "frank", "pixel", 1, 100.0, 45.0, T0)
    ff.record("demo", "frank", "foodcourt", 1, 60.0, 30.0, T0 + 60)
    ff.record("demo", "frank", None, 1, 40.0, 30.0, T0 + 120)
    keys = [k.decode() for k in db.keys("mp:{demo}:ff:*")]
    assert keys
    for key in keys:
        ttl = db.ttl(key)
        assert 0 < ttl <= (DAYS_KEPT if ":ff:vd:" in key else TTL_DAYS) * 86400, key  # day roll-ups: longer
    # the client id is nowhere to be read back: not in key names, hash fields or values
    for key in keys:
        assert "frank" not in key
        kind = db.type(key).decode()
        if kind == "hash":
            flat = " ".join(f"{k.decode()}={v.decode()}" for k, v in db.hgetall(key).items())
            assert "frank" not in flat, key
        if kind == "zset":
            assert db.zcard(key) == 0 or b"frank" not in db.zrange(key, 0, -1)


def test_bad_input(ff):
    with pytest.raises(ValueError):
        ff.record("demo", "a|b", "atrium", 0, 1.0, 1.0, T0)
    with pytest.raises(ValueError):
        ff.record("demo", "c", "bad|zone", 0, 1.0, 1.0, T0)
    with pytest.raises(ValueError):
        ff.record("demo", "c", "atrium", 0, float("nan"), 1.0, T0)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        ff.report("demo", "yesterday")
    with pytest.raises(ValueError):
        FootfallStore(ff.db, cell_m=0)


def test_many_concurrent_writers(redis_url, db):
    """200 threads, each with its own connection, record different clients at once."""

    def one(k: int) -> None:
        store = FootfallStore(redis.Redis.from_url(redis_url))
        store.record("demo", f"client-{k}", "atrium" if k % 2 else "garage", 0, float(k % 120), 10.0, T0 + k % 30)

    with ThreadPoolExecutor(max_workers=200) as pool:
        list(pool.map(one, range(200)))
    report = FootfallStore(db).report("demo", DAY)
    assert abs(report.visitors - 200) <= 6  # HyperLogLog: ~0.8 % standard error
    assert abs(report.zones["atrium"].visitors - 100) <= 4 and abs(report.zones["garage"].visitors - 100) <= 4
    assert sum(FootfallStore(db).presence("demo", DAY, 0).values()) == 200
    assert db.hlen(FootfallKeys("demo").open_visits()) == 200


LATE = datetime(2026, 3, 14, 23, 30, tzinfo=UTC).timestamp()  # 23:30 UTC = 07:30 next day in Shanghai


def test_hours_and_days_are_the_venues_own(svc):
    """A phone seen at 23:30 UTC in a Shanghai mall counts in hour 07 of the next day (the mall's day);
    in a London mall in hour 23 of the same day; the process's store resolves each venue's zone."""
    config = PortalConfigStore(svc.db)
    config.set("mall-sh", {"time_zone": "Asia/Shanghai"})
    config.set("mall-ldn", {"time_zone": "Europe/London"})
    for venue in ("mall-sh", "mall-ldn"):
        for t in (0, 300):
            svc.footfall.record(venue, "phone", "atrium", 0, 5.0, 5.0, LATE + t)
        svc.footfall.record(venue, "phone", "cinema", 1, 5.0, 5.0, LATE + 310)  # closes 300 s in the atrium
    shanghai = svc.footfall.report("mall-sh", "2026-03-15")
    assert shanghai.visitors == 1 and shanghai.visitors_by_hour[7] == 1 and sum(shanghai.visitors_by_hour) == 1
    assert shanghai.zones["atrium"].visitors_by_hour[7] == 1 and shanghai.zones["atrium"].dwell_by_hour[7] == 300
    assert svc.footfall.report("mall-sh", DAY).visitors == 0
    london = svc.footfall.report("mall-ldn", DAY)
    assert london.visitors_by_hour[23] == 1 and london.zones["atrium"].dwell_by_hour[23] == 300
    assert svc.footfall.today("mall-sh", LATE).isoformat() == "2026-03-15"
    assert svc.footfall.today("mall-ldn", LATE).isoformat() == DAY


def test_the_venue_zone_is_read_once_per_cache_life_not_per_position(db, monkeypatch):
    # The day's salt fixed: with a drawn one, two of the 21 phones shared a HyperLogLog register about once in a
    # hundred runs and the day counted 20 (a fresh clone's run, 2026-12-07); this test is about the zone's reads.
    monkeypatch.setattr(footfall, "new_salt", lambda: "5" * 32)
    now = [0.0]
    zones = VenueTimeZones(db, "UTC", max_age_s=60, clock=lambda: now[0])
    reads = []
    read = zones.store.time_zone
    monkeypatch.setattr(zones.store, "time_zone", lambda venue: reads.append(venue) or read(venue))
    ff = FootfallStore(db, tz_of=zones)
    PortalConfigStore(db).set("demo", {"time_zone": "Asia/Shanghai"})
    for k in range(20):
        ff.record("demo", f"c{k}", "atrium", 0, 5.0, 5.0, LATE + k)
    assert reads == ["demo"]  # one store read, not one per position
    PortalConfigStore(db).set("demo", {"time_zone": "Europe/London"})
    ff.record("demo", "c-old", "atrium", 0, 5.0, 5.0, LATE + 30)
    assert ff.report("demo", "2026-03-15").visitors == 21  # within the cache's life: still Shanghai
    now[0] = 61.0
    ff.record("demo", "c-new", "atrium", 0, 5.0, 5.0, LATE + 40)
    assert reads == ["demo", "demo"]
    assert ff.report("demo", DAY).visitors_by_hour[23] == 1  # the new zone once the cached one is older


def test_a_venue_without_a_zone_or_a_bad_one_counts_in_the_default(db):
    zones = VenueTimeZones(db, "Asia/Shanghai")
    assert zones("nowhere").key == "Asia/Shanghai"
    db.hset(PortalConfigKeys("broken").config(), "time_zone", "Mars/Olympus")  # set() would refuse it
    assert zones("broken").key == "Asia/Shanghai"


def test_the_presence_map_shows_no_single_phones_path(ff):
    """At k = 5: one phone on the floor that day shows nothing, even where it stood; with five phones seen, a cell
    shows once 5 fixes fell in it, and a phone's walk (a fix a cell) stays blank."""
    from portal.tracking.footfall import presence_shown

    for k in range(10):  # the night's one phone stands in one cell, then walks off along a line
        ff.record("demo", "night", "atrium", 0, 50.5, 31.9, T0 + k)
    for k in range(5):
        ff.record("demo", "night", "atrium", 0, 60.5 + 2 * k, 31.9, T0 + 20 + k)
    assert np.isnan(presence_shown(ff, "demo", DAY, 0, 120, 60, k=5)).all()
    for p in range(4):  # four more phones in the venue that day, elsewhere
        ff.record("demo", f"p{p}", "cinema", 1, 3.0, 3.0, T0 + 100 + p)
    shown = presence_shown(ff, "demo", DAY, 0, 120, 60, k=5)
    assert shown[15, 25] == 10 and np.isfinite(shown).sum() == 1  # the walk's cells (1 fix each) stay blank
    assert presence_shown(ff, "demo", DAY, 0, 120, 60)[15, 30] == 1  # k = 1: every fix, as before


def test_a_group_zone_counts_its_members_in(ff):
    """A zone standing for a group (a food hall for its stalls, `venue_groups`) shows its members' phones (a phone at
    two stalls once), visits and dwell, as the insights count a stay at a stall as one in the hall; each stall keeps
    its own row; without the groups the hall counts only its own positions."""
    hall = {"s1": "hall", "s2": "hall"}
    ff.record("demo", "a", "s1", 0, 1.0, 1.0, T0)
    ff.record("demo", "a", "s2", 0, 3.0, 1.0, T0 + 60)  # closes its visit at s1 (0 s: last seen there at T0)
    ff.record("demo", "a", "s2", 0, 3.0, 1.0, T0 + 180)
    ff.record("demo", "b", "hall", 0, 5.0, 5.0, T0 + 3600)
    ff.record("demo", "c", "kopi", 0, 9.0, 9.0, T0 + 3600)  # in no group
    footfall_report(ff, "demo", DAY, now=T0 + 7200)  # every visit closed
    report = ff.report("demo", DAY, ["hall", "s1", "s2", "kopi"], hall)
    got = report.zones["hall"]
    assert (got.visitors, got.visitors_by_hour[10], got.visitors_by_hour[11]) == (2, 1, 1)
    assert got.visits == 3 and got.mean_dwell_s == pytest.approx((0 + 120 + 0) / 3)  # a stall to the next: a visit
    assert [report.zones[z].visitors for z in ("s1", "s2", "kopi")] == [1, 1, 1]
    assert ff.report("demo", DAY, ["hall"]).zones["hall"].visitors == 1


def test_the_heatmap_names_its_day_as_people_write_it(ff, demo_map, monkeypatch):
    from portal.tracking import footfall as footfall_module

    drawn = []
    monkeypatch.setattr(footfall_module, "figure_png", lambda fig: drawn.append(fig) or b"")
    presence_heatmap_png(ff, demo_map, DAY, 0)
    assert drawn[0].axes[0].get_title().endswith(", 2026-03-14")
