"""Fingerprint samples to and from CSV: MallPortal's own layout and the UJIIndoorLoc layout.

MallPortal layout (what positioning.datasets.read_mallportal reads): header
`building,floor,x,y,zone,<bssid 1>,<bssid 2>,...`, one row per reference point, RSSI in dBm, an empty
cell = not heard, x/y in metres on the plan. The per-AP spread and the number of scans are not in this
layout (the positioning tools would read extra columns as APs).

UJIIndoorLoc layout (what positioning.datasets.read_ujiindoorloc reads): `WAP001..WAPnnn` columns
(100 = not detected), then LONGITUDE, LATITUDE, FLOOR, BUILDINGID, SPACEID, RELATIVEPOSITION, USERID,
PHONEID, TIMESTAMP. LONGITUDE/LATITUDE hold our plan x/y in metres (not UTM); SPACEID is the 1-based index
of the sample's zone in the venue's zone list (0 = none); the rest are 0. The WAP <-> BSSID mapping:
WAP column i is the venue's i-th AP (the map's AP list order), and the export writes it to a sidecar
file `<name>.waps.csv` (`WAP,BSSID`). An import needs that sidecar (given, or found beside a file read from
disk): a survey tool numbers its WAPs in its own order, and read by position such a file would give every
reading to the wrong AP without any error. Only when the caller says the WAP columns are the venue's AP list
in order (`waps_in_venue_order`: the operator ticked it, or passed --venue-order) is a file without a sidecar
read by position, and then its WAP count must be the venue's AP count.

Import (both layouts): every row is checked; the first problem raises ValueError naming the line and
the column; nothing is returned otherwise (all or nothing). The file may be separated by commas, semicolons or
tabs (Excel in a European locale saves `;`, and then numbers with a decimal comma: both read; see
fingerprints.csvtext). RSSI must be dBm, 0 or below: positive values usually mean a vendor's 0..100 "RSSI above
noise" scale (e.g. Meraki), and are refused. A value at or below positioning's MISSING_DBM (-105) is "not heard",
as the positioning readers take it: survey apps write -110 (Android -127, other packagings -200) for an AP not
heard, and averaged as a reading it would pull the point's mean down (-70 once and -110 twice gave -96.7 dBm).
In the MallPortal layout 100 (UJIIndoorLoc's "not heard") is not heard too when the file has no other positive
value; mixed with other positive values it is refused with them (a 0..100 scale cannot be told from a marker).
A floor cell (`floor`, UJIIndoorLoc's FLOOR) is read as an AP list reads one (fingerprints.ap_lists.read_floor): a
level number or a floor's name, Chinese name or short name, one that is a floor's name and another floor's number
refused as ambiguous unless the operator's floor names (`floors`) say which; the export writes a floor's level number
as "1.0" where "1" is another floor's name, so a venue's own export reads back without them. A zone label (`zone`,
SPACEID) of another floor than its row is refused; one on the row's floor that does not hold the point (more than
ZONE_LABEL_SLACK_M off: a doorway point labelled with its room is not) is kept, and noted.
Rows with the same floor and x/y (several scans at one reference point, as UJIIndoorLoc has) are averaged into
one sample: mean dBm per AP, its standard deviation as the spread, n = the number of rows; APs heard in fewer
than half of a point's rows are dropped, and a point left with no AP at all is refused, naming its lines (a
sample without readings would match nothing). A point with a single row gets n = `scans` (default 1).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from shapely import geometry

from core.errors import N_, CatalogInputError
from fingerprints import csvtext
from fingerprints.ap_lists import FloorReading, floor_names_checked, floors_known, read_floor
from fingerprints.geometry import zone_map
from fingerprints.model import Sample, VenueMap, normalise_bssid
from positioning.vectors import MISSING_DBM

FORMATS = ("mallportal", "ujiindoorloc")
MALLPORTAL_COLUMNS = ("building", "floor", "x", "y", "zone")
UJI_NOT_HEARD = 100
UJI_TAIL = ("LONGITUDE", "LATITUDE", "FLOOR", "BUILDINGID", "SPACEID", "RELATIVEPOSITION", "USERID",
            "PHONEID", "TIMESTAMP")
UJI_REQUIRED = ("LONGITUDE", "LATITUDE", "FLOOR", "BUILDINGID")
RSSI_MAX = 0.0
MAX_ROWS = 500_000
# A point labelled with a zone it lies this near is not noted: a surveyor stands in a doorway and labels the room.
ZONE_LABEL_SLACK_M = 2.0
# --venue-order's help, for every command that reads samples (the one way to read a UJIIndoorLoc file without
# its sidecar; the module's doc says why).
VENUE_ORDER_HELP = ("UJIIndoorLoc without a WAP sidecar: its WAP columns are VENUE's AP list in order (VENUE's own "
                    "export, APs unchanged since); a survey tool's own WAP numbering needs --waps")


def sidecar_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.stem + ".waps.csv")


# -- export -------------------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return f"{value:g}"


def _floor_written(venue: VenueMap, level: int) -> str:
    """A floor cell of the export: the level number, as the positioning readers take it, in the form the import reads
    as that level. Where "1" is also another floor's name (floors named "1", "2" on levels 0, 1) it is ambiguous to
    read_floor; "1.0" is the same number and no floor's name, so the venue's own export reads back unasked."""
    for text in (str(level), f"{level}.0"):
        if read_floor(venue, text).level == level:
            return text
    return str(level)  # a floor named "1.0" too: the operator's Floor names in the file settle it


def export_samples(venue: VenueMap, fmt: str = "mallportal") -> tuple[str, str | None]:
    """(CSV text, sidecar text or None) for the venue's samples."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    ap_ids = venue.ap_ids()
    floor = {f.level: _floor_written(venue, f.level) for f in venue.floors}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if fmt == "mallportal":
        writer.writerow([*MALLPORTAL_COLUMNS, *ap_ids])
        for s in venue.samples:
            cells = ["" if s.rssi.get(ap) is None else _fmt(s.rssi[ap]) for ap in ap_ids]
            writer.writerow([venue.building, floor.get(s.floor, s.floor), _fmt(s.x), _fmt(s.y), s.zone or "", *cells])
        return out.getvalue(), None
    zone_index = {z.id: i + 1 for i, z in enumerate(venue.zones)}
    waps = [f"WAP{i + 1:03d}" for i in range(len(ap_ids))]
    writer.writerow([*waps, *UJI_TAIL])
    for s in venue.samples:
        cells = [_fmt(s.rssi[ap]) if ap in s.rssi else str(UJI_NOT_HEARD) for ap in ap_ids]
        writer.writerow([*cells, _fmt(s.x), _fmt(s.y), floor.get(s.floor, s.floor), venue.building,
                         zone_index.get(s.zone or "", 0),
                         0, 0, 0, 0])
    side = io.StringIO()
    sw = csv.writer(side, lineterminator="\n")
    sw.writerow(["WAP", "BSSID"])
    sw.writerows(zip(waps, ap_ids, strict=True))
    return out.getvalue(), side.getvalue()


