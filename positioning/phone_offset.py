"""A phone's RSSI offset against the survey phone, remembered over its visit.

The positioner estimates each query's offset against its neighbours (WKNNPositioner `offset_rounds`),
but one query's estimate is noisy (fading, body loss, a few wrong neighbours), and a large offset
misleads the first search: a phone read 10 dB louder than the map is first matched near an AP it is
not at, whose fingerprints then misjudge its offset. The offset is the phone model's (its transmit power
as the AP hears it) and holds for the whole visit, so the per-query estimates are averaged per phone
(a running mean, exponential after `MEMORY` reports) and the average is taken off the phone's next
vector before the search; the per-query rounds then only correct the rest. Kept in the phone's motion
state (the tracker's per-phone key, `{venue}`-tagged, with its TTL): forgotten when the phone leaves."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from positioning.vectors import MISSING_DBM

if TYPE_CHECKING:
    from positioning.wknn import Estimate, WKNNPositioner

MAX_OFFSET_DB = 20.0  # no phone model reads further from another than this; larger is a bad estimate
MEMORY = 8  # reports over which the remembered offset averages (then an exponential mean of about this many)
MIN_APPLIED_DB = 1.0  # readings are whole dB: a smaller offset is not worth a shifted vector
# Full matches after which the remembered offset is the phone's: its next vectors are searched only KNOWN_SEARCH_DB
# either side of it, not the positioner's full `offset_search_db` (WKNNPositioner), which is for a phone whose offset is
# not known yet (a partial match is searched KNOWN_SEARCH_DB too, and only near its AP: `search_reach`). Searched that
# far anyway, a vector from a spot the survey matches poorly (an edge of the building, a weak corner) can find a place
# tens of metres away that reads alike 10 dB louder or softer; searched not at all, the remembered offset stops learning
# (the rounds only confirm the neighbours it found). Partial matches (a phone heard a few seconds, a few APs) are not
# counted towards that, and the first full match starts the memory afresh: their offsets are rough (one later, a phone
# heard again after a gap, is averaged in).
KNOWN_AFTER = 3
KNOWN_SEARCH_DB = 5.0
OFFSET_KEY, COUNT_KEY, FULL_KEY = "offset_db", "offset_n", "offset_full"
# The tracker keeps a phone's state, its remembered offset with it, this many readings windows after its last report
# (portal/tracking/locator.py `_queue_keep`; RSSI_WINDOW_S, 60 s by default: 300 s): a phone heard again later starts
# afresh, as a new visit.
STATE_WINDOWS = 5
# In the state written by the report that settled the phone's offset, and only there: the tracker counts that
# offset once a visit into the venue's phone mix (portal.tracking.phone_mix). Settled: known (KNOWN_AFTER full
# matches) and averaged over a full MEMORY of reports since the first full match. Counted as soon as it is known,
# the offsets of 5151's 100 phones read N(+0, 2) dB against the survey phone where their truth was N(-1.3, 3.1)
# (bench/landing_replay.py): three estimates, the first searched from 0 dB, still lean toward 0.
NEWLY_SETTLED_KEY = "offset_settled"


def remembered(state: Mapping | None) -> tuple[float, int]:
    """(remembered offset in dB, reports behind it) from a phone's state; (0, 0) when none."""
    if not state:
        return 0.0, 0
    try:
        offset, count = float(state.get(OFFSET_KEY, 0.0)), int(state.get(COUNT_KEY, 0))
    except (TypeError, ValueError, OverflowError):
        return 0.0, 0
    if not math.isfinite(offset) or count <= 0:
        return 0.0, 0
    return _clipped(offset), count


def full_matches(state: Mapping | None) -> int:
    """How many full matches the phone's remembered offset has seen (0 when none, or a bad state)."""
    try:
        return max(int((state or {}).get(FULL_KEY, 0)), 0) if remembered(state)[1] else 0
    except (TypeError, ValueError, OverflowError):
        return 0


def known(state: Mapping | None) -> bool:
    """Whether the phone's remembered offset has seen KNOWN_AFTER full matches or more."""
    return full_matches(state) >= KNOWN_AFTER


def search_reach(state: Mapping | None, model_reach_db: float, partial: bool = False) -> float:
    """The offset search's reach for the phone's next match: the model's own `model_reach_db`, narrowed to
    KNOWN_SEARCH_DB once its offset is `known`, or for a `partial` match (never widened: a venue tuned without
    the search keeps it off). A partial match is searched only near the AP the phone has joined (the positioner
    decides: `WKNNPositioner.locate(within=...)`), and its few APs shifted 10 dB still reach a place there that
    reads alike: at ±5 dB the first probe gained on every check mall (docs/landing-history.md, eighteenth pass)."""
    narrowed = known(state) or partial
    return min(KNOWN_SEARCH_DB, float(model_reach_db)) if narrowed else float(model_reach_db)


def _clipped(offset_db: float) -> float:
    """`offset_db` within +-MAX_OFFSET_DB (NaN stays NaN): np.clip's value, without its cost per scalar."""
    return min(max(offset_db, -MAX_OFFSET_DB), MAX_OFFSET_DB)


def without_offset(vector: np.ndarray, offset_db: float, missing: float = MISSING_DBM) -> np.ndarray:
    """The vector as the survey phone would have read it: `offset_db` taken off every heard AP (an AP
    heard stays heard, at the weakest level at least). Unchanged under MIN_APPLIED_DB."""
    if abs(offset_db) < MIN_APPLIED_DB:
        return vector
    # np.clip's values (lower bound under the upper one), without its Python wrapper's cost (~5 us a phone)
    shifted = np.minimum(np.maximum(vector - offset_db, missing + 1.0), 0.0)
    return np.where(vector > missing, shifted, vector)


