"""Membership card (mall-wide): sign up with a phone number and an SMS code, a rotating member QR,
points and tier, points history; the POS posts purchases and refunds over the partner API, each
receipt counted exactly once.

Shopper pages in `views` (blueprint "membership"), the owner console in `console`, the POS API in
`api`, every change one Lua script in `store`; codes are sent through a pluggable `sender`."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from lightapps.membership.benefits import benefits
from lightapps.membership.payment import register as register_points
from lightapps.membership.sender import EXTENSION, SmsCodeSender
from lightapps.membership.store import MemberStore
from portal.apps.capabilities import AGREEMENTS, MEMBERS, POINTS
from portal.apps.registry import ConfigField, LightApp


def _init_app(flask_app) -> None:
    if EXTENSION not in flask_app.extensions:  # codes go through the portal's one SMS provider (SMS_PROVIDER)
        flask_app.extensions[EXTENSION] = SmsCodeSender(keep_codes=flask_app.extensions["mallportal"].settings.demo)
    register_points(flask_app)  # payments in the mall earn points (lightapps/membership/payment.py)


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
    operator_assigns=True,  # it issues points (the mall's money): only the operator turns it on in a zone
    store=MemberStore,
    history={"membership.purchase": _l("Purchase recorded for a member (%(points)s points)")},
    init_app=_init_app,  # sign-up codes through the portal's SMS provider; points from payments
    # for other apps and the host (portal/apps/capabilities.py): points to grant and redeem, payment agreements,
    # which member a shopper is (the privacy centre's export and erasure)
    provides={POINTS: benefits, AGREEMENTS: benefits, MEMBERS: benefits},
    console_endpoint="membership_console.home",
)