def write_samples_csv(venue: VenueMap, path: str | Path, fmt: str = "mallportal") -> list[Path]:
    """Write the CSV (and for UJIIndoorLoc its WAP sidecar); returns the files written."""
    path = Path(path)
    text, side = export_samples(venue, fmt)
    path.write_text(text, encoding="utf-8")
    written = [path]
    if side is not None:
        sidecar_path(path).write_text(side, encoding="utf-8")
        written.append(sidecar_path(path))
    return written


# -- import -------------------------------------------------------------------------------------------


class SampleFileError(CatalogInputError):
    """A samples CSV (or its WAP sidecar) refused, naming the line and column: `field` is the file's name (what
    %(label)s says), `template` the catalog message, so the console says it in the page's language; `str()` is
    the English text the CLI prints."""


# The csv module's reason is English: said as the detail of a message in the page's language.
UNREADABLE = N_("%(label)s: line %(line)s: not a readable CSV (%(error)s)")


class _Rows:
    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.separator = csvtext.delimiter(text)
        reader = csv.reader(io.StringIO(text), delimiter=self.separator)
        try:
            self.header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise SampleFileError(source, N_("%(label)s: empty file")) from None
        except csv.Error as exc:
            raise SampleFileError(source, UNREADABLE, line=1, error=str(exc)) from None
        self.rows: list[tuple[int, list[str]]] = []
        try:
            for row in reader:
                if not row or all(not c.strip() for c in row):
                    continue
                if len(self.rows) >= MAX_ROWS:
                    raise SampleFileError(source, N_("%(label)s: more than %(max)s rows"), max=MAX_ROWS)
                self.rows.append((reader.line_num, row))
        except csv.Error as exc:
            raise SampleFileError(source, UNREADABLE, line=reader.line_num, error=str(exc)) from None
        if not self.rows:
            raise SampleFileError(source, N_("%(label)s: no data rows"))
        self.floors: dict[str, FloorReading] = {}  # each floor value read once: a file names a few floors

    def error(self, line: int, column: str, template: str, **params: object) -> SampleFileError:
        """A cell's problem: `template` starts "%(label)s: line %(line)s, column %(column)s: "."""
        return SampleFileError(self.source, template, line=line, column=column, **params)

    def fields_error(self, line: int, row: list[str]) -> SampleFileError:
        return SampleFileError(self.source, N_("%(label)s: line %(line)s has %(n)s fields, the header has %(m)s"),
                               line=line, n=len(row), m=len(self.header))

    def header_error(self, template: str, **params: object) -> SampleFileError:
        """A problem of the header: `template` starts "%(label)s: line 1"."""
        return SampleFileError(self.source, template, **params)

    def number(self, line: int, row: list[str], col: int, empty_ok: bool = False) -> float | None:
        if col >= len(row):
            raise self.fields_error(line, row)
        cell = row[col].strip()
        if cell == "":
            if empty_ok:
                return None
            raise self.error(line, self.header[col], N_("%(label)s: line %(line)s, column %(column)s: is empty"))
        try:
            value = float(csvtext.decimal_point(cell, self.separator))
        except ValueError:
            raise self.error(line, self.header[col],
                             N_("%(label)s: line %(line)s, column %(column)s: %(cell)s is not a number"),
                             cell=repr(cell)) from None
        if not math.isfinite(value):
            raise self.error(line, self.header[col],
                             N_("%(label)s: line %(line)s, column %(column)s: %(cell)s is not a finite number"),
                             cell=repr(cell))
        return value

    def rssi(self, line: int, row: list[str], col: int, not_heard: float | None, empty_ok: bool) -> float | None:
        """dBm, or None for not heard: an empty cell (where `empty_ok`), the layout's `not_heard` marker, or a value
        at or below MISSING_DBM (the module's doc says why)."""
        value = self.number(line, row, col, empty_ok=empty_ok)
        if value is None or value == not_heard or value <= MISSING_DBM:
            return None
        if value > RSSI_MAX:
            raise self.error(line, self.header[col],
                             N_("%(label)s: line %(line)s, column %(column)s: RSSI %(value)s is positive: values must "
                                "be dBm (0 or below); a 0..100 scale (e.g. Meraki's RSSI above noise) must be "
                                "converted to dBm first. For an AP not heard leave the cell empty (a \"not heard\" "
                                "marker such as -110 is read as not heard too, and so is 100 in a file with no other "
                                "positive value)"), value=f"{value:g}")
        return value

    def heard(self, line: int, row: list[str], aps, not_heard: float | None, none_heard: str,
              empty_ok: bool = True) -> dict[str, float]:
        """BSSID -> dBm for the row's heard APs; a row hearing none is an error (`none_heard`, its message, with
        %(missing)s for MISSING_DBM)."""
        rssi = {}
        for col, bssid in aps:
            value = self.rssi(line, row, col, not_heard, empty_ok)
            if value is not None:
                rssi[bssid] = value
        if not rssi:
            raise SampleFileError(self.source, none_heard, line=line, missing=f"{MISSING_DBM:g}")
        return rssi

    def marks_not_heard_with_100(self, aps: list[tuple[int, str]]) -> bool:
        """Whether the file writes UJIIndoorLoc's 100 for "not heard" in the MallPortal layout: some AP cell is
        100 and no other is positive. A vendor's 0..100 scale has other positive values (and nothing at 100 dB
        above noise), so the two are not confused; a mix is refused cell by cell."""
        seen = False
        for _, row in self.rows:
            for col, _ in aps:
                try:
                    value = float(row[col]) if col < len(row) else None
                except ValueError:
                    continue  # refused with its line and column when the row is read
                if value is not None and value > RSSI_MAX:
                    if value != UJI_NOT_HEARD:
                        return False
                    seen = True
        return seen


