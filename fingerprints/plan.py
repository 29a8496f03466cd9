"""Floor plans drawn from the venue map as SVG (walls, zones, shops, APs, optional markers)."""

from __future__ import annotations

from xml.sax.saxutils import escape

from fingerprints.model import VenueMap

PX_PER_M = 5.0
ZONE_COLOURS = {
    "garage": "#d9d9d9", "atrium": "#fff4c2", "cinema": "#e3d4f5", "food": "#ffe0c7",
    "restaurant": "#ffd1d1", "shop": "#d4ecff", "stall": "#ffd0a8", "kiosk": "#c8ecd0", "anchor": "#b9dcff",
    "lobby": "#e6e6e6", "corridor": "#f2f2f2",
}
LABEL_PX = 11.0  # the plan's font size; labels shrink (to MIN_LABEL_PX) and wrap to fit their zone
MIN_LABEL_PX = 7.0
CHAR_EM = 0.6  # a Latin sans-serif character's width, in ems (an estimate: the browser draws the SVG)
MARKER_CLEAR_PX = 12.0  # a label centred this close to a marker is drawn below it (the shop's own name under its pin)
# A plan drawn for a shopper is cropped to what it shows (a shop, a route, a car), with this margin and at least
# this size: a whole floor (100-200 m) drawn 360 px wide on a phone shrinks its 11 px names to 2-4 px.
WINDOW_MARGIN_M = 4.0
MIN_WINDOW_M = 36.0

Window = tuple[float, float, float, float]  # x0, y0, x1, y1 in metres on the plan


def plan_window(venue: VenueMap, level: int, points: list[tuple[float, float]]) -> Window:
    """The part of the floor to draw around `points` (metres): their extent plus WINDOW_MARGIN_M, at least
    MIN_WINDOW_M a side (a short walk or one shop is not drawn huge), kept on the plan; the whole floor when there
    are no points."""
    floor = venue.floor(level)
    if not points:
        return 0.0, 0.0, floor.width_m, floor.height_m
    x0, x1 = _span(min(x for x, _ in points), max(x for x, _ in points), floor.width_m)
    y0, y1 = _span(min(y for _, y in points), max(y for _, y in points), floor.height_m)
    return x0, y0, x1, y1


def _span(low: float, high: float, limit: float) -> tuple[float, float]:
    low, high = low - WINDOW_MARGIN_M, high + WINDOW_MARGIN_M
    if high - low < MIN_WINDOW_M:
        middle = (low + high) / 2
        low, high = middle - MIN_WINDOW_M / 2, middle + MIN_WINDOW_M / 2
    if low < 0:
        low, high = 0.0, high - low
    if high > limit:
        low, high = max(0.0, low - (high - limit)), limit
    return low, high


def plan_size_px(venue: VenueMap, level: int) -> tuple[int, int]:
    floor = venue.floor(level)
    return round(floor.width_m * PX_PER_M), round(floor.height_m * PX_PER_M)


def render_plan_svg(
    venue: VenueMap,
    level: int,
    *,
    show_aps: bool = True,
    markers: list[tuple[float, float, str, str]] = (),
    route: list[tuple[float, float]] = (),
    lang: str = "en",
    window: Window | None = None,
) -> str:
    """markers: (x_m, y_m, colour, title). route: polyline in metres on this floor. window: only this part of the
    floor (`plan_window`), in the SVG's viewBox; the whole floor when None."""
    floor = venue.floor(level)
    w, h = plan_size_px(venue, level)
    s = PX_PER_M
    size, view = f'width="{w}" height="{h}"', f"0 0 {w} {h}"
    if window is not None:
        x0, y0, x1, y1 = window
        size = f'width="{(x1 - x0) * s:.0f}" height="{(y1 - y0) * s:.0f}"'
        view = f"{x0 * s:.1f} {y0 * s:.1f} {(x1 - x0) * s:.1f} {(y1 - y0) * s:.1f}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" {size} viewBox="{view}" font-family="sans-serif" font-size="11">',
        f'<rect width="{w}" height="{h}" fill="#fafafa"/>',
    ]
    for zone in venue.zones:
        if zone.floor != level:
            continue
        points = " ".join(f"{x * s:.1f},{y * s:.1f}" for x, y in zone.polygon)
        colour = ZONE_COLOURS.get(zone.kind, "#eeeeee")
        label = zone.label(lang == "zh")
        cx = sum(x for x, _ in zone.polygon) / len(zone.polygon) * s
        cy = sum(y for _, y in zone.polygon) / len(zone.polygon) * s
        parts.append(f'<polygon points="{points}" fill="{colour}" stroke="none"><title>{escape(label)}</title>'
                     "</polygon>")
        width_px = (max(x for x, _ in zone.polygon) - min(x for x, _ in zone.polygon)) * s
        if any(abs(mx * s - cx) < MARKER_CLEAR_PX and abs(my * s - cy) < MARKER_CLEAR_PX for mx, my, *_ in markers):
            cy += MARKER_CLEAR_PX + LABEL_PX  # the marker (r 7 + its stroke) would hide the name it points at
        parts.append(_label_svg(label, cx, cy, width_px))
    for x1, y1, x2, y2 in floor.walls:
        parts.append(
            f'<line x1="{x1 * s:.1f}" y1="{y1 * s:.1f}" x2="{x2 * s:.1f}" y2="{y2 * s:.1f}" '
            f'stroke="#555" stroke-width="2"/>'
        )
    if show_aps:
        for ap in venue.aps:
            if ap.floor == level:
                parts.append(
                    f'<circle cx="{ap.x * s:.1f}" cy="{ap.y * s:.1f}" r="3" fill="#2a7">'
                    f"<title>{escape(ap.name)} {ap.bssid}</title></circle>"
                )
    if len(route) >= 2:
        points = " ".join(f"{x * s:.1f},{y * s:.1f}" for x, y in route)
        parts.append(f'<polyline points="{points}" fill="none" stroke="#d33" stroke-width="3"/>')
    for x, y, colour, title in markers:
        parts.append(
            f'<circle cx="{x * s:.1f}" cy="{y * s:.1f}" r="7" fill="{escape(colour)}" stroke="#fff" '
            f'stroke-width="2"><title>{escape(title)}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _label_svg(label: str, cx: float, cy: float, width_px: float) -> str:
    """A zone's name centred at (cx, cy) within `width_px`: on one line at the plan's font size when it
    fits, else a word a line, shrunk to fit the longest word (never below MIN_LABEL_PX). A zone too narrow
    even for that (a kiosk) keeps only its tooltip; its name is in the page's list."""
    room = width_px * 0.9
    if _ems(label) * LABEL_PX <= room:
        return f'<text x="{cx:.0f}" y="{cy:.0f}" text-anchor="middle" fill="#333">{escape(label)}</text>'
    words = label.split() or [label]
    size = min(LABEL_PX, room / max(_ems(w) for w in words))
    if size < MIN_LABEL_PX:
        return ""
    top = cy - (len(words) - 1) * size * 0.55
    lines = "".join(f'<tspan x="{cx:.0f}" {"y" if i == 0 else "dy"}="{top if i == 0 else size * 1.1:.0f}">'
                    f"{escape(w)}</tspan>" for i, w in enumerate(words))
    return f'<text text-anchor="middle" fill="#333" font-size="{size:.1f}">{lines}</text>'


def _ems(text: str) -> float:
    """Estimated width in ems: CJK characters are a full em wide."""
    return sum(1.0 if ord(c) >= 0x2E80 else CHAR_EM for c in text)
