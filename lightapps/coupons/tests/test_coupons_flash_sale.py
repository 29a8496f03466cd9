"""A flash sale: a crowd claims a whole stock at once. The offer's ceiling ("coupons.claim.offer") counts only the
claims of phones no gateway vouched for (portal/apps/budgets.py `_who`): a vouched phone is held to its own device
budget, so a sell-out by vouched phones never meets the ceiling, while one device coming back as ever new
shoppers from ever new addresses still does (its refusal says the offer is in demand, not that she asked too
often). The ceiling is set low here so that a short test shows both; sequential on purpose: the point is the
ceiling, not concurrency (parallel claims: test_coupons_concurrency.py)."""

from __future__ import annotations

import time

from lightapps.coupons.store import CouponStore
from portal.apps.budgets import budget_store
from portal.shopper import Shopper, new_shopper, shopper_token, token_store

CEILING = 20
STOCK = 3 * CEILING


def _coupon(svc):
    now = time.time()
    return CouponStore(svc.db).create("demo", "kopi", {"title_en": "Flash", "stock": STOCK, "valid_from": now - 60,
                                                       "valid_until": now + 3600})


def _claim(app, coupon, token: str, i: int):
    address = f"198.51.{100 + i // 250}.{1 + i % 250}"  # each phone its own address
    return app.test_client().post(f"/v/demo/zone/kopi/coupons/{coupon.id}/claim", data={"c": token},
                                  environ_base={"REMOTE_ADDR": address})


def test_vouched_phones_claim_a_whole_stock_past_the_offers_ceiling(app, svc, demo):
    budget_store(app).set_limit("demo", "coupons.claim.offer", (CEILING, 600))
    coupon = _coupon(svc)
    with app.app_context():  # what each phone's gateway redirect hands its sign-in sheet: a vouched phone
        tokens = [token_store(app).mint(new_shopper("demo", f"phone-{i}", phone_verified=True), handout=True)
                  for i in range(STOCK + 1)]
    statuses = [_claim(app, coupon, tokens[i], i).status_code for i in range(STOCK)]
    assert statuses == [303] * STOCK, {s: statuses.count(s) for s in set(statuses)}
    assert CouponStore(svc.db).get("demo", coupon.id).left == 0
    assert _claim(app, coupon, tokens[STOCK], STOCK).status_code == 410  # the stock, not the ceiling, ends it


def test_unvouched_claims_stop_at_the_offers_ceiling_as_in_demand(app, svc, demo):
    budget_store(app).set_limit("demo", "coupons.claim.offer", (CEILING, 600))
    coupon = _coupon(svc)
    with app.app_context():
        tokens = [shopper_token(Shopper("demo", f"flash-{i}")) for i in range(CEILING + 1)]
    statuses = [_claim(app, coupon, tokens[i], i).status_code for i in range(CEILING)]
    assert statuses == [303] * CEILING
    refused = _claim(app, coupon, tokens[CEILING], CEILING)
    assert refused.status_code == 429 and "in great demand" in refused.get_data(as_text=True)
    assert CouponStore(svc.db).get("demo", coupon.id).left == STOCK - CEILING
