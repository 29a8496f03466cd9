"""My coupons in the WiFi sign-in sheet: the list offers keeping them in the phone's real browser (Android's
sheet closes by itself once the network works, and the coupons would stay behind in it)."""

from __future__ import annotations

import time

from lightapps.coupons.store import CouponStore
from portal.shopper import Shopper, shopper_token

ANDROID = {"User-Agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A; wv) AppleWebKit/537.36 (KHTML, like "
                         "Gecko) Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36"}
CHROME = {"User-Agent": ANDROID["User-Agent"].replace("; wv)", ")")}


def test_my_coupons_offer_the_keep_link_in_the_sheet_once_she_has_one(app, svc, demo):
    with app.app_context():
        c = shopper_token(Shopper("demo", "sheet-saver"))
    sheet, mine = app.test_client(use_cookies=False), f"/v/demo/coupons/mine?c={c}&lang=en"
    assert 'id="keep-offer"' not in sheet.get(mine, headers=ANDROID).get_data(as_text=True)  # none yet
    coupons = CouponStore(svc.db)
    coupon = coupons.create("demo", "kopi", {"title_en": "Keep coffee", "title_zh": "保留咖啡", "description_en": "",
                                             "stock": 5, "valid_from": time.time() - 60,
                                             "valid_until": time.time() + 86400})
    assert coupons.claim("demo", "kopi", coupon.id, "sheet-saver").ok
    page = sheet.get(mine, headers=ANDROID).get_data(as_text=True)
    assert "Keep coffee" in page and page.count('id="keep-offer"') == 1
    assert 'id="keep-link"' in page[page.index("<main>"):page.index("</main>")]
    assert 'id="keep-offer"' not in app.test_client(use_cookies=False).get(mine, headers=CHROME).get_data(as_text=True)
