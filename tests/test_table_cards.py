"""The `cards` template filter (portal/table_cards.py): a console table with a header row is wrapped with its
headings as CSS strings, one per column, for the phone's card layout; its own markup is kept byte for byte (the
console tests read it); a table with a heading per row is left alone, and so is a table holding another. On a phone
each cell reads after its column's heading, and no cell after a cell across columns borrows another column's."""

from __future__ import annotations

import re

import pytest
from markupsafe import Markup

from core.settings import PROJECT_ROOT
from portal.table_cards import MAX_COLUMNS, cards

CSS = (PROJECT_ROOT / "static" / "portal.css").read_text()

TABLE = ('<table class="compact" id="t"><thead><tr><th>Time</th><th>Guest &amp; <abbr>co</abbr></th>'
         '<th colspan="2">Seats</th><th></th></tr></thead><tbody><tr><td>12:00</td><td>Wong</td><td>1</td><td>2</td>'
         '<td><button>Cancel</button></td></tr></tbody></table>')


def test_a_table_is_wrapped_with_its_headings_one_per_column():
    out = cards(Markup(f"<p>before</p>{TABLE}<p>after</p>"))
    assert isinstance(out, Markup)
    assert out == ('<p>before</p><div class="table-cards" style="--cell1:&#34;Time&#34;;'
                   '--cell2:&#34;Guest &amp; co&#34;;--cell3:&#34;Seats&#34;;--cell4:&#34;Seats&#34;">'
                   f"{TABLE}</div><p>after</p>")  # the empty heading (the actions) names nothing


def test_a_heading_cannot_break_out_of_its_css_string():
    out = cards(Markup('<table><tr><th>a "b" \\ c</th></tr><tr><td>1</td></tr></table>'))
    assert 'style="--cell1:&#34;a \\&#34;b\\&#34; \\\\ c&#34;"' in out


def test_a_plain_string_is_text_not_markup():
    out = cards('<img src=x onerror="alert(1)"><table><tr><th>a</th></tr></table>')
    assert out == ("&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"
                   "&lt;table&gt;&lt;tr&gt;&lt;th&gt;a&lt;/th&gt;&lt;/tr&gt;&lt;/table&gt;")


def test_a_table_holding_another_is_left_alone():
    nested = "<table><tr><th>Zone</th></tr><tr><td><table><tr><th>Hour</th></tr></table></td></tr></table>"
    after = "<table><tr><th>Shop</th></tr></table>"
    wrapped = f'<div class="table-cards" style="--cell1:&#34;Shop&#34;">{after}</div>'
    assert cards(Markup(nested + after)) == nested + wrapped


def test_a_table_with_a_heading_per_row_is_left_alone():
    figures = Markup("<table><tr><th>Zone hit rate</th><td>91%</td></tr>"
                     "<tr><th>Floor hit rate</th><td>99%</td></tr></table>")
    assert cards(figures) == figures


def test_only_the_columns_the_stylesheet_labels_are_named():
    wide = Markup("<table><tr>" + "".join(f"<th>h{i}</th>" for i in range(1, 20)) + "</tr></table>")
    assert f"--cell{MAX_COLUMNS}:" in cards(wide) and f"--cell{MAX_COLUMNS + 1}:" not in cards(wide)


def test_the_stylesheet_labels_as_many_columns_as_the_filter_names():
    assert f"var(--cell{MAX_COLUMNS},none)" in CSS and f"var(--cell{MAX_COLUMNS + 1}," not in CSS


# operator/versions.html: a version whose map is gone spans the four figures' columns, then come its actions
SPANNING = ("<table><thead><tr><th>Version</th><th>Floors</th><th>APs</th><th>Zones</th><th>Points</th><th></th></tr>"
            '</thead><tbody><tr><td>v2</td><td colspan="4">…</td><td><button>Make current</button></td></tr>'
            "<tr><td>v3</td><td>1</td><td>8</td><td>5</td><td>40</td><td><button>Make current</button></td></tr>"
            "</tbody></table>")


@pytest.mark.browser
def test_no_cell_after_a_cell_across_columns_borrows_a_heading(browser):
    """On a phone (the stylesheet's card layout) the row with a spanning cell labels its first cell only: its
    actions, third in the row, are not called "APs"; a full row is labelled column by column."""
    context = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        page.set_content(f"<style>{CSS}</style>{cards(Markup(SPANNING))}")
        labels = page.locator("tbody tr").evaluate_all(
            "rows => rows.map(r => [...r.cells].map(c => getComputedStyle(c, '::before').content))")
    finally:
        context.close()
    assert labels == [['"Version"', "none", "none"],
                      ['"Version"', '"Floors"', '"APs"', '"Zones"', '"Points"', "none"]]


def test_a_page_with_a_wrapped_table_loads_the_script_naming_its_roles(app):
    """In a request, the filter's answer ends with the module that names the wrapped tables' roles for WebKit
    (static/table-roles.js), at its versioned URL; nothing wrapped, nothing loaded; the table's markup as it was."""
    with app.test_request_context("/"):
        out = cards(Markup(TABLE))
        alone = Markup("<table><tr><th>Zone hit rate</th><td>91%</td></tr></table>")
        assert cards(alone) == alone
    script = re.fullmatch(r'<div class="table-cards" style="[^"]*">(.*)</div>'
                          r'<script type="module" src="/static/table-roles\.js\?v=\w+"></script>', out, re.S)
    assert script is not None and script.group(1) == TABLE, out
