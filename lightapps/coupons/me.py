"""The coupons' part of Me: the shopper's claimed coupons not yet used (portal/apps/mine.py)."""

from __future__ import annotations

from flask_babel import gettext as _

from lightapps.coupons import APP
from lightapps.coupons.codes import format_code
from portal.apps.locale import spoken_day
from portal.apps.mine import MyItem
from portal.apps.views import app_store, is_zh
from portal.shopper import Shopper


def mine(venue: str, shopper: Shopper) -> list[MyItem]:
    zh = is_zh()
    return [MyItem(kind="coupon", title=coupon.title(zh),
                   detail=_("Code %(code)s · valid until %(day)s", code=format_code(issued.code),
                            day=spoken_day(coupon.valid_until - 1)),
                   endpoint="coupons.mine_one", values={"venue": venue, "code": issued.code})
            for issued, coupon in app_store(APP).wallet(venue, shopper.client) if issued.state == "issued"]
