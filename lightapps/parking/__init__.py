"""Parking and reverse car finding: free bays per level, and "find my car" by plate.

Shopper pages are in `views` (blueprint "parking": landing, find, result with the bay on the plan and
the walking route), the owner console in `console` (occupancy per level and area, the lookup log), the
parking system's event API in `api`; the state and its Lua scripts in `store`; the plate rules
(normalising, partial lookups, hashing) in `plates`."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from flask_babel import lazy_gettext as _l

from fingerprints.model import VenueMap
from lightapps.parking.fees import register as register_fees
from lightapps.parking.store import ParkingStore
from lightapps.parking.wayfinding import check_entrance, parse_entrance
from portal.apps.registry import ConfigField, LightApp
from portal.services import services


class EntranceField(ConfigField):
    """Where the walk back to the car starts when the portal cannot place the shopper: floor,x,y, on a floor
    plan of the venue (checked when the request names the venue: the owner console's save)."""

    def parse(self, raw: Any) -> Any:
        value = super().parse(raw) or ""
        point = parse_entrance(value)
        if point is None:
            return ""
        venue_map = _venue_map_of_request()
        if venue_map is not None:
            check_entrance(venue_map, point)
        return f"{point[0]},{point[1]:g},{point[2]:g}"


def _venue_map_of_request() -> VenueMap | None:
    """The map of the venue the request is about (the zone console's URL, /console/owner/<venue>/zone/<zone>,
    names it): a field's parse gets only the value, yet the entrance must lie on this venue's plan. None outside
    a request, or when the URL names no venue (a config checked on its own: the format only)."""
    if not has_request_context():
        return None
    venue = (request.view_args or {}).get("venue")
    return services().venues.get_map(venue) if isinstance(venue, str) else None


CONFIG_SCHEMA = (
    ConfigField("headline_en", "Headline (English)", default="Find your car: type your number plate.",
                max_length=120),
    ConfigField("headline_zh", "Headline (Chinese)", default="反向寻车：输入车牌号，带您找到爱车。", max_length=120),
    EntranceField("entrance", "Car park entrance (floor,x,y in metres)", default="", max_length=40,
                  help="Where the walking route starts when the shopper's position is unknown; empty = the "
                       "garage's door to the mall."),
    # The tariff (lightapps/parking/tariff.py): money is typed in yuan and stored in fen (500 = ¥5.00).
    ConfigField("free_minutes", "Free minutes", type="int", default=15, min=0, max=1440,
                help="A stay no longer than this costs nothing."),
    ConfigField("hourly_fen", "Fee per started hour (¥)", type="money", default=500, min=0, max=100_000,
                help="Charged for every hour a longer stay has started, from the entry."),
    ConfigField("daily_cap_fen", "Daily cap (¥, 0 = none)", type="money", default=4000, min=0, max=1_000_000,
                help="The most the hours starting on one day (venue time) cost together."),
    ConfigField("grace_minutes", "Minutes to leave after paying", type="int", default=15, min=1, max=120),
    ConfigField("points_per_yuan", "Member points per yuan off (0 = no points)", type="int", default=0, min=0,
                max=100_000),
    ConfigField("spend_fen_per_hour", "Same-day spend per free hour (¥, 0 = none)", type="money", default=0,
                min=0, max=10_000_000, help="Paid orders in the mall today give free hours."),
    ConfigField("max_free_hours", "Most free hours for spending", type="int", default=3, min=0, max=24),
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
    init_app=register_fees,  # paid parking orders credit stays (fees.py)
)
