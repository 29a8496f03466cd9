"""Parking and reverse car finding: free bays per level, and "find my car" by plate.

Shopper pages are in `views` (blueprint "parking": landing, find, result with the bay on the plan and
the walking route), the owner console in `console` (occupancy per level and area, the lookup log), the
parking system's event API in `api`; the state and its Lua scripts in `store`; the plate rules
(normalising, partial lookups, hashing) in `plates`."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

from lightapps.parking.store import ParkingStore
from lightapps.parking.wayfinding import parse_entrance
from portal.apps.registry import ConfigField, LightApp


class EntranceField(ConfigField):
    """Where the walk back to the car starts when the portal cannot place the shopper: floor,x,y."""

    def parse(self, raw: Any) -> Any:
        value = super().parse(raw) or ""
        point = parse_entrance(value)
        return "" if point is None else f"{point[0]},{point[1]:g},{point[2]:g}"


CONFIG_SCHEMA = (
    ConfigField("headline_en", "Headline (English)", default="Find your car: type your number plate.",
                max_length=120),
    ConfigField("headline_zh", "Headline (Chinese)", default="反向寻车：输入车牌号，带您找到爱车。", max_length=120),
    EntranceField("entrance", "Car park entrance (floor,x,y in metres)", default="", max_length=40,
                  help="Where the walking route starts when the shopper's position is unknown; empty = the "
                       "garage's door to the mall."),
)




APP = LightApp(
    name="parking",
    title_en="Parking and car finder",
    title_zh="停车与反向寻车",
    landing_endpoint="parking.landing",
    config_schema=CONFIG_SCHEMA,
    zone_kinds=("garage",),
    store=ParkingStore,
    history={"parking.bay.set": _l("Bay %(bay)s set to %(status)s")},
    console_endpoint="parking_console.home",
)
