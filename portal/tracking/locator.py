"""From a client id to a place: the client's recent RSSI and its motion state -> a Position.

A position is computed once per new set of readings: it is kept (`cache_s`, in the store, so every
worker shares it) with the newest reading it was computed from, and a lookup whose newest reading is
still that one gets it back without positioning again. The tracker (portal/tracking/tracker.py)
computes it as readings arrive, so a probe usually finds it; the motion filter steps once per new
evidence, not once per question asked. Listeners (`on_positions`, e.g. footfall) hear every new position,
a round trip's positions at a time.

The steps (`position_of`, pure, also what bench/tracking_landing.py runs): readings weighted by age ->
the WKNN estimate -> evidence per zone -> the motion filter (positioning/motion.py) -> the best zone and
its group's mass (positioning/groups.py). Cold start: while fewer than MIN_APS APs hear the phone, the
AP it associated with (named by the gateway, or by an association event in the readings) gives a coarse
position from the survey (positioning/coldstart.py); it also seeds the filter when readings arrive."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import orjson
import redis

from core.storage import HotReads, PackedPipeline, RawReplies, Store, is_cluster, phone_buckets
from portal.ingest.store import RssiKeys, RssiStore, ap_times_of
from portal.tracking.models import ModelCache, VenueModel
from portal.tracking.phone_mix import PhoneMixStore
from portal.tracking.positions import KeptPosition, Position, TrackKeys
from positioning import phone_offset
from positioning.coldstart import CoarseEstimate
from positioning.groups import place
from positioning.motion import Motion
from positioning.readings import Readings, settled_vectors, without_stale
from positioning.wknn import Estimate

# Called with (pipe, venue, [(client, position), ...], now) for the newly computed positions, once per round
# trip of writes; its writes ride on pipe.
PositionsListener = Callable[[object, str, Sequence[tuple[str, Position]], float], None]
log = logging.getLogger(__name__)
MIN_APS = 3  # fewer APs than this place a phone worse than the AP it is associated with
HALF_LIFE_S = 6.0  # a reading's weight halves every HALF_LIFE_S seconds (positioning/recency.py)
# A phone whose strongest APs read within this (dB, RMS) of their last seconds over an older span has
# stood still over it: the median of the whole span places it (positioning/recency.py settled_vector).
SETTLE_MAX_CHANGE_DB = 4.0
# A phone heard for less than this has not been reported by every AP yet (native reports come every
# 3-6 s): an AP missing from its readings is unknown, not unheard, so it is matched on the APs it has.
PARTIAL_UNTIL_S = 8.0
ZONE_MARGIN = 0.1  # the current zone stays while its probability is within this of the best one's
# An AP whose last report passed this many moments the phone was heard elsewhere, without it, no longer hears
# it: its readings are left out (positioning/readings.py `without_stale`). Not 1: one missed moment is often
# fading at the edge of range (training malls 101 and 202: 1 lost 2-5 points at 120 s, 3 and 5 gained alike).
# 5, not 3: where APs miss some of a phone's frames (bench/landing_replay.py --ap-miss 0.3, training malls
# 101, 202, 303, 404) 3 drops good APs too (30 s / 120 s: 82.5 / 88.8% with 3, 85.8 / 91.5% with 5), and
# where they hear alike the two differ by a probe or two (87.1 / 91.9% and 86.0 / 90.8%).
STALE_AFTER_MISSES = 5


def encode_state(state: dict) -> bytes:
    """A motion state as the store keeps it: JSON, by orjson (50-60 zone probabilities a phone, written at every
    position: the standard library's encoder took ~50 us of a tracked phone's ~600, orjson ~4 us)."""
    return orjson.dumps(state, option=orjson.OPT_SERIALIZE_NUMPY)


def decode_state(raw: bytes | str) -> dict:
    """A stored motion state (any JSON the standard library wrote too); ValueError when it is not JSON."""
    return orjson.loads(raw)


def coarse_position(model: VenueModel, coarse: CoarseEstimate) -> Position:
    placement = place(coarse.places, model.groups, model.zone_ids)
    return Position(floor=coarse.floor, x=coarse.x, y=coarse.y, zone=placement.zone,
                    confidence=coarse.floor_confidence, zone_confidence=placement.zone_confidence,
                    group=placement.group, group_confidence=placement.group_confidence, source="ap")


def kept_answers(kept: Position, associated_ap: str | None) -> bool:
    """Whether a fresh kept position answers a question: not when the gateway names the phone's AP and
    the position came from the AP alone or a partial match (the readings with the AP may do better)."""
    return not (associated_ap and kept.source in ("ap", "partial"))


def kept_position(kept: KeptPosition | None, newest: bytes | None, now: float, max_age_s: float,
                  associated_ap: str | None = None) -> Position | None:
    """The kept position when it still answers for the phone, else None (position it anew): no newer
    reading since it was computed, not older than `max_age_s`, and `kept_answers` the question. The one
    rule the Locator, the probe's reads, the quality report's replay and the landing bench share."""
    if kept is None or not kept.is_fresh(newest, now, max_age_s) or not kept_answers(kept.position, associated_ap):
        return None
    return kept.position


@dataclass(frozen=True)
class _Pending:
    """A phone whose readings need the positioner: its vector, and what the motion step needs after."""
    vector: np.ndarray
    state: dict | None
    coarse: CoarseEstimate | None
    partial: bool = False  # heard too briefly for every AP to have reported: match on the APs it has
    offset_db: float = 0.0  # the phone's remembered offset, already taken off `vector` (phone_offset.py)
    silent: np.ndarray | None = None  # partial: columns of the APs that reported since without hearing it
    still_s: float = 0.0  # how long its readings say it has stood still (the still span; MotionFilter.stood_still)
    search_db: float = 0.0  # the offset search's reach for it (phone_offset.search_reach; _prepare always sets it)
    within: np.ndarray | None = None  # partial: the rows where its associated AP is strong (WKNNPositioner.strong_rows)


@dataclass(frozen=True)
class _Heard:
    """What a phone's readings say, before any decision (positioning/readings.py, a batch at a time)."""
    vector: np.ndarray | None  # None: no known AP hears it recently
    heard: int  # APs in the vector
    associated: str | None  # the AP its readings say it is associated with
    oldest: float  # its oldest reading's time
    still_s: float = 0.0  # the still span its vector was taken over (0: readings weighted by age)


