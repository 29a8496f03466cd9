"""What a "CSV" an operator saves really is: the field separator, and numbers with a decimal comma.

Excel in a European locale (de, fr, nl, es, ...) saves "CSV" separated by `;`, because the comma is its decimal
separator, and "Text (tab delimited)" with tabs. Read as comma-separated such a file is one column per line, and
the importers then said "missing column(s) building, floor, ..." of a header that has them all."""

from __future__ import annotations

import re

SEPARATORS = (",", ";", "\t")
_DECIMAL_COMMA = re.compile(r"[+-]?\d+,\d+")


def delimiter(text: str) -> str:
    """The field separator, read off the header line: a comma unless that line has none and has semicolons or
    tabs (the more frequent of the two). Every layout read with it has several columns, so a comma-separated
    header always has a comma and such a file is never read otherwise."""
    head = re.split(r"\r\n|\r|\n", text, maxsplit=1)[0]
    if "," in head:
        return ","
    counts = {sep: head.count(sep) for sep in SEPARATORS[1:]}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def decimal_point(cell: str, separator: str) -> str:
    """A cell of a `;`-separated file with a decimal comma ("12,5", Excel's way where `;` separates) written with
    a decimal point, as float() reads it; any other cell as it is. Only there: in a comma- or tab-separated file
    "1,234" may be a thousands separator."""
    if separator == ";" and _DECIMAL_COMMA.fullmatch(cell.strip()):
        return cell.replace(",", ".")
    return cell
