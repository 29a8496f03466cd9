"""Membership card (mall-wide): sign up with a phone number and an SMS code, a rotating member QR,
points and tier, points history; the POS posts purchases and refunds over the partner API, each
receipt counted exactly once.

Shopper pages in `views` (blueprint "membership"), the owner console in `console`, the POS API in
`api`, every change one Lua script in `store`; codes are sent through a pluggable `sender`."""

from __future__ import annotations

from lightapps.membership.api import api_bp
from lightapps.membership.console import console_bp
from lightapps.membership.sender import EXTENSION, LoggingCodeSender
from lightapps.membership.store import MemberStore
from lightapps.membership.views import bp
from portal.apps.registry import ConfigField, LightApp

DEMO_PHONE = "+8613800138000"
DEMO_RECEIPTS = (("pixel", "DEMO-0001", 89900), ("kopi", "DEMO-0002", 4550), ("lumen", "DEMO-0003", 32900))


def _init_app(flask_app) -> None:
    flask_app.register_blueprint(console_bp)
    flask_app.register_blueprint(api_bp)
    if EXTENSION not in flask_app.extensions:  # production sets a real SMS sender before or after this
        flask_app.extensions[EXTENSION] = LoggingCodeSender(db=flask_app.extensions["mallportal"].db)


def _seed_demo(svc, venue_map) -> None:
    """A demo member (phone +86 138 0013 8000, Gold after three purchases), unless the venue has members.
    Open the card by signing up with that number; the development sender logs the code."""
    store = MemberStore(svc.db, svc.settings.secret_key)
    if not store.claim_seed_slot(venue_map.id):
        return
    member, _created = store.bind(venue_map.id, DEMO_PHONE, "demo-seed")
    store.forget_client(venue_map.id, "demo-seed")
    for shop, receipt, cents in DEMO_RECEIPTS:
        store.post_purchase(venue_map.id, member.id, receipt, shop, cents)


# The owner console's link to this app's own console (a registry field that may not exist yet).

APP = LightApp(
    name="membership",
    title_en="Membership card",
    title_zh="会员卡",
    blueprint=bp,
    landing_endpoint="membership.landing",
    config_schema=(
        ConfigField("headline_en", "Headline (English)", default="Your mall membership card", max_length=120),
        ConfigField("headline_zh", "Headline (Chinese)", default="商场会员卡", max_length=120),
    ),
    zone_kinds=("shop", "atrium", "food", "restaurant", "cinema", "garage"),
    init_app=_init_app,
    seed_demo=_seed_demo,
    console_endpoint="membership_console.home",
)
