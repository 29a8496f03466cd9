"""Cold start: where a phone probably is from the one thing known when it first probes, the AP it
associated with (the gateway names it in the redirect; the AP's association event says it).

From the survey: for each AP, the places (zones, or a floor's corridors) of the reference points where
that AP is among the strongest, weighted by rank (1, 1/2, 1/4: phones associate with a strong AP, not
always the strongest). That coverage is a coarse position with a confidence: the share of the AP's
best place, its floor's share, and the coverage-weighted centre of its reference points."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

RANK_WEIGHTS = (1.0, 0.5, 0.25)


@dataclass(frozen=True)
class CoarseEstimate:
    floor: int
    x: float
    y: float
    floor_confidence: float  # share of the AP's coverage on that floor
    places: dict[str, float]  # state (zone id, or motion.off_zone(floor)) -> share, summing to 1


class ApCoverage:
    """Per AP, the places a phone associated with it is in. `fit` takes the survey as parallel sequences."""

    def __init__(self, rank_weights: Sequence[float] = RANK_WEIGHTS, min_weight: float = 2.0) -> None:
        self.rank_weights = tuple(rank_weights)
        self.min_weight = min_weight  # an AP strongest at fewer reference points than this is not trusted

    def fit(self, fingerprints: Sequence[Mapping[str, float]], places: Sequence[str], floors: Sequence[int],
            xy: Sequence[tuple[float, float]]) -> ApCoverage:
        if not len(fingerprints) == len(places) == len(floors) == len(xy):
            raise ValueError("fingerprints, places, floors and xy must be parallel")
        acc: dict[str, dict] = {}
        for rssi, place, floor, (x, y) in zip(fingerprints, places, floors, xy, strict=True):
            strongest = sorted(rssi, key=lambda ap: (-rssi[ap], ap))[:len(self.rank_weights)]
            for ap, w in zip(strongest, self.rank_weights, strict=False):
                a = acc.setdefault(ap, {"places": {}, "floors": {}, "xy": {}})
                a["places"][place] = a["places"].get(place, 0.0) + w
                a["floors"][int(floor)] = a["floors"].get(int(floor), 0.0) + w
                sx, sy, sw = a["xy"].get(int(floor), (0.0, 0.0, 0.0))
                a["xy"][int(floor)] = (sx + w * x, sy + w * y, sw + w)
        self.coverage_: dict[str, CoarseEstimate] = {}
        for ap, a in acc.items():
            total = sum(a["places"].values())
            if total < self.min_weight:
                continue
            floor = max(sorted(a["floors"]), key=a["floors"].get)
            sx, sy, sw = a["xy"][floor]
            self.coverage_[ap] = CoarseEstimate(
                floor=floor, x=sx / sw, y=sy / sw, floor_confidence=round(a["floors"][floor] / total, 4),
                places={p: round(v / total, 4) for p, v in sorted(a["places"].items(), key=lambda kv: -kv[1])})
        return self

    def estimate(self, ap: str | None) -> CoarseEstimate | None:
        """The coarse position of a phone associated with `ap`; None for an AP the survey does not know."""
        if not hasattr(self, "coverage_"):
            raise RuntimeError("ApCoverage is not fitted")
        return self.coverage_.get(ap) if ap else None


def strongest_associated(readings: Mapping[str, Sequence[tuple[float, float, bool]]]) -> str | None:
    """The AP a phone is associated with, from its readings (ts, rssi, associated): the AP of its newest
    association-flagged reading (a hostapd `assoc` event, a Meraki record of an associated client), the
    stronger on a tie. None when no reading says."""
    best: tuple[float, float] | None = None
    best_ap = None
    for ap, items in readings.items():
        for ts, rssi, associated in items:
            if associated and (best is None or (ts, rssi) > best):
                best, best_ap = (ts, rssi), ap
    return best_ap
