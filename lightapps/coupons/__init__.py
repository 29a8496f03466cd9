"""E-coupons: zone owners publish coupons with a stock and a validity window; shoppers in the zone
claim one each (QR + short code); the issuing shop redeems a code exactly once. A coupon with a parking
value may instead be taken off the car park's fee (the platform's "vouchers" capability, vouchers.py)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from lightapps.coupons.store import CouponStore
from lightapps.coupons.vouchers import provide as provide_vouchers
from portal.apps.capabilities import VOUCHERS
from portal.apps.registry import ConfigField, LightApp

APP = LightApp(
    name="coupons",
    title_en="E-coupons",
    title_zh="电子优惠券",
    landing_endpoint="coupons.landing",
    console_endpoint="coupons_console.home",
    config_schema=(
        ConfigField("headline_en", "Headline (English)", default="Today's coupons", max_length=120),
        ConfigField("headline_zh", "Headline (Chinese)", default="今日优惠券", max_length=120),
    ),
    zone_kinds=("shop", "food", "restaurant"),
    store=CouponStore,
    history={"coupons.create": _l("Coupon %(coupon)s published (%(stock)s)"),
             "coupons.stop": _l("Coupon %(coupon)s stopped"),
             "coupons.redeem": _l("Coupon %(coupon)s redeemed (code …%(code_end)s)")},
    provides={VOUCHERS: provide_vouchers},  # parking coupons off the car park's fee (vouchers.py)
)
