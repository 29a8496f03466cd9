"""Activities: mall events with sign-up and capacity, flash sales with a start time and limited
stock, group buys that succeed when enough shoppers join by a deadline, and outbound links to partner
shops that carry the mall's attribution (the mall sees the traffic it sends).

Shopper pages in `views` (blueprint "activities"), the owner console in `console`; joining is one Lua
script in `store`."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from lightapps.activities.payment import register as register_payments
from lightapps.activities.store import ActivityStore
from portal.apps.registry import ConfigField, LightApp

APP = LightApp(
    name="activities",
    title_en="Events, flash sales and group buys",
    title_zh="活动、限时抢购与团购",
    landing_endpoint="activities.landing",
    config_schema=(
        ConfigField("headline_en", "Headline (English)", default="What's on in the mall", max_length=120),
        ConfigField("headline_zh", "Headline (Chinese)", default="商场活动", max_length=120),
    ),
    zone_kinds=("atrium", "shop", "food"),
    store=ActivityStore,
    history={"activities.create": _l("Activity %(activity)s created"),
             "activities.stop": _l("Activity %(activity)s closed"),
             "activities.link": _l("Partner link added (campaign %(campaign)s)")},
    console_endpoint="activities_console.home",
    init_app=register_payments,  # flash sales paid online (lightapps/activities/payment.py)
)
