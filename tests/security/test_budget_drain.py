"""One device that changes its address cannot drain a scarce pool (portal/apps/budgets.py, core/settings.py).

Inside the venue's guest WiFi every address counts by itself (`address_key`: the venue's /64 is every phone's), so
a laptop that adds an address of the /64 for each request, with a new anonymous shopper each (a page load), is a
new phone to the per-address and per-shopper budgets. What holds it: where a gateway vouched for the phone (the
shopper token's MAC hash), the device's own budget across its new shopper ids and addresses; else the action's
ceilings the crowd shares, which count only such unvouched requests (an offer's, a show's: `unvouched=`)."""

from __future__ import annotations

import re
import time

import pytest

from core.settings import DEFAULT_BUDGETS
from lightapps.coupons.store import CouponStore
from portal.apps.budgets import budget_store
from portal.captive.config import PortalConfigStore
from portal.shopper import new_shopper, token_store

GUEST_64 = "2001:db8:7:7::/64"
HOUR = 3600


@pytest.fixture
def guest_wifi(db, demo):
    PortalConfigStore(db).set("demo", {"client_networks": GUEST_64})


def new_coupon(svc, stock: int = 60):
    return CouponStore(svc.db).create("demo", "kopi", {
        "title_en": "Rush", "stock": stock, "valid_from": time.time() - 60, "valid_until": time.time() + 3600})


def page_token(browser, path: str, ip: str) -> str:
    page = browser.get(path, environ_base={"REMOTE_ADDR": ip}).get_data(as_text=True)
    return re.search(r'name="c" value="([^"]+)"', page).group(1)


def claim(app, coupon, ip: str, token: str | None = None):
    """A claim from `ip`: with `token` (a shopper the gateway handed out), else as a new anonymous shopper."""
    browser = app.test_client()
    token = token or page_token(browser, "/v/demo/zone/kopi/coupons", ip)
    return browser.post(f"/v/demo/zone/kopi/coupons/{coupon.id}/claim", data={"c": token},
                        environ_base={"REMOTE_ADDR": ip})


def sheet_token(app, phone: str) -> str:
    """What a gateway's redirect hands this phone's sign-in sheet: a new shopper, on the phone it vouched for."""
    with app.app_context():
        return token_store(app).mint(new_shopper("demo", phone, phone_verified=True), handout=True)


def test_a_laptop_taking_new_addresses_of_the_guest_64_cannot_take_a_whole_offer(app, svc, guest_wifi):
    """The auditor's case: "one per person" coupons, one laptop, a new address and shopper per claim. The offer's
    ceiling (300 in 10 minutes by default) set low for a short test: the rule, not the number."""
    burst = 20
    budget_store(app).set_limit("demo", "coupons.claim.offer", (burst, 600))
    coupon = new_coupon(svc, stock=burst + 20)
    statuses = [claim(app, coupon, f"2001:db8:7:7::{i + 1:x}").status_code for i in range(burst + 20)]
    assert statuses[:burst] == [303] * burst and set(statuses[burst:]) == {429}
    assert CouponStore(svc.db).get("demo", coupon.id).left == 20
    # the ceiling is the offer's: the venue's other coupons are still there for a shopper
    assert claim(app, new_coupon(svc), "2001:db8:7:7::beef").status_code == 303


def test_a_vouched_phone_is_one_budget_across_its_new_shoppers_and_addresses(app, svc, guest_wifi):
    """Each gateway redirect hands the phone a new shopper id, and each may come from a new address: the phone
    the gateway vouched for counts them together. Another phone is not held up."""
    coupon = new_coupon(svc, stock=60)
    limit = DEFAULT_BUDGETS["coupons.claim.device"][0]
    statuses = [claim(app, coupon, f"2001:db8:7:7::{i + 1:x}", sheet_token(app, "phone-a")).status_code
                for i in range(limit + 1)]
    assert statuses == [303] * limit + [429]
    assert claim(app, coupon, "2001:db8:7:7::ffff", sheet_token(app, "phone-b")).status_code == 303


def test_one_phone_cannot_spend_the_venues_daily_texts(app, svc, guest_wifi):
    """A vouched phone texting new numbers under new shoppers from new addresses of the guest /64 is held to its
    device budget, far below the venue's daily cap (set low here): a real shopper's sign-up is still sent."""
    budget_store(app).set_limit("demo", "membership.sms.venue", (8, 86400))
    per_device = DEFAULT_BUDGETS["membership.sms.device"][0]
    sent = []
    for i in range(8):
        ip = f"2001:db8:7:7::{i + 1:x}"
        sent.append(app.test_client().post("/v/demo/member/signup", environ_base={"REMOTE_ADDR": ip}, data={
            "c": sheet_token(app, "pumping-phone"), "phone": f"+86139{i:08d}"}).status_code)
    assert sent == [303] * per_device + [429] * (8 - per_device)
    shopper = app.test_client()
    token = page_token(shopper, "/v/demo/member", "2001:db8:7:7::beef")
    assert shopper.post("/v/demo/member/signup", data={"c": token, "phone": "+8613800138123"},
                        environ_base={"REMOTE_ADDR": "2001:db8:7:7::beef"}).status_code == 303
