"""The games' part of Me: the prizes the shopper won and has not collected yet (portal/apps/mine.py)."""

from __future__ import annotations

import time

from flask_babel import gettext as _

from lightapps.games import APP
from lightapps.games.rules import show_code
from portal.apps.locale import spoken_day
from portal.apps.mine import MyItem
from portal.apps.views import app_store, is_zh
from portal.shopper import Shopper


def mine(venue: str, shopper: Shopper) -> list[MyItem]:
    zh, now = is_zh(), time.time()
    items = []
    for voucher, game in app_store(APP).wallet(venue, shopper.client):
        prize = game.prize(voucher.prize_id)
        if prize is None or voucher.state != "issued" or now >= game.redeem_until:
            continue
        items.append(MyItem(kind="coupon", title=prize.title(zh),
                            detail=_("Prize code %(code)s · collect by %(day)s", code=show_code(voucher.code),
                                     day=spoken_day(game.redeem_until - 1)),
                            endpoint="games.prize", values={"venue": venue, "code": voucher.code}))
    return items
