"""The footfall page shows a group zone (a food hall) with its members counted in, as the insights do, and says how it
and the insights differ; its heatmap's zone names never run into each other or out of their zone."""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from fingerprints.quality import draw_plan, plan_figure
from portal.operator import footfall as footfall_view

T = datetime(2026, 12, 5, 12, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()
DAY = "2026-12-05"


def test_the_page_counts_a_halls_stalls_in_and_says_what_differs_from_the_insights(client, console, svc, monkeypatch):
    monkeypatch.setattr(footfall_view, "venue_groups", lambda venue_map: {"kopi": "foodcourt", "jade": "foodcourt"})
    for i in range(3):
        svc.footfall.record("demo", f"k{i}", "kopi", 0, 10.0, 10.0, T + i)
    for phone in ("k0", "j1", "j2"):  # k0 at both stalls: one phone of the hall
        svc.footfall.record("demo", phone, "jade", 0, 20.0, 10.0, T + 60)
    svc.footfall.record("demo", "f0", "foodcourt", 0, 30.0, 10.0, T + 120)
    console.login("ops")
    page = client.get(f"/console/ops/demo/footfall?day={DAY}").get_data(as_text=True)
    name = svc.venues.get_map("demo").zone("foodcourt").name
    row = re.search(rf"<tr><td>{re.escape(name)} <span[^>]*>\+ the 2 zones of its group</span></td>.*?</tr>", page,
                    re.S)
    assert row and re.findall(r"<td>([^<]*)</td>", row.group(0))[-3] == "6"  # the day's phones: 3 + 2 more + 1
    note = re.search(r'id="footfall-insights-note">(.*?)</p>', page, re.S).group(1)
    assert "visitors and passers-by in the insights" in note and "counts its stalls in" in note
    assert "found to be staff" in note and "over midnight" in note and "declined location" in note
    assert "those the insights find" in re.search(r'id="footfall-k-note">(.*?)</p>', page, re.S).group(1)
    zh = client.get(f"/console/ops/demo/footfall?day={DAY}&lang=zh").get_data(as_text=True)
    assert "+ 组内 2 个区域" in zh and "误差约 2% 以内" in zh


@pytest.fixture(scope="module")
def galleria():
    from portal.seed import build_galleria

    return build_galleria(survey_step_m=400.0, scans=1).venue  # its plan; no survey needed


@pytest.mark.parametrize(("level", "cut"), [(1, True), (3, False)])  # G: a department store; L2: the food hall
def test_zone_names_fit_their_zones_and_never_overlap(galleria, level, cut):
    fig, ax = plan_figure(galleria, level)
    fig.colorbar(ax.imshow(np.zeros((2, 2)), extent=(0, 1, 1, 0)), ax=ax)  # the heatmap's layout
    ax.set_title("The Galleria: presence on floor G, 2026-12-05")
    draw_plan(ax, galleria, level)
    renderer = fig.canvas.get_renderer()
    names = {z.name: z for z in galleria.zones if z.floor == level}
    drawn = [(t.get_text(), t.get_window_extent(renderer)) for t in ax.texts]
    assert len(drawn) >= 20  # most shops keep a name: across, along or cut short
    assert any(t.get_rotation() == 90 for t in ax.texts)  # the narrow shops' names run along them
    assert any(text.endswith("…") for text, _ in drawn) == cut
    for (a, box_a), (b, box_b) in itertools.combinations(drawn, 2):
        assert not box_a.overlaps(box_b), (a, b)
    for text, box in drawn:
        zone = next(z for n, z in names.items() if n == text or (text.endswith("…") and n.startswith(text[:-1])))
        corners = ax.transData.transform(np.asarray(zone.polygon, dtype=float))
        (x0, y0), (x1, y1) = corners.min(axis=0), corners.max(axis=0)
        assert x0 <= box.x0 and box.x1 <= x1 and y0 <= box.y0 and box.y1 <= y1, text


def test_a_zone_named_in_chinese_only_is_labelled_by_that_name():
    """The plan's labels are English (the charts' words, without a Chinese font), else a zone's only name: a zone
    imported with a Chinese name alone was drawn unlabelled (name_in, fingerprints/model.py)."""
    from fingerprints.model import Floor, VenueMap, Zone

    hall = [(0.0, 0.0), (40.0, 0.0), (40.0, 20.0), (0.0, 20.0)]
    kiosk = [(50.0, 0.0), (90.0, 0.0), (90.0, 20.0), (50.0, 20.0)]
    venue = VenueMap(id="labels", name="", name_zh="标签", floors=[Floor(0, "G", 100, 30)],
                     zones=[Zone("hall", "Hall", "大厅", 0, hall), Zone("kiosk", "", "Kiosk 小店", 0, kiosk)])
    fig, ax = plan_figure(venue, 0)
    draw_plan(ax, venue, 0)
    assert sorted(t.get_text() for t in ax.texts) == ["Hall", "Kiosk 小店"]
