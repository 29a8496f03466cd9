"""A venue's fingerprint samples as the positioner's training matrices (without pulling in plotting)."""

from __future__ import annotations

import hashlib

import numpy as np

from core.errors import N_, CatalogInputError
from core.memo import BoundedMemo
from fingerprints.falloff import ApFalloff
from fingerprints.model import VenueMap
from positioning import MISSING_DBM, tuning
from positioning.tuning import TuneResult
from positioning.vectors import weakest_listed_dbm

# Neighbours averaged for a live phone's x/y (the live model and the quality report's estimate of it). A
# site survey on a ~3 m grid puts 11 neighbours (the library's default until 2026-12-03, chosen on UJIIndoorLoc's
# sparser map) across ~10 m, more than a shop's frontage: `positioning tune` on training mall 101's survey picks 3
# (2.82 m against 3.73 m for 11), and so does bench/landing_replay.py on its shoppers (3 of 3/5/11).
LIVE_K = 3
# A live phone's x/y from its neighbours' main spatial cluster (WKNNPositioner cluster_m): two of three
# neighbours 50 m away from the third put the phone between them, in a zone neither is in (open food halls,
# weak signals). bench/landing_replay.py on training malls 101, 202, 303, 404 (60 shoppers each): 10 m gave
# +2.9 / +2.7 / +2.7 points at the first probe / 30 s / 120 s over none; 6 and 15 m alike; 10, the middle.
LIVE_CLUSTER_M = 10.0
# Neighbours weigh 1/distance^4 (WKNNPositioner weight_power): with k=3 the nearest leads unless the others are
# nearly as near. bench/landing_replay.py on training malls 101, 202, 303, 404 (100 shoppers each), mean right
# zone at the first probe / 30 s / 120 s: p=1 72.3 / 88.9 / 93.5%, p=3 72.5 / 89.6 / 93.9%, p=4 73.0 / 89.5 /
# 94.0% (k=4: 72.3 / 89.3 / 94.3%, k=5: 72.0 / 89.3 / 93.3%): within sampling error each, one direction; both
# public sets' cross-validation chose p=4 too (docs/positioning.md "Weight power").
LIVE_WEIGHT_POWER = 4.0


# The rest of the live model, named here rather than left to the library's defaults (chosen on the public sets, whose
# surveys differ from a mall's): chosen on the training malls with bench/landing_replay.py over the rounds of issue 20.
# The floor by the vote of the k nearest: the "mean" rule was not better for a live phone (71.8 / 88.9 / 93.5% against
# 72.3 / 88.9 / 93.5%). The offset search (+-10 dB on full matches; a partial match only near its AP, +-5 dB:
# phone_offset.search_reach) beside the offset remembered per visit: on training malls 101-404 the same landing with and
# without it (30 s / 120 s mean 89.5 / 94.0% both), and where phone models differ more than the simulator's (offsets
# x1.8, `docs/landing-history.md`, eleventh pass) 101: 80.5 / 86.0 -> 83.5 / 88.0%, 202: 93.0 / 94.0 -> 94.0 / 95.5%,
# 3141 / 5678 (new): 79.5 / 85.0 -> 91.0 / 91.5%, 77.5 / 86.5 -> 81.0 / 91.5%; the remembered offset is shrunk (a
# quieter place explains part of a quieter phone), the search is not. Once a phone's offset is known (3 full matches)
# the live path searches it only +-5 dB (positioning/phone_offset.py KNOWN_SEARCH_DB: twelfth pass). No blend of two
# representations: it helped on the public sets' folds (docs/positioning.md "Blend"), and the live model with an
# exponential model blended in landed worse on every training mall (101-404, 100 shoppers, mean right zone first /
# 30 s / 120 s 77.0 / 89.0 / 94.3% -> 75.8 / 85.9 / 92.5%, error at 120 s higher on all four; measured when the second
# model searched the map itself, before it ranked the first's candidates: docs/positioning.md "Blend").
LIVE_FIXED = {"representation": "powed", "metric": "sorensen", "k_floor": None, "k_building": None,
              "offset_rounds": 2, "offset_search_db": 10.0, "unheard_weight": 1.0, "floor_rule": "vote",
              "blend_representation": None, "floor_model": None}


def live_defaults() -> dict:
    """The live model's parameters where the venue stores none (k=LIVE_K, cluster_m=LIVE_CLUSTER_M,
    weight_power=LIVE_WEIGHT_POWER, LIVE_FIXED)."""
    return {**LIVE_FIXED, "k": LIVE_K, "cluster_m": LIVE_CLUSTER_M, "weight_power": LIVE_WEIGHT_POWER}


