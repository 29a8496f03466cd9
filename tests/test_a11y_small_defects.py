"""Small accessibility checks on markup and styles: the edges of text boxes and selects at 3:1 (WCAG 1.4.11), date and
time boxes as tall as the others, the insights' headings without a skipped level (1.3.1), and a booking step's
title naming the step (2.4.2)."""

from __future__ import annotations

import re
from pathlib import Path

CSS = Path(__file__).resolve().parent.parent / "static" / "portal.css"


def luminance(colour: str) -> float:
    hex_ = colour.lstrip("#")
    hex_ = "".join(c * 2 for c in hex_) if len(hex_) == 3 else hex_
    r, g, b = ((c / 12.92) if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
               for c in (int(hex_[i:i + 2], 16) / 255 for i in (0, 2, 4)))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def rules_for(selector: str) -> list[str]:
    """The declarations of every rule of portal.css whose selector list names `selector`."""
    css = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    return [body for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", css)
            if selector in (s.strip() for s in selectors.split(","))]


def test_box_edges_are_3_to_1_on_white_and_date_boxes_are_as_tall():
    for selector in ("input[type=text]", "input[type=tel]", "input[type=number]", "input[type=search]", "select",
                     "input[type=date]", "input[type=datetime-local]"):
        borders = [m for body in rules_for(selector) for m in re.findall(r"border:1px solid (#[0-9a-f]+)", body)]
        assert borders and all(contrast(colour, "#fff") >= 3 for colour in borders), selector
        assert any("min-height:44px" in body for body in rules_for(selector)), selector


def test_the_insights_headings_skip_no_level(client, ops):
    html = client.get("/console/ops/demo/insights?lang=en").get_data(as_text=True)
    levels = [int(n) for n in re.findall(r"<h([1-6])[ >]", html)]
    assert "<h2>Visitors</h2>" in html
    assert levels[0] == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), levels


def test_the_table_booking_says_its_step(client, demo, svc):
    food_court = next(z for z in svc.venues.get_map("demo").zones if z.id == "jade").name
    html = client.get("/v/demo/queue/jade/reserve?lang=en").get_data(as_text=True)
    assert re.search(r"<title>(.*?)</title>", html).group(1) == f"Book a table · {food_court}"
