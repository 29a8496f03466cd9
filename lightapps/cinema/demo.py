"""Demo showtimes for a demo mall's cinema zone (Harbour Light's `cinema`, else the first zone of kind
cinema, as in the Galleria): today and tomorrow, only if the zone has none."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from lightapps.cinema.store import CinemaStore, ShowtimeInput
from portal.apps.locale import read_venue_locale

DEMO_ZONE = "cinema"
DEMO_FILMS = (
    ("Orbit Nine", "九号轨道", "1", (10, 30), 4500),
    ("Paper Kites", "纸风筝", "2", (11, 15), 3800),
    ("The Long Night Market", "漫长的夜市", "3", (12, 0), 4000),
)
DEMO_STARTS = ((0, 0), (3, 0), (6, 15), (9, 30))  # hours, minutes after each film's first show


def seed(svc, venue_map) -> None:
    zone = venue_map.zone(DEMO_ZONE) or next((z for z in venue_map.zones if z.kind == "cinema"), None)
    if zone is None:
        return
    store = CinemaStore(svc.db)
    if store.has_showtimes(venue_map.id, zone.id):
        return
    items = []
    tz = read_venue_locale(svc, venue_map.id).time_zone  # the films run on the mall's clock
    for day_offset in (0, 1):
        day = datetime.now(tz).date() + timedelta(days=day_offset)
        for n, (film_en, film_zh, hall, (hour, minute), price) in enumerate(DEMO_FILMS):
            first = datetime.combine(day, time(hour, minute), tzinfo=tz)
            for k, (dh, dm) in enumerate(DEMO_STARTS):
                start = first + timedelta(hours=dh, minutes=dm)
                items.append(ShowtimeInput(film_en=film_en, film_zh=film_zh, auditorium=hall,
                                           starts_at=int(start.timestamp()), price_cents=price,
                                           external_id=f"demo-{day.isoformat()}-{n}-{k}"))
    store.upsert_showtimes(venue_map.id, zone.id, items, source="demo")
