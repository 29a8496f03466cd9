"""Which light app each zone lands on, and that app's config for the zone."""

from __future__ import annotations

import functools
import json
import secrets
import time
from typing import Any

import redis

from core.storage import VenueKeys
from portal.apps import edits

DEFAULT_APP = "directory"
SET_ATTEMPTS = 5  # a conditional write tried again while other zones' writes move the venue's table under it


class ZoneAppKeys(VenueKeys):
    def assignments(self) -> str:
        return self.key("zoneapp")

    def kept(self) -> str:
        """HASH "<zone>|<app>" -> the app's last saved config in that zone: an owner who switches the zone to
        another app and back finds their settings again."""
        return self.key("zoneapp", "kept")

    def version(self) -> str:
        """A random value written with every change of the table: a process's copy is exact while it matches."""
        return self.key("zoneapp", "version")


# A zone's assignment and its apps' kept configs dropped, and a new version of the table. KEYS: assignments,
# kept, version. ARGV: zone, "<zone>|" (its kept fields' prefix), the new version. Returns the fields dropped.
DROP_LUA = """
local dropped = redis.call('HDEL', KEYS[1], ARGV[1])
local kept = {}
for _, name in ipairs(redis.call('HKEYS', KEYS[2])) do
  if string.sub(name, 1, #ARGV[2]) == ARGV[2] then kept[#kept + 1] = name end
end
if #kept > 0 then dropped = dropped + redis.call('HDEL', KEYS[2], unpack(kept)) end
if dropped > 0 then redis.call('SET', KEYS[3], ARGV[3]) end
return dropped
"""


class ZoneAppStore:
    COPY_MAX_AGE_S = 2.0  # how stale this process's copy of a venue's table may be, version unknown (`from_copy`)

    def __init__(self, db: redis.Redis) -> None:
        self.db = db
        # venue -> (read at, the table's version then, the table)
        self._copies: dict[str, tuple[float, bytes | None, dict[bytes, bytes]]] = {}
        self._drop = db.register_script(DROP_LUA)

    def get(self, venue: str, zone: str) -> tuple[str, dict[str, Any]]:
        return self.decode(self.db.hget(ZoneAppKeys(venue).assignments(), zone))

    def get_versioned(self, venue: str, zone: str) -> tuple[str, dict[str, Any], str]:
        """`get`, and the assignment's version for `set(expected=...)`."""
        raw = self.db.hget(ZoneAppKeys(venue).assignments(), zone)
        return *self.decode(raw), edits.version(raw)

    @staticmethod
    @functools.lru_cache(maxsize=1024)
    def app_of(raw: bytes | None) -> str:
        """Just the app name of a stored assignment (the probe path's question), memoised: a mall has
        a few hundred distinct assignments, asked about on every probe."""
        return ZoneAppStore.decode(raw)[0]

    @staticmethod
    def decode(raw: bytes | None) -> tuple[str, dict[str, Any]]:
        """(app, config) from a stored assignment; a zone with none runs the default app."""
        if not raw:
            return DEFAULT_APP, {}
        data = json.loads(raw)
        return data["app"], data.get("config", {})

    def set(self, venue: str, zone: str, app: str, config: dict[str, Any], expected: str = "") -> bool:
        """Write the zone's app and config; with `expected` (a version from `get_versioned`: a form merged with
        it, portal/apps/edits.py) only while the zone's assignment is still that one: False when it changed
        since, and nothing was written."""
        keys = ZoneAppKeys(venue)
        for _attempt in range(SET_ATTEMPTS):
            try:
                with self.db.pipeline(transaction=True) as pipe:  # one slot: the venue's
                    if expected:
                        pipe.watch(keys.assignments())
                        if edits.version(pipe.hget(keys.assignments(), zone)) != expected:
                            return False
                        pipe.multi()
                    pipe.hset(keys.assignments(), zone, json.dumps({"app": app, "config": config}))
                    pipe.hset(keys.kept(), f"{zone}|{app}", json.dumps(config))
                    pipe.set(keys.version(), secrets.token_hex(8))  # random: a venue made again never repeats one
                    pipe.execute()
                break
            except redis.WatchError:  # the venue's table changed: another zone's change is no reason to refuse
                continue
        else:
            return False
        self._copies.pop(venue, None)
        return True

    def drop(self, venue: str, zone: str) -> int:
        """Forget the zone's app and every app's kept config there (a zone deleted from the map: a new zone given
        the same id starts on the default app, with no one's old settings); how many entries went."""
        keys = ZoneAppKeys(venue)
        dropped = int(self._drop(keys=[keys.assignments(), keys.kept(), keys.version()],
                                 args=[zone, f"{zone}|", secrets.token_hex(8)]))
        self._copies.pop(venue, None)
        return dropped

    def from_copy(self, venue: str, zone: str, version: bytes | None = None) -> bytes | None:
        """The zone's stored assignment from this process's copy of the venue's table, for the probe, which
        must not spend a round trip on it. `version`: the table's version (ZoneAppKeys.version) as the
        caller just read it with its own reads: the copy is read again when it differs, so it is exact.
        Without one (a venue whose phones lie in other slots than its own, core/storage.py phone buckets;
        a table last written before versions), the copy is read again once older than COPY_MAX_AGE_S, and
        another process's change is seen within that age. The last copy is kept while the store cannot
        be read."""
        now = time.monotonic()
        copy = self._copies.get(venue)
        stale = copy is None or (copy[1] != version if version is not None else now - copy[0] >= self.COPY_MAX_AGE_S)
        if stale:
            keys = ZoneAppKeys(venue)
            try:
                pipe = self.db.pipeline(transaction=True)  # the table and its version as of one moment
                pipe.get(keys.version())
                pipe.hgetall(keys.assignments())
                copy = (now, *pipe.execute())
            except redis.RedisError:
                if copy is None:
                    raise
                copy = (now, None, copy[2])  # the venue's shard is failing over: the last copy, tried again later
            self._copies[venue] = copy
        return copy[2].get(zone.encode())

    def assigned_app(self, venue: str, zone: str) -> str | None:
        """The app set up in the zone, None where none was (`get` answers the default app there)."""
        raw = self.db.hget(ZoneAppKeys(venue).assignments(), zone)
        return self.app_of(raw) if raw else None

    def assigned_zones(self, venue: str) -> set[str]:
        """The zones an app was set up in (one read of the table's field names, not its configs)."""
        return {zone.decode() for zone in self.db.hkeys(ZoneAppKeys(venue).assignments())}

    def all(self, venue: str) -> dict[str, tuple[str, dict[str, Any]]]:
        raw = self.db.hgetall(ZoneAppKeys(venue).assignments())
        return {zone.decode(): self.decode(value) for zone, value in raw.items()}

    def kept_config(self, venue: str, zone: str, app: str) -> dict[str, Any] | None:
        """The config `app` last had in this zone (saved while it was the zone's app), or None."""
        raw = self.db.hget(ZoneAppKeys(venue).kept(), f"{zone}|{app}")
        return json.loads(raw) if raw else None

    def config_for(self, venue: str, zone: str, app: str) -> dict[str, Any] | None:
        """The zone's config if the zone runs this app, else None (the app is not on in that zone)."""
        assigned, config = self.get(venue, zone)
        return config if assigned == app else None
