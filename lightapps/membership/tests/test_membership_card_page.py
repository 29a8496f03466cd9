"""The card page follows its rotating code without JavaScript too (a <meta> refresh inside <noscript>, at the code's
step; with JavaScript, _auto_refresh.html and its Stop control), and in the WiFi sign-in sheet it offers to keep the
card in the phone's browser (hub/_keep_offer.html: Me's keep section, the page reloading itself)."""

from __future__ import annotations

import re
from html import unescape

import pytest

from lightapps.membership.store import MemberStore
from portal.shopper import Shopper, shopper_token

# Apple's captive sign-in sheet (CNA): WebKit without "Safari"; the same phone's Safari
CNA_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
SAFARI_UA = CNA_UA.replace("Mobile/15E148", "Version/17.5 Mobile/15E148 Safari/604.1")


@pytest.fixture
def card_c(app, svc):
    MemberStore.from_services(svc).bind("demo", "+8613900005555", "card-page")
    with app.app_context():
        return shopper_token(Shopper("demo", "card-page"))


def test_the_card_page_refreshes_without_javascript_at_the_codes_step(client, demo, card_c):
    page = client.get(f"/v/demo/zone/pixel/member?c={card_c}&lang=en").get_data(as_text=True)
    head = page[:page.index("</head>")]
    meta = re.search(r'<noscript><meta http-equiv="refresh" content="(\d+);url=([^"]+)"></noscript>', head)
    assert meta, head[-600:]
    seconds, url = int(meta.group(1)), unescape(meta.group(2))
    assert 2 <= seconds <= 31  # when the code rotates, and a second for the clock
    assert url.startswith("/v/demo/member?") and f"c={card_c}" in url and "lang=en" in url
    # with JavaScript the stoppable countdown goes to the same page at the same time
    assert f'data-seconds="{seconds}"' in page and f'data-url="{meta.group(2)}"' in page


def test_the_card_page_offers_to_keep_the_card_in_the_sheet_only(client, demo, card_c):
    sheet = client.get(f"/v/demo/member?c={card_c}&lang=en", headers={"User-Agent": CNA_UA}).get_data(as_text=True)
    link = re.search(r'id="keep-link" href="([^"]+)"', sheet).group(1)  # the same on every reload: her live code
    assert 'id="keep-offer"' in sheet and "/v/demo/keep?k=" in unescape(link)
    again = client.get(f"/v/demo/member?c={card_c}&lang=en", headers={"User-Agent": CNA_UA}).get_data(as_text=True)
    assert f'id="keep-link" href="{link}"' in again
    browser = client.get(f"/v/demo/member?c={card_c}&lang=en", headers={"User-Agent": SAFARI_UA})
    assert 'id="keep-offer"' not in browser.get_data(as_text=True)


@pytest.mark.browser
def test_the_card_page_back_from_sleep_reloads_at_once(client, demo, card_c, page):
    """A phone asleep (or the tab in the background) runs no timers: when it wakes, the countdown is due by the clock
    and the page fetches its update at the first tick, not after the seconds it had left when it fell asleep. The
    browser's clock is paused and moved by hand, so the machine's speed plays no part."""
    path = f"/v/demo/member?c={card_c}&lang=en"
    html = client.get(path).get_data(as_text=True)
    asked = []

    def serve(route):
        asked.append(route.request.url)
        if "/v/demo/member?" in route.request.url:
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)
        else:
            route.fulfill(status=404, body="")

    page.route("http://mall.test/**", serve)
    page.clock.install(time=1_800_000_000_000)
    # Paused a minute on, not at the install's instant: the installed clock runs, and on a busy machine a
    # millisecond had passed before the pause ("Cannot fast-forward to the past"). The page loads after it.
    page.clock.pause_at(1_800_000_060_000)
    page.goto("http://mall.test" + path)
    cards = sum("/v/demo/member?" in url for url in asked)
    try:
        # the update (a countdown by ticks would still have seconds left: none comes)
        with page.expect_request(lambda request: "/v/demo/member?" in request.url):
            page.clock.fast_forward(10 * 60 * 1000)  # ten minutes asleep: each due timer fires once
    finally:
        page.clock.resume()  # timers run again: tests/axecheck.py checks the page when it closes
    assert sum("/v/demo/member?" in url for url in asked) == cards + 1
