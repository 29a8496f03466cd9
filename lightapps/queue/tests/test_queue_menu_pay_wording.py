"""The menu console tells the owner how shoppers pay for a pre-order as the pre-order page does (payment.py,
`payments_on`): online when payments are on, at the restaurant when they are off."""

from __future__ import annotations

import re

from core.payment_settings import PaymentSettings
from portal import create_app

MENU = "/console/apps/queue/demo/jade/menu"
AT_THE_RESTAURANT = "they pay at the restaurant"
ONLINE = "they pay online when they save the pre-order"


def menu_page(client) -> str:
    page = client.get("/console/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert client.post("/console/login", data={"username": "jade", "password": "mallportal-demo",
                                               "csrf_token": csrf}).status_code == 303
    return client.get(f"{MENU}?lang=en").get_data(as_text=True)


def test_with_payments_off_shoppers_pay_at_the_restaurant(client, demo):
    page = menu_page(client)
    assert AT_THE_RESTAURANT in page and ONLINE not in page


def test_with_payments_on_shoppers_pay_online(settings, demo):
    paid = create_app(settings.with_(payments=PaymentSettings(sandbox_url="http://127.0.0.1:9")))
    page = menu_page(paid.test_client())
    assert ONLINE in page and AT_THE_RESTAURANT not in page
