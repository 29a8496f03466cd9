"""A venue's hyperparameters chosen by grouped cross-validation on its own survey (training data only).

Folds never share a group between their training and test parts. Groups are, in order of preference:
- phones, when the survey names two or more (a fold is judged on phones its map never saw, as live);
- spatial blocks (cells of `block_m` metres per floor), when asked for: the harshest, no nearby map point;
- reference points otherwise (the usual one-phone site survey: every scan of a held-out point goes).

The choice rule: among configurations whose floor hit rate is within one standard error of the best
(floor first: a wrong floor lands the shopper in the wrong app), the lowest mean 2-D error. The result
says when it cannot be trusted: few groups, tiny folds, folds that disagree, or folds dropped because the
simulated phone offset left none of their held-out queries hearing an AP (such queries are left out of the
scoring and counted in the notes; with no fold left to score, tune refuses: the survey is too small or weak)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from positioning.metrics import position_report
from positioning.perturb import shift_rssi
from positioning.representation import REPRESENTATIONS
from positioning.vectors import MISSING_DBM, hears_surveyed
from positioning.wknn import METRICS, WKNNPositioner

GROUP_KINDS = ("auto", "phone", "point", "block")
# Parameters that change only the search, not the fitted map: one fit per fold serves all their values (the floor
# classifier of `floor_model` is fitted on its first use and kept with the map).
QUERY_TIME_PARAMS = ("k", "k_floor", "offset_rounds", "offset_search_db", "offset_search_margin", "unheard_weight",
                     "cluster_m", "floor_rule", "weight_power", "floor_model")
DEFAULT_GRID: dict[str, tuple] = {
    "representation": ("powed", "exponential"),
    "metric": ("sorensen",),
    "k": (1, 2, 3, 5, 7, 9, 11),
    "offset_rounds": (0, 1, 2),
    "offset_search_db": (0.0, 10.0),
    "unheard_weight": (1.0, 0.7, 0.4),
    "floor_rule": ("vote", "mean"),
    # a powed model blended into an exponential one (powed with itself is left out: `blends_itself`): it lowered
    # the mean error on both public training sets' folds (docs/positioning.md "Blend"), for a tenth of the batch time
    "blend_representation": (None, "powed"),
    # a floor classifier over the whole map beside the neighbours' floor (WKNNPositioner.floor_model): on Tampere's
    # training folds it raised the floor rate by 1.4 points, on UJIIndoorLoc's it moved it by -0.03 (docs/positioning.md
    # "A floor classifier"); twice the searches (tune's time on the public sets +5% to +35%). In the defaults since
    # 2026-12-06; a data set's folds may still leave it out (a venue's never try it: the live model never runs it)
    "floor_model": (None, "logistic"),
}
FULL_GRID: dict[str, tuple] = {**DEFAULT_GRID, "representation": REPRESENTATIONS, "metric": METRICS}
MIN_GROUPS = 5  # fewer held-out groups than this and a fold's figure is one phone's or one spot's luck
MIN_FOLD_TEST = 30
MAX_ERROR_CV = 0.25  # fold-to-fold spread of the mean error, relative
MAX_FLOOR_SD = 0.05
# A one-phone survey holds no phone-to-phone differences, yet live phones read a few dB louder or softer
# than the survey phone: its held-out vectors get a random offset, uniform in +-this (dB), per vector.
SIMULATED_PHONE_DB = 5.0


@dataclass
class CVRow:
    params: dict
    floor_hit_rate: float
    floor_sd: float
    mean_error_m: float
    error_sd: float


@dataclass
class TuneResult:
    config: dict  # WKNNPositioner(**config)
    group_kind: str  # "phone", "reference point" or "spatial block"
    n_groups: int
    n_splits: int
    rows: list[CVRow]  # ranked, the chosen one first
    warnings: list[str] = field(default_factory=list)  # why the estimate cannot be trusted
    notes: list[str] = field(default_factory=list)  # what it cannot know
    # held-out queries left out of the scoring: they heard no AP once read as another phone (+-phone_db)
    unscored: int = 0
    folds_dropped: int = 0  # folds left with no query to score (not in n_splits)
    # held-out queries left out of the scoring: they heard only APs their fold's training rows do not hear
    unmatched: int = 0

    @property
    def trusted(self) -> bool:
        return not self.warnings

    def verdict(self) -> dict:
        """How the configuration was chosen, flat (stored beside a venue's configuration, shown to operators)."""
        chosen = self.rows[0]
        return {"groups": self.group_kind, "n_groups": self.n_groups, "folds": self.n_splits,
                "floor_hit_rate": round(chosen.floor_hit_rate, 4), "mean_error_m": round(chosen.mean_error_m, 3),
                "trusted": self.trusted, "warnings": "; ".join(self.warnings), "notes": "; ".join(self.notes)}


def cv_groups(y: np.ndarray, phones: np.ndarray | None = None, kind: str = "auto",
              block_m: float = 10.0) -> tuple[np.ndarray, str]:
    """(group id per row, what the groups are)."""
    if kind not in GROUP_KINDS:
        raise ValueError(f"unknown grouping {kind!r}; choose one of {GROUP_KINDS}")
    several_phones = phones is not None and np.unique(phones).size >= 2
    if kind == "phone" or (kind == "auto" and several_phones):
        if not several_phones:
            raise ValueError("grouping by phone needs a survey taken with two or more phones")
        return np.unique(phones, return_inverse=True)[1], "phone"
    if kind == "block":
        if block_m <= 0:
            raise ValueError("the block size must be positive")
        cells = np.column_stack([y[:, 0], y[:, 1], np.floor(y[:, 2] / block_m), np.floor(y[:, 3] / block_m)])
        return np.unique(cells, axis=0, return_inverse=True)[1].ravel(), "spatial block"
    points = np.column_stack([y[:, :2], np.round(y[:, 2:4], 2)])
    return np.unique(points, axis=0, return_inverse=True)[1].ravel(), "reference point"


def grid_configs(grid: dict[str, Iterable]) -> list[dict]:
    names = list(grid)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*(grid[n] for n in names))]