def _hear(model: VenueModel, readings: Readings, now: float, half_life_s: float,
          reported: Mapping[str, float] | None = None, compiled: bool = False) -> list[_Heard]:
    """Per phone of the batch: its vector (readings weighted by age, or the still span's medians; without
    the APs that no longer hear it, when `reported` says how far each AP's last report reached), the
    associated AP its readings name, its oldest reading (positioning.recency's rules, batch at a time).
    `compiled`: weighed in a compiled pass (the tracker's batch; the same vectors, positioning/readings.py)."""
    current = without_stale(readings, reported, STALE_AFTER_MISSES, compiled=compiled) if reported else readings
    found = settled_vectors(current, model.ap_ids, now=now, half_life_s=half_life_s,
                            max_change_db=SETTLE_MAX_CHANGE_DB, compiled=compiled)
    associated, oldest = readings.latest_associated(), readings.oldest(default=now).tolist()
    # a vector of only APs no fingerprint hears (placed after the survey) matches nothing: as a phone heard by
    # none (the positioner refuses such a query, and in a batch it would refuse every phone's)
    known = model.positioner.hears_known(found.vectors) if readings.n_phones else []
    spans = found.span.tolist()
    return [_Heard(found.vectors[i] if found.heard[i] and known[i] else None, int(found.heard[i]), associated[i],
                   oldest[i], spans[i]) for i in range(readings.n_phones)]


