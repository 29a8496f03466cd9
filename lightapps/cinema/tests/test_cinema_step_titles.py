"""Each booking step has a title of its own ("step · place", WCAG 2.4.2), and a taken seat's number on the owner's
read-only map stays readable (1.4.3)."""

from __future__ import annotations

import re
from pathlib import Path

from cinema_fixtures import mall_fixture, token_fixture  # noqa: F401 (the fixtures)
from test_cinema_notify import BASE, book
from test_cinema_seatmap_a11y import contrast

STYLES = Path(__file__).resolve().parent.parent / "templates" / "cinema" / "_base.html"


def title(html: str) -> str:
    return re.search(r"<title>(.*?)</title>", html).group(1)


def test_the_seat_map_and_the_ticket_say_their_step(client, mall, svc, token):
    c = token()
    code = book(client, svc, c)
    cinema = next(z for z in svc.venues.get_map("demo").zones if z.id == "cinema").name
    assert title(client.get(f"{BASE}?c={c}&lang=en").get_data(as_text=True)) == cinema
    ticket = client.get(f"{BASE}/ticket/{code}?c={c}&lang=en").get_data(as_text=True)
    assert title(ticket) == f"Your ticket · {cinema}"
    show_id = re.search(r'href="[^"]*/show/([^/?"]+)', client.get(f"{BASE}?c={c}").get_data(as_text=True)).group(1)
    assert title(client.get(f"{BASE}/show/{show_id}?c={c}&lang=en").get_data(as_text=True)) == (
        f"Choose your seats · {cinema}")


def test_a_taken_seats_number_is_readable():
    rule = re.search(r"\.seat\.s-booked span,\.seat\.s-held span\{([^}]*)\}", STYLES.read_text()).group(1)
    style = dict(part.split(":", 1) for part in rule.split(";"))
    assert contrast(style["color"], style["background"]) >= 4.5
