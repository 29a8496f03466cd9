"""The stored results of a venue's validation walks (fingerprints.quality.validation_walk): an operator
walked a route with a phone, the APs' readings of that phone were positioned as the tracker would, and the
live error and landing along the route were measured. The set-up checklist shows the last one with its
date; the console page and `flask validation-walk` record each.

Keys (venue's hash tag): `validation:walks` list (newest first, capped at KEEP) of JSON summaries; a live walk
(LiveWalks: marked point by point from the console while walking): `validation:live:<id>` hash and
`validation:live:<id>:marks` list, `validation:live` the venue's recent walk ids."""

from __future__ import annotations

import json
import math
import secrets
import time

import redis

from core.errors import N_, CatalogInputError
from core.storage import VenueKeys

KEEP = 20


class ValidationKeys(VenueKeys):
    def walks(self) -> str:
        return self.key("validation", "walks")


def _figure(value: float) -> float | None:
    return round(float(value), 3) if math.isfinite(value) else None


LIVE_WALK_SOURCE = "live walk "  # how a live walk's summary names its source (portal/operator/walks.py)


def _entry(raw: bytes) -> dict:
    """A stored summary. One recorded before the route's length was kept: a live walk's `route_points` and
    `not_visited` are None (unknown: it may have visited a point of a long route, never read as a whole route); an
    uploaded or CLI walk's route is its points (every row of its files was walked, as `record` counts it now)."""
    entry = json.loads(raw)
    uploaded = not str(entry.get("source", "")).startswith(LIVE_WALK_SOURCE)
    entry.setdefault("route_points", entry["points"] if uploaded else None)
    entry.setdefault("not_visited", 0 if uploaded else None)
    entry.setdefault("not_placed", entry["points"] - entry["located"])
    return entry


def visited_share(entry: dict) -> float | None:
    """The share of its route a stored walk visited; None where the route's length is unknown."""
    route = entry.get("route_points")
    return entry["points"] / route if route else None


class ValidationWalks:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db

    def record(self, venue: str, walk, by: str, source: str = "", now: float | None = None) -> dict:
        """Keep the summary of a fingerprints.quality.ValidationWalk (not its points). `points`: the route points
        visited (scored); `route_points`: the route's length (a walk uploaded as files visited all of its rows)."""
        located = [p for p in walk.points if p.est_floor is not None]
        route = len(walk.points) if walk.route_points is None else walk.route_points
        entry = {"at": round(time.time() if now is None else now, 3), "by": by, "source": source[:200],
                 "version": walk.version, "points": len(walk.points), "located": len(located),
                 "route_points": route, "not_visited": walk.not_visited, "not_placed": walk.not_placed,
                 "zone_rate": _figure(walk.zone_rate), "floor_rate": _figure(walk.floor_rate),
                 "mean_error_m": _figure(walk.mean_error_m), "median_error_m": _figure(walk.median_error_m),
                 "p95_error_m": _figure(walk.p95_error_m)}
        key = ValidationKeys(venue).walks()
        with self.db.pipeline(transaction=True) as pipe:
            pipe.lpush(key, json.dumps(entry))
            pipe.ltrim(key, 0, KEEP - 1)
            pipe.execute()
        return entry

    def recent(self, venue: str, limit: int = KEEP) -> list[dict]:
        return [_entry(raw) for raw in self.db.lrange(ValidationKeys(venue).walks(), 0, max(0, limit - 1))]

    def last(self, venue: str) -> dict | None:
        recent = self.recent(venue, 1)
        return recent[0] if recent else None


# -- live walks: an operator walks a route with a phone and marks each point as she passes it ----------------

LIVE_TTL_S = 6 * 3600  # a walk (its route and marks) is kept this long after its last change
LIVE_KEEP = 10  # the venue's most recent live walks listed on the page
MAX_ROUTE_POINTS = 100

# KEYS: walk hash, its marks list. ARGV: the mark (JSON), ttl, max marks. Appends only to a walk that exists
# and is not finished: -1 no such walk, -2 finished, -3 full; else the number of marks.
_MARK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HGET', KEYS[1], 'finished') then return -2 end
if redis.call('LLEN', KEYS[2]) >= tonumber(ARGV[3]) then return -3 end
local n = redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return n
"""
# KEYS: walk hash. ARGV: when. Finishes a walk once: 1, or 0 when there is no such walk or it was finished.
_FINISH = """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HGET', KEYS[1], 'finished') then return 0 end
redis.call('HSET', KEYS[1], 'finished', ARGV[1])
return 1
"""


class LiveWalkKeys(VenueKeys):
    def walk(self, walk_id: str) -> str:
        """Hash: a live walk's client, route (JSON), who, map version, started, finished."""
        return self.key("validation", "live", walk_id)

    def marks(self, walk_id: str) -> str:
        """List: the walk's marks in the order made (JSON each)."""
        return self.key("validation", "live", walk_id, "marks")

    def recent(self) -> str:
        """List: the venue's most recent live walk ids, newest first."""
        return self.key("validation", "live")