def silent_columns(model: VenueModel, vector: np.ndarray, since: float, reported: Mapping[str, float] | None
                   ) -> np.ndarray | None:
    """The model's columns of the APs whose last report reached `since` (the phone's oldest reading) or
    later without this phone in it: they did not hear it, which a partial match may count (an AP's report
    holds every phone it heard over its period; APs hear the same frames). `reported`: AP -> the newest
    reading of its last report (RssiKeys.ap_reach). None when nothing is known."""
    if not reported:
        return None
    columns = model.ap_columns
    found = [columns[ap] for ap, at in reported.items() if at >= since and ap in columns]
    silent = np.array([c for c in found if vector[c] <= model.positioner.missing], dtype=np.int64)
    return silent if silent.size else None


def _prepare(model: VenueModel, heard: _Heard, state: dict | None, now: float, associated_ap: str | None,
             reported: Mapping[str, float] | None = None) -> tuple[dict | None, Position] | _Pending | None:
    """The part before the positioner: a coarse (AP) position, nothing, or a vector to position.
    `reported`: how far each AP's last report reached (`silent_columns`), for a phone heard too briefly for a
    full match."""
    vector = heard.vector
    ap = associated_ap or heard.associated
    coarse = model.coverage.estimate(ap)
    if coarse is not None and (vector is None or (heard.heard < MIN_APS and state is None)):
        return None, coarse_position(model, coarse)
    if vector is None:
        return None
    shifted, applied_db = phone_offset.applied(vector, state)
    partial = now - heard.oldest < PARTIAL_UNTIL_S
    return _Pending(shifted, state, coarse, partial=partial, offset_db=applied_db,
                    silent=silent_columns(model, vector, heard.oldest, reported) if partial else None,
                    still_s=heard.still_s,
                    search_db=phone_offset.search_reach(state, model.positioner.offset_search_db, partial),
                    within=_near_its_ap(model, ap) if partial else None)


def _near_its_ap(model: VenueModel, ap: str | None) -> np.ndarray | None:
    """Where a phone heard for a few seconds can be: the reference points where the AP it associated with is among
    the strongest (a partial match's few APs can fit a far-off place as well; bench/landing_replay.py, 2718 ring,
    first probes in shops off by 27-77 m). None when its AP is not known or not in the live model."""
    column = model.ap_columns.get(ap) if ap else None
    return None if column is None else model.positioner.strong_rows(column)


def no_flip_flop(posterior: Mapping[str, float], current: str | None, best: str | None, best_conf: float
                 ) -> tuple[str | None, float]:
    """(zone, its probability): the phone's current zone while it holds within ZONE_MARGIN of the best
    one's (no flip-flop on a border), else the best. A current zone pruned from the posterior is gone."""
    held = posterior.get(current) if current and current != best else None
    if held is not None and held >= best_conf - ZONE_MARGIN:
        return current, round(held, 4)
    return best, best_conf


def _finish(model: VenueModel, pending: _Pending, estimate: Estimate, now: float) -> tuple[dict, Position]:
    """The part after the positioner: evidence per zone -> the motion filter -> the zone (no flip-flop)."""
    scores, seed, hint = _evidence(model, pending, estimate)
    new_state, motion = model.motion.update(_motion_state(pending), estimate, scores, now, seed=seed, floor_hint=hint,
                                            still_s=pending.still_s)
    return _decide(model, pending, estimate, new_state, motion)


def _motion_state(pending: _Pending) -> dict | None:
    """The motion state the filter steps from: none while the match is partial. A partial match's vector holds
    every reading since the phone was first heard, so it already says all that the earlier partial estimates
    said, with more APs: stepping from them counts their few APs twice, and their x/y, kept on a step a
    second later, holds the phone where two or three APs had put it."""
    return None if pending.partial else pending.state


def _finish_many(model: VenueModel, pending: Sequence[_Pending], estimates: Sequence[Estimate], now: float
                 ) -> list[tuple[dict, Position]]:
    """`_finish` for the tracker's batch: the zone evidence of every estimate at once (`zone_scores_many`) and
    the motion filter stepping every phone at once (`update_many`), the same numbers as one phone's
    (tests/positioning_tests/test_batch_evidence.py, test_motion_batch.py)."""
    scores = model.zones.zone_scores_many(estimates, [_neighbour_zones(model, e) for e in estimates])
    seeds, hints = zip(*(_seed_and_hint(p) for p in pending), strict=True)
    stepped = model.motion.update_many([p.state for p in pending], estimates, scores, now, list(seeds), list(hints),
                                       [p.still_s for p in pending])
    return [_decide(model, p, e, new_state, motion)
            for p, e, (new_state, motion) in zip(pending, estimates, stepped, strict=True)]


