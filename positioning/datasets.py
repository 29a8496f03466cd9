"""Dataset readers: the UJIIndoorLoc CSV layout and MallPortal's own export format.

MallPortal format: header `building,floor,x,y,zone,<bssid 1>,<bssid 2>,...`; one row per reference
sample; RSSI in dBm, an empty cell = not heard; x/y in metres; zone may be empty."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from positioning.vectors import MISSING_DBM

UJI_NOT_HEARD = 100.0
UJI_TARGETS = ("LONGITUDE", "LATITUDE", "FLOOR", "BUILDINGID")
MALLPORTAL_COLUMNS = ("building", "floor", "x", "y", "zone")
FORMATS = ("ujiindoorloc", "mallportal")


@dataclass
class Dataset:
    X: np.ndarray  # (n, n_aps) dBm, unheard = MISSING_DBM
    y: np.ndarray  # (n, 4) building, floor, x, y
    ap_ids: list[str]
    zones: list[str | None] | None = None
    groups: np.ndarray | None = None  # e.g. phone id, for grouped cross-validation


def _read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: a spreadsheet's byte order mark
        reader = csv.reader(fh)
        try:
            header = next(reader)
            rows = [row for row in reader if row]
        except StopIteration:
            raise ValueError(f"{path}: empty file") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not a readable CSV ({exc})") from None
    if not rows:
        raise ValueError(f"{path}: no data rows")
    return header, rows


def _floats(rows: list[list[str]], columns: list[int], path: Path, empty: float | None = None) -> np.ndarray:
    out = np.empty((len(rows), len(columns)), dtype=np.float64)
    for r, row in enumerate(rows):
        if len(row) < max(columns) + 1:
            raise ValueError(f"{path}: line {r + 2} has {len(row)} fields, expected at least {max(columns) + 1}")
        for c, col in enumerate(columns):
            cell = row[col].strip()
            if cell == "" and empty is not None:
                out[r, c] = empty
                continue
            try:
                out[r, c] = float(cell)
            except ValueError:
                raise ValueError(f"{path}: line {r + 2}: {cell!r} is not a number") from None
    if not np.isfinite(out).all():
        raise ValueError(f"{path}: NaN or infinite values")
    return out


def read_ujiindoorloc(path: str | Path) -> Dataset:
    path = Path(path)
    header, rows = _read_rows(path)
    wap_cols = [i for i, name in enumerate(header) if name.startswith("WAP")]
    missing = [name for name in UJI_TARGETS if name not in header]
    if not wap_cols or missing:
        raise ValueError(f"{path}: not the UJIIndoorLoc layout (missing {missing or 'WAP columns'})")
    X = _floats(rows, wap_cols, path)
    if ((X > 0) & (X != UJI_NOT_HEARD)).any():
        raise ValueError(f"{path}: RSSI must be in dBm (0 or below) or 100 for 'not detected'")
    X[X == UJI_NOT_HEARD] = MISSING_DBM
    X = np.maximum(X, MISSING_DBM)  # below the floor (-110, -200 as other packagings' "not heard"): not heard
    t = _floats(rows, [header.index(n) for n in UJI_TARGETS], path)
    y = np.column_stack([t[:, 3], t[:, 2], t[:, 0], t[:, 1]])
    groups = _floats(rows, [header.index("PHONEID")], path)[:, 0] if "PHONEID" in header else None
    return Dataset(X=X, y=y, ap_ids=[header[i] for i in wap_cols], groups=groups)


def read_mallportal(path: str | Path) -> Dataset:
    path = Path(path)
    header, rows = _read_rows(path)
    if tuple(header[:5]) != MALLPORTAL_COLUMNS or len(header) < 6:
        raise ValueError(f"{path}: header must start with {','.join(MALLPORTAL_COLUMNS)} then one column per AP")
    y = _floats(rows, [0, 1, 2, 3], path)
    X = _floats(rows, list(range(5, len(header))), path, empty=MISSING_DBM)
    if (X > 0).any():
        raise ValueError(f"{path}: RSSI must be in dBm (0 or below)")
    zones = [row[4].strip() or None for row in rows]
    return Dataset(X=np.maximum(X, MISSING_DBM), y=y, ap_ids=header[5:], zones=zones)


def write_mallportal(path: str | Path, data: Dataset) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*MALLPORTAL_COLUMNS, *data.ap_ids])
        zones = data.zones or [None] * len(data.X)
        for xrow, yrow, zone in zip(data.X, data.y, zones, strict=True):
            cells = ["" if v <= MISSING_DBM else f"{v:g}" for v in xrow]
            writer.writerow([f"{yrow[0]:g}", f"{yrow[1]:g}", f"{yrow[2]:g}", f"{yrow[3]:g}", zone or "", *cells])


def read_dataset(path: str | Path, fmt: str | None = None) -> Dataset:
    """Read either format; `fmt` None guesses from the header."""
    if fmt is None:
        with Path(path).open(encoding="utf-8-sig") as fh:
            first = fh.readline()
        fmt = "ujiindoorloc" if first.startswith("WAP") else "mallportal"
    if fmt == "ujiindoorloc":
        return read_ujiindoorloc(path)
    if fmt == "mallportal":
        return read_mallportal(path)
    raise ValueError(f"unknown format {fmt!r}; choose one of {FORMATS}")


def align(test: Dataset, train_ap_ids: list[str]) -> np.ndarray:
    """Test vectors re-ordered to the training AP list (APs unknown to training are dropped)."""
    index = {ap: i for i, ap in enumerate(test.ap_ids)}
    X = np.full((len(test.X), len(train_ap_ids)), MISSING_DBM)
    for j, ap in enumerate(train_ap_ids):
        if ap in index:
            X[:, j] = test.X[:, index[ap]]
    return X
