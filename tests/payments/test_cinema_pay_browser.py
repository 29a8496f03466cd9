"""A cinema ticket bought end to end in a real Chromium with the sign-in sheet's profile (iPhone, no cookies
kept): showtime -> seats -> hold -> Pay -> WeChat Pay's code (the sheet offers no way to pay on this phone: it opens
no app, and the providers' sites only once she is online) -> another phone pays it -> the page goes on to the ticket.
The portal is the session's HTTP server of the payment tests (tests/payments/conftest.py)."""

from __future__ import annotations

import copy
import re
import time

import pytest

from lightapps.cinema.store import CinemaStore, ShowtimeInput
from portal.apps.registry import get as get_app


@pytest.mark.browser
def test_buy_a_cinema_ticket_in_the_sign_in_sheet(iphone_page, pay_portal, pay, sandbox, demo_map):
    app, url = pay_portal
    svc = app.extensions["mallportal"]
    venue_map = copy.deepcopy(demo_map)
    venue_map.samples = []
    svc.venues.put_map(venue_map)
    svc.zone_apps.set("demo", "cinema", "cinema", get_app("cinema").default_config())
    item = ShowtimeInput("Paid Browser Film", "付费电影", "1", int(time.time()) + 3 * 3600, 4500)
    show_id = CinemaStore(svc.db).upsert_showtimes("demo", "cinema", [item], source="test")["ids"][0]

    page = iphone_page
    page.goto(f"{url}/v/demo/cinema/cinema/show/{show_id}")
    page.click('label[title="C4"]')
    page.click('label[title="C5"]')
    page.click("#hold-seats")
    page.wait_for_selector("#pay")
    assert "¥90.00" in page.inner_text("#pay")
    page.click("#pay")
    page.wait_for_selector("#pay-wechat-native")
    assert page.inner_text("#amount") == "¥90.00"
    assert page.locator("#pay-wechat-h5, #pay-alipay-wap").count() == 0 and page.locator("#keep-offer").count() == 1
    page.click("#pay-wechat-native")
    page.wait_for_selector("#qr svg")
    assert page.locator("#qr-link").count() == 0  # the code's own link opens nothing here
    order_id = page.url.split("/pay/", 1)[1].split("/", 1)[0]
    assert sandbox[0].approve(sandbox[0].trade("wechat", order_id))  # scanned and paid on another phone
    page.wait_for_selector("#booking-code")  # the page's update finds it paid: on to the ticket
    assert page.url.startswith(url) and "/ticket/" in page.url
    assert re.fullmatch(r"[A-Z2-9]{8}", page.inner_text("#booking-code"))
    assert page.inner_text("#ticket-seats") == "C4, C5"
    assert "¥90.00" in page.inner_text("#paid")
    paid = [e for e in pay.store.ledger("demo", "cinema") if e.kind == "paid"]
    assert len(paid) == 1 and paid[0].amount == 9000 and paid[0].provider == "wechat"
