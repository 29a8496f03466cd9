"""The venue's positioning model per process: fitted on the map's survey with the venue's positioner
configuration (kept in the map by `flask positioning-tune`), rebuilt when the map version changes or
when APs fall silent in the live reports (they are masked out without a re-survey), swapped in whole."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property

import redis

from fingerprints.falloff import ApFalloff
from fingerprints.geometry import zone_map
from fingerprints.model import VenueMap
from fingerprints.store import VenueStore
from fingerprints.training import fitted_falloff, live_params, offset_reference, training_set
from portal.ingest.store import RssiKeys, ap_times_of
from positioning import MISSING_DBM, WKNNPositioner, ZoneMap
from positioning.coldstart import ApCoverage
from positioning.groups import derive_groups
from positioning.motion import MotionFilter, ZoneGraph, off_zone
from positioning.vectors import SILENT_MAX_SHARE

CONNECTOR_KINDS = ("escalator", "elevator", "stairs")


@dataclass
class VenueModel:
    version: int
    venue: VenueMap
    ap_ids: list[str]
    positioner: WKNNPositioner
    zones: ZoneMap
    sample_zones: list[str | None]
    motion: MotionFilter
    coverage: ApCoverage  # cold start: the places a phone associated with each AP is in
    groups: dict[str, str]  # zone -> the zone standing for its group (positioning/groups.py)
    zone_ids: set[str] = field(default_factory=set)
    masked: frozenset[str] = frozenset()  # APs left out: silent in the live reports
    falloff: ApFalloff | None = None  # every AP's fall-off (masked ones too), reused when the masked APs change

    @cached_property
    def ap_columns(self) -> dict[str, int]:
        """AP -> its column in the positioner's vectors."""
        return {ap: i for i, ap in enumerate(self.ap_ids)}


def place_of(zones: ZoneMap, floor: int, x: float, y: float) -> str:
    """The motion model's state at a spot: its zone, or its floor's outside-any-zone state."""
    return zones.zone_at(floor, x, y) or off_zone(floor)


def floor_connectors(venue: VenueMap, zones: ZoneMap) -> list[tuple[str, str]]:
    """Pairs of places the walkway graph joins across floors (stairs, lifts, escalators)."""
    nodes = {n.id: n for n in venue.nodes}
    out = []
    for edge in venue.edges:
        a, b = nodes.get(edge.a), nodes.get(edge.b)
        if a is None or b is None or (a.floor == b.floor and edge.kind not in CONNECTOR_KINDS):
            continue
        out.append((place_of(zones, a.floor, a.x, a.y), place_of(zones, b.floor, b.x, b.y)))
    return out


def build_venue_model(venue: VenueMap, masked: frozenset[str] = frozenset(),
                      falloff: ApFalloff | None = None) -> VenueModel:
    """Fit the positioner on the venue's fingerprint samples, without the `masked` APs. `falloff`: the map
    version's, fitted on every AP (an earlier model's, when APs fall silent or report again; else fitted here)."""
    ap_ids, X, y = training_set(venue)  # the same matrices the map quality report cross-validates
    falloff = falloff if falloff is not None else fitted_falloff(venue, ap_ids, X, y)
    kept_falloff = falloff
    if masked:
        keep = [i for i, ap in enumerate(ap_ids) if ap not in masked]
        ap_ids, X = [ap_ids[i] for i in keep], X[:, keep]
        kept_falloff = None if falloff is None else falloff.columns(keep)
        heard = (X > MISSING_DBM).any(axis=1)
        X, y = X[heard], y[heard]
        samples = [s for s, h in zip(venue.samples, heard, strict=True) if h]
    else:
        samples = venue.samples
    zones = zone_map(venue)
    floors = [f.level for f in venue.floors]
    graph = ZoneGraph([(z.id, z.floor, z.polygon) for z in venue.zones], floors, floor_connectors(venue, zones))
    coverage = ApCoverage().fit(
        [{ap: v for ap, v in s.rssi.items() if ap not in masked} for s in samples],
        [s.zone or off_zone(s.floor) for s in samples], [s.floor for s in samples], [(s.x, s.y) for s in samples])
    # the venue's tuned configuration; every AP's strong rows now rather than on a probe
    offsets_against = offset_reference(venue, ap_ids, X, y, kept_falloff)  # unlisted APs below the hearing
    positioner = WKNNPositioner(**live_params(venue)).fit(X, y, offsets_against).with_strong_rows()
    return VenueModel(
        version=venue.version,
        venue=venue,
        ap_ids=ap_ids,
        positioner=positioner,
        zones=zones,
        sample_zones=[s.zone for s in samples],
        motion=MotionFilter(graph),
        coverage=coverage,
        groups=venue_groups(venue),
        zone_ids={z.id for z in venue.zones},
        masked=masked,
        falloff=falloff,
    )


