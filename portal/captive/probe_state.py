"""Everything a probe needs to know about a phone, in one round trip to the store.

A probe is the hottest request the portal serves (every phone sends several on joining, and again whenever its
OS rechecks), so its reads go out as one pipeline on the thread's own connection (core/storage.py HotReads):
the phone's access session, its kept position (portal/tracking/positions.py, fields by name), the newest
reading now stored for it, and whether its shopper declined location-based services (portal/consent.py
ConsentKeys.location_off: then no position is used, the phone lands on the mall home). The light apps of the
zones come from this process's copy of the venue's table (ZoneAppStore.from_copy), checked against the table's
version read with the phone's keys when they share its slot (the venue has one bucket), so an owner's change
is seen by the next probe; else the copy is at most ZoneAppStore.COPY_MAX_AGE_S old. Deciding what they mean
stays here in Python: whether the session is live, whether the kept position still answers, which app the zone
runs. (Until 2026-12-01 a Lua script gathered the reads and the apps: the same round trip, about twice the
store's CPU.)"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import redis

from core.storage import Commands, HotReads, phone_buckets
from portal.apps.zone_apps import ZoneAppKeys, ZoneAppStore
from portal.captive.sessions import Session, SessionKeys, SessionStore
from portal.consent import ConsentKeys
from portal.ingest.store import RssiKeys
from portal.tracking import KeptPosition, Locator, Position, TrackKeys
from portal.tracking.positions import landing_zone


@dataclass(frozen=True)
class ProbeState:
    session: Session | None  # a live access session
    position: Position | None  # the kept position, when it still answers; None: position anew
    app: str | None  # the light app of the zone that position lands in (captive/landing.py landing_zone)
    declined: bool = False  # the phone's shopper declined location-based services (portal/consent.py)


class ProbeStateStore:
    def __init__(self, db: redis.Redis, locator: Locator, zone_apps: ZoneAppStore) -> None:
        self.locator = locator
        self.zone_apps = zone_apps
        self._reads = HotReads(db)
        # The same phones probe again and again, and building their keys cost a probe as much as
        # sealing its token: memoised per store (bounded; the bucket counts are set once per process).
        self._commands = functools.lru_cache(maxsize=32_768)(_read_commands)

    def read(self, venue: str, client: str, now: float | None = None, associated_ap: str | None = None) -> ProbeState:
        """`associated_ap`: the AP the gateway named; a position kept from the AP alone or a partial match
        does not answer then (`locator.kept_position`), the probe positions the phone anew with it."""
        now = time.time() if now is None else now
        raw_session, kept, newest, declined, *version = self._reads(self._commands(venue, client))
        session = SessionStore.decode(raw_session, now)
        if declined:  # her position is not used: the caller lands the phone on the mall home
            return ProbeState(session=session, position=None, app=None, declined=True)
        position = self.locator.fresh(KeptPosition.decode(kept), newest[-1] if newest else None, now, associated_ap)
        landing = landing_zone(position)
        app = None
        if landing is not None:  # the app of the zone the phone lands in: its zone's, or its group's
            app = ZoneAppStore.app_of(self.zone_apps.from_copy(venue, landing, version[0] if version else None))
        return ProbeState(session=session, position=position, app=app)


def _read_commands(venue: str, client: str) -> Commands:
    """The probe's reads for this phone (its keys lie in its bucket's slot), and the version of the venue's
    zone-app table when that lies in the same slot (the venue has one bucket)."""
    commands = (("GET", SessionKeys(venue).session(client)), ("GET", TrackKeys(venue).last_position(client)),
                ("ZRANGE", RssiKeys(venue).readings(client), "-1", "-1"),
                ("EXISTS", ConsentKeys(venue).location_off(client)))
    return commands if phone_buckets(venue) > 1 else (*commands, ("GET", ZoneAppKeys(venue).version()))
