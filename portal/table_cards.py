"""Console tables that read as cards on a phone: the `cards` template filter (`{% filter cards %}<table>...
</table>{% endfilter %}`) puts each table it wraps in a `<div class="table-cards">` carrying its column headings as
CSS strings (`--cell1`, `--cell2`, ...); below 40rem static/portal.css lays each row out as a card, each cell after
its column's heading and the row's actions (the column under an empty heading) under them, so none sits off a
360 px screen. The headings are written once, in the header row, so a label cannot drift from its column, and the
table's own markup is left as it is. A cell is labelled by its place in the row (a cell across columns, a "none
yet" row, is not labelled, nor are the cells after it, whose places no longer match their columns); a table without a
header row (a heading per row: a figures table) is left alone, and so is one holding another table (its cards would
hold the inner table's rows). Under display:block WebKit (Safari, an iPhone's sign-in window) stops exposing a table as
one, so the wrapped tables' parts are given their roles in the browser (static/table-roles.js, named after them)
rather than in the markup, which stays byte for byte what the template wrote."""

from __future__ import annotations

import re

from flask import has_request_context, url_for
from markupsafe import Markup, escape

MAX_COLUMNS = 12  # static/portal.css labels this many columns
ROLES_SCRIPT = "table-roles.js"
# Up to the first </table>: around a nested table that is the inner one's end, so a match holding a second
# <table (_INNER) is left as it is rather than wrapped with its closing </div> inside the outer table.
_TABLE = re.compile(r"<table\b.*?</table>", re.S | re.I)
_INNER = re.compile(r"<table\b", re.I)
_FIRST_ROW = re.compile(r"<tr\b.*?</tr>", re.S | re.I)
_HEADING = re.compile(r"<th\b([^>]*)>(.*?)</th>", re.S | re.I)
_DATA_CELL = re.compile(r"<td\b", re.I)
_SPAN = re.compile(r"""\bcolspan\s*=\s*["']?(\d+)""", re.I)


def cards(html: str) -> Markup:
    """`html` with each of its tables that has a header row wrapped for the phone's card layout. A plain str is text,
    escaped like any other value Jinja prints; only Markup (a template's own `{% filter %}` body) is kept as HTML."""
    source = str(escape(html))
    out = _TABLE.sub(lambda table: _wrapped(table.group(0)), source)
    return Markup(out + _roles_script() if out != source else out)


def _roles_script() -> str:
    """The script naming the wrapped tables' roles (static/table-roles.js; a module, run once however many tables
    name it). Outside a request (a template rendered on its own) there is no page for it: nothing."""
    if not has_request_context():
        return ""
    return f'<script type="module" src="{escape(url_for("static", filename=ROLES_SCRIPT))}"></script>'


def _wrapped(table: str) -> str:
    if _INNER.search(table, 1):
        return table  # a nested table: the match ends inside the outer one
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
        labels += [Markup(inner).striptags()] * (max(1, int(span.group(1))) if span else 1)
    return labels


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
