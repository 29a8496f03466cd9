"""AP placement in bulk, from the files operators already have. Each reader returns placements (the
keyword arguments of fingerprints.edits.place_ap: bssid, level, x, y, name, height_m, model) for one
`edits.place_aps` change, or raises ApListError listing every problem (all or nothing).

- `read_ap_csv`: our CSV (TEMPLATE_CSV): name, bssids (one or more MACs/BSSIDs separated by spaces or
  `;`: every BSSID the AP reports or is reported under becomes an AP entry at the same place), level (the
  floor's level number or name), x_m/y_m in metres from the plan's top-left corner, or lat/lon (projected
  with the venue origin, the same one the IMDF export uses), height_m, model.
- `read_meraki_devices`: the Dashboard API's network device list (GET /networks/{id}/devices: `name`,
  `mac`, `model`, `lat`, `lng`, `floorPlanId`) with its floor plans (GET /networks/{id}/floorPlans:
  `floorPlanId`, `name`, `topLeftCorner`, `topRightCorner`, `bottomLeftCorner` as lat/lng). A device
  on a floor plan is placed by projecting its lat/lng onto that plan's corners; the plan's `name` is
  matched to a floor's name. Devices that are not APs (model not starting "MR"/"CW") or on no floor plan
  are skipped and counted.
- `read_unifi_devices`: the UniFi Network controller's device list (GET /api/s/<site>/stat/device:
  `data[].type == "uap"`, `mac`, `name`, `model`, `x`, `y`, `map_id`, `vap_table[].bssid`) with its maps
  (GET /api/s/<site>/list/map: `_id`, `name`, `upp` = metres per pixel). x/y are map pixels; the map
  `name` is matched to a floor's name.
- `read_esx`: an Ekahau project (`.esx`, a zip of JSON): `floorPlans.json` (`floorPlans[]`: `id`, `name`,
  `width`, `height`, `metersPerUnit`), `accessPoints.json` (`accessPoints[]`: `id`, `name`, `vendor`,
  `model`, `location.floorPlanId`, `location.coord.x/y` in plan units), `simulatedRadios.json`
  (`simulatedRadios[]`: `accessPointId`, `antennaHeight` m), and for surveyed projects
  `measuredRadios.json` (`measuredRadios[]`: `accessPointId`, `accessPointMeasurementIds`) with
  `accessPointMeasurements.json` (`accessPointMeasurements[]`: `id`, `mac`, `ssid`) for the BSSIDs.
  Metres = plan units x metersPerUnit, from the plan's top-left corner; the plan `name` is matched to a
  floor's name. Planned APs without measured radios have no BSSID yet and are skipped and counted.

Floor names match case-insensitively; `floors={"Ground floor": 0}` maps other names, and settles a value that
is one floor's name and another floor's level number (floors named "1", "2" on levels 0, 1), otherwise a problem.
A survey file's floor cell is read by the same rule (`read_floor`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import N_, CatalogInputError, CatalogProblems, CatalogText
from fingerprints import archives, csvtext
from fingerprints.georef import Origin
from fingerprints.model import VenueMap, normalise_bssid

TEMPLATE_CSV = (
    "name,bssids,level,x_m,y_m,lat,lon,height_m,model\n"
    "AP-G-01,f0:9f:c2:1a:00:01;f0:9f:c2:1a:00:02,0,12.5,8.0,,,3.0,U6-Pro\n"
    "AP-L1-01,f0:9f:c2:1a:01:01,L1,,,22.28540,114.15811,3.5,MR46\n"
)
MAX_ROWS = 5000
MAX_ESX_BYTES = 512 * 1024 * 1024
MAX_ESX_MEMBERS = 10_000  # a project holds one image per floor plan and a few JSON files
FOOT_M = 0.3048  # a UniFi map drawn in feet (`unit: "f"`) gives its scale `upp` in feet per pixel
SPLIT_RE = re.compile(r"[\s;|]+")
NUMBER_COLUMNS = ("x_m", "y_m", "x", "y", "lat", "lon", "height_m")  # where a `;` file's decimal comma is read


class ApListError(CatalogProblems):
    """An AP list refused: `problems` in English (the CLI's), `details` each problem with its catalog message
    where it has one (the console's, in the page's language)."""

    template = N_("AP list not imported (%(count)s problem(s)):\n%(problems)s")


class _Within(CatalogProblems):
    """One problem that holds others (the reasons a file places no AP, an archive's own problem): a console
    says each inner one in the page's language too (portal.errors.input_error_text joins them with `joiner`,
    as the English (`str()`, what the CLI always said) does."""

    def __init__(self, template: str, inner: list[str | CatalogInputError], joiner: str = "\n") -> None:
        self.template, self.joiner = template, joiner
        super().__init__(inner)
        self.params["problems"] = joiner.join(self.problems)
        self.args = (template % self.params,)


@dataclass(frozen=True)
class PlanPlace:
    """A floor plan (Ekahau, Meraki) or a map (UniFi) as the file names it: where a floor's problem is."""

    kind: str  # "floor plan" or "map": the words the English says, and which catalog message says it
    name: object

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r}"


Where = int | str | PlanPlace  # a CSV row (its number), a device named as the file names it, or a plan


def _problem(template: str, **params: object) -> CatalogInputError:
    """A problem of the whole list (its header, a form field): `template` says where itself."""
    return CatalogInputError("", template, **params)


def _at(where: Where, row_template: str, named_template: str, **params: object) -> CatalogInputError:
    """A problem of one row (`row_template`, "row %(row)s: ...") or of one named device or plan
    (`named_template`, "%(label)s: ..."): one catalog message each, so a row's is said whole in the page's
    language; the English is `row N: ...` / `NAME: ...` either way."""
    if isinstance(where, int):
        return CatalogInputError(f"row {where}", row_template, row=where, **params)
    # a str as it is: a CatalogText ("device #3") keeps its catalog message
    return CatalogInputError(where if isinstance(where, str) else str(where), named_template, **params)


def _on_plan_place(where: Where, plan_templates: tuple[str, str], row_template: str, named_template: str,
                   **params: object) -> CatalogInputError:
    """`_at` for a problem that may be a floor plan's or a map's (`plan_templates`: "floor plan %(plan)s: ...",
    "map %(plan)s: ..."), so the locator's words are said in the page's language too."""
    if isinstance(where, PlanPlace):
        template = plan_templates[0] if where.kind == "floor plan" else plan_templates[1]
        return CatalogInputError(str(where), template, plan=repr(where.name), **params)
    return _at(where, row_template, named_template, **params)


def _device(i: int) -> CatalogText:
    """A device the file names by no name, serial or MAC: its place in the list (also the AP's name)."""
    return CatalogText(N_("device #%(i)s"), i=i)


def _device_not_object(i: int) -> CatalogInputError:
    return _problem(N_("device #%(i)s: not an object"), i=i)


@dataclass
class ApList:
    placements: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # why rows/devices were left out (not errors)
    # The same reasons as catalog messages, for a console to say them in the page's language.
    skip_reasons: list[CatalogInputError] = field(default_factory=list, repr=False, compare=False)


@dataclass(frozen=True)
class PlanAlignment:
    """Where the file's plan lies on the venue's: the similarity (shift, turn, scale) that takes two points
    given in the file's plan coordinates (metres from its image's top-left corner) to the same two points on
    the venue's plan. For positions read off a plan image (Ekahau, UniFi, CSV x_m/y_m) whose image has a
    margin, another scale or another angle than the venue's plan; not for lat/lon, placed by the origin."""

    factor: complex  # rotation and scale, y down in both plans
    shift: complex

    @classmethod
    def through(cls, file_points: tuple[complex, complex], venue_points: tuple[complex, complex]) -> PlanAlignment:
        (z1, z2), (w1, w2) = file_points, venue_points
        if abs(z2 - z1) < 0.01 or abs(w2 - w1) < 0.01:
            raise ApListError([_problem(N_("align: the two points must be at least 1 cm apart on each plan"))])
        factor = (w2 - w1) / (z2 - z1)
        if not MIN_ALIGN_SCALE <= abs(factor) <= MAX_ALIGN_SCALE:
            raise ApListError([_problem(N_("align: the points give a scale of %(scale)s (file metres to venue "
                                           "metres); expected %(low)s to %(high)s: check them"),
                                        scale=f"{abs(factor):.3g}", low=f"{MIN_ALIGN_SCALE:g}",
                                        high=f"{MAX_ALIGN_SCALE:g}")])
        return cls(factor, w1 - factor * z1)

    def __call__(self, x: float, y: float) -> tuple[float, float]:
        w = self.factor * complex(x, y) + self.shift
        return w.real, w.imag


MIN_ALIGN_SCALE, MAX_ALIGN_SCALE = 0.01, 100.0  # a plan drawn in cm or in km is a mistake, not a scale
ALIGN_HELP = "two points, file plan = venue plan, in metres: '0,0=3.5,2; 100,0=103.5,2'"


def parse_plan_alignment(text: str) -> PlanAlignment | None:
    """'fx1,fy1=x1,y1; fx2,fy2=x2,y2' (metres on the file's plan = metres on the venue's) -> PlanAlignment;
    '' -> None."""
    if not text.strip():
        return None
    pairs = [p for p in re.split(r"[;\n]", text) if p.strip()]
    points = []
    for pair in pairs:
        sides = pair.split("=")
        numbers = [_number(v) for side in sides for v in side.split(",")]
        if len(pairs) != 2 or len(sides) != 2 or len(numbers) != 4 or any(n is None for n in numbers):
            raise ApListError([_problem(N_("align: write two points, file plan = venue plan, in metres: "
                                           "'0,0=3.5,2; 100,0=103.5,2' (not %(text)s)"),
                                        text=repr(text.strip()[:60]))])
        points.append((complex(numbers[0], numbers[1]), complex(numbers[2], numbers[3])))
    return PlanAlignment.through((points[0][0], points[1][0]), (points[0][1], points[1][1]))


@dataclass(frozen=True)
class FloorReading:
    """What a file's floor value names (read_floor): `level` is the floor meant, None when it names none or is
    ambiguous (`by_name` and `by_number` two different floors)."""

    text: str
    by_name: int | None  # the one floor of that name, Chinese name or short name
    by_number: int | None  # the floor of that level number
    mapped: int | None = None  # the operator's word for it (Floor names in the file, --floor)

    @property
    def ambiguous(self) -> bool:
        return self.mapped is None and None not in (self.by_name, self.by_number) and self.by_name != self.by_number

    @property
    def level(self) -> int | None:
        if self.mapped is not None:
            return self.mapped
        return None if self.ambiguous else self.by_name if self.by_name is not None else self.by_number


def floor_names_checked(venue: VenueMap, floors: Mapping[str, int] | None) -> dict[str, int]:
    """The operator's floor names of a file (parse_floor_names: the file's word -> level), keyed as read_floor
    looks them up; CatalogInputError when one maps to a level the venue lacks."""
    levels = {f.level for f in venue.floors}
    unknown = sorted({int(v) for v in (floors or {}).values()} - levels)
    if unknown:
        raise _problem(N_("floor names: level %(level)s is not one of the venue's floors (%(levels)s)"),
                       level=unknown[0], levels=", ".join(str(level) for level in sorted(levels)))
    return {str(k).strip().lower(): int(v) for k, v in (floors or {}).items()}


def read_floor(venue: VenueMap, raw: object, mapped: Mapping[str, int] | None = None) -> FloorReading:
    """The one rule an AP list and a survey file read a floor value by: the operator's word for it first
    (`mapped`, from floor_names_checked), else the floor it names (VenueMap.levels_named: name, Chinese name or
    short name, case ignored) and the floor of that level number ("2", "2.0"). Where those are two floors (floors
    named "1", "2" on levels 0, 1: the 1F convention) it is ambiguous: guessing either way puts every row of a floor
    on another floor without a word, so the operator says which."""
    text = str(raw if raw is not None else "").strip()
    if mapped and text.lower() in mapped:
        return FloorReading(text, None, None, mapped[text.lower()])
    named = venue.levels_named(text)
    number = re.fullmatch(r"([+-]?\d{1,3})(?:\.0*)?", text)
    by_number = int(number.group(1)) if number else None
    levels = {f.level for f in venue.floors}
    return FloorReading(text, next(iter(named)) if len(named) == 1 else None,
                        by_number if by_number in levels else None)


def floors_known(venue: VenueMap) -> str:
    """The venue's floors as an error lists them, each by its level and names: "0 (Этаж 1, short name 1), 2 (Этаж
    3, short name 3)". A catalog text where a floor has a short name (the words are said in the page's language)."""
    known: str = ""
    for f in venue.floors:
        names = ", ".join(dict.fromkeys(n for n in (f.name, f.name_zh, *f.imdf_names.values()) if n))
        item = (CatalogText(N_("%(level)s (%(names)s, short name %(short)s)"), level=f.level, names=names,
                            short=f.short_name) if f.short_name else f"{f.level} ({names})")
        known = CatalogText(N_("%(floors)s, %(floor)s"), floors=known, floor=item) if known else item
    return known


class _Collector:
    def __init__(self, venue: VenueMap, floors: Mapping[str, int] | None, align: PlanAlignment | None = None) -> None:
        self.venue = venue
        self.align = align
        try:
            self.mapped = floor_names_checked(venue, floors)  # the operator's word
        except CatalogInputError as exc:
            raise ApListError([exc]) from None
        self.out = ApList()
        self.problems: list[str | CatalogInputError] = []
        self.seen: dict[str, Where] = {}
        self.reported: set[str] = set()  # floor values already named in a problem
        self.skip_reasons = self.out.skip_reasons  # out.skipped (English) with their catalog messages

    def skip(self, name: str, template: str, **params: object) -> None:
        """A device or AP left out, not an error: said in the page's language if the file then places none."""
        reason = CatalogInputError(name, template, **params)
        self.out.skipped.append(str(reason))
        self.skip_reasons.append(reason)

    def level(self, raw: object, where: Where) -> int | None:
        reading = read_floor(self.venue, raw, self.mapped)  # the survey reader's rule too
        text, by_name, by_number = reading.text, reading.by_name, reading.by_number
        if reading.ambiguous:
            self._once(text, _on_plan_place(
                where, (N_("floor plan %(plan)s: ambiguous: floor name %(name)s is level %(by_name)s, level number "
                           "%(text)s is another floor (%(other)s); say which in Floor names in the file (--floor on "
                           "the CLI): '%(text)s=%(by_name)s' or '%(text)s=%(by_number)s'"),
                        N_("map %(plan)s: ambiguous: floor name %(name)s is level %(by_name)s, level number %(text)s "
                           "is another floor (%(other)s); say which in Floor names in the file (--floor on the CLI): "
                           "'%(text)s=%(by_name)s' or '%(text)s=%(by_number)s'")),
                N_("row %(row)s: ambiguous: floor name %(name)s is level %(by_name)s, level number %(text)s is "
                          "another floor (%(other)s); say which in Floor names in the file (--floor on the CLI): "
                          "'%(text)s=%(by_name)s' or '%(text)s=%(by_number)s'"),
                N_("%(label)s: ambiguous: floor name %(name)s is level %(by_name)s, level number %(text)s is another "
                   "floor (%(other)s); say which in Floor names in the file (--floor on the CLI): "
                   "'%(text)s=%(by_name)s' or '%(text)s=%(by_number)s'"),
                name=repr(text[:40]), by_name=by_name, text=text, other=self.venue.floor(by_number).name,
                by_number=by_number))
            return None
        if reading.level is not None:
            return reading.level
        known = floors_known(self.venue)
        self._once(text, _on_plan_place(
            where, (N_("floor plan %(plan)s: floor %(floor)s is not one of the venue's floors: %(known)s (map the "
                       "file's floor names to levels: 'Ground Floor=0')"),
                    N_("map %(plan)s: floor %(floor)s is not one of the venue's floors: %(known)s (map the file's "
                       "floor names to levels: 'Ground Floor=0')")),
            N_("row %(row)s: floor %(floor)s is not one of the venue's floors: %(known)s (map the file's floor names "
               "to levels: 'Ground Floor=0')"),
            N_("%(label)s: floor %(floor)s is not one of the venue's floors: %(known)s (map the file's floor names to "
               "levels: 'Ground Floor=0')"),
            floor=repr(text[:40]), known=known))
        return None

    def _once(self, text: str, problem: CatalogInputError) -> None:
        """A floor's problem once per value, not once per AP on it (each of those rows is left out all the same)."""
        if text.lower() not in self.reported:
            self.reported.add(text.lower())
            self.problems.append(problem)

    def add_from_plan(self, where: Where, name: str, bssids: list[str], level: int, x: float, y: float,
                      height_m: float | None = None, model: str = "") -> None:
        """`add` for a position read off the file's plan image: aligned to the venue's plan first, if asked."""
        x, y = self.align(x, y) if self.align else (x, y)
        self.add(where, name, bssids, level, x, y, height_m, model)

    def add(self, where: Where, name: str, bssids: list[str], level: int, x: float, y: float,
            height_m: float | None = None, model: str = "") -> None:
        fl = self.venue.floor(level)
        if not (math.isfinite(x) and math.isfinite(y) and -0.5 <= x <= fl.width_m + 0.5 and
                -0.5 <= y <= fl.height_m + 0.5):
            self.problems.append(_at(where, N_("row %(row)s: (%(x)s, %(y)s) m is off the plan of floor %(floor)s "
                                               "(%(w)s x %(h)s m)"),
                                     N_("%(label)s: (%(x)s, %(y)s) m is off the plan of floor %(floor)s (%(w)s x "
                                        "%(h)s m)"),
                                     x=f"{x:.1f}", y=f"{y:.1f}", floor=fl.name, w=f"{fl.width_m:g}",
                                     h=f"{fl.height_m:g}"))
            return
        x, y = round(min(max(x, 0.0), fl.width_m), 2), round(min(max(y, 0.0), fl.height_m), 2)
        if not bssids:
            self.problems.append(_at(where, N_("row %(row)s: no BSSID/MAC"), N_("%(label)s: no BSSID/MAC")))
            return
        for raw in bssids:
            try:
                bssid = normalise_bssid(str(raw))
            except ValueError:
                self.problems.append(_at(where, N_("row %(row)s: %(raw)s is not a MAC/BSSID"),
                                         N_("%(label)s: %(raw)s is not a MAC/BSSID"), raw=repr(str(raw)[:40])))
                continue
            if bssid in self.seen:
                self.problems.append(_at(where, N_("row %(row)s: BSSID %(b)s is also on row %(other)s"),
                                         N_("%(label)s: BSSID %(b)s is also on %(other)s"), b=bssid,
                                         other=self.seen[bssid]))  # one file: rows, or names, throughout
                continue
            self.seen[bssid] = where
            printable = "".join(ch for ch in str(name) if ch.isprintable())  # no NUL or control characters
            self.out.placements.append({"bssid": bssid, "level": level, "x": x, "y": y, "name": printable[:40],
                                        "height_m": height_m, "model": model[:40]})

    def result(self) -> ApList:
        if self.problems:
            raise ApListError(self.problems)
        if not self.out.placements:
            if self.skip_reasons:
                raise ApListError([_Within(N_("the file places no AP (%(problems)s)"), self.skip_reasons[:5],
                                           joiner="; ")])
            raise ApListError([_problem(N_("the file places no AP"))])
        return self.out


def _distinct_macs(raws: list[str]) -> list[str]:
    """Each MAC once, however it is written (a controller lists a radio's BSSID upper-case beside the device
    MAC lower-case); what is not a MAC is kept for the collector to name."""
    seen: dict[str, str] = {}
    for raw in raws:
        try:
            key = normalise_bssid(raw)
        except ValueError:
            key = raw
        seen.setdefault(key, raw)
    return list(seen.values())


def parse_floor_names(pairs: str | list[str] | tuple[str, ...]) -> dict[str, int]:
    """'Ground Floor=0; Level 1=1' (or a list of NAME=LEVEL) -> {name: level}: how an operator maps the floor
    names of a file (an Ekahau plan, a Meraki floor plan, a UniFi map) to the venue's levels."""
    items = [p for p in re.split(r"[;\n]", pairs) if p.strip()] if isinstance(pairs, str) else list(pairs)
    out = {}
    for pair in items:
        name, _, level = pair.rpartition("=")
        if not name.strip() or not re.fullmatch(r"\s*-?\d{1,3}\s*", level):
            raise ApListError([_problem(N_("floor names: write NAME=LEVEL, e.g. 'Ground Floor=0' (not %(pair)s)"),
                                        pair=repr(pair.strip()[:40]))])
        out[name.strip()] = int(level)
    return out


def _number(raw: object) -> float | None:
    try:
        value = float(str(raw).strip())
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _height_problem(where: Where, raw: object, column: str) -> CatalogInputError:
    """A height given but unreadable ("3,5", "3.5m") is a problem, not "no height": dropping it silently would
    leave the AP at the default height with nobody the wiser."""
    return _at(where, N_("row %(row)s: %(column)s %(raw)s is not a number of metres (write it like 3.5)"),
               N_("%(label)s: %(column)s %(raw)s is not a number of metres (write it like 3.5)"),
               column=column, raw=repr(str(raw)[:40]))


def venue_origin(venue: VenueMap, given: tuple[float, float] | None = None) -> Origin | None:
    """The plan's place on Earth: the one given (lon, lat of its top-left corner, north-up), else the venue's
    own (kept from its IMDF import, rotation included), else None."""
    if given is not None:
        return Origin(float(given[0]), float(given[1]))
    return Origin(**venue.origin) if venue.origin else None


# -- our CSV --------------------------------------------------------------------------------------------


def read_ap_csv(venue: VenueMap, data: bytes | str, origin: tuple[float, float] | None = None,
                floors: Mapping[str, int] | None = None, align: PlanAlignment | None = None) -> ApList:
    """origin: (lon, lat) of the plan's top-left corner, for rows given as lat/lon (default: the venue's);
    align: for rows given as x_m/y_m on another plan image. Separated by commas, semicolons or tabs (see
    fingerprints.csvtext); in a `;` file the number columns may have a decimal comma."""
    place = venue_origin(venue, origin)
    try:  # never decoded with replacement characters: a GBK file (Chinese Excel's CSV) named its APs in mojibake
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise ApListError([_problem(N_("the CSV is not UTF-8 text: save it as \"CSV UTF-8\" (Excel: Save As, "
                                       "CSV UTF-8; WPS: UTF-8 encoding)"))]) from None
    separator = csvtext.delimiter(text)
    reader = csv.DictReader(io.StringIO(text, newline=""),  # newline="": old Mac files end lines in \r
                            delimiter=separator)
    rows = list(reader)
    c = _Collector(venue, floors, align)
    twice = _repeated_columns(reader.fieldnames or [])
    if twice:
        raise ApListError(twice)
    template_header = TEMPLATE_CSV.splitlines()[0]
    if not rows:
        raise ApListError([_problem(N_("the CSV has no rows (see the template: %(header)s)"), header=template_header)])
    header = {k.strip().lower() for k in rows[0] if k}
    missing = {"bssids", "level"} - header
    if missing:
        raise ApListError([_problem(N_("the CSV lacks column(s) %(columns)s (template header: %(header)s)"),
                                    columns=", ".join(sorted(missing)), header=template_header)])
    if len(rows) > MAX_ROWS:
        raise ApListError([_problem(N_("the CSV has %(n)s rows; at most %(max)s"), n=len(rows), max=MAX_ROWS)])
    for i, row in enumerate(rows, 2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        row.update({k: csvtext.decimal_point(row[k], separator) for k in NUMBER_COLUMNS if row.get(k)})
        where = i
        level = c.level(row.get("level"), where)
        if level is None:
            continue
        x, y = _number(row.get("x_m", row.get("x"))), _number(row.get("y_m", row.get("y")))
        lat, lon = _number(row.get("lat")), _number(row.get("lon"))
        if x is None or y is None:
            if lat is None or lon is None:
                c.problems.append(_problem(N_("row %(row)s: give x_m and y_m (metres), or lat and lon"), row=where))
                continue
            if place is None:
                c.problems.append(_problem(N_("row %(row)s: lat/lon needs the plan origin (lon, lat of its top-left "
                                              "corner; known by itself once the plan came from IMDF)"), row=where))
                continue
            x, y = place.to_plan(lon, lat)
            add = c.add
        else:
            add = c.add_from_plan
        height = _number(row.get("height_m")) if row.get("height_m") else None
        if row.get("height_m") and height is None:
            c.problems.append(_height_problem(where, row["height_m"], "height_m"))
            continue
        bssids = [b for b in SPLIT_RE.split(row.get("bssids", "")) if b]
        add(where, row.get("name", ""), bssids, level, x, y, height, row.get("model", ""))
    return c.result()


def _repeated_columns(fieldnames: list[str]) -> list[CatalogInputError]:
    """A problem for each column the header names twice, compared as the rows are read (case and spaces
    ignored): csv.DictReader keeps only the last one's value, so an AP would be placed by a column the
    operator may never have meant (x_m twice: the second one's x) without a word."""
    where: dict[str, list[int]] = {}
    for col, raw in enumerate(fieldnames, 1):
        name = (raw or "").strip().lower()
        if name:  # an unnamed column (a spreadsheet's trailing commas) is not read
            where.setdefault(name, []).append(col)
    twice = N_("line 1: column %(name)s appears twice (columns %(cols)s and %(last)s of the header); keep one")
    more = N_("line 1: column %(name)s appears %(n)s times (columns %(cols)s and %(last)s of the header); keep one")
    return [_problem(twice if len(cols) == 2 else more, name=repr(name), n=len(cols),
                     cols=", ".join(map(str, cols[:-1])), last=cols[-1])
            for name, cols in where.items() if len(cols) > 1]


# -- Meraki ---------------------------------------------------------------------------------------------


def _corner(plan: Mapping, key: str) -> tuple[float, float]:
    corner = plan[key]
    return float(corner["lng"]), float(corner["lat"])


def read_meraki_devices(venue: VenueMap, devices: list[dict], floor_plans: list[dict],
                        floors: Mapping[str, int] | None = None) -> ApList:
    c = _Collector(venue, floors)
    place = venue_origin(venue)
    plans = {p.get("floorPlanId"): p for p in floor_plans if isinstance(p, dict)}
    for i, dev in enumerate(devices):
        if not isinstance(dev, dict):
            c.problems.append(_device_not_object(i))
            continue
        name = str(dev.get("name") or dev.get("serial") or "") or _device(i)
        model = str(dev.get("model") or "")
        if model and not model.upper().startswith(("MR", "CW")):
            c.skip(name, N_("%(label)s: %(model)s is not an AP"), model=model)
            continue
        plan = plans.get(dev.get("floorPlanId"))
        if plan is None:
            c.skip(name, N_("%(label)s: on no floor plan"))
            continue
        level = c.level(plan.get("name"), PlanPlace("floor plan", plan.get("name")))
        lat, lng = _number(dev.get("lat")), _number(dev.get("lng"))
        if level is None:
            continue
        if lat is None or lng is None:
            c.problems.append(CatalogInputError(name, N_("%(label)s: no lat/lng")))
            continue
        try:
            # The venue's own place on Earth when known (a Meraki floor plan image often has a margin round
            # the building or is turned to fit the satellite map: its corners are not the plan's).
            x, y = place.to_plan(lng, lat) if place else _on_plan(plan, lng, lat)
        except (KeyError, TypeError, ValueError) as exc:
            c.problems.append(_problem(N_("floor plan %(plan)s: corners unreadable (%(error)s)"),
                                       plan=repr(plan.get("name")), error=str(exc)))
            continue
        c.add(name, name, [str(dev.get("mac") or "")], level, x, y, None, model)
    return c.result()


def _on_plan(plan: Mapping, lng: float, lat: float) -> tuple[float, float]:
    """Metres along the plan's top edge (x) and down its left edge (y), from its top-left corner."""
    corner = Origin(*_corner(plan, "topLeftCorner"))  # north-up: the image's turn is read from its edges
    right = corner.to_plan(*_corner(plan, "topRightCorner"))
    down = corner.to_plan(*_corner(plan, "bottomLeftCorner"))
    p = corner.to_plan(lng, lat)
    ux, uy = _unit(right)
    vx, vy = _unit(down)
    return p[0] * ux + p[1] * uy, p[0] * vx + p[1] * vy


def _unit(v: tuple[float, float]) -> tuple[float, float]:
    length = math.hypot(*v)
    if length < 0.01:
        raise ValueError("two corners coincide")
    return v[0] / length, v[1] / length


# -- UniFi ----------------------------------------------------------------------------------------------


def read_unifi_devices(venue: VenueMap, devices: dict | list, maps: dict | list | None = None,
                       floors: Mapping[str, int] | None = None, align: PlanAlignment | None = None) -> ApList:
    c = _Collector(venue, floors, align)
    items = devices.get("data", []) if isinstance(devices, dict) else devices
    map_items = (maps.get("data", []) if isinstance(maps, dict) else maps) or []
    by_id = {m.get("_id"): m for m in map_items if isinstance(m, dict)}
    for i, dev in enumerate(items):
        if not isinstance(dev, dict):
            c.problems.append(_device_not_object(i))
            continue
        name = str(dev.get("name") or dev.get("mac") or "") or _device(i)
        radios = dev.get("vap_table") or dev.get("radio_table")
        if dev.get("type", "uap") != "uap" and not radios:  # a Dream Machine / Router has APs built in
            c.skip(name, N_("%(label)s: not an AP (%(type)s)"), type=str(dev.get("type")))
            continue
        x, y, plan = _number(dev.get("x")), _number(dev.get("y")), by_id.get(dev.get("map_id"))
        if x is None or y is None or plan is None:
            c.skip(name, N_("%(label)s: not placed on a map") if maps
                   else N_("%(label)s: no map list given (list/map)"))
            continue
        level = c.level(plan.get("name"), PlanPlace("map", plan.get("name")))
        if level is None:
            continue
        upp = _number(plan.get("upp"))
        mpp = (upp * FOOT_M if upp and str(plan.get("unit", "m")).lower().startswith("f") else upp) \
            or venue.floor(level).metres_per_pixel
        if not mpp:
            c.problems.append(_problem(N_("map %(plan)s: no scale (upp) and floor %(level)s has no plan scale"),
                                       plan=repr(plan.get("name")), level=level))
            continue
        # The device MAC too: the gateway's `ap` and the controller name the AP by it, the phones by its BSSIDs.
        bssids = [str(v.get("bssid")) for v in dev.get("vap_table") or [] if isinstance(v, dict) and v.get("bssid")]
        macs = _distinct_macs([*bssids, *([str(dev["mac"])] if dev.get("mac") else [])])
        height = _number(dev.get("heightInMeters"))
        if height is None and dev.get("heightInMeters") not in (None, ""):
            c.problems.append(_height_problem(name, dev["heightInMeters"], "heightInMeters"))
            continue
        c.add_from_plan(name, name, macs, level, x * mpp, y * mpp, height, str(dev.get("model") or ""))
    return c.result()


# -- Ekahau ---------------------------------------------------------------------------------------------


def read_esx(venue: VenueMap, data: bytes, floors: Mapping[str, int] | None = None,
             align: PlanAlignment | None = None) -> ApList:
    try:
        with archives.open_zip(data, "the .esx project") as zf:
            archives.check_sizes(zf.infolist(), MAX_ESX_MEMBERS, MAX_ESX_BYTES)
            names = {m.filename.rsplit("/", 1)[-1]: m.filename for m in zf.infolist()}

            def load(name: str, key: str, required: bool = False) -> list[dict]:
                if name not in names:
                    if required:
                        raise ApListError([CatalogInputError(name, N_("%(label)s is missing: not an Ekahau project"))])
                    return []
                text = archives.read_member(zf, zf.getinfo(names[name]))
                try:
                    doc = json.loads(text)
                except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                    raise ApListError([CatalogInputError(name, N_("%(label)s: not valid JSON (%(error)s)"),
                                                         error=str(exc))]) from None
                items = doc.get(key) if isinstance(doc, dict) else None
                if not isinstance(items, list):
                    raise ApListError([CatalogInputError(name, N_("%(label)s: has no %(key)s list"), key=repr(key))])
                return [item for item in items if isinstance(item, dict)]

            plans = load("floorPlans.json", "floorPlans", required=True)
            aps = load("accessPoints.json", "accessPoints", required=True)
            simulated = load("simulatedRadios.json", "simulatedRadios")
            measured = load("measuredRadios.json", "measuredRadios")
            measurements = load("accessPointMeasurements.json", "accessPointMeasurements")
    except archives.ArchiveProblem as exc:
        raise ApListError([_Within(N_("not an Ekahau project (.esx is a zip archive): %(problems)s"), [exc])]) from None
    c = _Collector(venue, floors, align)
    plan_by_id = {p["id"]: p for p in plans if isinstance(p.get("id"), str)}
    heights = {r["accessPointId"]: _number(r.get("antennaHeight")) for r in simulated
               if isinstance(r.get("accessPointId"), str)}
    mac_of = {m["id"]: m.get("mac") for m in measurements if isinstance(m.get("id"), str)}
    macs: dict[str, list[str]] = {}
    for radio in measured:
        ids = radio.get("accessPointMeasurementIds")
        found = [mac_of.get(mid) for mid in (ids if isinstance(ids, list) else []) if isinstance(mid, str)]
        if isinstance(radio.get("accessPointId"), str):
            macs.setdefault(radio["accessPointId"], []).extend(str(m) for m in found if m)
    # A survey also records the neighbours' APs (`mine: false`, placed by Ekahau's estimate): not the venue's,
    # unless the project marks none as its own. Hidden and deleted records are not placements either.
    if len(aps) > MAX_ROWS:
        raise ApListError([_problem(N_("accessPoints.json lists %(n)s APs; at most %(max)s"), n=len(aps),
                                    max=MAX_ROWS)])
    live = [ap for ap in aps if not ap.get("hidden") and str(ap.get("status", "")).upper() != "DELETED"]
    own = [ap for ap in live if ap.get("mine") is not False] or live
    if len(own) < len(live):
        for ap in live:
            if ap.get("mine") is False:
                c.skip(str(ap.get("name") or ap.get("id")),
                       N_("%(label)s: not one of the project's own APs (mine: false)"))
    for ap in own:
        name = str(ap.get("name") or ap.get("id"))
        loc = ap.get("location") if isinstance(ap.get("location"), dict) else {}
        plan = plan_by_id.get(loc.get("floorPlanId")) if isinstance(loc.get("floorPlanId"), str) else None
        coord = loc.get("coord") if isinstance(loc.get("coord"), dict) else {}
        x, y = _number(coord.get("x")), _number(coord.get("y"))
        if plan is None or x is None or y is None:
            c.skip(name, N_("%(label)s: not placed on a floor plan"))
            continue
        scale = _number(plan.get("metersPerUnit"))
        if not scale or scale <= 0:
            c.problems.append(_problem(N_("floor plan %(plan)s: no metersPerUnit (the plan's scale is not set)"),
                                       plan=repr(plan.get("name"))))
            continue
        level = c.level(plan.get("name"), PlanPlace("floor plan", plan.get("name")))
        if level is None:
            continue
        bssids = list(dict.fromkeys(macs.get(ap.get("id"), []) if isinstance(ap.get("id"), str) else []))
        if not bssids:
            c.skip(name, N_("%(label)s: planned only (no measured radio, so no BSSID)"))
            continue
        model = " ".join(str(v) for v in (ap.get("vendor"), ap.get("model")) if v)
        c.add_from_plan(name, name, bssids, level, x * scale, y * scale, heights.get(ap.get("id")), model)
    return c.result()


def read_ap_list(venue: VenueMap, data: bytes, filename: str, fmt: str | None = None,
                 origin: tuple[float, float] | None = None, floors: Mapping[str, int] | None = None,
                 companion: bytes | None = None, align: PlanAlignment | None = None) -> ApList:
    """Any of the above, by `fmt` (csv, esx, meraki, unifi) or by the file name. Meraki and UniFi take
    the floor-plan / map list as `companion` (JSON); `align` places positions read off another plan image
    (not Meraki's, placed by lat/lng). A file whose data has a shape no check foresaw is an ApListError too
    (the console shows it), never another exception."""
    try:
        return _read_ap_list(venue, data, filename, fmt, origin, floors, companion, align)
    except ApListError:
        raise
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, OverflowError, RecursionError,
            csv.Error) as exc:
        raise ApListError([CatalogInputError(filename, N_("%(label)s: the file's data is malformed (%(error)s)"),
                                             error=f"{type(exc).__name__}: {exc}")]) from None


def _read_ap_list(venue: VenueMap, data: bytes, filename: str, fmt: str | None,
                  origin: tuple[float, float] | None, floors: Mapping[str, int] | None,
                  companion: bytes | None, align: PlanAlignment | None) -> ApList:
    fmt = fmt or ("esx" if filename.lower().endswith(".esx") else "csv" if filename.lower().endswith(".csv")
                  else None)
    if fmt == "csv":
        return read_ap_csv(venue, data, origin, floors, align)
    if fmt == "esx":
        return read_esx(venue, data, floors, align)
    if fmt in ("meraki", "unifi"):
        try:
            devices = json.loads(data)
            extra = json.loads(companion) if companion else None
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ApListError([_problem(N_("not valid JSON (%(error)s)"), error=str(exc))]) from None
        if fmt == "meraki":
            if align:
                raise ApListError([_problem(N_("align: Meraki devices are placed by their lat/lng, not on a plan "
                                               "image"))])
            if not isinstance(devices, list) or not isinstance(extra, list):
                raise ApListError([_problem(N_("Meraki: give the device list (a JSON array) and the floor plans (a "
                                               "JSON array)"))])
            return read_meraki_devices(venue, devices, extra, floors)
        return read_unifi_devices(venue, devices, extra, floors, align)
    raise ApListError([_problem(N_("unknown AP list format for %(name)s: choose csv, esx, meraki or unifi"),
                                name=repr(filename))])
