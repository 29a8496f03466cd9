"""The car park's part of Me: a parking fee left owed (to pay it now), my car (the latest lookup while it is
kept), else "find my car" in each car park (portal/apps/mine.py)."""

from __future__ import annotations

from flask_babel import gettext as _

from lightapps.parking import APP
from lightapps.parking.common import level_name, parking_store
from portal.apps.locale import spoken_time
from portal.apps.mine import MyItem
from portal.apps.views import is_zh, zones_running
from portal.payments.money import cny
from portal.services import services
from portal.shopper import Shopper


def owed(venue: str, shopper: Shopper) -> list[MyItem]:
    """The shopper's unpaid exits: their agreement's that did not go through, or of a plate they proved
    theirs on the fee page."""
    running = zones_running(APP, venue)
    return [MyItem(kind="car", title=_("Parking fee owed: %(amount)s", amount=cny(debt.due_fen)),
                   detail=_("Left without paying at %(time)s", time=spoken_time(debt.exit_ms / 1000)),
                   endpoint="parking.owed_page",
                   values={"venue": venue, "zone": debt.zone or running[0], "debt_id": debt.id})
            for debt in parking_store().debts_of(venue, shopper.client)
            if debt.status == "owed" and debt.due_fen > 0 and (debt.zone or running)]


def mine(venue: str, shopper: Shopper) -> list[MyItem]:
    return owed(venue, shopper) + _cars(venue, shopper)


def _cars(venue: str, shopper: Shopper) -> list[MyItem]:
    store = parking_store()
    venue_map = services().venues.get_map(venue)
    result_id = store.last_result_id(venue, shopper.client)
    loaded = store.load_result(venue, shopper.client, result_id) if result_id else None
    if loaded is not None and loaded[1].kind == "exact" and venue_map is not None:
        zone, result = loaded
        match = result.matches[0]
        # The bay only once the shopper named the hour the car came in, as on the car page itself.
        detail = (_("Bay %(bay)s, level %(level)s", bay=match.bay, level=level_name(venue_map, match.level, is_zh()))
                  if result.verified else _("Confirm when you parked to see the bay"))
        return [MyItem(kind="car", title=_("My car"), detail=detail,
                       endpoint="parking.car", values={"venue": venue, "zone": zone, "result_id": result_id})]
    zh = is_zh()
    items = []
    for zone_id in zones_running(APP, venue):
        zone = venue_map.zone(zone_id) if venue_map else None
        items.append(MyItem(kind="car", title=_("Find my car"),
                            detail=zone.label(zh) if zone else zone_id,
                            endpoint="parking.landing", values={"venue": venue, "zone": zone_id}, held=False))
    return items
