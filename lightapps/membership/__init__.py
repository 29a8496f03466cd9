"""Membership card (mall-wide): sign up with a phone number and an SMS code, a rotating member QR,
points and tier, points history; the POS posts purchases and refunds over the partner API, each
receipt counted exactly once.

Shopper pages in `views` (blueprint "membership"), the owner console in `console`, the POS API in
`api`, every change one Lua script in `store`; codes are sent through a pluggable `sender`."""

from __future__ import annotations

from lightapps.membership.benefits import register as register_benefits
from lightapps.membership.payment import register as register_points
from lightapps.membership.sender import EXTENSION, LoggingCodeSender
from lightapps.membership.store import MemberStore
from portal.apps.registry import ConfigField, LightApp
from portal.apps.views import STORES

APP_NAME = "membership"


def _init_app(flask_app) -> None:
    if EXTENSION not in flask_app.extensions:  # production sets a real SMS sender before or after this
        svc = flask_app.extensions["mallportal"]
        flask_app.extensions[EXTENSION] = LoggingCodeSender(db=svc.db, demo=svc.settings.demo)
    register_points(flask_app)  # payments in the mall earn points (lightapps/membership/payment.py)
    # points to redeem and payment agreements, for other apps (portal/apps/members.py)
    register_benefits(flask_app, flask_app.extensions[STORES][APP_NAME])


APP = LightApp(
    name="membership",
    title_en="Membership card",
    title_zh="会员卡",
    landing_endpoint="membership.landing",
    config_schema=(
        ConfigField("headline_en", "Headline (English)", default="Your mall membership card", max_length=120),
        ConfigField("headline_zh", "Headline (Chinese)", default="商场会员卡", max_length=120),
    ),
    zone_kinds=("shop", "atrium", "food", "restaurant", "cinema", "garage"),
    store=MemberStore,
    init_app=_init_app,  # the development SMS sender; points from payments
    console_endpoint="membership_console.home",
)
