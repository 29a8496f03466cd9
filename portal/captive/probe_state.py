"""Everything a probe needs to know about a phone, in one round trip to the store.

A probe is the hottest request the portal serves (every phone sends several on joining, and again
whenever its OS rechecks), so its reads are gathered server side by one script: the phone's access
session, its kept position (see portal/locate.py) with the newest reading now stored for it, and the
light app of that position's zone. Deciding what they mean stays here in Python: whether the session is
live, whether the kept position still answers (Locator.is_fresh), which app the zone runs."""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from core.storage import HotScript
from portal.apps.zone_apps import ZoneAppKeys, ZoneAppStore
from portal.captive.sessions import Session, SessionKeys, SessionStore
from portal.ingest.store import RssiKeys
from portal.locate import KEPT_FIELDS, Locator, Position, TrackKeys, position_from_fields

# KEYS: session, kept position, readings, zone apps (all four share the venue's hash tag); ARGV: the
# kept position's fields (locate.KEPT_FIELDS, zone third).
_GATHER = """
local session = redis.call('GET', KEYS[1])
local kept = redis.call('HMGET', KEYS[2], unpack(ARGV))
local newest = redis.call('ZRANGE', KEYS[3], -1, -1)[1] or false
local app = false
if kept[3] and kept[3] ~= '' then app = redis.call('HGET', KEYS[4], kept[3]) end
return {session, newest, kept, app}
"""
_FIELD_NAMES = tuple(name.encode() for name in KEPT_FIELDS)


@dataclass(frozen=True)
class ProbeState:
    session: Session | None  # a live access session
    position: Position | None  # the kept position, when it still answers; None: position anew
    app: str | None  # the light app of that position's zone


class ProbeStateStore:
    def __init__(self, db: redis.Redis, locator: Locator) -> None:
        self.locator = locator
        self._gather = HotScript(db, _GATHER)

    def read(self, venue: str, client: str, now: float | None = None) -> ProbeState:
        now = time.time() if now is None else now
        keys = [SessionKeys(venue).session(client), TrackKeys(venue).last_position(client),
                RssiKeys(venue).readings(client), ZoneAppKeys(venue).assignments()]
        raw_session, newest, values, raw_app = self._gather(keys=keys, args=KEPT_FIELDS)
        kept = {name: value for name, value in zip(_FIELD_NAMES, values, strict=True) if value is not None}
        fresh = self.locator.is_fresh(kept, newest, now)
        position = position_from_fields(kept) if fresh else None
        app = ZoneAppStore.app_of(raw_app) if position is not None and position.zone else None
        return ProbeState(session=SessionStore.decode(raw_session, now), position=position, app=app)
