"""No HTML from data in any client script: a malicious `to_label` drawn by Leaflet stays text, in a real
Chromium against gunicorn (issue 14), and no script hands data to an HTML sink."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from core.settings import PROJECT_ROOT

PAYLOAD = '<img src=x onerror="window.__xss=1">'


@pytest.mark.browser
def test_malicious_to_label_is_text_in_the_leaflet_tooltip(page, live_server):
    query = urlencode({"from": "shop:kopi", "to": "1,60,10", "to_label": PAYLOAD})
    page.goto(f"{live_server.url}/v/demo/navigate?{query}")
    page.wait_for_selector("#steps")
    page.click("#zoom-map")
    page.wait_for_selector("#leaflet-1 path.route-line")
    markers = page.locator("#leaflet-1 path.leaflet-interactive:not(.route-line)")
    assert markers.count() >= 1
    tooltips = []
    for i in range(markers.count()):
        markers.nth(i).hover(force=True)
        page.wait_for_selector(".leaflet-tooltip")  # every marker has one (not a fixed 50 ms: a busy machine)
        tooltips += page.locator(".leaflet-tooltip").all_inner_texts()
    assert PAYLOAD in tooltips  # shown as the text it is
    assert page.locator(".leaflet-tooltip img").count() == 0
    assert page.evaluate("window.__xss") is None


@pytest.mark.browser
def test_pages_refuse_inline_script_that_lacks_the_nonce(page, live_server):
    """Even if markup got through, the CSP stops an injected inline script."""
    page.goto(f"{live_server.url}/v/demo/")
    page.evaluate("""() => { const s = document.createElement('script');
        s.textContent = 'window.__csp_broken = 1'; document.body.appendChild(s); }""")
    assert page.evaluate("window.__csp_broken") is None


SINKS = re.compile(r"\.(bindTooltip|bindPopup|setContent|setTooltipContent|setPopupContent)\(\s*(?!textOf\()"
                   r"|innerHTML|outerHTML|insertAdjacentHTML|document\.write")


def test_no_client_script_hands_data_to_an_html_sink():
    sources = [*PROJECT_ROOT.glob("static/*.js"), *PROJECT_ROOT.glob("templates/**/*.html"),
               *PROJECT_ROOT.glob("lightapps/*/templates/**/*.html")]
    offenders = [f"{p.relative_to(PROJECT_ROOT)}: {m.group(0)}" for p in sources
                 for m in SINKS.finditer(p.read_text(encoding="utf-8"))]
    assert offenders == []
