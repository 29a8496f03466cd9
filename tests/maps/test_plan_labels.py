"""Floor-plan labels (fingerprints/plan.py): a zone's name is not hidden under the marker that points at it."""

from __future__ import annotations

import re

from fingerprints.plan import LABEL_PX, MARKER_CLEAR_PX, PX_PER_M, render_plan_svg


def _label_y(svg: str, name: str) -> float:
    found = re.search(r'<text x="[^"]+" y="([^"]+)"[^>]*>' + re.escape(name) + "</text>", svg)
    assert found, name
    return float(found.group(1))


def test_a_marker_on_a_zones_centre_puts_its_name_below_it(demo_map):
    zone = next(z for z in demo_map.zones if z.id == "kopi")
    cx = sum(x for x, _ in zone.polygon) / len(zone.polygon)
    cy = sum(y for _, y in zone.polygon) / len(zone.polygon)
    plain = render_plan_svg(demo_map, zone.floor, show_aps=False)
    marked = render_plan_svg(demo_map, zone.floor, show_aps=False, markers=[(cx, cy, "#d33", "You are here")])
    assert _label_y(plain, zone.name) == round(cy * PX_PER_M)
    assert _label_y(marked, zone.name) == round(cy * PX_PER_M + MARKER_CLEAR_PX + LABEL_PX)
    far = render_plan_svg(demo_map, zone.floor, show_aps=False, markers=[(cx + 20, cy, "#d33", "elsewhere")])
    assert _label_y(far, zone.name) == round(cy * PX_PER_M)  # a marker elsewhere moves nothing
