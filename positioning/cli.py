"""python -m positioning evaluate | tune"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from positioning.baselines import BASELINES, baseline_label, baseline_predict
from positioning.datasets import FORMATS, Dataset, align, read_dataset
from positioning.metrics import position_report
from positioning.perturb import aps_switched_off, shift_rssi
from positioning.phone_offset import locate_remembering
from positioning.representation import REPRESENTATIONS
from positioning.tuning import DEFAULT_GRID, FULL_GRID, GROUP_KINDS, SIMULATED_PHONE_DB, tune
from positioning.vectors import GONE_MIN_EXPECTED, MISSING_DBM, gone_columns, hears_surveyed
from positioning.wknn import METRICS, WKNNPositioner, estimates_table

# A bar redrawn ten times a second suits a terminal; written to a file or a pipe (a cron job's log, CI) each redraw is
# a line of its own (`tune` on UJIIndoorLoc: 2,000 of them), so there it is redrawn at most every this many seconds.
LOGGED_PROGRESS_S = 10.0

REPORT_KEYS = ("building_hit_rate", "floor_hit_rate", "mean_error_m", "median_error_m", "p75_error_m",
               "p95_error_m", "zone_hit_rate", "n_test")


def progress_bar(iterable: Iterable | None = None, *, show: bool = True, **kwargs: Any) -> tqdm:
    """A tqdm bar on stderr, off unless `show`, redrawn at most every LOGGED_PROGRESS_S where stderr is not a
    terminal."""
    logged = not sys.stderr.isatty()
    return tqdm(iterable, disable=not show, file=sys.stderr, mininterval=LOGGED_PROGRESS_S if logged else 0.1,
                **kwargs)


def _locate_with_progress(model: WKNNPositioner, X: np.ndarray, show: bool) -> tuple[np.ndarray, list]:
    estimates = []
    blocks = range(0, len(X), model.BATCH)
    for start in progress_bar(blocks, desc="positioning", unit="block", show=show):
        estimates.extend(model.locate_many(X[start:start + model.BATCH]))
    return estimates_table(estimates), estimates


def _locate_visits(model: WKNNPositioner, X: np.ndarray, visits: tuple[np.ndarray, np.ndarray | None],
                   gap_s: float, show: bool) -> tuple[np.ndarray, list]:
    """Each phone's vectors in its time order, its offset remembered (`locate_remembering`) until a gap of `gap_s`."""
    phones, times = visits
    with progress_bar(total=len(X), desc="positioning phones", unit="vector", show=show) as bar:
        estimates = locate_remembering(model, X, phones, times, forget_after_s=gap_s, progress=bar.update)
    return estimates_table(estimates), estimates


def _zones_from_neighbours(estimates, train_zones) -> list[str | None]:
    out = []
    for e in estimates:
        votes = Counter(train_zones[i] for i in e.neighbours)
        out.append(votes.most_common(1)[0][0] if votes else None)
    return out


def read_config(path: str | Path) -> dict:
    """A configuration file (what `tune --out` writes): a JSON object of WKNNPositioner parameters."""
    with open(path, encoding="utf-8") as fh:
        params = json.load(fh)
    if not isinstance(params, dict):
        raise ValueError(f"{path}: expected a JSON object of WKNNPositioner parameters")
    unknown = set(params) - set(WKNNPositioner().get_params())
    if unknown:
        raise ValueError(f"{path}: unknown parameters {sorted(unknown)}")
    return params