def _read_text(source: str | Path | bytes, name: str | None) -> tuple[str, str]:
    if isinstance(source, bytes):
        raw, label = source, name or "upload"
    else:
        path = Path(source)
        if not path.is_file():
            raise SampleFileError(str(path), N_("%(label)s: no such file"))
        raw, label = path.read_bytes(), name or str(path)
    try:
        return raw.decode("utf-8-sig"), label
    except UnicodeDecodeError:
        raise SampleFileError(label, N_("%(label)s: not UTF-8 text (is it a CSV file?)")) from None


def _guess_format(header_line: str) -> str:
    return "ujiindoorloc" if header_line.lstrip().upper().startswith("WAP") else "mallportal"


def read_sidecar(text: str, source: str) -> list[tuple[str, str]]:
    """[(WAP column name, BSSID), ...] from a WAP,BSSID sidecar."""
    rows = _Rows(text, source)
    if [h.upper() for h in rows.header[:2]] != ["WAP", "BSSID"]:
        raise SampleFileError(source, N_("%(label)s: header must be WAP,BSSID"))
    out: dict[str, str] = {}
    for line, row in rows.rows:
        if len(row) < 2:
            raise SampleFileError(source, N_("%(label)s: line %(line)s: expected WAP,BSSID"), line=line)
        try:
            out[row[0].strip()] = normalise_bssid(row[1].strip())
        except ValueError:
            raise rows.error(line, "BSSID", N_("%(label)s: line %(line)s, column %(column)s: malformed BSSID %(raw)s"),
                             raw=repr(row[1].strip())) from None
    return list(out.items())