def venue_groups(venue: VenueMap) -> dict[str, str]:
    """zone -> the zone standing for its group (a food-hall stall -> its hall): where a phone in a member zone
    lands when its position cannot tell the members apart; the insights count that hall's funnel over them."""
    return derive_groups([(z.id, z.floor, z.polygon, z.kind, z.group) for z in venue.zones])


def silent_aps(last_seen: dict[str, float], map_aps: list[str], now: float, silent_after_s: float,
               max_share: float = SILENT_MAX_SHARE, feed_since: float | None = None) -> frozenset[str]:
    """The map's APs that have not reported for longer than `silent_after_s` while the venue's feed is
    alive (another of the map's APs reported within it). `feed_since`: when the feed's current run began
    (`RssiKeys.feed_since`); an AP's silence counts from then at the earliest, so an AP never heard is silent
    once the feed has run that long (the APs report what they hear: one that never reports never adds a
    reading, and its column only pulls estimates away from it), and one heard before an outage is not silent
    the moment the feed is back. Without it (nothing recorded) APs never heard are kept. APs that stopped are
    left out only while they are at most `max_share` of the map (more is a feed outage, not APs failing), and
    so are APs never heard (a feed wired to part of the venue), each group on its own: one more AP failing
    does not bring back the others."""
    heard = [last_seen[ap] for ap in map_aps if ap in last_seen]  # the map's own: an unknown BSSID is no feed
    if not heard or now - max(heard) > silent_after_s:
        return frozenset()  # (and so one of the map's APs is always kept)
    start = -math.inf if feed_since is None else feed_since
    stopped = {ap for ap in map_aps if ap in last_seen and now - max(last_seen[ap], start) > silent_after_s}
    never = ({ap for ap in map_aps if ap not in last_seen}
             if feed_since is not None and now - feed_since > silent_after_s else set())
    limit = max_share * len(map_aps)
    return frozenset((stopped if len(stopped) <= limit else set()) | (never if len(never) <= limit else set()))


class ModelCache:
    """One fitted model per venue per process; a new map version (or a new set of silent APs, with
    `db` and `silent_after_s`) is picked up on the next lookup and swapped in whole, so a request never
    sees half of a rebuild."""

    def __init__(self, venues: VenueStore, recheck_s: float = 2.0, db: redis.Redis | None = None,
                 silent_after_s: float | None = None) -> None:
        self.venues = venues
        self.recheck_s = recheck_s
        self.db = db
        self.silent_after_s = silent_after_s
        self._models: dict[str, tuple[float, VenueModel]] = {}
        self._lock = threading.Lock()

    def get(self, venue: str) -> VenueModel | None:
        now = time.monotonic()
        cached = self._models.get(venue)
        if cached and now - cached[0] < self.recheck_s:
            return cached[1]
        # fresh: this process's model is every request's, not fitted to the version one request read first
        version = self.venues.current_version(venue, fresh=True)
        if not version:
            return None
        current = cached[1] if cached and cached[1].version == version else None
        venue_map = current.venue if current else self.venues.get_map(venue, version)
        if venue_map is None or not venue_map.samples:
            return None
        masked = self._masked(venue, venue_map)
        if current is not None and current.masked == masked:
            self._models[venue] = (now, current)
            return current
        with self._lock:
            model = build_venue_model(venue_map, masked, current.falloff if current is not None else None)
            self._models[venue] = (time.monotonic(), model)
            return model

    def _masked(self, venue: str, venue_map: VenueMap) -> frozenset[str]:
        if self.db is None or self.silent_after_s is None:
            return frozenset()
        map_aps = venue_map.ap_ids()
        if not map_aps:
            return frozenset()
        keys = RssiKeys(venue)
        pipe = self.db.pipeline(transaction=False)  # one slot: the venue's
        pipe.hmget(keys.ap_last_seen(), map_aps)  # the map's APs only: feeds may have named any number of others
        pipe.get(keys.feed_since())
        last_seen, since = pipe.execute()
        return silent_aps(ap_times_of(map_aps, last_seen), map_aps, time.time(), self.silent_after_s,
                          feed_since=None if since is None else float(since))

    def install(self, venue: str, model: VenueModel) -> None:
        """Hand over a model built elsewhere (the operator console's background rebuild), swapped in whole."""
        with self._lock:
            self._models[venue] = (time.monotonic(), model)
