"""The payment page names what is bought in the page's language (the provider's one description is Chinese
first; the order's first line item carries both)."""

from __future__ import annotations

import time

from lightapps.activities.payment import buy
from lightapps.activities.store import ActivityStore
from portal.apps.views import STORES
from portal.shopper import Shopper, shopper_token


def test_the_activity_payment_page_names_the_sale_in_the_pages_language(app, client, demo):
    now, db = time.time(), app.extensions["mallportal"].db
    item = ActivityStore(db).create("demo", "atrium", {"kind": "sale", "title_en": "Earbuds", "title_zh": "耳机",
                                                       "price": "¥9.90", "starts_at": now - 60,
                                                       "ends_at": now + 3600, "limit": 5})
    with app.test_request_context():
        order = buy("demo", item, "anon-en", "http://back.example/", app.extensions[STORES]["activities.sale"])
        c = shopper_token(Shopper("demo", "anon-en"))
    page_en = client.get(f"/v/demo/pay/{order.id}?c={c}&lang=en").get_data(as_text=True)
    page_zh = client.get(f"/v/demo/pay/{order.id}?c={c}&lang=zh").get_data(as_text=True)
    assert '<p id="order-description">Earbuds</p>' in page_en
    assert '<p id="order-description">耳机</p>' in page_zh