def import_samples(venue: VenueMap, source: str | Path | bytes, fmt: str | None = None, **options: Any) -> list[Sample]:
    """import_samples_with_notes' samples alone."""
    return import_samples_with_notes(venue, source, fmt, **options)[0]


def import_samples_with_notes(venue: VenueMap, source: str | Path | bytes, fmt: str | None = None, *, scans: int = 1,
                              name: str | None = None, sidecar: str | Path | bytes | None = None,
                              waps_in_venue_order: bool = False, floors: Mapping[str, int] | None = None
                              ) -> tuple[list[Sample], list[CatalogInputError]]:
    """Samples from a CSV (path or bytes), checked against the venue (floors, plan size, APs, zones), and notes on
    what was kept but deserves a look (points labelled with a zone that does not hold them). A floor cell is read as
    an AP list reads it (ap_lists.read_floor; `floors`: the file's floor names the operator mapped to levels).
    A UJIIndoorLoc file needs its WAP sidecar unless `waps_in_venue_order` (see the module's doc).
    Raises ValueError naming the line and column of the first problem."""
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if scans < 1:
        raise ValueError("scans must be at least 1")
    mapped = floor_names_checked(venue, floors)
    text, label = _read_text(source, name)
    fmt = fmt or _guess_format(text.split("\n", 1)[0])
    rows = _Rows(text, label)
    if fmt == "mallportal":
        points = _read_mallportal(venue, rows, mapped)
    else:
        if sidecar is None and not isinstance(source, bytes) and sidecar_path(source).is_file():
            sidecar = sidecar_path(source)
        mapping = None
        if sidecar is not None:
            side_text, side_label = _read_text(sidecar, None if not isinstance(sidecar, bytes) else "WAP sidecar")
            mapping = dict(read_sidecar(side_text, side_label))
        points = _read_uji(venue, rows, mapping, waps_in_venue_order, mapped)
    return _average(venue, points, scans, label)


def _check_place(venue: VenueMap, rows: _Rows, line: int, level: int, x: float, y: float,
                 cols: tuple[str, str]) -> None:
    fl = venue.floor(level)
    for axis, col, value, size in (("x", cols[0], x, fl.width_m), ("y", cols[1], y, fl.height_m)):
        if not 0 <= value <= size:
            raise rows.error(line, col, N_("%(label)s: line %(line)s, column %(column)s: %(axis)s %(value)s m is off "
                                           "the plan of floor %(floor)s (0..%(size)s m)"),
                             axis=axis, value=f"{value:g}", floor=fl.level, size=f"{size:g}")


