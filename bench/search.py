"""The batch search on different maps: with its whole columns and without, in the same run.

    python bench/search.py [--seeds 4242,777] [--demo] [--queries 2000] [--repeats 3] [--uji DIR]

The batch path's search (positioning/kernels.py `nearest_rows_for`) adds each AP the query hears into every row's sum
either by scattering the AP's inverted-index column into the rows that hear it, or, for the APs that at least
WHOLE_COLUMN_SHARE of the map's rows hear (`WKNNPositioner.whole_columns_`), over every row from the whole column.
Both give the same sums bit for bit (tests/positioning_tests/test_batch_offsets_tuning.py), so the choice is speed
alone, and it depends on the map: most of a generated mall's ceiling APs are heard over a tenth to a half of its
survey, the bench map's over about 4% of its rows on average. Per map this prints the search's time for `--queries`
queries with the whole columns the model keeps and with none (every column scattered), the median of `--repeats`
back-to-back pairs, and their ratio; also how many APs are kept whole and what they cost in memory. The maps: the
live model (`portal.tracking.models`, the live parameters) of generated malls (`--seeds`) and, with `--demo`, the
demo mall, queried by phones heard at random reference points (bench/tracking.py's); the bench map of
bench/positioning.py with the library's defaults, its rows in random order and in survey order (sorted by building,
floor, x, y: a survey walks); UJIIndoorLoc with `--uji`.
One core; no target: the figures say whether WHOLE_COLUMN_SHARE still chooses well on this machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.positioning import queries_from, synthetic_map, uji_map  # noqa: E402
from bench.tracking import heard_phones, phone_vectors  # noqa: E402
from fingerprints.demo_mall import build_demo_mall  # noqa: E402
from fingerprints.mallgen import generate_mall  # noqa: E402
from fingerprints.model import VenueMap  # noqa: E402
from portal.tracking.models import build_venue_model  # noqa: E402
from positioning import kernels  # noqa: E402
from positioning.wknn import WHOLE_COLUMN_SHARE, WKNNPositioner, whole_columns  # noqa: E402


def mall_queries(venue: VenueMap, n: int, seed: int) -> tuple[WKNNPositioner, np.ndarray]:
    """The venue's live positioner and n phones' vectors, each heard ~10 times per AP over the last minute."""
    model = build_venue_model(venue)
    phones = heard_phones(venue, n, np.random.default_rng(seed))
    return model.positioner, phone_vectors(phones, model.ap_ids, time.time())


def maps(args: argparse.Namespace) -> Iterator[tuple[str, WKNNPositioner, np.ndarray]]:
    for seed in args.seeds:
        yield (f"generated mall {seed}", *mall_queries(generate_mall(seed, venue_id="bench").venue, args.queries, seed))
    if args.demo:
        yield ("demo mall", *mall_queries(build_demo_mall("bench"), args.queries, 1))
    X, y = synthetic_map(args.fingerprints, args.aps)
    Q = queries_from(X, args.queries)
    yield "bench map, random order", WKNNPositioner().fit(X, y), Q
    walked = np.lexsort((y[:, 3], y[:, 2], y[:, 1], y[:, 0]))
    yield "bench map, survey order", WKNNPositioner().fit(X[walked], y[walked]), Q
    if args.uji:
        X, y, Q = uji_map(args.uji)
        yield "UJIIndoorLoc", WKNNPositioner().fit(X, y), Q[:args.queries]


def compare(model: WKNNPositioner, Q: np.ndarray, repeats: int) -> tuple[float, float]:
    """(ms with the model's whole columns, ms with none): medians of back-to-back pairs, which goes first
    alternating; the two answers checked equal first."""
    R = model._represent(Q)
    kept = model.whole_slot_, model.whole_columns_
    scattered = whole_columns(model.col_ptr_, model.col_rows_, model.col_values_, model.row_sums_.size, share=2.0)

    def with_columns(columns: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, ...]:
        """The batch path's search of R with these whole columns."""
        model.whole_slot_, model.whole_columns_ = columns
        return kernels.search(model, R, width=model._width(), needed=model._needed())

    if not all(np.array_equal(a, b) for a, b in zip(with_columns(kept), with_columns(scattered), strict=True)):
        raise SystemExit("the search with whole columns differs from the scattered one: a bug, not a figure")
    whole, none = [], []
    for i in range(repeats):
        for columns, times in ((kept, whole), (scattered, none))[:: 1 if i % 2 == 0 else -1]:
            started = time.perf_counter()
            with_columns(columns)
            times.append(1e3 * (time.perf_counter() - started))
    model.whole_slot_, model.whole_columns_ = kept
    return statistics.median(whole), statistics.median(none)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=lambda s: [int(v) for v in s.split(",") if v], default=[4242, 777],
                        help="generated malls, comma-separated (empty: none)")
    parser.add_argument("--demo", action="store_true", help="the demo mall too")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fingerprints", type=int, default=20000, help="the bench map's size (bench/positioning.py)")
    parser.add_argument("--aps", type=int, default=520)
    parser.add_argument("--uji", type=Path, help="folder with UJIIndoorLoc trainingData.csv / validationData.csv")
    args = parser.parse_args(argv)
    if args.queries < 1 or args.repeats < 1:
        parser.error("--queries and --repeats must be at least 1")
    print(f"whole columns: the APs heard by at least {WHOLE_COLUMN_SHARE:.0%} of a map's rows; "
          f"median of {args.repeats} pairs, one core", flush=True)
    print(f"{'map':<28}{'rows x APs':>14}{'APs whole':>11}{'their MB':>10}{'queries':>9}"
          f"{'ms whole':>10}{'ms none':>9}{'ratio':>7}", flush=True)
    with threadpool_limits(1):
        for name, model, Q in maps(args):
            model.predict(Q[:8])  # the kernels compiled or loaded before timing
            whole_ms, none_ms = compare(model, Q, args.repeats)
            n_whole = int((model.whole_slot_ >= 0).sum())
            shape = f"{model.row_sums_.size} x {model.n_features_in_}"
            print(f"{name:<28}{shape:>14}{n_whole:>11}{model.whole_columns_.nbytes / 1e6:>10.2f}{len(Q):>9}"
                  f"{whole_ms:>10.3f}{none_ms:>9.3f}{none_ms / whole_ms:>7.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