def live_params(venue: VenueMap) -> dict:
    """The live positioner's parameters for this venue: WKNNPositioner(**live_params(venue)). The
    live defaults, overridden by what the operator stored for the venue (`flask positioning-tune`), never with a
    floor classifier (`checked_live_config` refuses one; a configuration stored otherwise does not bring it back)."""
    return {**live_defaults(), **venue.positioner, "floor_model": None}


def checked_live_config(config: object) -> dict:
    """A configuration to store for a venue, checked as the live model will run it: over the live defaults, not
    the library's. ValueError naming the parameter; also for a blend with the live model's own representation
    ({"blend_representation": "powed"}: the library reads it as no blend, but stored for a venue it is a mistake
    that would change nothing), and for a floor classifier (`floor_model`): the live model never runs one (its
    figures are for still survey vectors; the leave-one-out quality report could not hold a point out of it, and a
    request would fit it)."""
    config = tuning.check_config(config)
    live = tuning.check_config({**live_defaults(), **config})
    if tuning.blends_itself(live):
        raise ValueError(f"blend_representation {live['blend_representation']!r} is the live model's own "
                         "representation (no blend): name another one, or null")
    if live["floor_model"] is not None:
        raise ValueError(f"floor_model {live['floor_model']!r}: the live model decides the floor by its neighbours "
                         "alone (a floor classifier is for `positioning evaluate`): null, or leave it out")
    return config


# What a venue's own tuning leaves at the live model's values (`live_defaults`), though `positioning tune` varies it:
# the folds score held-out survey vectors standing still, read at most 5 dB off, without a body in the way, and on
# those the venue's choice and the live landing part ways (docs/landing-history.md, twentieth pass). The exponential
# representation won the folds of training malls 101 and 202, in the simulator's radio and a harsher one, and landed
# 2-16 points worse at 30 s and 120 s than the live powed one on all four (not for the shopper's body, which the folds
# lack: without it, in the harsher radio, 101 still lost 6.5 / 12 points); the offset search never pays for phones
# within 5 dB, and without it phones that differ more lost up to 11.5 points at 30 s (eleventh pass). k: the folds
# rank k by mean errors within their own spread (7777: 3.96 m at k=11, 4.22 m at k=3, sd 0.26 m), and their choice
# moved the landing by +0.5 / -1.75 points on average at 30 s / 120 s over six mall and radio pairs (training malls
# 101, 202 in two radios, check malls 7777, 2468) and lost 4-6 points at 120 s where it was 9 or 11 (202 harsher,
# 7777): x/y averaged over more neighbours than a small zone holds (LIVE_K). The floor rule (the "mean" rule: training
# malls 71.8 / 88.9 / 93.5% against the vote's 72.3 / 88.9 / 93.5%), the blend and the floor classifier (`floor_model`,
# chosen by Tampere's folds; never run on a live phone, whose floor was right on 97.5-100% of first probes on the check
# malls): not shown to help a live phone (LIVE_FIXED).
NOT_TUNED_LIVE = ("representation", "offset_search_db", "k", "floor_rule", "blend_representation", "floor_model")


def tune_venue(venue: VenueMap, grid: dict | None = None, **kwargs) -> TuneResult:
    """Cross-validate the live positioner's parameters on the venue's own survey (positioning.tuning.tune:
    a site survey names no phones, so the folds hold out reference points, or spatial blocks with
    groups="block", and held-out points read as another phone model). The grid (tuning.DEFAULT_GRID less
    NOT_TUNED_LIVE unless given: the offset rounds and the unheard weight) runs with the live model's values for
    what it does not name (`live_defaults`: its representation, k, offset search, floor vote, spatial cluster and
    weight power), each phone's offset measured as the live model measures it (`offset_reference`, whose fall-off
    is fitted on every point, the held-out ones too: four numbers per AP), so the figures are those of the model the
    venue will run, and the stored choice names them."""
    ap_ids, X, y = training_set(venue)
    # The default grid less what the venue's folds cannot judge for a live phone (a grid given is taken as given)
    grid = dict(grid) if grid else {name: v for name, v in tuning.DEFAULT_GRID.items() if name not in NOT_TUNED_LIVE}
    for name, value in live_defaults().items():  # the rest as the live model runs it, not the library's defaults
        grid.setdefault(name, (value,))
    return tuning.tune(X, y, None, grid=grid, offset_X=offset_reference(venue, ap_ids, X, y), **kwargs)


