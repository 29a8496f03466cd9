"""The seat map for a keyboard, a screen reader and eyes that do not tell colours apart: wheelchair spaces and
the shopper's own seats marked by more than a colour (WCAG 1.4.1), a focus ring of 3:1 (1.4.11), the seats a
named group with a way past them, and a taken seat's name saying so (4.1.2)."""

from __future__ import annotations

import re
import time

import pytest
from cinema_fixtures import mall_fixture, store_fixture, token_fixture  # noqa: F401 (the fixtures)
from flask import render_template

from lightapps.cinema.common import seat_grid
from lightapps.cinema.layouts import AUDITORIUMS
from lightapps.cinema.store import ShowtimeInput

VENUE, ZONE = "demo", "cinema"
BASE = f"/v/{VENUE}/cinema/{ZONE}"


def new_show(store) -> str:
    item = ShowtimeInput("A11y Film", "无障碍电影", "1", int(time.time()) + 3600, 4200)  # hall 1: row G has w, m
    return store.upsert_showtimes(VENUE, ZONE, [item], source="test")["ids"][0]


def hold(client, show_id, seats, c):
    return client.post(f"{BASE}/show/{show_id}/hold", data={"seat": seats, "c": c})


def seat_page(client, show_id, c, lang="en") -> str:
    resp = client.get(f"{BASE}/show/{show_id}?c={c}&lang={lang}")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def seat_label(html: str, title: str) -> str:
    """The <label> of one seat, by its title."""
    found = re.search(rf'<label class="seat [^"]*"[^>]*title="{re.escape(title)}">.*?</label>', html, re.S)
    assert found, title
    return found.group(0)


def visible_text(markup: str) -> str:
    return re.sub(r"<[^>]+>", "", markup)


def aria_label(html: str, value: str) -> str:
    return re.search(rf'value="{re.escape(value)}" aria-label="([^"]*)"', html).group(1)


def legend(html: str) -> str:
    return re.search(r'<ul class="legend">(.*?)</ul>', html, re.S).group(1)


