"""The "coupons.claim" budgets charge only the tap that claims a new code: tapping again a coupon the shopper
holds (a double tap, a stale tab) and a refused claim (sold out, not started, ended) cost nothing, neither the
shopper's budget nor the address's, which every phone behind the mall's WiFi shares (README, abuse budgets).
Parallel taps over HTTP: test_coupons_concurrency.py."""

from __future__ import annotations

import functools
import re
import time

import pytest

from core.settings import DEFAULT_BUDGETS
from lightapps.coupons.store import CouponStore
from portal.apps.budgets import BudgetKeys, budget_store
from portal.shopper import Shopper, shopper_token

PER_SHOPPER = DEFAULT_BUDGETS["coupons.claim.shopper"][0]


@pytest.fixture
def coupons(svc):
    return CouponStore(svc.db)


@pytest.fixture
def token(app):
    @functools.cache  # one token per shopper, as a browser keeps the one its links carry
    def make(client_id: str) -> str:
        with app.app_context():
            return shopper_token(Shopper("demo", client_id))

    return make


def new_coupon(coupons, **over):
    fields = {"title_en": "Budget coupon", "stock": 5, "valid_from": time.time() - 60,
              "valid_until": time.time() + 86400}
    return coupons.create("demo", "kopi", {**fields, **over})


def claim(client, coupon, token):
    return client.post(f"/v/demo/zone/kopi/coupons/{coupon.id}/claim", data={"c": token})


def code_from(resp) -> str:
    return re.search(r"/coupons/mine/([0-9A-Z]{10})", resp.headers["Location"]).group(1)


def spent(client, db, scope: str, who: str) -> int:
    """What the `scope` ("shopper", "ip") counter of "coupons.claim" for `who` holds in this window."""
    hashed = budget_store(client.application).hashed(scope, who)
    return int(db.hget(BudgetKeys("demo").counter(f"coupons.claim.{scope}", hashed), "c") or 0)


def test_tapping_a_held_coupon_again_is_free(client, db, demo, coupons, token):
    """The reviewer's case: a coupon claimed, then tapped 10 more times; the next coupon is still claimed."""
    first, second = new_coupon(coupons), new_coupon(coupons)
    held = claim(client, first, token("tapper"))
    taps = [claim(client, first, token("tapper")) for _ in range(PER_SHOPPER)]
    assert [t.status_code for t in taps] == [303] * PER_SHOPPER
    assert {code_from(t) for t in taps} == {code_from(held)} and all("already=1" in t.headers["Location"] for t in taps)
    assert spent(client, db, "shopper", "tapper") == spent(client, db, "ip", "127.0.0.1") == 1
    new = claim(client, second, token("tapper"))
    assert new.status_code == 303 and "already" not in new.headers["Location"]
    assert code_from(new) != code_from(held)
    assert coupons.issued("demo", code_from(new)).coupon_id == second.id
    assert spent(client, db, "shopper", "tapper") == 2


def test_refused_claims_are_free(client, db, demo, coupons, token):
    sold = new_coupon(coupons, stock=1)
    assert coupons.claim("demo", "kopi", sold.id, "first").ok
    early = new_coupon(coupons, valid_from=time.time() + 3600)
    late = new_coupon(coupons, valid_from=time.time() - 7200, valid_until=time.time() - 3600)
    statuses = [claim(client, c, token("late-comer")).status_code for c in [sold, early, late] * PER_SHOPPER]
    assert statuses == [410, 403, 410] * PER_SHOPPER
    assert spent(client, db, "shopper", "late-comer") == spent(client, db, "ip", "127.0.0.1") == 0
    assert claim(client, new_coupon(coupons), token("late-comer")).status_code == 303


def test_a_tap_over_budget_leads_to_the_coupon_a_parallel_tap_claimed(client, demo, coupons, token, monkeypatch):
    """Over budget, but a parallel tap of the same shopper claimed the coupon between the check and the spend:
    this tap is that one's double tap, so it shows the coupon rather than a 429."""
    coupon = new_coupon(coupons)
    budgets = budget_store(client.application)
    budgets.set_limit("demo", "coupons.claim.shopper", (1, 3600))
    assert budgets.spend("demo", "coupons.claim", {"shopper": "racer"}) is None  # her one claim of the hour, spent
    real_claim = CouponStore.claim

    def the_other_tap_in_between(self, venue, zone, coupon_id, client_id, now=None, check_only=False):
        answer = real_claim(self, venue, zone, coupon_id, client_id, now=now, check_only=check_only)
        if check_only and answer.status == "NEW":
            assert real_claim(self, venue, zone, coupon_id, client_id).ok
        return answer

    monkeypatch.setattr(CouponStore, "claim", the_other_tap_in_between)
    resp = claim(client, coupon, token("racer"))
    assert resp.status_code == 303 and "already=1" in resp.headers["Location"]
    assert coupons.get("demo", coupon.id).claimed == 1
    monkeypatch.setattr(CouponStore, "claim", real_claim)
    assert claim(client, new_coupon(coupons), token("racer")).status_code == 429  # a new claim: over budget


@pytest.mark.parametrize("rival, status", [("unlucky", 303), ("someone-else", 410)])
def test_a_tap_that_lost_a_race_gets_its_unit_back(client, db, demo, coupons, token, monkeypatch, rival, status):
    """Between this tap's spend and its claim, a parallel tap of the same shopper claimed the coupon (the tap
    shows it) or another shopper took the last one (sold out): what the tap spent is counted back."""
    coupon = new_coupon(coupons, stock=1)
    real_claim = CouponStore.claim

    def a_rival_first(self, venue, zone, coupon_id, client_id, now=None, check_only=False):
        if not check_only and client_id == "unlucky":
            assert real_claim(self, venue, zone, coupon_id, rival).ok
        return real_claim(self, venue, zone, coupon_id, client_id, now=now, check_only=check_only)

    monkeypatch.setattr(CouponStore, "claim", a_rival_first)
    assert claim(client, coupon, token("unlucky")).status_code == status
    assert spent(client, db, "shopper", "unlucky") == spent(client, db, "ip", "127.0.0.1") == 0
    assert coupons.get("demo", coupon.id).claimed == 1