def _evidence(model: VenueModel, pending: _Pending, estimate: Estimate
              ) -> tuple[dict[str | None, float], Mapping[str, float] | None, Mapping[str, float] | None]:
    """What the motion filter weighs besides the estimate: evidence per zone, a cold-start seed, a floor hint."""
    return (model.zones.zone_scores(estimate, _neighbour_zones(model, estimate)), *_seed_and_hint(pending))


def _neighbour_zones(model: VenueModel, estimate: Estimate) -> list[str | None]:
    return [model.sample_zones[i] for i in estimate.neighbours]


def _seed_and_hint(pending: _Pending) -> tuple[Mapping[str, float] | None, Mapping[str, float] | None]:
    """The cold-start seed (the associated AP's coverage) and the floor hint: a phone heard too briefly (a few
    APs, partial match) cannot tell floors apart alone, so the floors of its associated AP's coverage weigh the
    evidence (an AP on another floor is rarely the strongest)."""
    coarse = pending.coarse
    return (coarse.places if coarse else None), (coarse.places if coarse and pending.partial else None)


def _decide(model: VenueModel, pending: _Pending, estimate: Estimate, new_state: dict, motion: Motion
            ) -> tuple[dict, Position]:
    """The zone from the motion filter's posterior (the current one kept on a border), the phone's offset."""
    state = pending.state
    placement = place(motion.posterior, model.groups, model.zone_ids)
    zone, zone_conf = no_flip_flop(motion.posterior, state.get("zone") if state else None,
                                   placement.zone, placement.zone_confidence)
    new_state["zone"] = zone
    residual = phone_offset.residual(model.positioner, pending.vector, estimate)
    new_state.pop(phone_offset.NEWLY_SETTLED_KEY, None)  # only `updated` sets it, for the one report that settles
    new_state.update(phone_offset.updated(state, pending.offset_db, residual, full=not pending.partial))
    position = Position(floor=motion.floor, x=motion.x, y=motion.y, zone=zone, confidence=estimate.confidence,
                        zone_confidence=zone_conf, group=placement.group, group_confidence=placement.group_confidence,
                        source="partial" if pending.partial else "readings")
    return new_state, position


# Per phone: (its kept position when that still answers; else what _prepare made of its readings; its newest reading)
_Prepared = tuple[Position | None, tuple[dict | None, Position] | _Pending | None, bytes | None]
# Per phone as read: (its newest reading, its motion state, its kept position), each as stored
_Read = tuple[bytes | None, bytes | None, bytes | None]
_Parse = Callable[[Sequence[int]], Readings]  # the readings of the batch's phones at these places, as one batch
Pipeline = redis.client.Pipeline | PackedPipeline  # a batch's writes (`Locator._pipeline`)


@dataclass(frozen=True)
class BatchReads:
    """A tracker batch read and prepared (`Locator.read_many`): its clients, the time they were read for, the model
    they were prepared with (None: the venue has none; positioned with the same one, whatever the cache holds by
    then) and per client what `_prepare_read` made of its reads (`_Prepared`)."""
    venue: str
    clients: list[str]
    now: float
    model: VenueModel | None
    prepared: list[_Prepared]


def _complete(model: VenueModel, prepared: tuple[dict | None, Position] | _Pending, now: float
              ) -> tuple[dict | None, Position]:
    """A prepared phone one at a time: a coarse position as it is, a vector through the positioner."""
    if not isinstance(prepared, _Pending):
        return prepared
    estimate = model.positioner.locate(prepared.vector, partial=prepared.partial, silent=prepared.silent,
                                       search_db=prepared.search_db, within=prepared.within)
    return _finish(model, prepared, estimate, now)