def _check_zone_floor(venue: VenueMap, rows: _Rows, line: int, column: str, zone: str | None, level: int) -> None:
    """A row labelled with a zone of another floor is refused: kept, the quality report would take that zone as
    where the point is, a floor away from its readings."""
    found = venue.zone(zone) if zone else None
    if found is not None and found.floor != level:
        raise rows.error(line, column, N_("%(label)s: line %(line)s, column %(column)s: zone %(zone)s is on floor "
                                          "%(zone_floor)s, not on this row's floor %(floor)s"),
                         zone=zone, zone_floor=venue.floor_name(found.floor), floor=venue.floor_name(level))


def _ap_columns(venue: VenueMap, rows: _Rows, bssids: list[tuple[int, str]]) -> list[tuple[int, str]]:
    known = set(venue.ap_ids())
    out, seen = [], set()
    for col, raw in bssids:
        try:
            bssid = normalise_bssid(raw)
        except ValueError:
            raise rows.error(1, repr(raw), N_("%(label)s: line %(line)s, column %(column)s: not a BSSID (an AP's MAC "
                                              "address)")) from None
        if bssid not in known:
            raise rows.error(1, repr(raw), N_("%(label)s: line %(line)s, column %(column)s: AP %(bssid)s is not in "
                                              "venue %(venue)s's AP list; add the AP to the map first"),
                             bssid=bssid, venue=venue.id)
        if bssid in seen:
            raise rows.error(1, repr(raw), N_("%(label)s: line %(line)s, column %(column)s: AP %(bssid)s appears "
                                              "twice"), bssid=bssid)
        seen.add(bssid)
        out.append((col, bssid))
    return out


Point = tuple[int, float, float, str | None, dict[str, float], int]  # floor, x, y, zone, rssi, line


def _read_mallportal(venue: VenueMap, rows: _Rows, mapped: Mapping[str, int]) -> list[Point]:
    header = [h.lower() for h in rows.header]
    missing = [c for c in MALLPORTAL_COLUMNS if c not in header[:5]]
    if missing or tuple(header[:5]) != MALLPORTAL_COLUMNS:
        start = ",".join(MALLPORTAL_COLUMNS)
        if missing:
            raise rows.header_error(N_("%(label)s: line 1: missing column(s) %(columns)s; the header must start with "
                                       "%(start)s then one column per AP (BSSID)"),
                                    columns=", ".join(missing), start=start)
        raise rows.header_error(N_("%(label)s: line 1: columns out of order; the header must start with %(start)s "
                                   "then one column per AP (BSSID)"), start=start)
    if len(header) < 6:
        raise rows.header_error(N_("%(label)s: line 1: no AP columns after %(start)s"),
                                start=",".join(MALLPORTAL_COLUMNS))
    aps = _ap_columns(venue, rows, list(enumerate(rows.header))[5:])
    not_heard = UJI_NOT_HEARD if rows.marks_not_heard_with_100(aps) else None
    zone_ids = {z.id for z in venue.zones}
    points = []
    for line, row in rows.rows:
        if len(row) != len(rows.header):
            raise rows.fields_error(line, row)
        building = rows.number(line, row, 0)
        if building != venue.building:
            raise _building_error(venue, rows, line, "building", building)
        level = _floor_cell(venue, rows, line, row, 1, mapped)
        x, y = (rows.number(line, row, c) for c in (2, 3))
        _check_place(venue, rows, line, level, x, y, ("x", "y"))
        zone = row[4].strip() or None
        if zone is not None and zone not in zone_ids:
            raise _unknown_zone(venue, rows, line, zone)
        _check_zone_floor(venue, rows, line, "zone", zone, level)
        rssi = rows.heard(line, row, aps, not_heard,
                          N_("%(label)s: line %(line)s: no AP heard in this row (every AP's cell is empty or "
                             "%(missing)s dBm or below, read as not heard)"))
        points.append((level, x, y, zone, rssi, line))
    return points