def _folds(groups: np.ndarray, folds: int, per_fold: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    # lazy: scikit-learn's model selection (slow import) only for tuning
    from sklearn.model_selection import GroupKFold

    n_splits = min(folds, np.unique(groups).size)
    if n_splits < 2:
        raise ValueError("cross-validation needs at least two groups (phones, reference points or blocks)")
    rng = np.random.default_rng(seed)
    out = []
    for train_idx, test_idx in GroupKFold(n_splits=n_splits).split(groups, groups=groups):
        # The same test sample for every configuration: the comparison between them is paired.
        test_idx = np.sort(rng.choice(test_idx, size=min(per_fold, test_idx.size), replace=False))
        out.append((train_idx, test_idx))
    return out


def _score(X, y, folds, configs, test_X: np.ndarray, progress: Callable[[int, int], None] | None,
           offset_X: np.ndarray | None = None) -> list[CVRow]:
    """Each configuration's fold reports. Per fold, one fit per map (its fit-time values, the blend's included)
    and one search per map and query-time values: configurations differing only in those share a fit, and an
    unblended configuration takes the answers of a blended one over the same map, searched once (`predict_with_own`)."""
    by_query: dict[tuple, list[dict]] = {}
    for config in configs:
        by_query.setdefault(_query_key(config), []).append(config)
    reports: dict[int, list[dict]] = {id(c): [] for c in configs}
    done, total = 0, len(folds) * len(by_query)
    for train_idx, test_idx in folds:
        fold = _Fold(X[train_idx], y[train_idx], test_X[test_idx],
                     None if offset_X is None else offset_X[train_idx])
        for query_key, members in by_query.items():
            fold.at(dict(query_key))
            # the blends first: their searches answer the unblended configurations over the same maps too
            for config in sorted(members, key=lambda c: not WKNNPositioner(**c).blends()):
                reports[id(config)].append(position_report(y[test_idx], fold.table(_map_key(config))))
            done += 1
            if progress:
                progress(done, total)
    rows = []
    for config in configs:
        floors = [r["floor_hit_rate"] for r in reports[id(config)]]
        errors = [r["mean_error_m"] for r in reports[id(config)]]
        rows.append(CVRow(dict(config), float(np.mean(floors)), float(np.std(floors)),
                          float(np.mean(errors)), float(np.std(errors))))
    return rows


class _Fold:
    """One fold's maps, each fitted once, and their answers (`predict`'s table) to the held-out queries at one set of
    query-time values (`at`)."""

    def __init__(self, X_train: np.ndarray, y_train: np.ndarray, queries: np.ndarray,
                 offset_train: np.ndarray | None = None) -> None:
        self.X_train, self.y_train, self.queries, self.offset_train = X_train, y_train, queries, offset_train
        self.maps: dict[tuple, WKNNPositioner] = {}
        self.query: dict = {}
        self.answers: dict[tuple, np.ndarray] = {}

    def at(self, query: dict) -> None:
        self.query, self.answers = query, {}

    def _model(self, key: tuple) -> WKNNPositioner:
        if key not in self.maps:
            self.maps[key] = WKNNPositioner(**dict(key)).fit(self.X_train, self.y_train, self.offset_train)
        return self.maps[key].set_params(**self.query)

    def table(self, key: tuple) -> np.ndarray:
        if key not in self.answers:
            answers, own = self._model(key).predict_with_own(self.queries)
            self.answers[key] = answers
            self.answers.setdefault(_map_key({**dict(key), "blend_representation": None}), own)
        return self.answers[key]


def _query_key(config: dict) -> tuple:
    return tuple((name, config[name]) for name in QUERY_TIME_PARAMS if name in config)


def _map_key(config: dict) -> tuple:
    """The fitted map a configuration reads: its fit-time values (a blend named None, off, kept: unnamed, the
    default blend)."""
    return tuple(sorted((name, value) for name, value in config.items() if name not in QUERY_TIME_PARAMS
                        and (value is not None or name == "blend_representation")))


def _rank(rows: list[CVRow], n_splits: int) -> list[CVRow]:
    """Within one standard error of the best floor rate, by mean error; then the rest."""
    best = max(rows, key=lambda r: (r.floor_hit_rate, -r.mean_error_m))
    bar = best.floor_hit_rate - best.floor_sd / np.sqrt(n_splits)
    return sorted(rows, key=lambda r: (r.floor_hit_rate < bar, r.mean_error_m, -r.floor_hit_rate))


def tune(X: ArrayLike, y: ArrayLike, phones: ArrayLike | None = None, *, grid: dict[str, Iterable] | None = None,
         folds: int = 4, per_fold: int = 600, groups: str = "auto", block_m: float = 10.0,
         phone_db: float | None = None, seed: int = 0,
         progress: Callable[[int, int], None] | None = None, offset_X: np.ndarray | None = None) -> TuneResult:
    """Cross-validate the grid on (X, y) (RSSI dBm, building/floor/x/y) and pick a configuration.
    `phone_db`: held-out vectors read louder/softer by a random offset in +-phone_db; default 0 when
    the folds hold out real phones, SIMULATED_PHONE_DB otherwise. `offset_X`: the folds' models measure a query's
    offset against its rows (`WKNNPositioner.fit`'s offset_X, row for row with X)."""
    if folds < 2 or per_fold < 1:
        raise ValueError(f"cross-validation needs at least 2 folds and 1 test vector per fold (got folds={folds}, "
                         f"per_fold={per_fold})")
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if offset_X is not None:
        offset_X = np.asarray(offset_X, dtype=np.float64)
        if offset_X.shape != X.shape:
            raise ValueError(f"offset_X must have X's shape {X.shape}, got {offset_X.shape}")
    heard = (X > MISSING_DBM).any(axis=1)  # scans that heard nothing cannot be test queries
    X, y = X[heard], y[heard]
    offset_X = None if offset_X is None else offset_X[heard]
    phones = None if phones is None else np.asarray(phones)[heard]
    group_ids, kind = cv_groups(y, phones, groups, block_m)
    fold_list = _folds(group_ids, folds, per_fold, seed)
    if phone_db is None:
        phone_db = 0.0 if kind == "phone" else SIMULATED_PHONE_DB
    test_X = X
    unscored, dropped = 0, []
    if phone_db:
        test_X = shift_rssi(X, np.random.default_rng(seed + 1).uniform(-phone_db, phone_db, len(X)))
        keep = (test_X > MISSING_DBM).any(axis=1)  # a vector shifted below hearing cannot be a query
        sampled = sum(test.size for _, test in fold_list)
        fold_list = [(train, test[keep[test]]) for train, test in fold_list]
        unscored = sampled - sum(test.size for _, test in fold_list)
        dropped = [i for i, (_, test) in enumerate(fold_list, 1) if test.size == 0]
        if len(dropped) == len(fold_list):
            raise ValueError(f"the survey is too small or too weak to cross-validate: all {sampled} held-out "
                             f"queries hear no AP once read as another phone model (a random +-{phone_db:g} dB; "
                             f"readings below {MISSING_DBM:g} dBm are lost), so no fold can be scored; survey "
                             "more points, or nearer the APs")
        n_folds = len(fold_list)
        fold_list = [(train, test) for train, test in fold_list if test.size]
    fold_list, unmatched, unmatched_folds = _matchable(X, test_X, fold_list)
    configs = grid_configs(grid or DEFAULT_GRID)
    # a grid varying both the representation and the blend pairs each with itself too: not a model, left out
    # (a grid of nothing else is left whole, so that check_config names the mistake)
    configs = [c for c in configs if not blends_itself(c)] or configs
    for config in configs:  # query-time values are set on fitted models, past fit's checks: check them first
        check_config(config)
    rows = _rank(_score(X, y, fold_list, configs, test_X, progress, offset_X), len(fold_list))
    n_groups = int(np.unique(group_ids).size)
    result = TuneResult(config=rows[0].params, group_kind=kind, n_groups=n_groups, n_splits=len(fold_list),
                        rows=rows, unscored=unscored, folds_dropped=len(dropped) + unmatched_folds,
                        unmatched=unmatched)
    if dropped:
        which = ", ".join(map(str, dropped))
        result.warnings.append(f"fold{'s' if len(dropped) > 1 else ''} {which} of {n_folds} dropped: every "
                               f"held-out query heard no AP once read +-{phone_db:g} dB off, nothing to score")
    if unscored:
        result.notes.append(f"{unscored} held-out quer{'y' if unscored == 1 else 'ies'} heard no AP once read "
                            f"+-{phone_db:g} dB off and {'was' if unscored == 1 else 'were'} left out of the "
                            "scoring")
    if unmatched_folds:
        result.warnings.append(f"{unmatched_folds} fold{'s' if unmatched_folds > 1 else ''} dropped: every held-out "
                               "query heard only APs that fold's training rows do not hear, nothing to score")
    if unmatched:
        result.notes.append(f"{unmatched} held-out quer{'y' if unmatched == 1 else 'ies'} heard only APs that "
                            f"{'its' if unmatched == 1 else 'their'} fold's training rows do not hear (the "
                            "positioner cannot match such a query) and " + ('was' if unmatched == 1 else 'were')
                            + " left out of the scoring")
    _judge(result, min(t.size for _, t in fold_list), phone_db)
    return result


def _matchable(X: np.ndarray, test_X: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]
               ) -> tuple[list[tuple[np.ndarray, np.ndarray]], int, int]:
    """The folds with only the held-out queries that hear an AP some training row of the fold hears: the
    positioner refuses any other (it matches no fingerprint; an AP heard only in the held-out block or by
    the held-out phone). Also how many queries and folds that left out; ValueError if no fold is left."""
    out, unmatched, emptied = [], 0, 0
    for train, test in folds:
        keep = hears_surveyed(X[train], test_X[test])
        unmatched += int(keep.size - keep.sum())
        if keep.any():
            out.append((train, test[keep]))
        else:
            emptied += 1
    if not out:
        raise ValueError("no fold can be scored: every held-out query hears only APs that its fold's training "
                         "rows do not hear; survey more points that hear the same APs")
    return out, unmatched, emptied


