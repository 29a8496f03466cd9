"""Pages that update themselves (templates/_auto_refresh.html) bring in marked regions instead of reloading, so a
field being typed in and the focus survive (WCAG 2.2.1, 3.2): each such page marks its regions, and the queue's
ticket is a polite live region whose page title says when the number is called."""

from __future__ import annotations

import re

from core.settings import PROJECT_ROOT
from lightapps.queue.store import QueueStore
from lightapps.queue.tests.test_queue_shopper_views import shopper, take  # noqa: F401 - fixture

INCLUDE = '{% include "_auto_refresh.html" %}'


def pages_that_update_themselves() -> dict[str, str]:
    found = {}
    for path in [*PROJECT_ROOT.glob("templates/**/*.html"), *PROJECT_ROOT.glob("lightapps/*/templates/**/*.html")]:
        text = path.read_text()
        if INCLUDE in text:
            found[str(path.relative_to(PROJECT_ROOT))] = text
    return found


def test_every_page_that_updates_itself_marks_its_regions_with_ids():
    pages = pages_that_update_themselves()
    assert len(pages) >= 8, sorted(pages)
    for name, text in pages.items():
        tags = re.findall(r"<[a-z]+\b[^>]*\bdata-updates\b[^>]*>", text)
        assert tags, f"{name} updates itself but marks no region (data-updates)"
        for tag in tags:
            assert re.search(r'\bid="[^"]+"', tag), f"{name}: a region without an id: {tag}"
    box = (PROJECT_ROOT / "templates" / "_auto_refresh.html").read_text()
    assert "location.replace(box.dataset.url)" not in box and "DOMParser" in box


def test_the_ticket_is_a_live_region_and_the_title_says_called(client, demo, db, shopper):  # noqa: F811 - fixture
    location = take(client, shopper).headers["Location"]
    page = client.get(location).get_data(as_text=True)
    ticket = re.search(r'<section[^>]*id="ticket"[^>]*>', page).group(0)
    assert "data-updates" in ticket and 'aria-live="polite"' in ticket
    assert "<title>Called" not in page
    QueueStore(db).call_next("demo", "jade", "A")
    page = client.get(location).get_data(as_text=True)
    assert re.search(r"<title>Called A001\. · ", page), re.search(r"<title>.*</title>", page).group(0)
