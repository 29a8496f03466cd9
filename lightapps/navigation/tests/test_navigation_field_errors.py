"""Each refused field of the route form names its own error (WCAG 3.3.1) and the first refused field on the form
takes the focus, whichever order the errors are listed in."""

from __future__ import annotations

import re


def tag(html: str, pattern: str) -> str:
    return re.search(pattern, html).group(0)


def test_every_refused_field_names_its_error(client, demo):
    resp = client.get("/v/demo/navigate", query_string={"from": "shop:nope", "to": "9,1,1", "accessible": "x"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    ids = dict(re.findall(r'<p class="error" id="(route-error[^"]*)" role="alert" data-field="(\w+)"', html))
    assert ids == {"route-error": "accessible", "route-error-from": "from", "route-error-to": "to"}
    assert tag(html, r'<select id="from"[^>]*>').endswith(
        'aria-invalid="true" aria-describedby="route-error-from" autofocus>')  # first on the form
    assert tag(html, r'<select id="to"[^>]*>').endswith('aria-invalid="true" aria-describedby="route-error-to">')
    assert tag(html, r'<input type="checkbox" name="accessible"[^>]*>').endswith(
        'aria-invalid="true" aria-describedby="route-error">')


def test_a_route_shown_marks_nothing(client, demo):
    html = client.get("/v/demo/navigate", query_string={"from": "shop:kopi", "to": "shop:pixel"}).get_data(as_text=True)
    assert "aria-invalid" not in html and "autofocus" not in html
