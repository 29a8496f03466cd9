"""The demo mall's car park: rows of bays inside the garage zone, a plausible occupancy, one parked car.

Rows run along y (bays 2.5 m apart); row letters are the areas shoppers are told for partial plates.
A demo venue without Harbour Light's `garage` zone (the Galleria) gets rows across each of its zones of
kind garage instead (`garage_bays`), with the same occupancy and no parked demo car.
The demo car ``粤B D8888`` is parked when the demo mall is first loaded (it expires 24 h later, like
every plate)."""

from __future__ import annotations

import hashlib
import time

from lightapps.parking.plates import PlateHasher, fold, normalise
from lightapps.parking.store import Bay, Event, ParkingStore

GARAGE_ZONE = "garage"
# (area letter, x of the row's centre line in metres); the last row leaves the door to the mall free.
ROWS = (("A", 3.0), ("B", 13.5), ("C", 18.5), ("D", 29.0), ("E", 37.0))
BAY_PITCH_M = 2.5
FIRST_Y_M = 5.0
BAYS_PER_ROW = 20
DOOR_GAP = (24.0, 36.0)  # row E: no bays in front of the door at (40, 30)
DEMO_PLATE = "粤B D8888"
DEMO_PLATE_BAY = "G-C07"
OCCUPIED_SHARE = 0.6


def demo_bays(venue_map, zone_id: str = GARAGE_ZONE) -> list[Bay]:
    zone = venue_map.zone(zone_id)
    if zone is None:
        return []
    level_name = venue_map.floor(zone.floor).name
    xs = [x for x, _ in zone.polygon]
    ys = [y for _, y in zone.polygon]
    bays = []
    for area, x in ROWS:
        if not min(xs) <= x <= max(xs):
            continue
        for k in range(BAYS_PER_ROW):
            y = FIRST_Y_M + k * BAY_PITCH_M
            if not min(ys) <= y <= max(ys) or (area == "E" and DOOR_GAP[0] < y < DOOR_GAP[1]):
                continue
            bays.append(Bay(f"{level_name}-{area}{k + 1:02d}", zone.id, zone.floor, x, y, area))
    return bays


ROW_PITCH_M = 8.0  # garage_bays: a row of bays every 8 m (bay depth, both sides of a driving lane)
AISLE_HALF_M = 5.0  # garage_bays: the cross aisle along the zone's middle stays free


def garage_bays(venue_map) -> list[Bay]:
    """Rows of bays across every zone of kind garage, areas lettered A, B, ... across the car park."""
    bays: list[Bay] = []
    letters = iter("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    for zone in (z for z in venue_map.zones if z.kind == "garage"):
        level_name = venue_map.floor(zone.floor).name
        x0, x1 = min(x for x, _ in zone.polygon), max(x for x, _ in zone.polygon)
        y0, y1 = min(y for _, y in zone.polygon), max(y for _, y in zone.polygon)
        mid = (y0 + y1) / 2
        x = x0 + ROW_PITCH_M / 2
        while x < x1 - 2.0:
            area = next(letters, None)
            if area is None:
                return bays
            y, k = y0 + FIRST_Y_M, 0
            while y < y1 - 2.0:
                if abs(y - mid) >= AISLE_HALF_M:
                    k += 1
                    bays.append(Bay(f"{level_name}-{area}{k:02d}", zone.id, zone.floor, round(x, 2), round(y, 2), area))
                y += BAY_PITCH_M
            x += ROW_PITCH_M
    return bays


def _occupied(bay_id: str) -> bool:
    digest = hashlib.sha256(bay_id.encode()).digest()
    return digest[0] / 256 < OCCUPIED_SHARE


def seed(svc, venue_map) -> None:
    """Idempotent: bays only when the venue has none, occupancy only when nothing was reported yet."""
    store = ParkingStore(svc.db)
    if not store.bays(venue_map.id):
        bays = demo_bays(venue_map) or garage_bays(venue_map)
        if not bays:
            return
        store.put_bays(venue_map.id, bays)
    bays = store.bays(venue_map.id)
    if store.states(venue_map.id) or not bays:
        return
    now_ms = int(time.time() * 1000)
    events = [Event("bay", now_ms - 60_000, bay=bay, status="occupied" if _occupied(bay.id) else "free")
              for bay in bays.values()]
    if DEMO_PLATE_BAY in bays:
        folded = fold(normalise(DEMO_PLATE))
        events.append(Event("plate", now_ms, bay=bays[DEMO_PLATE_BAY],
                            plate_hash=PlateHasher(svc.settings.mac_hash_key).digest(venue_map.id, folded),
                            plate_text=folded))
    store.apply_events(venue_map.id, events, now_ms / 1000)