def _judge(result: TuneResult, smallest_fold: int, phone_db: float) -> None:
    chosen = result.rows[0]
    if result.n_groups < MIN_GROUPS:
        result.warnings.append(f"only {result.n_groups} {result.group_kind}s to hold out (< {MIN_GROUPS})")
    if smallest_fold < MIN_FOLD_TEST:
        result.warnings.append(f"a fold tests only {smallest_fold} vectors (< {MIN_FOLD_TEST})")
    if chosen.mean_error_m > 0 and chosen.error_sd / chosen.mean_error_m > MAX_ERROR_CV:
        result.warnings.append(f"folds disagree: mean error {chosen.mean_error_m:.2f} m +- {chosen.error_sd:.2f} m")
    if chosen.floor_sd > MAX_FLOOR_SD:
        result.warnings.append(f"folds disagree: floor hit rate {chosen.floor_hit_rate:.1%} "
                               f"+- {chosen.floor_sd:.1%}")
    if result.group_kind != "phone":
        result.notes.append(f"one survey phone: other phone models are simulated (+-{phone_db:g} dB per held-out "
                            "vector), walking shoppers are not; live errors will be higher")


def blends_itself(config: dict) -> bool:
    """A configuration names a blend with its own representation (no blend: in a grid, a repeat of the unblended
    configuration; stored for a venue, a mistake)."""
    blend = config.get("blend_representation")
    return blend is not None and blend == config.get("representation", WKNNPositioner().representation)


def check_config(config: object) -> dict:
    """A stored or hand-written configuration, checked: WKNNPositioner parameters it accepts, else ValueError."""
    if not isinstance(config, dict):
        raise ValueError("a positioner configuration is a JSON object of WKNNPositioner parameters")
    unknown = set(config) - set(WKNNPositioner().get_params())
    if unknown:
        raise ValueError(f"unknown positioner parameters {sorted(unknown)}")
    if config.get("representation", "powed") not in REPRESENTATIONS:
        raise ValueError(f"unknown representation {config['representation']!r}; choose one of {REPRESENTATIONS}")
    try:
        WKNNPositioner(**config).check_params()
    except TypeError as exc:
        raise ValueError(f"bad positioner parameters: {exc}") from None
    return dict(config)


def venue_config(X: ArrayLike, y: ArrayLike, phones: ArrayLike | None = None, **kwargs: Any) -> dict:
    """The configuration for a venue's live model, from its survey samples (see `tune`)."""
    return tune(X, y, phones, **kwargs).config
