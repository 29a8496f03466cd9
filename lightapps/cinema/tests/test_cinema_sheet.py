"""A shopper holding seats in the WiFi sign-in sheet: the hold page and its payment page offer the keep link
(the sheet forgets everything when it closes, and paying leaves for the provider's site, where it may close);
the payment page names the film in the page's language."""

from __future__ import annotations

import re
import time
from html import unescape
from urllib.parse import urlsplit

import pytest
from cinema_fixtures import mall_fixture  # noqa: F401 (the `mall` fixture)

from lightapps.cinema.store import CinemaStore, ShowtimeInput
from portal.shopper import Shopper, shopper_token

VENUE, ZONE = "demo", "cinema"
BASE = f"/v/{VENUE}/cinema/{ZONE}"
# Apple's captive sign-in sheet (CNA): WebKit without "Safari"; the same phone's Safari
CNA_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
SAFARI_UA = CNA_UA.replace("Mobile/15E148", "Version/17.5 Mobile/15E148 Safari/604.1")
SHEET, BROWSER = {"User-Agent": CNA_UA}, {"User-Agent": SAFARI_UA}


@pytest.fixture
def held(app, client, mall, svc):
    """A shopper's token and their hold on "Orbit Nine" (九号轨道): (c, hold page URL, hold token)."""
    store = CinemaStore(svc.db)
    show_id = store.upsert_showtimes(VENUE, ZONE, [ShowtimeInput("Orbit Nine", "九号轨道", "1",
                                                                 int(time.time()) + 3600, 4500)], source="t")["ids"][0]
    with app.test_request_context():
        c = shopper_token(Shopper(VENUE, "sheet-shopper"))
    resp = client.post(f"{BASE}/show/{show_id}/hold", data={"seat": ["D1", "D2"], "c": c})
    assert resp.status_code == 303
    location = resp.headers["Location"]
    return c, location, urlsplit(location).path.rsplit("/", 1)[1]


def order_page(client, c: str, hold_token: str) -> str:
    """Press Pay on the hold (one order per hold): the payment page's path."""
    resp = client.post(f"{BASE}/hold/{hold_token}/pay", data={"c": c})
    assert resp.status_code == 303 and "/pay/" in resp.headers["Location"]
    return urlsplit(resp.headers["Location"]).path


def keep_link(html: str) -> str:
    return unescape(re.search(r'id="keep-link" href="([^"]+)"', html).group(1))


def test_the_hold_page_offers_the_keep_link_in_the_sheet_only(client, held):
    c, location, _token = held
    sheet = client.get(location + "&lang=en", headers=SHEET).get_data(as_text=True)
    assert "/v/demo/keep?k=" in keep_link(sheet) and 'id="keep-offer"' in sheet
    browser = client.get(location + "&lang=en", headers=BROWSER).get_data(as_text=True)
    assert 'id="keep-offer"' not in browser and 'id="keep-link"' not in browser


def test_the_keep_link_from_the_hold_page_leads_the_real_browser_to_the_hold(app, client, held):
    c, location, hold_token = held
    link = keep_link(client.get(location, headers=SHEET).get_data(as_text=True))
    browser = app.test_client()
    code = link.rsplit("k=", 1)[1]
    assert browser.post("/v/demo/keep", data={"k": code}, headers=BROWSER).status_code == 303
    me = browser.get("/v/demo/me?lang=en", headers=BROWSER).get_data(as_text=True)  # by its cookie now
    assert f"/v/demo/cinema/cinema/hold/{hold_token}?" in me and "Seats D1, D2 held until" in me


def test_the_payment_page_offers_the_keep_link_in_the_sheet_only(client, held, svc):
    c, _location, hold_token = held
    path = order_page(client, c, hold_token)
    sheet = client.get(f"{path}?c={c}&lang=en", headers=SHEET).get_data(as_text=True)
    assert "/v/demo/keep?k=" in keep_link(sheet)
    assert 'id="keep-offer"' not in client.get(f"{path}?c={c}&lang=en", headers=BROWSER).get_data(as_text=True)
    # waiting for the provider, the page reloads itself: each reload shows the same link (her one live code)
    assert svc.payments.store.bind(VENUE, path.rsplit("/", 1)[1], "wechat", "native") == "ok"
    waiting = client.get(f"{path}?c={c}&lang=en", headers=SHEET).get_data(as_text=True)
    assert keep_link(waiting) == keep_link(sheet)


def test_the_payment_page_names_the_film_in_the_pages_language(client, held):
    c, _location, hold_token = held
    path = order_page(client, c, hold_token)
    en = client.get(f"{path}?c={c}&lang=en").get_data(as_text=True)
    assert '<p id="order-description">Orbit Nine D1, D2</p>' in en and "九号轨道" not in en
    zh = client.get(f"{path}?c={c}&lang=zh").get_data(as_text=True)
    assert '<p id="order-description">九号轨道 D1, D2</p>' in zh


def test_a_film_without_an_english_title_is_shown_in_chinese_marked(app, client, mall, svc):
    store = CinemaStore(svc.db)
    show_id = store.upsert_showtimes(VENUE, ZONE, [ShowtimeInput("", "九号轨道", "1", int(time.time()) + 3600, 4500)],
                                     source="t")["ids"][0]
    with app.test_request_context():
        c = shopper_token(Shopper(VENUE, "zh-only"))
    location = client.post(f"{BASE}/show/{show_id}/hold", data={"seat": ["E1"], "c": c}).headers["Location"]
    path = order_page(client, c, urlsplit(location).path.rsplit("/", 1)[1])
    en = client.get(f"{path}?c={c}&lang=en").get_data(as_text=True)
    assert '<span lang="zh">九号轨道 E1</span> <small class="lang-tag" lang="zh">中文</small>' in en