def luminance(colour: str) -> float:
    hex_ = colour.lstrip("#")
    if len(hex_) == 3:
        hex_ = "".join(c * 2 for c in hex_)
    channels = [int(hex_[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_my_held_seats_are_named_and_in_the_legend_not_only_blue(client, mall, store, token):
    show_id = new_show(store)
    c = token()
    assert hold(client, show_id, ["D5", "D4"], c).status_code == 303
    html = seat_page(client, show_id, c)
    my_hold = re.search(r'id="my-hold">(.*?)<a', html, re.S).group(1)
    assert "marked blue" not in html
    assert "You are holding D4, D5." in my_hold
    mine = legend(html)
    assert re.search(r'<span class="seat s-mine"><span>✓</span></span>\s*Your seats', mine)
    # a checked seat (held, or picked just now) gets a ✓ from the style sheet, not only the blue fill
    assert re.search(r'\.seat input:checked\+span::after\{content:"\\2713"', html)
    assert 'value="D4" aria-label="D4 (standard)" checked' in html

    zh = seat_page(client, show_id, c, "zh")
    assert "蓝色标记" not in zh
    assert "您已锁定 D4、D5。" in re.search(r'id="my-hold">(.*?)<a', zh, re.S).group(1)
    assert re.search(r"<span>✓</span></span>\s*您的座位", legend(zh))


def test_no_hold_no_hold_sentence(client, mall, store, token):
    html = seat_page(client, new_show(store), token("nobody"))
    assert 'id="my-hold"' not in html and "You are holding" not in html


def test_a_wheelchair_space_and_companion_seat_carry_a_symbol(client, mall, store, token):
    html = seat_page(client, new_show(store), token())
    wheelchair, companion, standard = (seat_label(html, t) for t in ("G1", "G2", "G3"))
    assert "k-wheelchair" in wheelchair and "k-companion" in companion and "k-standard" in standard
    assert visible_text(standard).strip() == "3"
    for seat, number in ((wheelchair, "1"), (companion, "2")):
        assert "♿" in visible_text(seat) and visible_text(seat).strip() != number
    assert "♿" in visible_text(legend(html))  # the legend's wheelchair sample shows the same symbol
    assert aria_label(html, "G1") == "G1 (wheelchair)"


def test_the_owners_read_only_map_shows_the_symbol_too(app):
    layout = AUDITORIUMS["1"].layout
    with app.test_request_context("/?lang=en"):
        page = render_template("cinema/_seatmap.html", layout=layout, grid=seat_grid(layout, {}), readonly=True)
    g1 = re.search(r'<span class="seat k-wheelchair [^"]*"[^>]*title="G1"><span>(.*?)</span></span>', page).group(1)
    assert "♿" in g1
    assert "<fieldset" not in page and "<input" not in page and "Your seats" not in page


def test_the_seats_are_a_named_group_with_a_skip_link_before_it(client, mall, store, token):
    html = seat_page(client, new_show(store), token())
    fieldset = re.search(r'<fieldset class="seats">\s*<legend[^>]*>Seats</legend>(.*?)</fieldset>', html, re.S)
    assert fieldset, "the seat map is not in a fieldset with a legend"
    inside = fieldset.group(1)
    assert 'class="seatmap"' in inside
    assert len(re.findall(r'name="seat"', inside)) == len(re.findall(r'name="seat"', html)) > 50
    skip = html.index('href="#hold-seats"')
    assert skip < html.index("<fieldset")
    assert re.search(r'<a href="#hold-seats"[^>]*>Skip to “Hold these seats”</a>', html)
    assert re.search(r'<button type="submit" id="hold-seats">', html)  # the link's target, after the map
    assert html.index('id="hold-seats"') > html.index("</fieldset>")

    zh = seat_page(client, new_show(store), token(), "zh")
    assert re.search(r'<fieldset class="seats">\s*<legend[^>]*>座位</legend>', zh)
    assert "跳到“锁定这些座位”" in zh


@pytest.mark.parametrize(("lang", "taken"), [("en", ", taken"), ("zh", "，已占用")])
def test_a_taken_seats_name_says_it_is_taken(client, mall, store, token, lang, taken):
    show_id = new_show(store)
    show = store.showtime(VENUE, show_id)
    booked = store.hold(VENUE, show, "someone", ["E7", "E8"], 300)
    assert store.confirm(VENUE, booked.token, "someone", ZONE).ok
    assert hold(client, show_id, ["B4", "B5"], token("other")).status_code == 303  # held by another shopper
    html = seat_page(client, show_id, token(), lang)
    kind = "standard" if lang == "en" else "普通座"
    for seat in ("E7", "B4"):
        assert re.search(rf'value="{seat}" aria-label="{seat} \({kind}\){taken}" disabled', html), seat
    assert aria_label(html, "A4") == f"A4 ({kind})"  # a free seat's name is its seat and kind only
    assert taken not in aria_label(html, "A4")


def test_the_focus_ring_is_dark_and_thick_enough(client, mall, store, token):
    html = seat_page(client, new_show(store), token())
    rule = re.search(r"\.seat input:focus-visible\+span\{([^}]*)\}", html).group(1)
    width, colour = re.search(r"outline:(\d+)px solid (#[0-9a-fA-F]{3,6})", rule).groups()
    assert int(width) >= 2 and "outline-offset:2px" in rule
    assert "#f29900" not in rule
    # drawn 2 px off the seat: on the page and the seats around it (free, couple, wheelchair, taken)
    for background in ("#ffffff", "#e8eef9", "#fde7f0", "#e6f4ea", "#cccccc"):
        assert contrast(colour, background) >= 3, (colour, background)


def test_every_seats_edge_stands_out_from_the_page_and_a_taken_seat_is_dashed(client, mall, store, token):
    """WCAG 1.4.11: the edge that shows where a seat is, of every kind and state, is 3:1 against the page; a taken
    seat's edge is dashed, so its state is a shape too (its grey fill is 1.3:1 from a free seat's pale blue)."""
    html = seat_page(client, new_show(store), token())
    style = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    rules = dict(rule.strip().split("{", 1) for rule in style.split("}") if rule.strip().startswith(".seat"))
    edges = {selector: re.search(r"border(?:-color)?:(?:1px (?:solid|dashed) )?(#[0-9a-fA-F]{3,6})", rule)
             for selector, rule in rules.items()}
    edges = {selector: found.group(1) for selector, found in edges.items() if found}
    assert {".seat span", ".seat.k-couple span", ".seat.s-booked span,.seat.s-held span"} <= set(edges)
    for selector, colour in edges.items():
        assert contrast(colour, "#ffffff") >= 3, (selector, colour)
    assert "1px dashed" in rules[".seat.s-booked span,.seat.s-held span"]


def test_a_wide_hall_says_its_map_scrolls_and_the_screen_is_over_the_whole_room(client, mall, store, token):
    """At 360 px a 14-seat row is cut off: a line says the map scrolls, its edges shade while more is that way,
    and the screen sits over the whole grid inside the scroller (outside it, it centred on the part in view)."""
    html = seat_page(client, new_show(store), token(), "zh")
    assert "座位图可左右滑动" in html
    scroller = html.split('<div class="seatscroll">', 1)[1]
    assert scroller.index('class="screen"') < scroller.index('class="seatmap"')
    assert re.search(r"\.seatscroll\{[^}]*no-repeat local", html)
