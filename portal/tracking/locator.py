"""From a client id to a place: the client's recent RSSI and its motion state -> a Position.

A position is computed once per new set of readings: it is kept (`cache_s`, in the store, so every
worker shares it) with the newest reading it was computed from, and a lookup whose newest reading is
still that one gets it back without positioning again. The tracker (portal/tracking/tracker.py)
computes it as readings arrive, so a probe usually finds it; the motion filter steps once per new
evidence, not once per question asked. Listeners (`on_position`, e.g. footfall) hear every new position.

The steps (`position_of`, pure, also what bench/tracking_landing.py runs): readings weighted by age ->
the WKNN estimate -> evidence per zone -> the motion filter (positioning/motion.py) -> the best zone and
its group's mass (positioning/groups.py). Cold start: while fewer than MIN_APS APs hear the phone, the
AP it associated with (named by the gateway, or by an association event in the readings) gives a coarse
position from the survey (positioning/coldstart.py); it also seeds the filter when readings arrive."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence

import redis

from portal.ingest.store import RssiStore
from portal.tracking.models import ModelCache, VenueModel
from portal.tracking.positions import KeptPosition, Position, TrackKeys
from positioning.coldstart import CoarseEstimate, strongest_associated
from positioning.groups import place
from positioning.recency import settled_vector

# Called with (pipe, venue, client, position, now) for every newly computed position; writes ride on pipe.
PositionListener = Callable[[object, str, str, Position, float], None]
MIN_APS = 3  # fewer APs than this place a phone worse than the AP it is associated with
HALF_LIFE_S = 6.0  # a reading's weight halves every HALF_LIFE_S seconds (positioning/recency.py)
# A phone whose strongest APs read within this (dB, RMS) of their last seconds over an older span has
# stood still over it: the median of the whole span places it (positioning/recency.py settled_vector).
SETTLE_MAX_CHANGE_DB = 4.0
# A phone heard for less than this has not been reported by every AP yet (native reports come every
# 3-6 s): an AP missing from its readings is unknown, not unheard, so it is matched on the APs it has.
PARTIAL_UNTIL_S = 8.0
ZONE_MARGIN = 0.1  # the current zone stays while its probability is within this of the best one's


def coarse_position(model: VenueModel, coarse: CoarseEstimate) -> Position:
    placement = place(coarse.places, model.groups, model.zone_ids)
    return Position(floor=coarse.floor, x=coarse.x, y=coarse.y, zone=placement.zone,
                    confidence=coarse.floor_confidence, zone_confidence=placement.zone_confidence,
                    group=placement.group, group_confidence=placement.group_confidence, source="ap")


def position_of(model: VenueModel, readings: Mapping[str, Sequence[tuple[float, float, bool]]],
                state: dict | None, now: float, associated_ap: str | None = None,
                half_life_s: float = HALF_LIFE_S,
                partial_until_s: float = PARTIAL_UNTIL_S) -> tuple[dict | None, Position] | None:
    """(new motion state, or None to keep the old one; position), or None when nothing places the phone."""
    try:
        vector, heard, _span = settled_vector(
            {ap: [(ts, rssi) for ts, rssi, _ in items] for ap, items in readings.items()}, model.ap_ids, now=now,
            half_life_s=half_life_s, max_change_db=SETTLE_MAX_CHANGE_DB)
    except ValueError:
        vector, heard = None, 0
    ap = associated_ap or strongest_associated(readings)
    coarse = model.coverage.estimate(ap)
    if coarse is not None and (vector is None or (heard < MIN_APS and state is None)):
        return None, coarse_position(model, coarse)
    if vector is None:
        return None
    oldest = min((ts for items in readings.values() for ts, _, _ in items), default=now)
    estimate = model.positioner.locate(vector, partial=now - oldest < partial_until_s)
    scores = model.zones.zone_scores(estimate, [model.sample_zones[i] for i in estimate.neighbours])
    new_state, motion = model.motion.update(state, estimate, scores, now, seed=coarse.places if coarse else None)
    placement = place(motion.posterior, model.groups, model.zone_ids)
    zone, zone_conf = placement.zone, placement.zone_confidence
    current = state.get("zone") if state else None
    if current and current != zone and motion.posterior.get(current, 0.0) >= zone_conf - ZONE_MARGIN:
        zone, zone_conf = current, round(motion.posterior[current], 4)  # no flip-flop on a border
    new_state["zone"] = zone
    position = Position(floor=motion.floor, x=motion.x, y=motion.y, zone=zone, confidence=estimate.confidence,
                        zone_confidence=zone_conf, group=placement.group, group_confidence=placement.group_confidence)
    return new_state, position


class Locator:
    def __init__(self, db: redis.Redis, models: ModelCache, rssi: RssiStore, cache_s: float = 30.0,
                 half_life_s: float = HALF_LIFE_S) -> None:
        self.db = db
        self.models = models
        self.rssi = rssi
        self.cache_s = cache_s  # how long a position stays reusable while no new reading arrives; 0: never
        self.half_life_s = half_life_s
        self.listeners: list[PositionListener] = []

    def on_position(self, listener: PositionListener) -> None:
        """Hear every newly computed position (its writes go in the same round trip as the kept position)."""
        self.listeners.append(listener)

    def fresh(self, kept: KeptPosition | None, newest: bytes | None, now: float) -> Position | None:
        """The kept position when it still answers for the client, else None."""
        if kept is None or not kept.is_fresh(newest, now, self.cache_s):
            return None
        return kept.position

    def locate(self, venue: str, client: str, now: float | None = None,
               associated_ap: str | None = None) -> Position | None:
        """None when the client is not heard (and its AP is not known), or the venue has no model yet.
        `associated_ap`: the AP the gateway says the phone is associated with (normalised BSSID)."""
        now = time.time() if now is None else now
        model = self.models.get(venue)
        if model is None:
            return None
        # The client's readings, its motion state and its kept position in one round trip; the
        # writes (when a new position was computed) in a second.
        keys = TrackKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        self.rssi.queue_window(pipe, venue, client, now)
        pipe.get(keys.track(client))
        pipe.hgetall(keys.last_position(client))
        raw_readings, raw_state, raw_kept = pipe.execute()
        newest = raw_readings[-1] if raw_readings else None
        kept = self.fresh(KeptPosition.from_fields(raw_kept), newest, now)
        if kept is not None and not (associated_ap and kept.source == "ap"):
            return kept
        state = json.loads(raw_state) if raw_state else None
        found = position_of(model, self.rssi.parse_flagged(raw_readings), state, now, associated_ap,
                            self.half_life_s)
        if found is None:
            return None
        new_state, position = found
        self.keep(venue, client, position, new_state, newest, now)
        return position

    def keep(self, venue: str, client: str, position: Position, state: dict | None, newest: bytes | None,
             now: float) -> None:
        """Write the new motion state and the kept position, and tell the listeners, in one round trip."""
        keys = TrackKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        if state is not None:
            pipe.set(keys.track(client), json.dumps(state), ex=int(self.rssi.window_s * 5))
        if self.cache_s > 0 and newest is not None:
            last_key = keys.last_position(client)
            pipe.hset(last_key, mapping=KeptPosition(position, newest, now).to_fields())
            pipe.expire(last_key, max(1, math.ceil(self.cache_s)))
        if newest is not None:  # a position from new readings (not the AP alone, asked again and again)
            for listener in self.listeners:
                listener(pipe, venue, client, position, now)
        pipe.execute()