class LiveWalks:
    """Live validation walks: the route, the phone (its client id, never the MAC) and the marks."""

    def __init__(self, db: redis.Redis) -> None:
        self.db = db
        self._mark = db.register_script(_MARK)
        self._finish = db.register_script(_FINISH)

    def start(self, venue: str, client: str, route: list[tuple[int, float, float]], by: str, version: int,
              name: str = "", now: float | None = None) -> str:
        """A new walk; its id (random, unguessable)."""
        if not route or len(route) > MAX_ROUTE_POINTS:
            raise ValueError(f"a route has 1 to {MAX_ROUTE_POINTS} points")
        walk_id = secrets.token_urlsafe(9)
        keys = LiveWalkKeys(venue)
        fields = {"client": client, "route": json.dumps([list(p) for p in route]), "by": by,
                  "version": str(version), "name": name[:80], "started": repr(time.time() if now is None else now)}
        with self.db.pipeline(transaction=True) as pipe:
            pipe.hset(keys.walk(walk_id), mapping=fields)
            pipe.expire(keys.walk(walk_id), LIVE_TTL_S)
            pipe.lpush(keys.recent(), walk_id)
            pipe.ltrim(keys.recent(), 0, LIVE_KEEP - 1)
            pipe.execute()
        return walk_id

    def get(self, venue: str, walk_id: str) -> dict | None:
        """The walk with its marks, or None (unknown or expired)."""
        keys = LiveWalkKeys(venue)
        with self.db.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.walk(walk_id))
            pipe.lrange(keys.marks(walk_id), 0, -1)
            raw, marks = pipe.execute()
        if not raw:
            return None
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        return {"id": walk_id, "client": fields["client"], "by": fields["by"], "name": fields.get("name", ""),
                "route": [(int(f), float(x), float(y)) for f, x, y in json.loads(fields["route"])],
                "version": int(fields["version"]), "started": float(fields["started"]),
                "finished": float(fields["finished"]) if "finished" in fields else None,
                "marks": [json.loads(m) for m in marks]}

    def mark(self, venue: str, walk_id: str, mark: dict) -> int:
        """Append a mark; the number of marks. LookupError: no such walk; ValueError: finished or full."""
        keys = LiveWalkKeys(venue)
        n = int(self._mark(keys=[keys.walk(walk_id), keys.marks(walk_id)],
                           args=[json.dumps(mark), LIVE_TTL_S, 4 * MAX_ROUTE_POINTS]))
        if n == -1:
            raise LookupError("no such walk")
        if n < 0:  # a catalog message: the console's walk page says it in its language (the English as ever)
            raise CatalogInputError("", N_("this walk is finished") if n == -2 else N_("this walk has too many marks"))
        return n

    def finish(self, venue: str, walk_id: str, now: float | None = None) -> bool:
        """Finish the walk; False when there is no such walk or it was finished already."""
        return bool(self._finish(keys=[LiveWalkKeys(venue).walk(walk_id)],
                                 args=[repr(time.time() if now is None else now)]))

    def recent(self, venue: str) -> list[dict]:
        """The venue's recent walks (newest first) that are still kept, without their marks."""
        keys = LiveWalkKeys(venue)
        ids = [i.decode() for i in self.db.lrange(keys.recent(), 0, LIVE_KEEP - 1)]
        if not ids:
            return []
        with self.db.pipeline(transaction=False) as pipe:
            for walk_id in ids:
                pipe.hmget(keys.walk(walk_id), "by", "name", "started", "finished")
                pipe.llen(keys.marks(walk_id))
            raw = pipe.execute()
        out = []
        for walk_id, (fields, marks) in zip(ids, zip(raw[::2], raw[1::2], strict=True), strict=True):
            by, name, started, finished = (f.decode() if f is not None else None for f in fields)
            if started is not None:
                out.append({"id": walk_id, "by": by, "name": name or "", "started": float(started),
                            "finished": finished is not None, "marks": int(marks)})
        return out
