"""The membership's part of Me: the shopper's card, or the way to get one (portal/apps/mine.py)."""

from __future__ import annotations

from flask_babel import gettext as _

from lightapps.membership import APP
from portal.apps.mine import MyItem
from portal.apps.views import app_store, is_zh
from portal.shopper import Shopper


def mine(venue: str, shopper: Shopper) -> list[MyItem]:
    member = app_store(APP).for_client(venue, shopper.client)
    if member is None:
        return [MyItem(kind="card", title=_("Become a member"), detail=_("Sign up with your phone number"),
                       endpoint="membership.card", values={"venue": venue}, held=False)]
    return [MyItem(kind="card", title=_("Membership card %(id)s", id=member.id),
                   detail=_("%(tier)s · %(points)d points", tier=member.tier_name(is_zh()), points=member.points),
                   endpoint="membership.card", values={"venue": venue})]
