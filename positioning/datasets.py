"""Dataset readers: the UJIIndoorLoc CSV layout and MallPortal's own export format.

MallPortal format: header `building,floor,x,y,zone,<bssid 1>,<bssid 2>,...`; one row per reference
sample; RSSI in dBm, an empty cell = not heard; x/y in metres; zone may be empty."""

from __future__ import annotations

import contextlib
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    times: np.ndarray | None = None  # when each row was read (UJIIndoorLoc's TIMESTAMP), where the file says


@dataclass
class _Table:
    path: Path
    header: list[str]
    rows: list[list[str]]
    lines: list[int]  # each row's line in the file (blank lines skipped, a quoted line break counted)


@contextlib.contextmanager
def _csv_file(path: Path) -> Iterator[tuple[list[str], Any]]:
    """(header, the csv reader of the rows after it) of a CSV file; a missing, empty or unreadable file, or one
    separated otherwise than by commas, as a ValueError naming the file (also for errors while rows are read)."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: a spreadsheet's byte order mark
        reader = csv.reader(fh)
        try:
            header = next(reader)
            _check_separator(path, header)
            yield header, reader
        except StopIteration:
            raise ValueError(f"{path}: empty file") from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not a readable CSV ({exc})") from None


def _read_rows(path: Path) -> _Table:
    with _csv_file(path) as (header, reader):
        rows, lines = [], []
        start = reader.line_num + 1
        for row in reader:
            if row:
                rows.append(row)
                lines.append(start)
            start = reader.line_num + 1
    if not rows:
        raise ValueError(f"{path}: no data rows")
    return _Table(path, header, rows, lines)


def _read_header(path: Path) -> list[str]:
    """The file's first CSV record (quotes removed), with `_read_rows`'s errors for a missing or empty file."""
    with _csv_file(path) as (header, _rows):
        return header


def _check_separator(path: Path, header: list[str]) -> None:
    """A header that is one field holding semicolons or tabs: a file separated by them (a spreadsheet in a
    locale with decimal commas saves ';'), which the reader would take as one column named by the whole line."""
    if len(header) != 1:
        return
    for sep, name in ((";", "';'"), ("\t", "tabs")):
        if sep in header[0]:
            raise ValueError(f"{path}: the file seems separated by {name}; comma-separated values are expected "
                             "(save or export it as CSV with commas)")


# core.security's rule for a MAC, on lower-cased text (positioning may not import core; tests/security/
# test_mac_forms_agree.py holds the two alike): pairs, or groups of four dotted (Cisco) or dashed (Huawei, H3C).
_MAC_RE = re.compile(r"[0-9a-f]{2}([:-]?)[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}|[0-9a-f]{4}([.-])[0-9a-f]{4}\2[0-9a-f]{4}")


def _ap_key(name: str) -> str:
    """An AP column's name as the AP it names: case and spaces ignored, a MAC in any usual notation
    (0C-8D-DB-09-00-01, 0c8d.db09.0001, 0c8d-db09-0001) in the colon form."""
    text = name.strip().lower()
    if _MAC_RE.fullmatch(text):
        digits = re.sub(r"[:.-]", "", text)
        return ":".join(digits[i:i + 2] for i in range(0, 12, 2))
    return text


def _check_unique(table: _Table, key=str.strip) -> None:
    """Refuse a header that names a column twice: the reader would use one of them (a target) or count
    both (an AP, twice in every distance) without a word. Names compare by `key`, as the reader matches them."""
    first: dict[str, int] = {}
    for col, name in enumerate(table.header):
        k = key(name)
        if k in first:
            also = f" ({table.header[first[k]]!r})" if table.header[first[k]] != name else ""
            raise ValueError(f"{table.path}: line 1: column {name!r} appears twice (columns {first[k] + 1}{also} "
                             f"and {col + 1}); keep one")
        first[k] = col


def _floats(table: _Table, columns: list[int], empty: float | None = None) -> np.ndarray:
    path, header = table.path, table.header
    out = np.empty((len(table.rows), len(columns)), dtype=np.float64)
    for r, row in enumerate(table.rows):
        if len(row) < max(columns) + 1:
            raise ValueError(f"{path}: line {table.lines[r]} has {len(row)} fields, expected at least "
                             f"{max(columns) + 1}")
        for c, col in enumerate(columns):
            cell = row[col].strip()
            if cell == "" and empty is not None:
                out[r, c] = empty
                continue
            try:
                out[r, c] = float(cell)
            except ValueError:
                what = "is empty; a number is needed" if cell == "" else f"{cell[:40]!r} is not a number"
                raise ValueError(f"{path}: line {table.lines[r]}, column {header[col]}: {what}") from None
    bad = np.argwhere(~np.isfinite(out))
    if bad.size:
        r, c = bad[0]
        raise ValueError(f"{path}: line {table.lines[r]}, column {header[columns[c]]}: "
                         f"{table.rows[r][columns[c]].strip()[:40]!r} is not a finite number (NaN or infinite)")
    return out


def read_ujiindoorloc(path: str | Path) -> Dataset:
    path = Path(path)
    table = _read_rows(path)
    header = table.header
    wap_cols = [i for i, name in enumerate(header) if name.startswith("WAP")]
    missing = [name for name in UJI_TARGETS if name not in header]
    if not wap_cols or missing:
        raise ValueError(f"{path}: not the UJIIndoorLoc layout (missing {missing or 'WAP columns'})")
    _check_unique(table)
    X = _floats(table, wap_cols)
    if ((X > 0) & (X != UJI_NOT_HEARD)).any():
        raise ValueError(f"{path}: RSSI must be in dBm (0 or below) or 100 for 'not detected'")
    X[X == UJI_NOT_HEARD] = MISSING_DBM
    X = np.maximum(X, MISSING_DBM)  # below the floor (-110, -200 as other packagings' "not heard"): not heard
    t = _floats(table, [header.index(n) for n in UJI_TARGETS])
    y = np.column_stack([t[:, 3], t[:, 2], t[:, 0], t[:, 1]])
    groups = _floats(table, [header.index("PHONEID")])[:, 0] if "PHONEID" in header else None
    times = _floats(table, [header.index("TIMESTAMP")])[:, 0] if "TIMESTAMP" in header else None
    return Dataset(X=X, y=y, ap_ids=[header[i] for i in wap_cols], groups=groups, times=times)


def read_mallportal(path: str | Path) -> Dataset:
    path = Path(path)
    table = _read_rows(path)
    header = table.header
    if tuple(header[:5]) != MALLPORTAL_COLUMNS or len(header) < 6:
        raise ValueError(f"{path}: header must start with {','.join(MALLPORTAL_COLUMNS)} then one column per AP")
    _check_unique(table, _ap_key)
    y = _floats(table, [0, 1, 2, 3])
    X = _floats(table, list(range(5, len(header))), empty=MISSING_DBM)
    if (X > 0).any():
        raise ValueError(f"{path}: RSSI must be in dBm (0 or below)")
    zones = [row[4].strip() or None for row in table.rows]
    return Dataset(X=np.maximum(X, MISSING_DBM), y=y, ap_ids=header[5:], zones=zones)


def write_mallportal(path: str | Path, data: Dataset) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow([*MALLPORTAL_COLUMNS, *data.ap_ids])
        zones = data.zones or [None] * len(data.X)
        for xrow, yrow, zone in zip(data.X, data.y, zones, strict=True):
            cells = ["" if v <= MISSING_DBM else f"{v:g}" for v in xrow]
            writer.writerow([f"{yrow[0]:g}", f"{yrow[1]:g}", f"{yrow[2]:g}", f"{yrow[3]:g}", zone or "", *cells])


def guess_format(path: str | Path) -> str:
    """The layout a file's header names: UJIIndoorLoc's (WAP columns, wherever they are: a leading index
    column as pandas' to_csv writes it is fine) or MallPortal's (building,floor,x,y,zone first); ValueError
    naming both layouts otherwise."""
    path = Path(path)
    header = _read_header(path)
    if any(name.startswith("WAP") for name in header):
        return "ujiindoorloc"
    if tuple(header[:5]) == MALLPORTAL_COLUMNS:
        return "mallportal"
    shown = ",".join(header[:6]) + (",..." if len(header) > 6 else "")
    raise ValueError(f"{path}: the header matches neither layout: UJIIndoorLoc's has WAP001,WAP002,... columns "
                     f"and {','.join(UJI_TARGETS)}; MallPortal's starts {','.join(MALLPORTAL_COLUMNS)} then one "
                     f"column per AP (this one starts {shown[:120]})")


def read_dataset(path: str | Path, fmt: str | None = None) -> Dataset:
    """Read either format; `fmt` None guesses it from the header (`guess_format`)."""
    if fmt is None:
        fmt = guess_format(path)
    if fmt == "ujiindoorloc":
        return read_ujiindoorloc(path)
    if fmt == "mallportal":
        return read_mallportal(path)
    raise ValueError(f"unknown format {fmt!r}; choose one of {FORMATS}")


def align(test: Dataset, train_ap_ids: list[str]) -> np.ndarray:
    """Test vectors re-ordered to the training AP list (APs unknown to training are dropped). APs match as
    the readers compare them (`_ap_key`: case and BSSID notation aside), so 0c-8d-db-09-00-01 in the test
    file is the training file's 0C:8D:DB:09:00:01."""
    index = {_ap_key(ap): i for i, ap in enumerate(test.ap_ids)}
    X = np.full((len(test.X), len(train_ap_ids)), MISSING_DBM)
    for j, ap in enumerate(train_ap_ids):
        i = index.get(_ap_key(ap))
        if i is not None:
            X[:, j] = test.X[:, i]
    return X
