"""Everything a probe needs to know about a phone, in one round trip to the store.

A probe is the hottest request the portal serves (every phone sends several on joining, and again
whenever its OS rechecks), so its reads are gathered server side by one script: the phone's access
session, its kept position (portal/tracking/positions.py, fields by name) with the newest reading now
stored for it, and the light apps of that position's zone and of its group. Deciding what they mean stays here in
Python: whether the session is live, whether the kept position still answers, which app the zone runs.

When the venue spreads its phones over buckets (core/storage.py), the phone's keys lie in its bucket's
slot and the zone-app table in the venue's: the script reads the phone's part, and the apps come from
this process's copy of the table (ZoneAppStore.from_copy), still one round trip."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import redis

from core.storage import HotScript, phone_buckets
from portal.apps.zone_apps import ZoneAppKeys, ZoneAppStore
from portal.captive.sessions import Session, SessionKeys, SessionStore
from portal.ingest.store import RssiKeys
from portal.tracking import KeptPosition, Locator, Position, TrackKeys
from portal.tracking.positions import landing_zone, pairs_to_fields

# KEYS: session, kept position, readings (one slot: the phone's bucket), and the zone apps when they
# share it (the venue has one bucket); without KEYS[4] the apps come back false.
_GATHER = """
local session = redis.call('GET', KEYS[1])
local kept = redis.call('HGETALL', KEYS[2])
local newest = redis.call('ZRANGE', KEYS[3], -1, -1)[1] or false
local apps = {false, false}
if KEYS[4] then
  local place = redis.call('HMGET', KEYS[2], 'zone', 'group')
  for i = 1, 2 do
    if place[i] and place[i] ~= '' then apps[i] = redis.call('HGET', KEYS[4], place[i]) end
  end
end
return {session, newest, kept, apps[1], apps[2]}
"""


@dataclass(frozen=True)
class ProbeState:
    session: Session | None  # a live access session
    position: Position | None  # the kept position, when it still answers; None: position anew
    app: str | None  # the light app of the zone that position lands in (captive/landing.py landing_zone)


class ProbeStateStore:
    def __init__(self, db: redis.Redis, locator: Locator, zone_apps: ZoneAppStore) -> None:
        self.locator = locator
        self.zone_apps = zone_apps
        self._gather = HotScript(db, _GATHER)
        # The same phones probe again and again, and building their four keys cost a probe as much as
        # sealing its token: memoised per store (bounded; the bucket counts are set once per process).
        self._keys = functools.lru_cache(maxsize=65_536)(_gather_keys)

    def read(self, venue: str, client: str, now: float | None = None, associated_ap: str | None = None) -> ProbeState:
        """`associated_ap`: the AP the gateway named; a position kept from the AP alone or a partial match
        does not answer then (`locator.kept_position`), the probe positions the phone anew with it."""
        now = time.time() if now is None else now
        keys, spread = self._keys(venue, client)
        raw_session, newest, kept, zone_app, group_app = self._gather(keys=keys, args=())
        position = self.locator.fresh(KeptPosition.from_fields(pairs_to_fields(kept)), newest, now, associated_ap)
        landing = landing_zone(position)
        app = None
        if landing is not None:  # the app of the zone the phone lands in: its zone's, or its group's
            if spread:
                raw = self.zone_apps.from_copy(venue, landing)
            else:
                raw = zone_app if landing == position.zone else group_app
            app = ZoneAppStore.app_of(raw)
        return ProbeState(session=SessionStore.decode(raw_session, now), position=position, app=app)


def _gather_keys(venue: str, client: str) -> tuple[tuple[str, ...], bool]:
    """_GATHER's keys for this phone, and whether the venue spreads its phones over buckets (then the
    zone apps are not among them: they lie in the venue's slot, not the phone's)."""
    keys = (SessionKeys(venue).session(client), TrackKeys(venue).last_position(client),
            RssiKeys(venue).readings(client))
    spread = phone_buckets(venue) > 1
    return (keys if spread else (*keys, ZoneAppKeys(venue).assignments())), spread