def position_of(model: VenueModel, readings: Mapping[str, Sequence[tuple[float, float, bool]]],
                state: dict | None, now: float, associated_ap: str | None = None,
                half_life_s: float = HALF_LIFE_S, reported: Mapping[str, float] | None = None
                ) -> tuple[dict | None, Position] | None:
    """(new motion state, or None to keep the old one; position), or None when nothing places the phone.
    `reported`: AP -> the newest reading of its last report (`silent_columns`)."""
    heard = _hear(model, Readings.from_mappings([readings]), now, half_life_s, reported)[0]
    prepared = _prepare(model, heard, state, now, associated_ap, reported)
    return None if prepared is None else _complete(model, prepared, now)


def forget_phone_state(db: Store, venue: str, client: str) -> int:
    """Delete the phone's hot state, the one list of it (the privacy erasure's, the demo's teleport): its readings
    (and those its source timed ahead of now), motion state and kept positions; how many keys went. One DEL: every
    key of one phone lies in its bucket's slot (core/storage.py `phone_key`)."""
    return int(db.delete(*RssiKeys(venue).of_phone(client), *TrackKeys(venue).of_phone(client)))


class Locator:
    def __init__(self, db: redis.Redis, models: ModelCache, rssi: RssiStore, cache_s: float = 30.0,
                 half_life_s: float = HALF_LIFE_S) -> None:
        self.db = db
        self.models = models
        self.rssi = rssi
        self.cache_s = cache_s  # how long a position stays reusable while no new reading arrives; 0: never
        self.half_life_s = half_life_s
        self.listeners: list[PositionsListener] = []
        self._reads = HotReads(db, memo_size=0)  # a phone's window bounds move with the clock: nothing to memoise
        self._raw = RawReplies(db)  # the tracker's batch reads on a single server (`_read_batch`)

    def on_positions(self, listener: PositionsListener) -> None:
        """Hear every newly computed position, a batch at a time (the tracker's: one call per batch; a
        probe's: a batch of one), its writes in the same round trip as the kept positions."""
        self.listeners.append(listener)

    def fresh(self, kept: KeptPosition | None, newest: bytes | None, now: float,
              associated_ap: str | None = None) -> Position | None:
        """The kept position when it still answers for the client (`kept_position`), else None."""
        return kept_position(kept, newest, now, self.cache_s, associated_ap)

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
        # How far each AP's last report reached: the venue's slot, the phone's unless the venue spreads its phones.
        *phone_reads, reach = self._read_all([*self._read_commands(venue, client, now),
                                              self._reported_command(venue, model)], one_slot=phone_buckets(venue) == 1)
        kept, prepared, newest = self._prepare_clients(model, [phone_reads], now, associated_ap,
                                                       ap_times_of(model.ap_ids, reach))[0]
        if kept is not None:
            return kept
        if prepared is None:
            return None
        new_state, position = _complete(model, prepared, now)
        self.keep(venue, client, position, new_state, newest, now)
        return position

    def last_kept(self, venue: str, client: str) -> Position | None:
        """The phone's kept position even where newer readings came since (`fresh` would position it anew); None
        when none is kept (it expires cache_s after it was computed). One key: its slot being resharded, the read
        follows its ASK; a probe answers with it when positioning the phone anew is refused (the landing's)."""
        (raw,) = self._reads((("GET", TrackKeys(venue).last_position(client)),))
        kept = KeptPosition.decode(raw)
        return kept.position if kept is not None else None

    def locate_many(self, venue: str, clients: Sequence[str], now: float | None = None) -> int:
        """The tracker's batch: every client's reads in one round trip, every new position's writes (and
        its listeners') in a second; the same decision per client as `locate`. Returns how many were
        positioned anew. One client's bad data is logged and skipped; a store error propagates."""
        return self.position_read(self.read_many(venue, clients, now))

    def read_many(self, venue: str, clients: Sequence[str], now: float | None = None) -> BatchReads:
        """A batch's reads (`locate_many`'s first round trip) and each phone's preparing (its kept position checked,
        its readings weighed into a vector: `_prepared_batch`), for `position_read`. The tracker reads its next batch
        this way in its reads thread while it positions the one before (portal/tracking/tracker.py), so its preparing
        is off the tracker's path too; the model is only read here (a fitted model is never changed, a new one is
        swapped in whole), and never the positioner's search. No model: nothing read."""
        now = time.time() if now is None else now
        clients = list(clients)
        model = self.models.get(venue)
        if model is None or not clients:
            return BatchReads(venue, clients, now, model, [])
        reads, parse, reported = self._read_batch(venue, model, clients, now)
        return BatchReads(venue, clients, now, model, self._prepared_batch(model, reads, parse, now, reported))

    def position_read(self, batch: BatchReads) -> int:
        """Position a batch read by `read_many` (with its time) and write what changed in one round trip; returns how
        many were positioned anew (none when the venue has no model)."""
        done, writes = self.position_batch(batch)
        if writes is not None:
            writes.execute()
        return done

    def position_batch(self, batch: BatchReads) -> tuple[int, Pipeline | None]:
        """`position_read` but for the writes: how many were positioned anew, and their writes queued, not sent (the
        tracker sends them in its reads thread while it positions the next batch); None when nothing is to write."""
        venue, clients, now, model = batch.venue, batch.clients, batch.now, batch.model
        if model is None or not clients:
            return 0, None
        # Per phone: the kept position, a coarse one, or a vector; the vectors go through the positioner
        # as one batch (its batch path is faster per phone than one query at a time).
        done: list[tuple[str, tuple[dict | None, Position], bytes | None]] = []
        pending: list[tuple[str, _Pending, bytes | None]] = []
        for client, (kept, prepared, newest) in zip(clients, batch.prepared, strict=True):
            if kept is not None or prepared is None:
                continue
            if isinstance(prepared, _Pending) and not prepared.partial:  # the batch path matches whole vectors
                pending.append((client, prepared, newest))
            else:
                done.append((client, _complete(model, prepared, now), newest))
        if pending:
            estimates = model.positioner.locate_many(np.vstack([p.vector for _, p, _ in pending]),
                                                     search_db=np.array([p.search_db for _, p, _ in pending]))
            finished = _finish_many(model, [p for _, p, _ in pending], estimates, now)
            done += [(client, kept, newest) for (client, _, newest), kept in zip(pending, finished, strict=True)]
        writes = self._pipeline()
        self._queue_keep(writes, venue, done, now)
        return len(done), writes

    def _read_batch(self, venue: str, model: VenueModel, clients: Sequence[str], now: float
                    ) -> tuple[list[_Read], _Parse, dict[str, float]]:
        """The batch's reads in one round trip: per phone (its newest reading, motion state, kept position), how
        to parse the readings of any of them (`_Parse`), and how far each AP's last report reached. On a single
        server the replies come back as the store sent them and the windows, ~50,000 members a batch, are read
        in a compiled loop (RssiStore.window_replies) rather than as a Python object per member (hiredis) and
        then again (`parse_batch`); on a cluster (one pipeline routed per slot) as `_read_all` reads them."""
        n = len(clients)
        if not RawReplies.usable(self.db):
            raw = self._read_all([*(c for client in clients for c in self._read_commands(venue, client, now)),
                                  self._reported_command(venue, model)])
            reach = ap_times_of(model.ap_ids, raw.pop())
            return self._from_lists(raw[0::3], raw[1::3], raw[2::3], reach)
        from portal.ingest import window_kernel  # lazy: numba, the tracker's batch path only

        keys = TrackKeys(venue)
        # The small replies first (parsed by hiredis), the windows last (`window_replies`)
        commands = [self._reported_command(venue, model),
                    *(c for track, kept in zip(keys.tracks(clients), keys.last_positions(clients), strict=True)
                      for c in (("GET", track), ("GET", kept))),
                    *self.rssi.window_commands(venue, clients, now)]
        raw = self._raw(tuple(commands), window_kernel.frame)
        split, _ = window_kernel.frame(raw, 0, raw.size, 1 + 2 * n)
        replies = RawReplies.parsed(raw[:split], 1 + 2 * n)
        windows = self.rssi.window_replies(raw, split, n)
        if windows is None:  # an error reply among the windows: read them as hiredis does (raised below)
            replies += RawReplies.parsed(raw[split:], n)
        refused = next((reply for reply in replies if isinstance(reply, redis.ResponseError)), None)
        if refused is not None:
            raise refused
        states, kept = replies[1:1 + 2 * n:2], replies[2:1 + 2 * n:2]
        reach = ap_times_of(model.ap_ids, replies[0])
        if windows is None:
            return self._from_lists(replies[1 + 2 * n:], states, kept, reach)
        reads = list(zip(windows.newest, states, kept, strict=True))
        return reads, windows.batch, reach

    def _from_lists(self, windows: list[list[bytes]], states: list, kept: list[bytes | None],
                    reach: dict[str, float]) -> tuple[list[_Read], _Parse, dict[str, float]]:
        """`_read_batch`'s answer from the windows read as lists of members."""
        reads = [(window[-1] if window else None, state, position)
                 for window, state, position in zip(windows, states, kept, strict=True)]
        return reads, lambda phones: self.rssi.parse_batch([windows[i] for i in phones]), reach

    def _prepared_batch(self, model: VenueModel, reads: Sequence[_Read], parse: _Parse, now: float,
                        reported: Mapping[str, float]) -> list[_Prepared]:
        """`_prepare_read` over the batch's reads; should that fail on one phone's bad data, phone by phone, so
        the others are still tracked (the failing one logged, given nothing)."""
        try:
            return self._prepare_read(model, reads, parse, now, reported=reported, compiled=True)
        except Exception:  # noqa: BLE001 - one client's failure must not stop everyone's tracking
            out: list[_Prepared] = []
            for i, one in enumerate(reads):
                try:
                    out.append(self._prepare_read(model, [one], lambda _, i=i: parse([i]), now, reported=reported)[0])
                except Exception:  # noqa: BLE001
                    log.exception("tracker: positioning a client of venue %s failed", model.venue.id)
                    out.append((None, None, None))
            return out

    def _prepare_clients(self, model: VenueModel, reads: Sequence[Sequence], now: float,
                         associated_ap: str | None = None, reported: Mapping[str, float] | None = None
                         ) -> list[_Prepared]:
        """Each phone's three reads (`_read_commands`: its window's members, motion state, kept position) ->
        `_prepare_read`'s answer."""
        windows = [raw_readings for raw_readings, _, _ in reads]
        return self._prepare_read(model, [(raw[-1] if raw else None, state, kept) for raw, state, kept in reads],
                                  lambda phones: self.rssi.parse_batch([windows[i] for i in phones]), now,
                                  associated_ap, reported)

    def _prepare_read(self, model: VenueModel, reads: Sequence[_Read], parse: _Parse, now: float,
                      associated_ap: str | None = None, reported: Mapping[str, float] | None = None,
                      compiled: bool = False) -> list[_Prepared]:
        """Each phone's (newest reading, motion state, kept position) -> (its kept position when that still answers,
        else None; otherwise what `_prepare` makes of its readings, `parse`d; the newest reading). A kept position
        from the AP alone (or from a partial match) does not answer when the gateway names the AP: the readings
        (the AP) may place it better. The readings of every phone that needs them are parsed and weighed together
        (positioning/readings.py)."""
        out: list[_Prepared] = []
        todo: list[tuple[int, dict | None]] = []
        for newest, raw_state, raw_kept in reads:
            # A kept position computed from another newest reading is not fresh (KeptPosition.is_fresh; a phone the
            # tracker takes has new readings: its kept position is almost never fresh)
            stored = KeptPosition.decode(raw_kept)
            kept = None if stored is None or stored.newest != newest else self.fresh(stored, newest, now, associated_ap)
            if kept is not None:
                out.append((kept, None, newest))
                continue
            todo.append((len(out), decode_state(raw_state) if raw_state else None))
            out.append((None, None, newest))
        if todo:
            batch = parse([i for i, _ in todo])
            for (i, state), heard in zip(todo, _hear(model, batch, now, self.half_life_s, reported, compiled),
                                         strict=True):
                out[i] = (None, _prepare(model, heard, state, now, associated_ap, reported), out[i][2])
        return out

    def _read_commands(self, venue: str, client: str, now: float) -> list[tuple]:
        """Three reads (what `_prepare_clients` takes): the readings window, the motion state, the kept
        position; one slot, the phone's bucket's."""
        keys = TrackKeys(venue)
        return [self.rssi.window_command(venue, client, now), ("GET", keys.track(client)),
                ("GET", keys.last_position(client))]

    @staticmethod
    def _reported_command(venue: str, model: VenueModel) -> tuple:
        """How far the last report of each of the model's APs reached (`silent_columns`; `ap_times_of` reads the
        reply): those APs' fields only, however many APs feeds have named."""
        return ("HMGET", RssiKeys(venue).ap_reach(), *model.ap_ids)

    def _read_all(self, commands: list[tuple], one_slot: bool = False) -> list:
        """Reads in one round trip. On one server, or when they share one
        slot (one phone's), packed and sent on the thread's own connection (core/storage.py HotReads, the
        probe's: without redis-py's per-command pipeline work, a third of the tracker's store CPU per phone);
        a batch on a cluster through redis-py's pipeline, which routes each phone's reads to its slot."""
        if one_slot or isinstance(self.db, redis.Redis):
            replies = self._reads(tuple(commands))
        else:
            pipe = self.db.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            replies = pipe.execute()
        return list(replies)

    def keep(self, venue: str, client: str, position: Position, state: dict | None, newest: bytes | None,
             now: float) -> None:
        """Write the new motion state and the kept position, and tell the listeners, in one round trip."""
        pipe = self._pipeline()
        self._queue_keep(pipe, venue, [(client, (state, position), newest)], now)
        pipe.execute()

    def _pipeline(self) -> Pipeline:
        """The writes' pipeline: on one server packed by hiredis (`PackedPipeline`: no SCRIPT EXISTS round trip,
        no packing in Python); on a cluster redis-py's, whose listeners send their scripts at once."""
        return self.db.pipeline(transaction=False) if is_cluster(self.db) else PackedPipeline(self.db)

    def _queue_keep(self, pipe, venue: str, done: Sequence[tuple[str, tuple[dict | None, Position], bytes | None]],
                    now: float) -> None:
        """Queue each (client, (new state, position), newest reading)'s writes and its listeners'. Plain commands
        (two SETs a phone, each with its TTL), not a script: until 2026-12-03 one script call per phone bucket did
        the same writes, and cost the store about twice the CPU for them (each call from Lua, and its AOF record).
        The kept position is one string since 2026-12-05 (`KeptPosition.encode`): as a hash it took HSET and EXPIRE,
        a failover between which left it without a TTL, and a command more a phone. A phone whose offset settled in
        this report is counted into the venue's phone mix (`PhoneMixStore`)."""
        keys = TrackKeys(venue)
        track_ttl, kept_ttl = int(self.rssi.window_s * phone_offset.STATE_WINDOWS), max(1, math.ceil(self.cache_s))
        told: list[tuple[str, Position]] = []
        settled_offsets: list[float] = []
        clients = [client for client, _, _ in done]
        for (client, (state, position), newest), track, kept in zip(done, keys.tracks(clients),
                                                                     keys.last_positions(clients), strict=True):
            if state is not None:
                pipe.execute_command("SET", track, encode_state(state), "EX", track_ttl)
                if (offset := phone_offset.newly_settled(state)) is not None:
                    settled_offsets.append(offset)
            if newest is not None and self.cache_s > 0:
                pipe.execute_command("SET", kept, KeptPosition(position, newest, now).encode(), "EX", kept_ttl)
            if newest is not None:  # a position from new readings (not the AP alone, asked again and again)
                told.append((client, position))
        PhoneMixStore.queue_counts(pipe, venue, settled_offsets, now)
        if told:
            for listener in self.listeners:
                listener(pipe, venue, told, now)