def training_set(venue: VenueMap) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(AP ids, X (n, n_aps) dBm with unheard = MISSING_DBM, y (n, 4) building/floor/x/y): the same
    matrices portal.tracking.models.build_venue_model fits."""
    if not venue.samples:
        raise CatalogInputError("samples", N_("venue %(venue)s has no fingerprint samples"), venue=venue.id)
    ap_ids = venue.ap_ids()
    index = {ap: i for i, ap in enumerate(ap_ids)}
    X = np.full((len(venue.samples), len(ap_ids)), MISSING_DBM, dtype=float)
    y = np.zeros((len(venue.samples), 4), dtype=float)
    for row, sample in enumerate(venue.samples):
        for ap, rssi in sample.rssi.items():
            if ap in index:
                X[row, index[ap]] = rssi
        y[row] = (venue.building, sample.floor, sample.x, sample.y)
    return ap_ids, X, y


def fitted_falloff(venue: VenueMap, ap_ids: list[str], X: np.ndarray, y: np.ndarray) -> ApFalloff | None:
    """Each AP's fall-off fitted to the survey (`ap_ids`, `X`, `y` as `training_set` gives them, or some of its
    columns), with the survey's own hearing as the level under which an AP goes unlisted; None when the survey lists
    nothing."""
    hearing = weakest_listed_dbm(X, MISSING_DBM)
    if hearing is None:
        return None
    ap_by_id = {ap.bssid: ap for ap in venue.aps}
    ap_floor = np.array([ap_by_id[b].floor for b in ap_ids], dtype=float)
    ap_xy = np.array([(ap_by_id[b].x, ap_by_id[b].y) for b in ap_ids], dtype=float).reshape(-1, 2)
    inputs = (np.ascontiguousarray(y[:, 1:4], dtype=float), np.ascontiguousarray(X, dtype=float), ap_floor, ap_xy,
              np.array([hearing, MISSING_DBM]))
    return _FALLOFFS.get(_digest(inputs), lambda: ApFalloff.fit(*inputs[:4], hearing, MISSING_DBM))


# Fits kept per process by their inputs' bytes: a fit is scipy's optimiser once per AP (alone on this 2-core VM: the
# demo mall's 20 APs 0.03 s, generated mall 4242's 52 APs 0.36 s, 777's 82 APs 1.4 s; ~0.3 s a fit on average in the
# test suite's busy run), and each model built for the same survey fitted it again: an app's model cache, the
# console's quality jobs and a model rebuilt after the map's silent APs changed (which passes the fit on:
# ModelCache.get) each had their own, and the test suite spent ~155 s of CPU on 510 fits of a few surveys
# (2026-12-05). Keyed by content, not by venue and version: the same survey gives the same fit under any
# name, and a version number reused by another store (the suite flushes it per test) cannot hand over a stale one.
_FALLOFFS = BoundedMemo(size=8)


def _digest(arrays: tuple[np.ndarray, ...]) -> bytes:
    """A key for `arrays`: their shapes and bytes (float64, C order)."""
    digest = hashlib.blake2b(digest_size=20)
    for array in arrays:
        digest.update(repr(array.shape).encode())
        digest.update(array.tobytes())
    return digest.digest()


def offset_reference(venue: VenueMap, ap_ids: list[str], X: np.ndarray, y: np.ndarray,
                     falloff: ApFalloff | None = None) -> np.ndarray:
    """What the live positioner measures a phone's offset against (WKNNPositioner.fit's `offset_X`): the survey's
    fingerprints (`training_set`'s rows, or some of its columns) with each AP a row does not list at its expected
    level there below the survey's hearing (`ApFalloff.filled`; `falloff` when already fitted to these columns).
    The positioner counts every such level at the hearing itself (all "not listed" says is "under it"), so the fit
    decides which unlisted APs count at a spot: those whose expected level there is above the missing level (an AP
    far away or floors apart does not). A shopper's phone louder than the survey phone is heard by such APs now and
    then. bench/landing_replay.py, 100 shoppers, right zone at the first probe / 30 s / 120 s against the
    listed levels alone (docs/landing-history.md, twenty-second pass): training malls 101-404 77.0 / 89.0 / 94.3 ->
    77.3 / 88.8 / 94.4%, the eight check malls 79.6 / 90.1 / 95.1 -> 79.8 / 91.4 / 95.0%, a harsher radio world
    (101, 303) 62.0 / 70.8 / 78.3 -> 62.0 / 73.8 / 79.5%."""
    falloff = falloff if falloff is not None else fitted_falloff(venue, ap_ids, X, y)
    return X if falloff is None else falloff.filled(y[:, 1:4], X)