def applied(vector: np.ndarray, state: Mapping | None) -> tuple[np.ndarray, float]:
    """The phone's vector with its remembered offset taken off (`without_offset`), and the offset so taken off
    (0 when none was: under MIN_APPLIED_DB): what `updated` is told as `applied_db`."""
    offset, _reports = remembered(state)
    shifted = without_offset(vector, offset)
    return shifted, (offset if shifted is not vector else 0.0)


def residual(model: WKNNPositioner, vector: np.ndarray, estimate: Estimate) -> float:
    """How much louder than its neighbours a searched vector still read: the positioner's own estimate when it ran
    offset rounds (WKNNPositioner `offset_rounds`), else measured against the neighbours it found."""
    return estimate.offset_db if model.offset_rounds else model.offset_of(vector, estimate.neighbours)


def locate_remembering(model: WKNNPositioner, X: np.ndarray, phones: np.ndarray, times: np.ndarray | None = None,
                       forget_after_s: float | None = None, progress: Callable[[int], None] | None = None
                       ) -> list[Estimate]:
    """Each row of X located as the live tracker locates a phone's reports (portal/tracking/locator.py): a
    phone's rows in their time order (`times`, ties in X's order; no times: X's order), each searched with the
    offset its earlier rows taught taken off and as far as `search_reach` allows, the memory then `updated` with
    what it still read; forgotten, as the tracker's state lapses, where a phone's row comes more than
    `forget_after_s` after its previous one (a visit of its own). A row of each phone is located per batch
    (`model.locate_many`). `progress(rows)` after each batch. Returns the estimates in X's order."""
    X, phones = np.asarray(X, dtype=np.float64), np.asarray(phones)
    at = np.zeros(len(X)) if times is None else np.asarray(times, dtype=np.float64)
    order = np.argsort(at, kind="stable")
    visits = [order[phones[order] == phone] for phone in dict.fromkeys(phones[order].tolist())]
    states: dict[int, dict | None] = {}
    estimates: list = [None] * len(X)  # filled row by row
    for step in range(max((len(rows) for rows in visits), default=0)):
        batch = [(v, int(rows[step])) for v, rows in enumerate(visits) if step < len(rows)]
        for v, row in batch:
            if step and forget_after_s is not None and at[row] - at[visits[v][step - 1]] > forget_after_s:
                states[v] = None  # the tracker's state lapsed: a new visit
        prepared = [applied(X[row], states.get(v)) for v, row in batch]
        reach = np.array([search_reach(states.get(v), model.offset_search_db) for v, _ in batch])
        found = model.locate_many(np.vstack([vector for vector, _ in prepared]), search_db=reach)
        for (v, row), (vector, applied_db), estimate in zip(batch, prepared, found, strict=True):
            states[v] = updated(states.get(v), applied_db, residual(model, vector, estimate))
            estimates[row] = estimate
        if progress is not None:
            progress(len(batch))
    return estimates


def updated(state: Mapping | None, applied_db: float, residual_db: float, full: bool = True
            ) -> dict[str, float | int]:
    """The state's offset fields after one more report: the query was searched with `applied_db` taken
    off and read `residual_db` louder than its neighbours still, so the phone's offset was their sum.
    `full`: the report was a full match (counted towards `known`), not a partial one. A state written before
    full matches were counted reads as none yet: its memory starts afresh at the next full match (once)."""
    offset, count = remembered(state)
    full_seen = full_matches(state)
    if full and not full_seen:  # the first full match: the partial matches' rough estimates go
        offset, count = 0.0, 0
    count = min(count + 1, MEMORY)
    observed = _clipped(float(applied_db + residual_db))
    offset += (observed - offset) / count
    full_count = min(full_seen + full, KNOWN_AFTER)  # past KNOWN_AFTER the count says nothing more
    fields: dict[str, float | int] = {OFFSET_KEY: round(offset, 3), COUNT_KEY: count, FULL_KEY: full_count}
    if full_count >= KNOWN_AFTER and count == MEMORY and not settled(state):
        fields[NEWLY_SETTLED_KEY] = 1
    return fields


def settled(state: Mapping | None) -> bool:
    """Whether the phone's offset is known and averaged over a full MEMORY of reports (since the first full
    match: the memory starts afresh there)."""
    return known(state) and remembered(state)[1] >= MEMORY


def newly_settled(state: Mapping | None) -> float | None:
    """The phone's offset when the report that wrote `state` settled it (`updated` marked it), else None."""
    if not state or not state.get(NEWLY_SETTLED_KEY):
        return None
    offset, count = remembered(state)
    return offset if count else None


@dataclass(frozen=True)
class OffsetMix:
    """A venue's phones against its survey phone: how many offsets were counted, their mean and spread (dB)."""

    phones: int
    mean_db: float
    sd_db: float


def offset_mix(counts: Mapping[int, int]) -> OffsetMix | None:
    """The mix of a histogram of offsets (whole dB -> phones); None below two phones (no spread to speak of)."""
    bins = [(float(db), int(n)) for db, n in counts.items() if int(n) > 0]
    phones = sum(n for _, n in bins)
    if phones < 2:
        return None
    mean = sum(db * n for db, n in bins) / phones
    variance = sum(n * (db - mean) ** 2 for db, n in bins) / (phones - 1)
    return OffsetMix(phones=phones, mean_db=mean, sd_db=math.sqrt(variance))
