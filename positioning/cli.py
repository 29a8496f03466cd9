"""python -m positioning evaluate | tune"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from collections import Counter

import numpy as np
from tqdm import tqdm

from positioning.baselines import BASELINES, baseline_predict
from positioning.datasets import FORMATS, align, read_dataset
from positioning.metrics import position_report
from positioning.representation import REPRESENTATIONS
from positioning.vectors import MISSING_DBM
from positioning.wknn import METRICS, WKNNPositioner

REPORT_KEYS = ("building_hit_rate", "floor_hit_rate", "mean_error_m", "median_error_m", "p75_error_m",
               "p95_error_m", "zone_hit_rate", "n_test")


def _predict_with_progress(model: WKNNPositioner, X: np.ndarray, show: bool) -> tuple[np.ndarray, list]:
    estimates = []
    for row in tqdm(X, desc="positioning", unit="q", disable=not show, file=sys.stderr):
        estimates.append(model.locate(row))
    return np.array([[e.building, e.floor, e.x, e.y] for e in estimates]), estimates


def _zones_from_neighbours(estimates, train_zones) -> list[str | None]:
    out = []
    for e in estimates:
        votes = Counter(train_zones[i] for i in e.neighbours)
        out.append(votes.most_common(1)[0][0] if votes else None)
    return out


def evaluate(args: argparse.Namespace) -> dict:
    train = read_dataset(args.train, args.format)
    test = read_dataset(args.test, args.format)
    X_test = align(test, train.ap_ids)
    model = WKNNPositioner(k=args.k, metric=args.metric, representation=args.representation)
    started = time.perf_counter()
    model.fit(train.X, train.y)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    heard = (X_test > model.missing).any(axis=1)
    if not heard.all():
        raise ValueError(f"{int((~heard).sum())} test vectors hear no access point known to the training set")
    y_pred, estimates = _predict_with_progress(model, X_test, show=not args.quiet)
    predict_s = time.perf_counter() - started
    zones_pred = _zones_from_neighbours(estimates, train.zones) if train.zones and test.zones else None
    report = position_report(test.y, y_pred, test.zones if zones_pred else None, zones_pred)
    report.update(fit_seconds=round(fit_s, 4), predict_seconds=round(predict_s, 4))
    return report


def _print_report(name: str, report: dict) -> None:
    zone = "n/a" if report["zone_hit_rate"] is None else f"{report['zone_hit_rate']:.1%}"
    print(f"{name:<40} building {report['building_hit_rate']:6.1%}  floor {report['floor_hit_rate']:6.1%}  "
          f"mean {report['mean_error_m']:5.2f} m  median {report['median_error_m']:5.2f} m  "
          f"p75 {report['p75_error_m']:5.2f} m  p95 {report['p95_error_m']:5.2f} m  zone {zone}")


def cmd_evaluate(args: argparse.Namespace) -> int:
    report = evaluate(args)
    if args.json:
        print(json.dumps({k: report[k] for k in (*REPORT_KEYS, "fit_seconds", "predict_seconds")}))
        return 0
    print(f"test vectors: {report['n_test']}   fit {report['fit_seconds']:.2f} s   "
          f"predict {report['predict_seconds']:.2f} s")
    _print_report(f"MallPortal WKNN ({args.representation}, {args.metric}, k={args.k})", report)
    if not args.no_baselines:
        train, test = read_dataset(args.train, args.format), read_dataset(args.test, args.format)
        X_test = align(test, train.ap_ids)
        for name, (data, k) in BASELINES.items():
            _print_report(name, position_report(test.y, baseline_predict(train.X, train.y, X_test, data, k)))
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    """Grouped k-fold on the TRAINING set only: folds split by phone (or reference point), so a
    configuration is judged on devices it has not seen, as the validation set will be."""
    # lazy: scikit-learn's model selection (slow import) only for `tune`
    from sklearn.model_selection import GroupKFold

    data = read_dataset(args.train, args.format)
    heard = (data.X > MISSING_DBM).any(axis=1)  # UJIIndoorLoc has a few scans that heard nothing
    data.X, data.y = data.X[heard], data.y[heard]
    data.groups = data.groups[heard] if data.groups is not None else None
    groups = data.groups if data.groups is not None else np.arange(len(data.X)) % args.folds
    folds = list(GroupKFold(n_splits=args.folds).split(data.X, data.y, groups))
    rng = np.random.default_rng(0)
    grid = list(itertools.product(REPRESENTATIONS, METRICS, args.ks))
    results = []
    for rep, metric, k in tqdm(grid, desc="configurations", file=sys.stderr):
        reports = []
        for train_idx, test_idx in folds:
            test_idx = rng.choice(test_idx, size=min(args.per_fold, len(test_idx)), replace=False)
            model = WKNNPositioner(k=k, metric=metric, representation=rep).fit(data.X[train_idx], data.y[train_idx])
            reports.append(position_report(data.y[test_idx], model.predict(data.X[test_idx])))
        mean = {key: float(np.mean([r[key] for r in reports])) for key in ("floor_hit_rate", "mean_error_m")}
        results.append((rep, metric, k, mean["floor_hit_rate"], mean["mean_error_m"]))
    # Rank: floor first (a wrong floor sends a shopper to the wrong light app), then error.
    results.sort(key=lambda r: (-round(r[3], 3), r[4]))
    print(f"{'representation':<12} {'metric':<10} {'k':>3} {'floor hit':>9} {'mean err':>9}")
    for rep, metric, k, floor, err in results:
        print(f"{rep:<12} {metric:<10} {k:>3} {floor:9.2%} {err:8.2f}m")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m positioning")
    sub = parser.add_subparsers(dest="command", required=True)
    ev = sub.add_parser("evaluate", help="train on one CSV, test on another, print accuracy")
    ev.add_argument("--train", required=True)
    ev.add_argument("--test", required=True)
    ev.add_argument("--format", choices=FORMATS, default=None, help="default: guessed from the header")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--no-baselines", action="store_true", help="skip the scikit-learn baselines")
    ev.add_argument("--quiet", action="store_true", help="no progress bar")
    defaults = WKNNPositioner()
    ev.add_argument("--k", type=int, default=defaults.k)
    ev.add_argument("--metric", choices=METRICS, default=defaults.metric)
    ev.add_argument("--representation", choices=REPRESENTATIONS, default=defaults.representation)
    ev.set_defaults(func=cmd_evaluate)
    tu = sub.add_parser("tune", help="grouped cross-validation over representations, metrics and k")
    tu.add_argument("--train", required=True)
    tu.add_argument("--format", choices=FORMATS, default=None)
    tu.add_argument("--folds", type=int, default=4)
    tu.add_argument("--per-fold", type=int, default=600, help="test vectors sampled per fold")
    tu.add_argument("--ks", type=int, nargs="+", default=[1, 3, 5, 7, 9, 11])
    tu.set_defaults(func=cmd_tune)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
