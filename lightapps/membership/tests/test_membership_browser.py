"""In a real headless Chromium: a shopper in Pixel Electronics signs up with a phone number (the code
comes from the development sender's outbox, never a real SMS), sees the member card with its QR,
code and points; the POS posts a purchase and the card and history show the points."""

from __future__ import annotations

import http.client
import json
import random
import re
import urllib.parse

import pytest

from lightapps.membership.sender import dev_outbox_code
from tests.axecheck import run_axe


def post_purchase(live_server, body):
    token = (live_server.settings.data_dir / "secrets" / "demo_api_token").read_text()
    url = urllib.parse.urlsplit(live_server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request("POST", "/api/v1/venues/demo/membership/purchases", body=json.dumps(body),
                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    return resp.status, data


@pytest.mark.browser
def test_sign_up_and_show_member_card(iphone_page, live_server):
    page = iphone_page
    digits = f"{random.randrange(10**8):08d}"
    phone = "+86139" + digits
    page.goto(f"{live_server.url}/v/demo/zone/pixel/member")
    page.fill("#phone", f"+86 139 {digits[:4]} {digits[4:]}")
    page.click("#send-code")
    page.wait_for_selector("#code")
    assert digits[-4:] in page.locator("#sent-to").inner_text()
    code = dev_outbox_code(live_server.db(), "demo", phone)
    assert code is not None
    page.context.clear_cookies()  # like the captive mini-browser: identity rides in `c`
    page.fill("#code", code)
    page.click("#verify")
    page.wait_for_selector("#qr svg")
    assert "c=" in page.url
    assert "Welcome" in page.locator("#welcome").inner_text()
    assert page.locator("#points").inner_text() == "0"
    assert page.locator("#tier").inner_text() == "Silver"
    page.wait_for_load_state("load")  # measured once styled: the DOM can be there before the stylesheet
    history = page.locator("#history").bounding_box()  # beside Refresh, a whole tap target (it was 19 px high)
    assert history["height"] >= 44, history
    member_code = page.locator("#member-code").inner_text().strip()
    assert re.fullmatch(r"\d{6,12}-\d{6}", member_code)

    # The till scans the code: the POS posts the purchase.
    status, body = post_purchase(live_server, {"receipt_id": f"BR-{digits}", "store": "pixel",
                                                "member_code": member_code, "amount": "1088.00"})
    assert status == 201, body
    page.click("#refresh")
    page.wait_for_selector("#qr svg")
    assert page.locator("#points").inner_text() == "1088"
    assert page.locator("#tier").inner_text() == "Gold"
    page.click("#history")
    assert f"Purchase BR-{digits}" in page.locator("#ledger").inner_text()

    # The narrowest phones (320 px, an iPhone SE's captive sheet), in both languages: the history's rows wrap
    # rather than make the page wider than the screen (tests/a11y's crawl of shopper pages cannot sign up).
    page.set_viewport_size({"width": 320, "height": 568})
    history_url = urllib.parse.urlsplit(page.url)
    for lang in ("en", "zh"):
        query = dict(urllib.parse.parse_qsl(history_url.query), lang=lang)
        page.goto(history_url._replace(query=urllib.parse.urlencode(query)).geturl())
        assert f"BR-{digits}" in page.locator("#ledger").inner_text()
        for box in ("document.documentElement", "document.getElementById('ledger')"):  # nor the table, scrolling
            width = page.evaluate(f"[{box}.scrollWidth, {box}.clientWidth]")
            assert width[0] <= width[1], (lang, box, width)
        assert run_axe(page) == [], lang  # here, at 320 px (the session's check sees each page once)
