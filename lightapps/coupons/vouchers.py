"""The coupons app's side of the platform's "vouchers" capability (portal/apps/capabilities.py): a shopper's
claimed coupon with a parking value, taken off the car park's fee by the parking app (which names no app).
Hold and its end are each one Lua script in the coupons store (lightapps/coupons/store.py)."""

from __future__ import annotations

import time

from lightapps.coupons.store import CouponStore
from portal.apps.capabilities import Voucher

USES = ("parking",)  # what a coupon may be taken for besides its shop's till


class CouponVouchers:
    def __init__(self, store: CouponStore) -> None:
        self.store = store

    def usable(self, venue: str, client: str, use: str) -> list[Voucher]:
        if use not in USES or not client:
            return []
        now = time.time()
        found = [Voucher(issued.code, coupon.parking_fen, coupon.title_en, coupon.title_zh, coupon.valid_until)
                 for issued, coupon in self.store.wallet(venue, client)
                 if issued.state == "issued" and coupon.parking_fen > 0 and now < coupon.valid_until]
        return sorted(found, key=lambda v: (-v.value_fen, v.valid_until))

    def hold(self, venue: str, client: str, code: str, use: str, ref: str) -> Voucher | None:
        if use not in USES:
            return None
        value = self.store.hold(venue, client, code, ref)
        if value is None:
            return None
        coupon = self.store.get(venue, self.store.issued(venue, code).coupon_id)
        return Voucher(code, value, coupon.title_en, coupon.title_zh, coupon.valid_until)

    def redeem(self, venue: str, ref: str) -> bool:
        return self.store.end_hold(venue, ref, redeem=True)

    def release(self, venue: str, ref: str) -> bool:
        return self.store.end_hold(venue, ref, redeem=False)


def provide(store: CouponStore) -> CouponVouchers:
    """The factory the app's declaration names (built once per process)."""
    return CouponVouchers(store)
