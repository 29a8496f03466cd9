"""In a real headless Chromium (iPhone profile): a shake game shows its motion button, a shake (a
devicemotion event) submits the draw, and the prize page shows the winner's code; a scratch card is scratched
off with pointer strokes (or revealed by keyboard)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from lightapps.games import APP
from lightapps.games.rules import parse_game
from lightapps.games.store import GameStore
from portal.apps.zone_apps import ZoneAppStore

SHAKE = "window.dispatchEvent(new DeviceMotionEvent('devicemotion', {acceleration: {x: 30, y: 4, z: 2}}))"
BEIJING = ZoneInfo("Asia/Shanghai")


@contextmanager
def atrium_game(live_server, style: str, prize: str) -> Iterator[None]:
    """The atrium lands on a game of `style` whose one prize (a coupon: a game with points prizes is for members)
    always wins; put back afterwards."""
    db = live_server.db()
    zone_apps = ZoneAppStore(db)
    before = zone_apps.get("demo", "atrium")
    today = datetime.now(BEIJING).date()
    form = {"title_en": f"Browser {style}", "style": style, "per_shopper": "5", "per_day": "5", "total": "50",
            "last_day": (today + timedelta(days=1)).isoformat(), "p1_kind": "coupon", "p1_title_en": prize,
            "p1_value": "5", "p1_odds": "100", "p1_stock": "50"}
    games = GameStore(db)
    games.publish("demo", "atrium", parse_game(form, today), tz=BEIJING)
    zone_apps.set("demo", "atrium", "games", APP.default_config())
    try:
        yield
    finally:
        zone_apps.set("demo", "atrium", *before)
        games.stop("demo", "atrium")


@pytest.mark.browser
def test_shake_to_draw(iphone_page, live_server):
    with atrium_game(live_server, "shake", "Shake coupon"):
        page = iphone_page
        page.goto(f"{live_server.url}/v/demo/zone/atrium/games")
        assert page.locator("#odds .odds").first.inner_text() == "100%"
        page.click("#shake-start")  # no requestPermission outside iOS: listening at once
        # a locator's own wait, not wait_for_function: a string predicate that must poll is eval'd in the page,
        # which its CSP (no 'unsafe-eval') refuses: the test failed whenever the status came after the first look
        expect(page.locator("#shake-status")).not_to_be_empty(timeout=60_000)
        page.evaluate(SHAKE)
        page.wait_for_selector("#prize-code")
        assert "Shake coupon" in page.locator("#prize-title").inner_text()
        assert len(page.locator("#prize-code").inner_text().strip()) == 11
        assert "c=" in page.url


def scratch_row(page, box, y: float) -> None:
    """One stroke of a finger (pointer events, as a mouse sends them) across the card at height y."""
    page.mouse.move(box["x"] + 4, box["y"] + y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 4, box["y"] + y, steps=8)
    page.mouse.up()


@pytest.mark.browser
def test_scratch_card_is_scratched_off_or_revealed_by_keyboard(iphone_page, live_server):
    """The prize (drawn on the server by the plain form post) is under a coating; one stroke is not enough,
    scratching most of it reveals the rest; on the next card, Enter on the summary reveals at once."""
    with atrium_game(live_server, "scratch", "Scratch coupon"):
        page = iphone_page
        page.goto(f"{live_server.url}/v/demo/zone/atrium/games")
        page.click("#draw-button")
        coat = page.wait_for_selector("#scratch.scratching canvas.scratch-coat")
        assert page.get_attribute("#scratch .scratch-area", "aria-hidden") == "true"
        box = coat.bounding_box()
        scratch_row(page, box, box["height"] / 2)  # a 36 px stroke over a card at least 96 px tall
        assert page.locator("#scratch.scratching canvas").count() == 1
        for k in range(10):
            scratch_row(page, box, 6 + k * (box["height"] - 12) / 9)
        page.wait_for_selector("#scratch.revealed")
        assert page.locator("#scratch canvas").count() == 0
        assert "Scratch coupon" in page.locator("#prize-title").inner_text()
        assert len(page.locator("#prize-code").inner_text().strip()) == 11

        page.click("#back")
        page.click("#draw-button")
        page.wait_for_selector("#scratch.scratching canvas")
        page.focus("#scratch summary")
        page.keyboard.press("Enter")
        page.wait_for_selector("#scratch.revealed")
        assert page.locator("#prize-title").is_visible()
