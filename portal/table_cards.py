"""Console tables that read as cards on a phone: the `cards` template filter (`{% filter cards %}<table>...
</table>{% endfilter %}`) puts each table it wraps in a `<div class="table-cards">` carrying its column headings as
CSS strings (`--cell1`, `--cell2`, ...); below 40rem static/portal.css lays each row out as a card, each cell after
its column's heading and the row's actions (the column under an empty heading) under them, so none sits off a
360 px screen. The headings are written once, in the header row, so a label cannot drift from its column, and the
table's own markup is left as it is. A cell is labelled by its place in the row (a cell across columns, a "none
yet" row, is not labelled); a table without a header row (a heading per row: a figures table) is left alone."""

from __future__ import annotations

import re
from html import escape, unescape

from markupsafe import Markup

MAX_COLUMNS = 12  # static/portal.css labels this many columns
_TABLE = re.compile(r"<table\b.*?</table>", re.S | re.I)  # console tables hold no nested table
_FIRST_ROW = re.compile(r"<tr\b.*?</tr>", re.S | re.I)
_HEADING = re.compile(r"<th\b([^>]*)>(.*?)</th>", re.S | re.I)
_DATA_CELL = re.compile(r"<td\b", re.I)
_TAG = re.compile(r"<[^>]*>")
_SPAN = re.compile(r"""\bcolspan\s*=\s*["']?(\d+)""", re.I)


def cards(html: str) -> Markup:
    """`html` with each of its tables that has a header row wrapped for the phone's card layout."""
    return Markup(_TABLE.sub(lambda table: _wrapped(table.group(0)), str(html)))


def _wrapped(table: str) -> str:
    first = _FIRST_ROW.search(table)
    if first is None or _DATA_CELL.search(first.group(0)):
        return table  # the first row holds data: headings per row (or none), nothing to label
    labels = _headings(first.group(0))[:MAX_COLUMNS]
    cells = ";".join(f"--cell{i}:{_css_string(text)}" for i, text in enumerate(labels, 1) if text)
    return f'<div class="table-cards" style="{escape(cells)}">{table}</div>'


def _headings(row: str) -> list[str]:
    """The header row's texts, one per column (a heading across columns names each of them)."""
    labels = []
    for attrs, inner in _HEADING.findall(row):
        span = _SPAN.search(attrs)
        labels += [" ".join(unescape(_TAG.sub("", inner)).split())] * (max(1, int(span.group(1))) if span else 1)
    return labels


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
