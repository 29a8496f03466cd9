"""The `cards` template filter (portal/table_cards.py): a console table with a header row is wrapped with its
headings as CSS strings, one per column, for the phone's card layout; its own markup is kept byte for byte (the
console tests read it); a table with a heading per row is left alone."""

from __future__ import annotations

from markupsafe import Markup

from core.settings import PROJECT_ROOT
from portal.table_cards import MAX_COLUMNS, cards

TABLE = ('<table class="compact" id="t"><thead><tr><th>Time</th><th>Guest &amp; <abbr>co</abbr></th>'
         '<th colspan="2">Seats</th><th></th></tr></thead><tbody><tr><td>12:00</td><td>Wong</td><td>1</td><td>2</td>'
         '<td><button>Cancel</button></td></tr></tbody></table>')


def test_a_table_is_wrapped_with_its_headings_one_per_column():
    out = cards(Markup(f"<p>before</p>{TABLE}<p>after</p>"))
    assert isinstance(out, Markup)
    assert out == ('<p>before</p><div class="table-cards" style="--cell1:&quot;Time&quot;;'
                   '--cell2:&quot;Guest &amp; co&quot;;--cell3:&quot;Seats&quot;;--cell4:&quot;Seats&quot;">'
                   f"{TABLE}</div><p>after</p>")  # the empty heading (the actions) names nothing


def test_a_heading_cannot_break_out_of_its_css_string():
    out = cards('<table><tr><th>a "b" \\ c</th></tr><tr><td>1</td></tr></table>')
    assert 'style="--cell1:&quot;a \\&quot;b\\&quot; \\\\ c&quot;"' in out


def test_a_table_with_a_heading_per_row_is_left_alone():
    figures = "<table><tr><th>Zone hit rate</th><td>91%</td></tr><tr><th>Floor hit rate</th><td>99%</td></tr></table>"
    assert cards(figures) == figures


def test_only_the_columns_the_stylesheet_labels_are_named():
    wide = "<table><tr>" + "".join(f"<th>h{i}</th>" for i in range(1, 20)) + "</tr></table>"
    assert f"--cell{MAX_COLUMNS}:" in cards(wide) and f"--cell{MAX_COLUMNS + 1}:" not in cards(wide)


def test_the_stylesheet_labels_as_many_columns_as_the_filter_names():
    css = (PROJECT_ROOT / "static" / "portal.css").read_text()
    assert f"var(--cell{MAX_COLUMNS},none)" in css and f"var(--cell{MAX_COLUMNS + 1}," not in css