def _floor_cell(venue: VenueMap, rows: _Rows, line: int, row: list[str], col: int, mapped: Mapping[str, int]) -> int:
    """The floor column's level: a level number or one of the venue's floor names (English, Chinese or short name),
    read by the AP list's rule (ap_lists.read_floor): a survey tool names floors as the operator does ("G", "1"),
    and the AP list of the same mall took those names."""
    if col >= len(row):
        raise rows.fields_error(line, row)
    cell = csvtext.decimal_point(row[col].strip(), rows.separator)
    reading = rows.floors.get(cell) or rows.floors.setdefault(cell, read_floor(venue, cell, mapped))
    if reading.level is not None:
        return reading.level
    if not cell:
        raise rows.error(line, rows.header[col], N_("%(label)s: line %(line)s, column %(column)s: is empty"))
    raise _floor_error(venue, rows, line, rows.header[col], reading)


def _floor_error(venue: VenueMap, rows: _Rows, line: int, column: str, reading: FloorReading) -> SampleFileError:
    if reading.ambiguous:
        return rows.error(line, column, N_(
            "%(label)s: line %(line)s, column %(column)s: ambiguous: floor name %(name)s is level %(by_name)s, level "
            "number %(text)s is another floor (%(other)s); say which in Floor names in the file (--floor on the CLI): "
            "'%(text)s=%(by_name)s' or '%(text)s=%(by_number)s'"), name=repr(reading.text[:40]),
            by_name=reading.by_name, text=reading.text, other=venue.floor(reading.by_number).name,
            by_number=reading.by_number)
    try:
        number = float(reading.text)
    except ValueError:
        return rows.error(line, column, N_("%(label)s: line %(line)s, column %(column)s: %(cell)s is neither a floor "
                                           "number nor one of the venue's floor names: %(known)s"),
                          cell=repr(reading.text[:40]), known=floors_known(venue))
    if not number.is_integer():
        return rows.error(line, column, N_("%(label)s: line %(line)s, column %(column)s: %(floor)s is not a whole "
                                           "floor number"), floor=f"{number:g}")
    return rows.error(line, column, N_("%(label)s: line %(line)s, column %(column)s: venue %(venue)s has no floor "
                                       "%(floor)s (floors: %(levels)s)"),
                      venue=venue.id, floor=f"{number:g}", levels=floors_known(venue))


def _uji_aps_by_position(venue: VenueMap, rows: _Rows, wap_cols: list[tuple[int, str]],
                         in_venue_order: bool) -> list[tuple[int, str]]:
    """WAP column k is the venue's k-th AP: only when the caller says so. The file itself cannot tell (a
    survey tool's own numbering with the same count reads without error, every reading on the wrong AP)."""
    if not in_venue_order:
        raise rows.header_error(
            N_("%(label)s: line 1: no WAP,BSSID sidecar, so nothing says which AP each WAP column is. Give the "
               "sidecar (MallPortal's UJIIndoorLoc export writes it as <name>.waps.csv; a survey tool numbers its "
               "WAPs in its own order). Only for a file whose WAP columns are venue %(venue)s's AP list in order "
               "(its own export, APs unchanged since), say so instead: \"WAP columns in this venue's AP order\" in "
               "the console, --venue-order on the command line"), venue=venue.id)
    ap_ids = venue.ap_ids()
    if len(wap_cols) != len(ap_ids):
        raise rows.header_error(N_("%(label)s: line 1: %(n)s WAP columns but venue %(venue)s has %(m)s APs; without "
                                   "a WAP,BSSID sidecar the columns must be the venue's AP list in order"),
                                n=len(wap_cols), venue=venue.id, m=len(ap_ids))
    return [(col, ap_ids[k]) for k, (col, _) in enumerate(wap_cols)]


def _uji_aps_by_sidecar(venue: VenueMap, rows: _Rows, wap_cols: list[tuple[int, str]],
                        mapping: dict[str, str]) -> list[tuple[int, str]]:
    by_name = {k.upper(): v for k, v in mapping.items()}
    pairs = []
    for col, name in wap_cols:
        if name not in by_name:
            raise rows.error(1, name, N_("%(label)s: line %(line)s, column %(column)s: not in the WAP,BSSID sidecar"))
        pairs.append((col, by_name[name]))
    return _ap_columns(venue, rows, pairs)


