"""A flash sale: a crowd claims a stock at once. The offer's ceiling ("coupons.claim.offer", 300 claims in 10
minutes by default) is sized above a promoted offer's rush, so a 300-stock sale goes whole; past it a claimer is
told the offer is in demand (not that she asked too often), and an operator raises it for a bigger sale.
Sequential on purpose: the point is the ceiling, not concurrency (parallel claims: test_coupons_concurrency.py)."""

from __future__ import annotations

import time

from core.settings import DEFAULT_BUDGETS
from lightapps.coupons.store import CouponStore
from portal.apps.budgets import budget_store
from portal.shopper import Shopper, shopper_token


def _coupon(svc, stock: int):
    now = time.time()
    return CouponStore(svc.db).create("demo", "kopi", {"title_en": "Flash", "stock": stock, "valid_from": now - 60,
                                                       "valid_until": now + 3600})


def _claims(app, coupon, count: int, first: int = 0) -> list:
    with app.app_context():
        tokens = [shopper_token(Shopper("demo", f"flash-{coupon.id}-{i}")) for i in range(first, first + count)]
    browser = app.test_client()
    return [browser.post(f"/v/demo/zone/kopi/coupons/{coupon.id}/claim", data={"c": token},
                         environ_base={"REMOTE_ADDR": f"198.51.{100 + i // 250}.{1 + i % 250}"})  # its own address
            for i, token in enumerate(tokens, start=first)]


def test_the_default_ceiling_lets_a_300_stock_sale_go_whole():
    count, window = DEFAULT_BUDGETS["coupons.claim.offer"]
    assert count >= 300 and window <= 600


def test_a_crowd_claims_a_stock_up_to_the_ceiling_then_hears_it_is_in_demand(app, svc, demo):
    ceiling = 20  # the default's rule on a short test
    budget_store(app).set_limit("demo", "coupons.claim.offer", (ceiling, 600))
    coupon = _coupon(svc, stock=ceiling)
    assert [r.status_code for r in _claims(app, coupon, ceiling)] == [303] * ceiling
    assert _claims(app, coupon, 1, first=ceiling)[0].status_code == 410  # sold out: the stock ended it
    bigger = _coupon(svc, stock=ceiling + 5)
    answers = _claims(app, bigger, ceiling + 1, first=100)
    assert [r.status_code for r in answers] == [303] * ceiling + [429]
    assert "in great demand" in answers[-1].get_data(as_text=True)
    assert CouponStore(svc.db).get("demo", bigger.id).left == 5
