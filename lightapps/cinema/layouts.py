"""Auditorium seat layouts, and the checks on a selection that need no stored state.

A layout is a list of rows written as strings, one character per grid column:

    s  standard seat          w  wheelchair space
    c  couple seat            m  companion seat (beside a wheelchair space)
    _  aisle or gap (no seat)

Seats are numbered 1..n from the left of each row as seen facing the screen, skipping gaps: `A1`, `A2`...
Couple seats pair up left to right within each run of couple seats (so a run must be even) and are only
ever sold as a pair. All rows of a layout have the same width so the grid lines up.

The no-orphan-single-seat rule needs the live seat states, so it is checked atomically inside the hold
script (`lightapps.cinema.store`); this module only supplies the seat runs it applies to
(`Layout.orphan_runs`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.errors import N_

MAX_SEATS_PER_HOLD = 8
SEAT_KINDS = {"s": "standard", "c": "couple", "w": "wheelchair", "m": "companion"}
_SEAT_ID = re.compile(r"^[A-Z][1-9][0-9]?$")


@dataclass(frozen=True)
class Seat:
    id: str
    row: str
    number: int
    kind: str  # standard | couple | wheelchair | companion
    partner: str | None = None  # couple seats: the other seat of the pair


@dataclass(frozen=True)
class Row:
    label: str
    cells: tuple[Seat | None, ...]  # None is an aisle / gap


@dataclass(frozen=True)
class Layout:
    key: str
    rows: tuple[Row, ...]
    seats: dict[str, Seat] = field(default_factory=dict, compare=False)
    order: dict[str, int] = field(default_factory=dict, compare=False)
    # Runs of adjacent standard seats (aisles, row ends and non-standard seats end a run): the no-orphan
    # rule is applied within these.
    orphan_runs: tuple[tuple[str, ...], ...] = ()

    @property
    def capacity(self) -> int:
        return len(self.seats)

    @property
    def width(self) -> int:
        return len(self.rows[0].cells) if self.rows else 0

    def runs_touching(self, seat_ids) -> list[list[str]]:
        """The orphan-rule runs that contain at least one of these seats."""
        wanted = set(seat_ids)
        return [list(run) for run in self.orphan_runs if wanted.intersection(run)]


def build_layout(key: str, spec: dict[str, str]) -> Layout:
    """Layout from {row label: row string}; ValueError on a malformed spec (checked at import)."""
    rows: list[Row] = []
    seats: dict[str, Seat] = {}
    runs: list[tuple[str, ...]] = []
    widths = {len(s) for s in spec.values()}
    if len(widths) != 1:
        raise ValueError(f"layout {key}: rows differ in width")
    for label, text in spec.items():
        cells: list[Seat | None] = []
        number = 0
        run: list[str] = []
        couple_run: list[str] = []
        for ch in text + "_":  # a sentinel gap closes the last run
            if ch != "s" and run:
                runs.append(tuple(run))
                run = []
            if ch != "c" and couple_run:
                if len(couple_run) % 2:
                    raise ValueError(f"layout {key} row {label}: odd run of couple seats")
                couple_run = []
            if ch == "_":
                cells.append(None)
                continue
            if ch not in SEAT_KINDS:
                raise ValueError(f"layout {key} row {label}: unknown seat kind {ch!r}")
            number += 1
            seat_id = f"{label}{number}"
            partner = None
            if ch == "c":  # pairs run left to right: the odd one of a run pairs with the next seat
                couple_run.append(seat_id)
                partner = f"{label}{number + 1}" if len(couple_run) % 2 else f"{label}{number - 1}"
            elif ch == "s":
                run.append(seat_id)
            seat = Seat(seat_id, label, number, SEAT_KINDS[ch], partner)
            seats[seat_id] = seat
            cells.append(seat)
        rows.append(Row(label, tuple(cells[:-1])))  # drop the sentinel
    order = {seat_id: i for i, seat_id in enumerate(seats)}
    return Layout(key, tuple(rows), seats, order, tuple(runs))


@dataclass(frozen=True)
class Auditorium:
    id: str
    name_en: str
    name_zh: str
    layout: Layout


_LARGE = build_layout("large", {
    "A": "sss_ssssssss_sss",
    "B": "sss_ssssssss_sss",
    "C": "sss_ssssssss_sss",
    "D": "sss_ssssssss_sss",
    "E": "sss_ssssssss_sss",
    "F": "sss_ssssssss_sss",
    "G": "wms_ssssssss_smw",
    "H": "_cc_cccccccc_cc_",
})

_SMALL = build_layout("small", {
    "A": "sssss_sssss",
    "B": "sssss_sssss",
    "C": "sssss_sssss",
    "D": "sssss_sssss",
    "E": "wmsss_sssmw",
    "F": "cccc___cccc",
})

AUDITORIUMS: dict[str, Auditorium] = {
    "1": Auditorium("1", "Hall 1", "1号厅", _LARGE),
    "2": Auditorium("2", "Hall 2", "2号厅", _SMALL),
    "3": Auditorium("3", "Hall 3", "3号厅", _SMALL),
}



class SelectionError(ValueError):
    """A selection that can never be held, whatever the seat states: unknown seat, too many, split pair.
    `template % params` is the English text (`message`); a page shows `_(template, **params)`."""

    def __init__(self, template: str, seat: str | None = None, **params: object) -> None:
        self.template, self.params = template, params
        self.message = template % params if params else template
        super().__init__(self.message)
        self.seat = seat


def parse_selection(layout: Layout, raw_values, max_seats: int = MAX_SEATS_PER_HOLD) -> list[str]:
    """Form values (each a seat id, or a couple pair "H1+H2") -> seat ids in layout order.

    Raises SelectionError for: nothing picked, a seat not in this auditorium, more than `max_seats`
    seats, or one seat of a couple pair without its partner."""
    picked: list[str] = []
    for value in raw_values:
        for part in str(value).split("+"):
            seat_id = part.strip().upper()
            if not seat_id:
                continue
            if len(seat_id) > 4 or not _SEAT_ID.match(seat_id) or seat_id not in layout.seats:
                raise SelectionError(N_("There is no seat %(seat_id)s in this auditorium."), seat_id[:8],
                                     seat_id=seat_id[:8])
            if seat_id not in picked:
                picked.append(seat_id)
        if len(picked) > max_seats:
            break
    if not picked:
        raise SelectionError(N_("Pick at least one seat."))
    if len(picked) > max_seats:
        raise SelectionError(N_("At most %(n)s seats per booking."), n=max_seats)
    chosen = set(picked)
    for seat_id in picked:
        seat = layout.seats[seat_id]
        if seat.kind == "couple" and seat.partner not in chosen:
            raise SelectionError(N_("Couple seats are sold in pairs: %(seat_id)s goes with %(partner)s."), seat_id,
                                 seat_id=seat_id, partner=seat.partner)
    return sorted(picked, key=layout.order.__getitem__)