def _building_error(venue: VenueMap, rows: _Rows, line: int, column: str, building: float) -> SampleFileError:
    return rows.error(line, column, N_("%(label)s: line %(line)s, column %(column)s: %(value)s is not this venue's "
                                       "building (%(building)s)"), value=f"{building:g}", building=venue.building)


def _unknown_zone(venue: VenueMap, rows: _Rows, line: int, zone: str) -> SampleFileError:
    """Says that the column may be left empty: a survey tool's own area names are no zone ids here."""
    ids = [z.id for z in venue.zones]
    params = {"venue": venue.id, "zone": repr(zone), "ids": ", ".join(ids[:8]), "more": len(ids) - 8}
    if not ids:
        template = N_("%(label)s: line %(line)s, column %(column)s: venue %(venue)s has no zone %(zone)s; leave zone "
                      "empty (the point then gets the zone whose outline it stands in) or use a zone id once the "
                      "venue has zones (it has none yet)")
    elif len(ids) > 8:
        template = N_("%(label)s: line %(line)s, column %(column)s: venue %(venue)s has no zone %(zone)s; leave zone "
                      "empty (the point then gets the zone whose outline it stands in) or use one of its zone ids "
                      "(%(ids)s and %(more)s more; each floor's Zones tool on the console's set-up page lists them "
                      "all)")
    else:
        template = N_("%(label)s: line %(line)s, column %(column)s: venue %(venue)s has no zone %(zone)s; leave zone "
                      "empty (the point then gets the zone whose outline it stands in) or use one of its zone ids "
                      "(%(ids)s; each floor's Zones tool on the console's set-up page lists them all)")
    return rows.error(line, "zone", template, **params)


def _read_uji(venue: VenueMap, rows: _Rows, mapping: dict[str, str] | None,
              in_venue_order: bool, mapped: Mapping[str, int]) -> list[Point]:
    upper = [h.upper() for h in rows.header]
    missing = [c for c in UJI_REQUIRED if c not in upper]
    wap_cols = [(i, h) for i, h in enumerate(upper) if h.startswith("WAP")]
    if missing or not wap_cols:
        raise rows.header_error(N_("%(label)s: line 1: missing column(s) %(columns)s (UJIIndoorLoc layout: "
                                   "WAP001..WAPnnn, %(tail)s)"),
                                columns=", ".join(missing) if missing else "WAP001...", tail=", ".join(UJI_TAIL))
    if mapping is None:
        aps = _uji_aps_by_position(venue, rows, wap_cols, in_venue_order)
    else:
        aps = _uji_aps_by_sidecar(venue, rows, wap_cols, mapping)
    idx = {name: upper.index(name) for name in UJI_TAIL if name in upper}
    zones = venue.zones
    points = []
    for line, row in rows.rows:
        if len(row) != len(rows.header):
            raise rows.fields_error(line, row)
        building = rows.number(line, row, idx["BUILDINGID"])
        if building != venue.building:
            raise _building_error(venue, rows, line, "BUILDINGID", building)
        level = _floor_cell(venue, rows, line, row, idx["FLOOR"], mapped)
        x, y = (rows.number(line, row, idx[c]) for c in ("LONGITUDE", "LATITUDE"))
        _check_place(venue, rows, line, level, x, y, ("LONGITUDE", "LATITUDE"))
        zone = None
        if "SPACEID" in idx:
            space = rows.number(line, row, idx["SPACEID"])
            if space != int(space) or not 0 <= space <= len(zones):
                raise rows.error(line, "SPACEID", N_("%(label)s: line %(line)s, column %(column)s: %(value)s is not a "
                                                     "zone number (0..%(n)s)"), value=f"{space:g}", n=len(zones))
            zone = zones[int(space) - 1].id if space else None
            _check_zone_floor(venue, rows, line, "SPACEID", zone, level)
        rssi = rows.heard(line, row, aps, UJI_NOT_HEARD,
                          N_("%(label)s: line %(line)s: no AP heard in this row (every WAP is 100 or %(missing)s dBm "
                             "or below)"), empty_ok=False)
        points.append((level, x, y, zone, rssi, line))
    return points


