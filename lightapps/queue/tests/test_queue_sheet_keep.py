"""A queue number taken in the WiFi sign-in sheet: the queue page offers keeping it in the phone's real browser
(Android's sheet closes by itself once the network works, and the number would stay behind in it)."""

from __future__ import annotations

import re

from portal.shopper import Shopper, shopper_token

BASE = "/v/demo/queue/jade"
ANDROID = {"User-Agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A; wv) AppleWebKit/537.36 (KHTML, like "
                         "Gecko) Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36"}
CHROME = {"User-Agent": ANDROID["User-Agent"].replace("; wv)", ")")}


def _main(page: str) -> str:
    return page[page.index("<main>"):page.index("</main>")]


def test_the_queue_page_offers_keeping_the_number_in_the_sheet_only_while_it_is_live(app, demo):
    with app.app_context():
        c = shopper_token(Shopper("demo", "sheet-queuer"))
    sheet = app.test_client(use_cookies=False)
    assert 'id="keep-offer"' not in sheet.get(f"{BASE}?c={c}&lang=en", headers=ANDROID).get_data(as_text=True)
    taken = sheet.post(f"{BASE}/take?lang=en", data={"party": "2", "c": c}, headers=ANDROID)
    assert taken.status_code == 303
    page = sheet.get(taken.headers["Location"], headers=ANDROID).get_data(as_text=True)
    assert 'id="ticket-number"' in page and page.count('id="keep-offer"') == 1 and 'id="keep-offer"' in _main(page)
    # the page reloads itself while the number is live: every reload shows the same link (her one live code)
    link = re.search(r'id="keep-link" href="([^"]+)"', page).group(1)
    reloaded = sheet.get(taken.headers["Location"], headers=ANDROID).get_data(as_text=True)
    assert f'id="keep-link" href="{link}"' in reloaded
    browser = app.test_client(use_cookies=False).get(taken.headers["Location"], headers=CHROME)
    assert 'id="keep-offer"' not in browser.get_data(as_text=True)
    number = re.search(r'name="ticket" value="(\w+)"', page).group(1)
    gave_up = sheet.post(f"{BASE}/cancel?lang=en", data={"ticket": number, "c": c}, headers=ANDROID)
    assert gave_up.status_code == 303
    assert 'id="keep-offer"' not in sheet.get(gave_up.headers["Location"], headers=ANDROID).get_data(as_text=True)
