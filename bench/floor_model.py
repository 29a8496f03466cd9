"""The floor classifier's rule on the public sets' TRAINING folds: how often each way of letting it decide the floor
lands the right floor, beside the neighbours alone (docs/positioning.md "A floor classifier beside the neighbours").

    python bench/floor_model.py [--data ../shared/data] [--sets tampere,uji] [--seed 0]

The folds are `tune`'s (positioning/tuning.py: Tampere by reference point, its held-out vectors read as another
phone as `tune` reads them, a uniform +-5 dB per vector; UJIIndoorLoc by phone), every held-out vector of a fold
scored; the neighbours are the defaults' less the classifier (UJIIndoorLoc with the +-10 dB search its folds
chose). Per fold, the classifier is the one `floor_model="logistic"` would fit on the fold's training rows, asked
about each held-out vector as the neighbours last matched it (its offset taken off, as the model takes it off),
and about the vector as read. Printed per set: each rule's floor hit rate per fold and over the folds, and its
difference from the neighbours'. Test files are never read. Tampere takes about a minute, UJIIndoorLoc about five.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from positioning.datasets import read_dataset  # noqa: E402
from positioning.kernels import likeliest_floors  # noqa: E402
from positioning.perturb import shift_rssi  # noqa: E402
from positioning.tuning import SIMULATED_PHONE_DB, _folds, cv_groups  # noqa: E402
from positioning.vectors import MISSING_DBM  # noqa: E402
from positioning.wknn import WKNNPositioner  # noqa: E402

# The public sets are not shipped: where to get them, and the folder layout --data must have.
DATA_LAYOUT = ("a folder holding tampere/train.csv (Tampere TUT3 in UJIIndoorLoc's CSV layout: zenodo 3751042, from "
               "Lohan et al., zenodo 889798) and ujiindoorloc/trainingData.csv (UJIIndoorLoc, UCI Machine Learning "
               "Repository)")
SETS = {  # name: (training file under --data, folds, the neighbours' parameters, simulate another phone)
    "tampere": ("tampere/train.csv", 5, {}, True),
    "uji": ("ujiindoorloc/trainingData.csv", 4, {"offset_search_db": 10.0}, False),
}
RULES = ("the classifier alone", "its floor where p > 0.5", "its floor where p > the confidence (taken)",
         "the same, the vector as read")


def first(floors: tuple[np.ndarray, np.ndarray]) -> tuple[int, float]:
    """(floor, probability) of a one-query `likeliest_floors` answer."""
    return int(floors[0][0]), float(floors[1][0])


def fold_rates(queries: np.ndarray, y: np.ndarray, X: np.ndarray, train: np.ndarray, test: np.ndarray,
               params: dict) -> dict[str, float]:
    """One fold: each rule's floor hit rate over its held-out vectors (`queries`: every row as the fold reads it;
    those hearing an AP the training rows hear)."""
    # the neighbours alone (the classifier is in the defaults since 2026-12-06): its rules are compared against them
    model = WKNNPositioner(**{**params, "floor_model": None}).fit(X[train], y[train])
    held = queries[test]
    keep = model.hears_known(held)
    held, truth = held[keep], y[test][keep, 1]
    estimates = model.locate_many(held)
    classifiers = model._floor_classifier()
    floors = {rule: [] for rule in ("neighbours", *RULES)}
    for q_read, e in zip(held, estimates, strict=True):
        fitted = classifiers.get(e.building)
        if fitted is None:
            read = as_matched = (e.floor, 0.0)
        else:  # the vector as the model last matched it: its offset taken off as `_floor_checked` reads it
            q_matched = model._shifted(q_read[None], np.array([e.offset_db]))[0]
            read = first(likeliest_floors(fitted, q_read, MISSING_DBM))
            as_matched = first(likeliest_floors(fitted, q_matched, MISSING_DBM))
        floors["neighbours"].append(e.floor)
        floors[RULES[0]].append(as_matched[0])
        floors[RULES[1]].append(as_matched[0] if as_matched[1] > 0.5 else e.floor)
        floors[RULES[2]].append(as_matched[0] if as_matched[1] > e.confidence else e.floor)
        floors[RULES[3]].append(read[0] if read[1] > e.confidence else e.floor)
    return {rule: float(np.mean(np.array(f) == truth)) for rule, f in floors.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"),
                        help=f"{DATA_LAYOUT}; default: ../shared/data beside the repository")
    parser.add_argument("--sets", default="tampere,uji")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    names = args.sets.split(",")
    for name in names:
        if name not in SETS:
            parser.error(f"unknown set {name!r}; choose from {', '.join(SETS)}")
        if not (Path(args.data) / SETS[name][0]).is_file():
            parser.error(f"no {Path(args.data) / SETS[name][0]}: the public sets are not shipped; pass --data, "
                         f"{DATA_LAYOUT}, or --sets to run fewer")
    for name in names:
        path, n_folds, params, other_phone = SETS[name]
        data = read_dataset(Path(args.data) / path)
        groups, kind = cv_groups(data.y, data.groups)
        folds = _folds(groups, n_folds, 10**9, args.seed)
        # held-out vectors read as another phone model where the survey names one phone, drawn as `tune` draws them
        queries = shift_rssi(data.X, np.random.default_rng(args.seed + 1).uniform(
            -SIMULATED_PHONE_DB, SIMULATED_PHONE_DB, len(data.X))) if other_phone else data.X
        rates = [fold_rates(queries, data.y, data.X, train, test, params)
                 for train, test in tqdm(folds, desc=f"{name} folds", unit="fold")]
        print(f"\n{name}: {len(folds)} folds by {kind}, every held-out vector; floor hit rate per fold, mean")
        base = np.mean([r["neighbours"] for r in rates])
        for rule in ("neighbours", *RULES):
            per_fold = " ".join(f"{r[rule]:.2%}" for r in rates)
            mean = np.mean([r[rule] for r in rates])
            delta = "" if rule == "neighbours" else f"  ({100 * (mean - base):+.2f} points)"
            print(f"  {rule:44s} {per_fold}  mean {mean:.2%}{delta}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