def _average(venue: VenueMap, points: Iterable[Point], scans: int, label: str
             ) -> tuple[list[Sample], list[CatalogInputError]]:
    zones = zone_map(venue)
    groups: dict[tuple[int, float, float], list[Point]] = {}
    for p in points:
        groups.setdefault((p[0], round(p[1], 2), round(p[2], 2)), []).append(p)
    samples = []
    holds = _ZoneReach(venue)
    off: list[list[int]] = []  # per point labelled with a zone that does not hold it: the lines saying so
    for (floor, x, y), rows in groups.items():
        zone = rows[0][3] or zones.zone_at(floor, x, y)
        far = {label for label in {row[3] for row in rows} if label and not holds(label, x, y)}
        if far:
            off.append([row[5] for row in rows if row[3] in far])
        if len(rows) == 1:
            rssi = rows[0][4]
            samples.append(Sample(floor=floor, x=x, y=y, rssi=dict(rssi), spread={}, n=scans, zone=zone))
            continue
        per_ap: dict[str, list[float]] = {}
        for row in rows:
            for bssid, value in row[4].items():
                per_ap.setdefault(bssid, []).append(value)
        kept = {b: v for b, v in per_ap.items() if len(v) * 2 >= len(rows)}
        if not kept:
            raise _empty_point(label, floor, x, y, [row[5] for row in rows])
        samples.append(Sample(
            floor=floor, x=x, y=y, zone=zone, n=len(rows),
            rssi={b: round(float(np.mean(v)), 1) for b, v in kept.items()},
            spread={b: round(float(np.std(v)), 2) for b, v in kept.items()},
        ))
    return samples, [_off_zone_note(label, off)] if off else []


class _ZoneReach:
    """Whether a labelled zone holds a point: the point lies within ZONE_LABEL_SLACK_M of the zone or of a zone it
    stands for (its group's members: a food hall labelled for a point at one of its stalls)."""

    def __init__(self, venue: VenueMap) -> None:
        self.venue = venue
        self.shapes: dict[str, list[geometry.Polygon]] = {}

    def __call__(self, zone_id: str, x: float, y: float) -> bool:
        if zone_id not in self.shapes:
            self.shapes[zone_id] = [geometry.Polygon(z.polygon) for z in self.venue.zones
                                    if (z.id == zone_id or z.group == zone_id) and len(z.polygon) >= 3]
        return any(shape.distance(geometry.Point(x, y)) <= ZONE_LABEL_SLACK_M for shape in self.shapes[zone_id])


def _off_zone_note(label: str, off: list[list[int]]) -> CatalogInputError:
    """Kept as labelled, not refused: the format lets a surveyor name the zone a point is for (the README's survey
    CSV section), and a point in a doorway or just outside its room is labelled with the room; but a label far off
    is more often a slip, and the quality report would score the map against it."""
    return CatalogInputError(label, N_("%(label)s: %(n)s point(s) labelled with a zone that does not hold them (more "
                                       "than %(slack)s m off it), kept as labelled: lines %(lines)s; the quality "
                                       "report takes the label as where the point is"),
                             n=len(off), slack=f"{ZONE_LABEL_SLACK_M:g}",
                             lines=_lines_shown(sorted(line for group in off for line in group)))


def _empty_point(label: str, floor: int, x: float, y: float, lines: list[int]) -> SampleFileError:
    """A point whose scans each heard other APs: none is heard in half of them, so none is kept, and stored it
    would be a sample with no reading at all (matching nothing, yet counted as surveyed)."""
    return SampleFileError(label, N_("%(label)s: lines %(lines)s (floor %(floor)s, x %(x)s, y %(y)s): no AP is heard "
                                     "in at least half of this point's %(n)s scans, so it has no reading left; scan "
                                     "the point again, or delete these rows"),
                           lines=_lines_shown(lines), line=lines[0], floor=floor, x=f"{x:g}", y=f"{y:g}", n=len(lines))


def _lines_shown(lines: list[int]) -> str:
    """A file's line numbers as a message lists them: the first ten."""
    return ", ".join(map(str, lines[:10])) + (", ..." if len(lines) > 10 else "")
