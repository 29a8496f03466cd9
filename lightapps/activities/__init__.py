"""Activities: mall events with sign-up and capacity, flash sales with a start time and limited
stock, group buys that succeed when enough shoppers join by a deadline, and outbound links to partner
shops that carry the mall's attribution (the mall sees the traffic it sends).

Shopper pages in `views` (blueprint "activities"), the owner console in `console`; joining is one Lua
script in `store`."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from lightapps.activities.payment import RESERVE_S
from lightapps.activities.payment import register as register_payments
from lightapps.activities.store import Activity, ActivityStore
from portal.apps.registry import ConfigField, LightApp
from portal.apps.views import is_zh


def in_use(store: ActivityStore, venue: str, zone: str, config: dict[str, Any] | None) -> str | None:
    """The LightApp.in_use hook: a zone leaving the activities takes their pages away (the page a payment returns
    to, a sign-up's cancel, a group buy's outcome: they answer 404), so it waits while shoppers hold something
    there (store.py, `held_by_shoppers`). A config change strands nothing: it holds only the headlines."""
    if config is not None:
        return None
    held = store.held_by_shoppers(venue, zone)
    parts = []
    if paying := held["paying"]:
        parts.append(ngettext(
            "%(num)d shopper is paying for a flash sale right now (%(titles)s): the zone can switch once the "
            "payment is made or has lapsed, within %(minutes)d minutes.",
            "%(num)d shoppers are paying for flash sales right now (%(titles)s): the zone can switch once their "
            "payments are made or have lapsed, within %(minutes)d minutes.",
            _total(paying), titles=_titles(paying), minutes=RESERVE_S // 60))
    if signed_up := held["signed_up"]:
        parts.append(ngettext(
            "%(num)d shopper is signed up for events still to come or under way (%(titles)s): the zone can switch "
            "once they have ended.",
            "%(num)d shoppers are signed up for events still to come or under way (%(titles)s): the zone can switch "
            "once they have ended.", _total(signed_up), titles=_titles(signed_up)))
    if deposits := held["deposits"]:
        parts.append(ngettext(
            "%(num)d paid deposit is held for a group buy (%(titles)s): close it in the activities console (the "
            "deposit is refunded) or wait for its deadline; the zone can switch once the deposit is refunded or kept.",
            "%(num)d paid deposits are held for group buys (%(titles)s): close them in the activities console (their "
            "deposits are refunded) or wait for their deadlines; the zone can switch once the deposits are refunded "
            "or kept.", _total(deposits), titles=_titles(deposits)))
    return " ".join(parts) or None


def _total(held: list[tuple[Activity, int]]) -> int:
    return sum(count for _item, count in held)


def _titles(held: list[tuple[Activity, int]], most: int = 5) -> str:
    """The activities by title, newest first; past `most`, an ellipsis (the console lists them all)."""
    zh = is_zh()
    return ", ".join([str(item.title(zh)) for item, _count in held[:most]] + ["…"] * (len(held) > most))


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
    in_use=in_use,  # no zone switch strands a payment, a sign-up or a deposit (portal/owner/views.py)
)
