"""Fingerprint surveys: an operator stands at a reference point with a survey device, the APs report
the RSSI at which they hear it (the ordinary RSSI feed), and after a set time (15 s by default) the
server averages that device's readings into one Sample and adds it to a new map version.

`average_fingerprint` is the pure part. `SurveyStore` keeps the survey state in Redis (keys built with
core.storage.VenueKeys, all in the venue's hash tag):
- `survey:devices`  hash  client id -> label: the registered survey devices. The device's MAC is kept only
  as its keyed hash (the same client id the RSSI feed uses), never raw;
- `survey:point:<client>`  string (JSON): the point a device is standing at, with a TTL;
- `survey:log`  list (capped): the latest finished points, for the survey page.
The survey progress per floor (points done, where) comes from the current map's samples plus that log.

Finishing a point appends to the map: get_map(for_update=True) -> append -> put_map, under a per-venue
Redis lock (`survey:lock`) so that two operators finishing at the same moment do not each write a version
missing the other's sample. (VenueStore.put_map has no expected-version check; other map writers should
take the same lock, see `map_edit_lock`.)
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import redis

from core.storage import VenueKeys
from fingerprints.geometry import zone_map
from fingerprints.model import Sample, normalise_bssid
from fingerprints.store import VenueStore

DEFAULT_DURATION_S = 15.0
MIN_DURATION_S, MAX_DURATION_S = 3.0, 120.0
MIN_SCANS = 3
SCAN_BUCKET_S = 1.0  # readings within one second (from any AP) belong to one scan of the device
LOG_LENGTH = 500
POINT_TTL_S = 3600


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
        raise ValueError(f"only {scans} scan(s) of the survey device were heard; at least {min_readings} are needed "
                         "(is the device's WiFi on and its MAC the registered one?)")
    mean, spread = {}, {}
    for bssid, by_bucket in per_ap.items():
        if len(by_bucket) * 2 < scans:
            continue
        values = np.array([v for vs in by_bucket.values() for v in vs])
        mean[bssid] = round(float(values.mean()), 1)
        spread[bssid] = round(float(values.std()), 2)
    if not mean:
        raise ValueError("no AP heard the survey device in at least half of the scans")
    return mean, spread, scans


class SurveyKeys(VenueKeys):
    def devices(self) -> str:
        return self.key("survey", "devices")

    def point(self, client: str) -> str:
        return self.key("survey", "point", client)

    def log(self) -> str:
        return self.key("survey", "log")

    def lock(self) -> str:
        return self.key("survey", "lock")


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


def map_edit_lock(db: redis.Redis, venue: str, timeout_s: float = 30.0):
    """The per-venue lock map edits take (a redis-py Lock on a key in the venue's hash tag)."""
    return db.lock(SurveyKeys(venue).lock(), timeout=timeout_s, blocking_timeout=timeout_s)


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
        with self.db.pipeline() as pipe:
            pipe.hdel(keys.devices(), client)
            pipe.delete(keys.point(client))
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
               min_scans: int = MIN_SCANS) -> tuple[Sample, int]:
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
        with map_edit_lock(self.db, venue):
            if self.db.get(keys.point(client)) is None:
                raise ValueError("no survey point in progress for this device (finished elsewhere)")
            venue_map = self.venues.get_map(venue, for_update=True)
            zone = zone_map(venue_map).zone_at(point.floor, point.x, point.y)
            sample = Sample(floor=point.floor, x=point.x, y=point.y, rssi=rssi, spread=spread, n=n, zone=zone)
            venue_map.samples.append(sample)
            version = self.venues.put_map(venue_map)
            entry = json.dumps({"floor": point.floor, "x": point.x, "y": point.y, "n": n, "aps": len(rssi),
                                "zone": zone, "version": version, "at": round(now, 3)})
            with self.db.pipeline() as pipe:
                pipe.delete(keys.point(client))
                pipe.lpush(keys.log(), entry)
                pipe.ltrim(keys.log(), 0, LOG_LENGTH - 1)
                pipe.execute()
        return sample, version

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
