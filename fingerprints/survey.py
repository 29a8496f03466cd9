"""Fingerprint surveys: an operator stands at a reference point with a survey device, the APs report
the RSSI at which they hear it (the ordinary RSSI feed), and after a set time (15 s by default) the
server averages that device's readings into one Sample and adds it to a new map version.

`average_fingerprint` is the pure part. `SurveyStore` keeps the survey state in Redis (keys built with
core.storage.VenueKeys, all in the venue's hash tag):
- `survey:devices`  hash  client id -> label: the registered survey devices. The device's MAC is kept only
  as its keyed hash (the same client id the RSSI feed uses), never raw;
- `survey:point:<client>`  string (JSON): the point a device is standing at, with a TTL;
- `survey:log`  list (capped): the latest finished points, for the survey page;
- `survey:walk:<client>`  list (capped, expiring): the fingerprints this device measured at its marked
  points lately (its "walk"), for the phone-offset check (`phone_offset`).
The survey progress per floor (points done, where) comes from the current map's samples plus that log.

Finishing a point adds the sample in one map change (`VenueStore.edit`: the venue's map lock, a
checked write, the new version announced), so two operators finishing at the same moment do not each
write a version missing the other's sample.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import redis
from scipy.spatial import cKDTree

from core.errors import N_, CatalogInputError
from core.storage import VenueKeys
from fingerprints import edits
from fingerprints.model import Sample, VenueMap, normalise_bssid
from fingerprints.store import VenueStore

DEFAULT_DURATION_S = 15.0
MIN_DURATION_S, MAX_DURATION_S = 3.0, 120.0
MIN_SCANS = 3
SCAN_BUCKET_S = 1.0  # readings within one second (from any AP) belong to one scan of the device
LOG_LENGTH = 500
POINT_TTL_S = 3600
# The phone-offset check: a survey phone that hears (or is heard) uniformly weaker or stronger than the
# phone(s) the map was surveyed with shifts every fingerprint it adds; the median of (its reading - the
# map's) over the walk's points and APs estimates that shift (a median: robust to a mis-marked point).
OFFSET_WARN_DB = 4.0  # phone models differ by 8-12 dB; within 4 dB the k-NN distances barely move
OFFSET_NEAR_M = 6.0  # the map's fingerprint at a point: its reference points this close (none: not compared)
OFFSET_AUDIBLE_DBM = -85.0  # only APs the map hears clearly there (weaker ones are cut by sensitivity)
OFFSET_MIN_POINTS = 2
OFFSET_MIN_PAIRS = 8
WALK_LENGTH = 200
WALK_TTL_S = 6 * 3600


def average_fingerprint(
    readings: Mapping[str, Sequence[tuple[float, float]]], min_readings: int = MIN_SCANS,
) -> tuple[dict[str, float], dict[str, float], int]:
    """(mean RSSI dBm per AP, per-AP standard deviation, number of scans) from {bssid: [(ts, rssi), ...]}.

    A scan is one second of readings (each AP reports a device about once a second while it transmits);
    n = the number of distinct seconds anything heard the device. APs heard in fewer than half the scans
    are dropped (too marginal for a fingerprint, as in the simulator's survey). Raises ValueError if
    there are fewer than `min_readings` scans or a reading is not a dBm value."""
    buckets: set[int] = set()
    per_ap: dict[str, dict[int, list[float]]] = {}
    for bssid, items in readings.items():
        for item in items:
            try:
                ts, rssi = float(item[0]), float(item[1])
            except (TypeError, ValueError, IndexError):
                raise ValueError(f"reading {item!r} of AP {bssid} is not a (timestamp, rssi) pair") from None
            if not math.isfinite(ts) or not math.isfinite(rssi) or not -120.0 <= rssi <= 0.0:
                raise ValueError(f"reading {item!r} of AP {bssid}: RSSI must be dBm between -120 and 0")
            bucket = int(ts // SCAN_BUCKET_S)
            buckets.add(bucket)
            per_ap.setdefault(bssid, {}).setdefault(bucket, []).append(rssi)
    scans = len(buckets)
    if scans < min_readings:
        raise CatalogInputError("survey", N_("only %(scans)s scan(s) of the survey device were heard; at least "
                                             "%(min)s are needed (is the device's WiFi on and its MAC the registered "
                                             "one?)"), scans=scans, min=min_readings)
    mean, spread = {}, {}
    for bssid, by_bucket in per_ap.items():
        if len(by_bucket) * 2 < scans:
            continue
        values = np.array([v for vs in by_bucket.values() for v in vs])
        mean[bssid] = round(float(values.mean()), 1)
        spread[bssid] = round(float(values.std()), 2)
    if not mean:
        raise CatalogInputError("survey", N_("no AP heard the survey device in at least half of the scans"))
    return mean, spread, scans


Fingerprint = tuple[int, float, float, Mapping[str, float]]  # (floor, x, y, dBm per AP) at a marked point


@dataclass(frozen=True)
class PhoneOffset:
    """How the surveying phone's readings differ from the map's at the points it marked."""

    median_db: float  # phone minus map: negative = the phone is heard weaker than the map expects
    points: int  # marked points that had reference points of the map near them
    pairs: int  # (point, AP) readings compared

    @property
    def warn(self) -> bool:
        return (abs(self.median_db) >= OFFSET_WARN_DB and self.points >= OFFSET_MIN_POINTS
                and self.pairs >= OFFSET_MIN_PAIRS)

    def to_dict(self) -> dict:
        return {"median_db": round(self.median_db, 1), "points": self.points, "pairs": self.pairs,
                "warn": self.warn, "threshold_db": OFFSET_WARN_DB}


def _expected_rssi(near: Sequence[tuple[Sample, float]]) -> dict[str, float]:
    """The map's expected dBm per AP at a spot from its reference points near it ((sample, distance)):
    inverse-distance weighted, APs heard by at least half of them and at or above OFFSET_AUDIBLE_DBM."""
    sums: dict[str, list[float]] = {}
    for sample, d in near:
        weight = 1.0 / max(0.5, d)
        for ap, dbm in sample.rssi.items():
            acc = sums.setdefault(ap, [0.0, 0.0, 0])
            acc[0] += dbm * weight
            acc[1] += weight
            acc[2] += 1
    expected = {ap: total / weight for ap, (total, weight, count) in sums.items() if count * 2 >= len(near)}
    return {ap: dbm for ap, dbm in expected.items() if dbm >= OFFSET_AUDIBLE_DBM}


def phone_offset(venue_map: VenueMap, walk: Sequence[Fingerprint]) -> PhoneOffset | None:
    """The median (phone - map) dBm over a walk's marked points and the APs both hear, each point compared
    with the map's reference points within OFFSET_NEAR_M of it, leaving out the walk's own points (already
    in the map when surveyed with this tool: they would compare the phone with itself). None: nothing to
    compare (a venue's first survey)."""
    own = frozenset((int(f), round(float(x), 2), round(float(y), 2)) for f, x, y, _ in walk)
    by_floor: dict[int, list[Sample]] = {}
    for sample in venue_map.samples:
        if (sample.floor, round(sample.x, 2), round(sample.y, 2)) not in own:
            by_floor.setdefault(sample.floor, []).append(sample)
    trees = {floor: cKDTree([(s.x, s.y) for s in refs]) for floor, refs in by_floor.items()}
    diffs, points = [], 0
    for floor, x, y, rssi in walk:
        refs = by_floor.get(int(floor))
        if not refs:
            continue
        near = [(refs[i], math.hypot(refs[i].x - x, refs[i].y - y))
                for i in trees[int(floor)].query_ball_point((float(x), float(y)), OFFSET_NEAR_M)]
        expected = _expected_rssi(near) if near else {}
        here = [float(dbm) - expected[normalise_bssid(ap)] for ap, dbm in rssi.items()
                if normalise_bssid(ap) in expected]
        if here:
            points += 1
            diffs.extend(here)
    if not diffs:
        return None
    return PhoneOffset(median_db=float(np.median(diffs)), points=points, pairs=len(diffs))


class SurveyKeys(VenueKeys):
    def devices(self) -> str:
        return self.key("survey", "devices")

    def point(self, client: str) -> str:
        return self.key("survey", "point", client)

    def log(self) -> str:
        return self.key("survey", "log")

    def walk(self, client: str) -> str:
        return self.key("survey", "walk", client)


@dataclass
class SurveyPoint:
    client: str
    floor: int
    x: float
    y: float
    started: float
    duration_s: float

    @property
    def ends(self) -> float:
        return self.started + self.duration_s


class SurveyStore:
    def __init__(self, db: redis.Redis, venues: VenueStore, rssi, hasher) -> None:
        """rssi: portal.ingest.store.RssiStore (readings per client); hasher: core.security.MacHasher."""
        self.db = db
        self.venues = venues
        self.rssi = rssi
        self.hasher = hasher

    # -- devices -----------------------------------------------------------------------------------

    def register_device(self, venue: str, mac: str, label: str = "") -> str:
        """Register a survey device by MAC; returns its client id (only that is stored)."""
        if not self.venues.exists(venue):
            raise ValueError(f"unknown venue {venue!r}")
        client = self.hasher.client_id(mac)  # ValueError if not a MAC
        label = str(label).strip()[:60]
        self.db.hset(SurveyKeys(venue).devices(), client, label)
        return client

    def remove_device(self, venue: str, client: str) -> bool:
        keys = SurveyKeys(venue)
        with self.db.pipeline(transaction=True) as pipe:
            pipe.hdel(keys.devices(), client)
            pipe.delete(keys.point(client), keys.walk(client))
            removed, _ = pipe.execute()
        return bool(removed)

    def devices(self, venue: str) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in self.db.hgetall(SurveyKeys(venue).devices()).items()}

    def _check_device(self, venue: str, client: str) -> None:
        if not self.db.hexists(SurveyKeys(venue).devices(), client):
            raise ValueError("this device is not registered for surveys in this venue")

    # -- points ------------------------------------------------------------------------------------

    def start(self, venue: str, client: str, floor: int, x: float, y: float,
              duration_s: float = DEFAULT_DURATION_S, now: float | None = None) -> SurveyPoint:
        """The device stands at (floor, x, y) from now for duration_s. Starting again replaces the
        device's pending point (the operator tapped another spot)."""
        now = time.time() if now is None else now
        self._check_device(venue, client)
        venue_map = self.venues.get_map(venue)
        if venue_map is None:
            raise ValueError(f"venue {venue} has no map")
        try:
            fl = venue_map.floor(int(floor))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"venue {venue} has no floor {floor!r}") from None
        try:
            x, y, duration_s = float(x), float(y), float(duration_s)
        except (TypeError, ValueError):
            raise ValueError("x, y and duration must be numbers") from None
        if not (math.isfinite(x) and math.isfinite(y) and 0 <= x <= fl.width_m and 0 <= y <= fl.height_m):
            raise ValueError(f"({x:g}, {y:g}) is off the plan of floor {fl.level} "
                             f"({fl.width_m:g} x {fl.height_m:g} m)")
        if not (math.isfinite(duration_s) and MIN_DURATION_S <= duration_s <= MAX_DURATION_S):
            raise ValueError(f"duration must be between {MIN_DURATION_S:g} and {MAX_DURATION_S:g} s")
        window = getattr(self.rssi, "window_s", None)
        if window is not None and duration_s > window:
            raise ValueError(f"duration {duration_s:g} s is longer than the RSSI window ({window:g} s)")
        point = SurveyPoint(client=client, floor=fl.level, x=round(x, 2), y=round(y, 2), started=now,
                            duration_s=duration_s)
        self.db.set(SurveyKeys(venue).point(client), json.dumps(asdict(point)),
                    ex=int(duration_s + POINT_TTL_S))
        return point

    def pending(self, venue: str, client: str) -> SurveyPoint | None:
        raw = self.db.get(SurveyKeys(venue).point(client))
        return SurveyPoint(**json.loads(raw)) if raw else None

    def cancel(self, venue: str, client: str) -> bool:
        return bool(self.db.delete(SurveyKeys(venue).point(client)))

    def status(self, venue: str, client: str, now: float | None = None) -> dict:
        """For the survey page: the pending point, seconds left, and how many APs hear the device."""
        now = time.time() if now is None else now
        point = self.pending(venue, client)
        if point is None:
            return {"pending": None}
        readings = self._window(venue, point, now)
        return {"pending": asdict(point), "seconds_left": max(0.0, round(point.ends - now, 1)),
                "aps_heard": len(readings), "scans": len({int(ts // SCAN_BUCKET_S) for v in readings.values()
                                                          for ts, _ in v})}

    def _window(self, venue: str, point: SurveyPoint, now: float) -> dict[str, list[tuple[float, float]]]:
        readings = self.rssi.readings(venue, point.client, now)
        end = min(now, point.ends)
        out = {}
        for ap, items in readings.items():
            kept = [(ts, rssi) for ts, rssi in items if point.started <= ts <= end]
            if kept:
                out[ap] = kept
        return out

    def finish(self, venue: str, client: str, now: float | None = None, force: bool = False,
               min_scans: int = MIN_SCANS, by: str = "-") -> tuple[Sample, int]:
        """Average the device's readings over the point's time and add the Sample to a new map version.
        Returns (sample, new version). Raises ValueError while still collecting (unless force), if there
        is no pending point, or if too few scans were heard (the point then stays pending)."""
        now = time.time() if now is None else now
        point = self.pending(venue, client)
        if point is None:
            raise ValueError("no survey point in progress for this device")
        if now < point.ends and not force:
            raise ValueError(f"still collecting: {point.ends - now:.0f} s left")
        venue_map = self.venues.get_map(venue)
        if venue_map is None:
            raise ValueError(f"venue {venue} has no map")
        known = set(venue_map.ap_ids())
        readings = {normalise_bssid(ap): v for ap, v in self._window(venue, point, now).items()}
        readings = {ap: v for ap, v in readings.items() if ap in known}
        rssi, spread, n = average_fingerprint(readings, min_readings=min_scans)
        keys = SurveyKeys(venue)
        with self.venues.edit(venue, "survey.point", by=by, floor=point.floor, x=point.x, y=point.y, scans=n,
                              aps=len(rssi)) as venue_map:
            if not self.db.delete(keys.point(client)):  # claimed under the lock: finished once
                raise ValueError("no survey point in progress for this device (finished elsewhere)")
            edits.add_sample(venue_map, {"floor": point.floor, "x": point.x, "y": point.y, "rssi": rssi,
                                         "spread": spread, "n": n})
            sample = venue_map.samples[-1]
        entry = json.dumps({"floor": point.floor, "x": point.x, "y": point.y, "n": n, "aps": len(rssi),
                            "zone": sample.zone, "version": venue_map.version, "at": round(now, 3)})
        walked = json.dumps([point.floor, point.x, point.y, rssi])
        with self.db.pipeline(transaction=True) as pipe:
            pipe.lpush(keys.log(), entry)
            pipe.ltrim(keys.log(), 0, LOG_LENGTH - 1)
            pipe.lpush(keys.walk(client), walked)
            pipe.ltrim(keys.walk(client), 0, WALK_LENGTH - 1)
            pipe.expire(keys.walk(client), WALK_TTL_S)
            pipe.execute()
        return sample, venue_map.version

    def walk_offset(self, venue: str, client: str) -> PhoneOffset | None:
        """The device's offset against the current map over the points it surveyed lately."""
        venue_map = self.venues.get_map(venue)
        walk = [tuple(json.loads(raw)) for raw in self.db.lrange(SurveyKeys(venue).walk(client), 0, -1)]
        return phone_offset(venue_map, walk) if venue_map is not None and walk else None

    def new_walk(self, venue: str, client: str) -> None:
        """Forget the device's walk (another phone, or the offset was fixed)."""
        self.db.delete(SurveyKeys(venue).walk(client))

    # -- progress ----------------------------------------------------------------------------------

    def recent(self, venue: str, limit: int = 50) -> list[dict]:
        return [json.loads(v) for v in self.db.lrange(SurveyKeys(venue).log(), 0, max(0, limit - 1))]

    def progress(self, venue: str) -> dict[int, dict]:
        """Per floor: reference points in the current map (with where they are, for the plan) and
        points surveyed through this tool recently."""
        venue_map = self.venues.get_map(venue)
        if venue_map is None:
            return {}
        recent = self.recent(venue, LOG_LENGTH)
        out: dict[int, dict] = {}
        for fl in venue_map.floors:
            here = [s for s in venue_map.samples if s.floor == fl.level]
            out[fl.level] = {
                "name": fl.name, "points": len(here), "points_xy": [(s.x, s.y) for s in here],
                "weak": sum(1 for s in here if s.n < MIN_SCANS),
                "surveyed_recently": sum(1 for r in recent if r.get("floor") == fl.level),
            }
        return out
