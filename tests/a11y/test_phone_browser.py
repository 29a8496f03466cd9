"""Shopper pages on a 375 px iPhone in real Chromium (issue 17): tap targets >= 44 px (cinema seats >= 32 px
in a map that scrolls and zooms), "Continue to the internet" off the screen's edge, and each app's first view
<= 100 kB transferred. axe-core runs on every page visited here too (tests/axecheck.py)."""

from __future__ import annotations

import io
import os
import time

import pytest
from PIL import Image

from core.settings import PROJECT_ROOT
from lightapps.cinema.store import CinemaStore, ShowtimeInput
from tests.a11y.phone import (
    EDGE_GAP_PX,
    MEASURE_TARGETS,
    PHONE,
    crawl,
    phone_context,
    small_targets,
)

pytestmark = pytest.mark.browser

FIRST_VIEW_BUDGET_BYTES = 100_000
CRAWL_LIMIT = 30  # distinct page shapes; the demo mall has about this many shopper pages a GET reaches


def _venue_home(live_server, token: str, lang: str = "en") -> str:
    return f"{live_server.url}/v/demo/?c={token}&lang={lang}"


def test_tap_targets_on_a_phone(browser, live_server):
    (token,) = live_server.shopper_tokens("demo", ["tap-target-walker"])
    context = phone_context(browser)
    page = context.new_page()
    small, pages, seat_maps = [], [], 0
    try:
        for url in crawl(page, _venue_home(live_server, token), "/v/demo/", CRAWL_LIMIT):
            pages.append(url)
            viewport = page.get_attribute("meta[name=viewport]", "content") or ""
            assert "user-scalable=no" not in viewport and "maximum-scale=1" not in viewport, url  # zoom stays
            targets = page.evaluate(MEASURE_TARGETS)
            small += [{**t, "page": url} for t in small_targets(targets)]
            small += [{**t, "page": url} for t in targets if t["id"] == "continue-internet"
                      and not EDGE_GAP_PX <= t["left"] <= t["right"] <= PHONE["width"] - EDGE_GAP_PX]
            if page.locator(".seatmap").count():
                seat_maps += 1
                overflow = page.eval_on_selector(".seatscroll", "el => getComputedStyle(el).overflowX")
                assert overflow in ("auto", "scroll"), url  # a wide hall scrolls sideways instead of shrinking
    finally:
        context.close()
    assert len(pages) >= 15, pages
    assert seat_maps, "the crawl reached no cinema seat map"
    assert not small, "\n".join(f"{t['width']:.0f}x{t['height']:.0f} {t['tag']}#{t['id']} '{t['text']}' on {t['page']}"
                                for t in small)


def test_first_view_weight_of_each_app_on_a_phone(browser, live_server):
    """The first view of the mall home, Me and each app's page on a phone with an empty cache: every byte
    that came over the wire (headers and bodies of the page, everything it loads, and its icon) within the budget."""
    (token,) = live_server.shopper_tokens("demo", ["page-weight-walker"])
    context = phone_context(browser)
    page = context.new_page()
    try:
        page.goto(_venue_home(live_server, token))
        firsts = page.eval_on_selector_all("#venue-apps li", "items => items.map(li => li.querySelector('a').href)")
    finally:
        context.close()
    views = [_venue_home(live_server, token), f"{live_server.url}/v/demo/me?c={token}", *firsts]
    assert len(firsts) >= 5, firsts
    weights = {url: _first_view_bytes(browser, url) for url in views}
    print("first view bytes:", {url.split("?")[0].removeprefix(live_server.url): size for url, size in weights.items()})
    heavy = {url: size for url, size in weights.items() if size > FIRST_VIEW_BUDGET_BYTES}
    assert not heavy, heavy


def _first_view_bytes(browser, url: str) -> int:
    context = phone_context(browser)  # a new context: an empty cache, as on a phone joining the WiFi
    page = context.new_page()
    finished = []
    page.on("requestfinished", lambda request: finished.append(request))
    try:
        page.goto(url, wait_until="load")
        # A phone's browser fetches the page's icon too; headless Chromium neither asks for it nor would report it:
        # fetched here from the network, as the tab would, and counted with the rest.
        for href in page.eval_on_selector_all("link[rel~=icon]", "links => links.map(link => link.href)"):
            with page.expect_request_finished(lambda request, href=href: request.url == href):
                page.evaluate("href => fetch(href, {cache: 'no-store'}).then(r => r.arrayBuffer()).then(() => null)",
                              href)
        total, counted = 0, set()
        for request in finished:
            if request.url in counted:
                continue  # the icon once, though both the tab and the fetch above asked for it
            counted.add(request.url)
            sizes = request.sizes()
            total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        return total
    finally:
        context.close()



# README screenshots: the mall home, Me and two apps on a phone. Taken on every run (so the pages they show
# keep rendering and the pictures stay small); written into docs/screens/ when WRITE_SCREENSHOTS=1.
SCREENS = PROJECT_ROOT / "docs" / "screens"
SCREENSHOT_BUDGET_BYTES = 60_000


def test_readme_screenshots_on_a_phone(browser, live_server):
    shopper = "screenshot-walker"
    (token,) = live_server.shopper_tokens("demo", [shopper])
    cinema = CinemaStore(live_server.db())
    item = ShowtimeInput("The Long Walk Home", "回家的路", "1", int(time.time()) + 7200, 4500)
    show = cinema.showtime("demo", cinema.upsert_showtimes("demo", "cinema", [item], source="screens")["ids"][0])
    cinema.confirm("demo", cinema.hold("demo", show, shopper, ["E7", "E8"], 300).token, shopper, "cinema")
    base = f"{live_server.url}/v/demo"
    shots = {"hub": f"{base}/?c={token}&lang=en", "me": f"{base}/me?c={token}&lang=en",
             "cinema-seats": f"{base}/cinema/cinema/show/{show.id}?c={token}&lang=en",
             "queue": f"{base}/queue/foodcourt?c={token}&lang=en"}
    context = phone_context(browser, device_scale_factor=1, locale="en-US")
    page = context.new_page()
    try:
        page.goto(shots["hub"])
        if page.locator("#consent-save").count():  # the first-time privacy notice, answered once
            page.click("#privacy-summary")  # its choices open from the one-line banner
            page.check("#consent-location")
            page.click("#consent-save")
        for name, url in shots.items():
            page.goto(url)
            picture = small_png(page.screenshot(full_page=False))
            assert len(picture) <= SCREENSHOT_BUDGET_BYTES, (name, len(picture))
            if os.environ.get("WRITE_SCREENSHOTS") == "1":
                SCREENS.mkdir(parents=True, exist_ok=True)
                (SCREENS / f"{name}.png").write_bytes(picture)
    finally:
        context.close()


def small_png(png: bytes) -> bytes:
    """A screenshot as a 64-colour PNG: text and flat colours survive, the file is a fraction of the size."""
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