def model_params(args: argparse.Namespace) -> dict:
    """The positioner's parameters: its defaults, then a tuned --config file, then explicit flags."""
    params: dict = read_config(args.config) if args.config else {}
    for name in ("k", "metric", "representation", "offset_rounds", "offset_search_db", "unheard_weight"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    return params


def test_vectors(args: argparse.Namespace, test: Dataset, train: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Test vectors aligned to the training APs, perturbed as asked; rows left hearing nothing the training
    rows hear are dropped when a perturbation silenced them (and are an error otherwise: the positioner
    matches them to no fingerprint). Also the columns switched off."""
    X = align(test, train.ap_ids)
    if args.rssi_offset:
        X = shift_rssi(X, args.rssi_offset)
    off = aps_switched_off(X, args.ap_off, seed=args.seed) if args.ap_off else np.array([], dtype=int)
    X[:, off] = MISSING_DBM
    heard = hears_surveyed(train.X, X)
    if not heard.all() and not (args.rssi_offset or args.ap_off):
        raise ValueError(f"{int((~heard).sum())} test vectors hear no access point known to the training set")
    if not heard.any():
        raise ValueError(f"all {len(X)} test vectors hear nothing once perturbed (--rssi-offset / --ap-off): "
                         "nothing left to evaluate")
    return X[heard], heard, off


def masked(train: Dataset, X_test: np.ndarray, off: np.ndarray) -> tuple[Dataset, np.ndarray]:
    """The training set and test vectors without the columns `off`: what the live model fits once those APs
    fall silent in the live reports (portal/tracking/models.py `silent_aps`, the AP lifecycle)."""
    keep = np.setdiff1d(np.arange(len(train.ap_ids)), off)
    return (dataclasses.replace(train, X=train.X[:, keep], ap_ids=[train.ap_ids[i] for i in keep]),
            X_test[:, keep])


def _report(y_test: np.ndarray, y_pred: np.ndarray, estimates: list, test_zones: list | None,
            train_zones: list | None) -> dict:
    """position_report, with the zone rate where both files name zones (each estimate's zone: its neighbours')."""
    zones_pred = _zones_from_neighbours(estimates, train_zones) if test_zones is not None else None
    return position_report(y_test, y_pred, test_zones, zones_pred)


def visits(args: argparse.Namespace, test: Dataset, kept: np.ndarray) -> tuple[np.ndarray, np.ndarray | None] | None:
    """(phone of each kept test vector, when it was read) where the file names two phones or more and
    --each-alone is not given; else None: every vector is located alone (a file naming one phone, or 0 for all as
    the Tampere packaging does, may hold many: its vectors cannot be told apart by phone)."""
    if args.each_alone or test.groups is None or len(np.unique(test.groups[kept])) < 2:
        return None
    return test.groups[kept], (None if test.times is None else test.times[kept])


def evaluate(args: argparse.Namespace) -> dict:
    """The live path's accuracy on a test file: first each vector alone with every AP (the figure a plain
    positioner gives: `alone`); then, as the live model and tracker work, without the APs the test file shows gone
    (`gone_columns`, placed by that first pass; --keep-silent: none) and with each phone's offset remembered over
    its vectors in time order (`visits`; --each-alone: none)."""
    if args.mask_off and not args.ap_off:
        raise ValueError("--mask-off needs --ap-off")
    if args.visit_gap_s < 0:
        raise ValueError("--visit-gap-s must be 0 or more seconds")
    if args.mask_off and args.keep_silent:
        raise ValueError("--mask-off and --keep-silent contradict each other: --mask-off leaves out APs")
    train = read_dataset(args.train, args.format)
    test = read_dataset(args.test, args.format)
    X_test, kept, off = test_vectors(args, test, train)
    X_read = X_test  # the baselines get the files as read: the plain method, none of the live path's parts
    show = not args.quiet
    started = time.perf_counter()
    model = WKNNPositioner(**model_params(args)).fit(train.X, train.y)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    y_alone, estimates = _locate_with_progress(model, X_test, show)
    predict_s = time.perf_counter() - started
    y_test = test.y[kept]
    test_zones = [z for z, k in zip(test.zones, kept, strict=True) if k] if test.zones and train.zones else None
    alone = _report(y_test, y_alone, estimates, test_zones, train.zones)
    silent = np.array([], dtype=int) if args.keep_silent else gone_columns(
        train.X, X_test, [e.neighbours for e in estimates])
    masked_out = np.union1d(silent, off) if args.mask_off else silent
    walks = visits(args, test, kept)
    y_pred = y_alone
    if len(masked_out) or walks is not None:
        if len(masked_out):
            started = time.perf_counter()
            kept_aps, X_test = masked(train, X_test, masked_out)
            model = WKNNPositioner(**model_params(args)).fit(kept_aps.X, kept_aps.y)
            fit_s += time.perf_counter() - started
        started = time.perf_counter()
        y_pred, estimates = (_locate_with_progress(model, X_test, show) if walks is None
                             else _locate_visits(model, X_test, walks, args.visit_gap_s, show))
        predict_s += time.perf_counter() - started
    report = _report(y_test, y_pred, estimates, test_zones, train.zones)  # masking keeps every row: same zones
    report.update(fit_seconds=round(fit_s, 4), predict_seconds=round(predict_s, 4),
                  n_dropped=int((~kept).sum()), model=model.get_params(),
                  rssi_offset_db=args.rssi_offset, aps_off=args.ap_off,
                  aps_masked=int(len(off)) if args.mask_off else 0, aps_silent=int(len(silent)),
                  phones=0 if walks is None else len(np.unique(walks[0])),
                  alone={k: alone[k] for k in REPORT_KEYS})
    report["_test"] = (X_read, y_test, train)
    return report


def model_label(m: dict) -> str:
    """A configuration (WKNNPositioner.get_params()) in one line, naming what differs from the plain method."""
    k_floor = f", k_floor={m['k_floor']}" if m["k_floor"] else ""
    search = f", search ±{m['offset_search_db']:g} dB" if m["offset_search_db"] else ""
    search += f", unheard x{m['unheard_weight']:g}" if m["unheard_weight"] != 1 else ""
    search += ", floor by its nearest (mean)" if m["floor_rule"] == "mean" else ""
    search += f", weights 1/d^{m['weight_power']:g}" if m["weight_power"] != 1 else ""
    search += f", cluster {m['cluster_m']:g} m" if m.get("cluster_m") else ""
    search += f", blended with {m['blend_representation']}" if WKNNPositioner(**m).blends() else ""
    search += f", floor classifier ({m['floor_model']})" if m.get("floor_model") else ""
    return (f"MallPortal WKNN ({m['representation']}, {m['metric']}, k={m['k']}{k_floor}, "
            f"offset x{m['offset_rounds']}{search})")


def live_path_line(report: dict) -> str:
    """What the first line of figures did as the live path does, and how to turn each off."""
    silent = (f"{report['aps_silent']} APs the training set hears and the test vectors never do, though at least "
              f"{GONE_MIN_EXPECTED:g} placed among fingerprints hearing them should have, left out of the model "
              "(--keep-silent keeps them)" if report["aps_silent"] else "no AP left out as silent")
    phones = (f"each of the test file's {report['phones']} phones located in its time order with its offset "
              "remembered (--each-alone: each vector alone)" if report["phones"] else
              "each vector located alone (the file names fewer than two phones, or --each-alone)")
    return f"as the live path: {silent}; {phones}"


def _print_report(name: str, report: dict) -> None:
    zone = "n/a" if report["zone_hit_rate"] is None else f"{report['zone_hit_rate']:.1%}"
    print(f"{name:<40} building {report['building_hit_rate']:7.2%}  floor {report['floor_hit_rate']:7.2%}  "
          f"mean {report['mean_error_m']:5.2f} m  median {report['median_error_m']:5.2f} m  "
          f"p75 {report['p75_error_m']:5.2f} m  p95 {report['p95_error_m']:5.2f} m  zone {zone}")


def cmd_evaluate(args: argparse.Namespace) -> int:
    report = evaluate(args)
    X_test, y_test, train = report.pop("_test")
    if args.json:
        print(json.dumps({k: report[k] for k in (*REPORT_KEYS, "fit_seconds", "predict_seconds", "n_dropped",
                                                 "model", "rssi_offset_db", "aps_off", "aps_masked",
                                                 "aps_silent", "phones", "alone")}))
        return 0
    perturbed = f"; RSSI {args.rssi_offset:+g} dB" if args.rssi_offset else ""
    perturbed += f"; {args.ap_off:.0%} of APs off (seed {args.seed})" if args.ap_off else ""
    perturbed += f", the {report['aps_masked']} left out of the model (as once silent live)" if args.mask_off else ""
    print(f"test vectors: {report['n_test']} ({report['n_dropped']} left hearing nothing{perturbed})   "
          f"fit {report['fit_seconds']:.2f} s   predict {report['predict_seconds']:.2f} s")
    print(live_path_line(report))
    _print_report(model_label(report["model"]), report)
    _print_report("  each vector alone, every AP kept", report["alone"])
    if not args.no_baselines:
        for name, (data, k) in BASELINES.items():
            label = baseline_label(name, k, len(train.X))
            try:
                predicted = baseline_predict(train.X, train.y, X_test, data, k)
            except ValueError as exc:  # a comparison only: the result above stands without it
                print(f"{label:<40} skipped: scikit-learn cannot run it on these files ({exc})")
                continue
            _print_report(label, position_report(y_test, predicted))
    return 0


def _finite(text: str) -> float:
    """argparse's float, but only a finite one (nan and inf are no offsets, fractions or sizes)."""
    value = float(text)
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _grid_value(text: str):
    if text.lower() == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _grid_item(item: str) -> tuple[str, tuple]:
    """'NAME=V1,V2' -> (NAME, (V1, V2)) for a WKNNPositioner parameter."""
    name, sep, values = item.partition("=")
    if not sep or not values or name not in WKNNPositioner().get_params():
        raise ValueError(f"--grid {item!r}: expected NAME=V1,V2,... with NAME a WKNNPositioner parameter")
    return name, tuple(_grid_value(v) for v in values.split(","))


def writable_out(path: str) -> Path:
    """--out checked before the cross-validation (minutes of it), not after: its folder exists and can be
    written in, and it is not a folder itself."""
    out = Path(path)
    if out.is_dir():
        raise ValueError(f"--out {path}: is a directory; give a file name")
    folder = out.parent
    if not folder.is_dir():
        raise ValueError(f"--out {path}: no such directory {folder}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"--out {path}: cannot write in {folder}")
    return out


def write_json(out: Path, value: dict) -> None:
    """JSON to `out` through a temporary file renamed over it: a failed write leaves the old file whole."""
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(fh.fileno(), 0o666 & ~umask)  # as open() would create it (mkstemp's is 0600)
            json.dump(value, fh, indent=1)
            fh.write("\n")
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cmd_tune(args: argparse.Namespace) -> int:
    """Grouped k-fold on the TRAINING set only (positioning.tuning); --out writes the chosen configuration."""
    out = writable_out(args.out) if args.out else None
    data = read_dataset(args.train, args.format)
    grid = dict(FULL_GRID if args.full_grid else DEFAULT_GRID)
    if args.ks:
        grid["k"] = tuple(args.ks)
    for item in args.grid or ():
        name, values = _grid_item(item)
        grid[name] = values
    if args.offset_search:
        grid["offset_search_db"] = tuple(args.offset_search)
    if args.search_margins:
        grid["offset_search_margin"] = tuple(args.search_margins)
    if args.k_floors:
        grid["k_floor"] = tuple(None if v == 0 else v for v in args.k_floors)
    bar = progress_bar(total=0, desc="folds x fits", show=not args.quiet)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    result = tune(data.X, data.y, data.groups, grid=grid, folds=args.folds, per_fold=args.per_fold,
                  groups=args.groups, block_m=args.block_m, phone_db=args.phone_db, seed=args.seed,
                  progress=progress)
    bar.close()
    folds = f"{result.n_splits} fold{'s' if result.n_splits != 1 else ''}"
    folds += f" ({result.folds_dropped} more dropped: nothing to score)" if result.folds_dropped else ""
    print(f"{folds} over {result.n_groups} {result.group_kind}s; ranked: floor hit rate within one standard error "
          "of the best, then mean error")
    names = list(grid)
    print(" ".join(f"{n:>14}" for n in names) + f" {'floor hit':>14} {'mean err':>14}")
    for row in result.rows[: args.show]:
        print(" ".join(f"{row.params[n]!s:>14}" for n in names)
              + f" {row.floor_hit_rate:8.2%} ±{row.floor_sd:4.1%} {row.mean_error_m:7.2f}m ±{row.error_sd:4.2f}")
    print(f"chosen: {json.dumps(result.config)}")
    print("trusted" if result.trusted else "NOT TRUSTED: " + "; ".join(result.warnings))
    for note in result.notes:
        print(f"note: {note}")
    if out is not None:  # every parameter, not only the grid's: the file means the same model if the defaults change
        write_json(out, WKNNPositioner(**result.config).get_params())
        print(f"wrote {args.out} (WKNNPositioner(**config); evaluate --config {args.out})")
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
    ev.add_argument("--config", help="JSON of WKNNPositioner parameters (what tune --out writes)")
    ev.add_argument("--k", type=int, default=None, help="overrides the default / --config")
    ev.add_argument("--metric", choices=METRICS, default=None)
    ev.add_argument("--representation", choices=REPRESENTATIONS, default=None)
    ev.add_argument("--offset-rounds", type=int, default=None, help="per-query offset removal rounds (0: off)")
    ev.add_argument("--offset-search-db", type=_finite, default=None, metavar="DB",
                    help="also try the query shifted by -DB and +DB before the offset rounds (0: off)")
    ev.add_argument("--unheard-weight", type=_finite, default=None,
                    help="how much a fingerprint's readings at APs the query lacks count (1: fully)")
    ev.add_argument("--rssi-offset", type=_finite, default=0.0, metavar="DB",
                    help="add DB to every heard test reading (another phone model)")
    ev.add_argument("--ap-off", type=_finite, default=0.0, metavar="FRACTION",
                    help="silence this fraction of the APs heard in the test set (seeded)")
    ev.add_argument("--mask-off", action="store_true",
                    help="with --ap-off: also leave out every AP switched off, as the live model does once they are "
                         "silent in the live reports, beside those the test file shows silent (the AP lifecycle)")
    ev.add_argument("--keep-silent", action="store_true",
                    help="keep the APs the training set hears and no test vector does, though enough should have "
                         "(left out by default, as the live model leaves out APs silent in its feed)")
    ev.add_argument("--each-alone", action="store_true",
                    help="locate every test vector alone, not as its phone's next report with the offset its earlier "
                         "vectors taught remembered (the default where the file names two phones or more)")
    ev.add_argument("--visit-gap-s", type=_finite, default=300.0, metavar="S",
                    help="a phone's remembered offset is forgotten after a gap this long between its vectors, as the "
                         "tracker's state lapses (RSSI_WINDOW_S x 5: 300 s by default)")
    ev.add_argument("--seed", type=int, default=0)
    ev.set_defaults(func=cmd_evaluate)
    tu = sub.add_parser("tune", help="grouped cross-validation on a training set; picks a configuration")
    tu.add_argument("--train", required=True)
    tu.add_argument("--format", choices=FORMATS, default=None)
    tu.add_argument("--folds", type=int, default=4)
    tu.add_argument("--per-fold", type=int, default=600, help="test vectors sampled per fold")
    tu.add_argument("--ks", type=int, nargs="+", default=None, help=f"default {DEFAULT_GRID['k']}")
    tu.add_argument("--k-floors", type=int, nargs="+", default=None,
                    help="also try these k_floor values (0: the same as k)")
    tu.add_argument("--offset-search", type=_finite, nargs="+", default=None, metavar="DB",
                    help=f"offset_search_db values to try (0: off); default {DEFAULT_GRID['offset_search_db']}")
    tu.add_argument("--search-margins", type=_finite, nargs="+", default=None,
                    help="also try these offset_search_margin values")
    tu.add_argument("--grid", action="append", metavar="NAME=V1,V2",
                    help="try these values of one parameter instead of the default grid's (repeatable)")
    tu.add_argument("--full-grid", action="store_true", help="all representations and metrics (slow)")
    tu.add_argument("--groups", choices=GROUP_KINDS, default="auto",
                    help="auto: phones if the survey has several, else reference points")
    tu.add_argument("--block-m", type=_finite, default=10.0, help="spatial block size for --groups block")
    tu.add_argument("--phone-db", type=_finite, default=None,
                    help="random per-vector offset (+-dB) on held-out vectors; default 0 with phone folds, "
                         f"{SIMULATED_PHONE_DB:g} otherwise")
    tu.add_argument("--seed", type=int, default=0)
    tu.add_argument("--show", type=int, default=15, help="rows of the ranking to print")
    tu.add_argument("--out", help="write the chosen configuration (JSON) here")
    tu.add_argument("--quiet", action="store_true")
    tu.set_defaults(func=cmd_tune)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError, OverflowError, RecursionError, TypeError) as exc:  # bad input, never a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
