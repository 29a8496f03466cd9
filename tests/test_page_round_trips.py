"""Every page a person opens reads the store in a bounded number of round trips: each GET route of the app (a light
app's on a zone that runs it), as a shopper, an operator and a zone owner, on the demo mall. A store read per item
listed (a show, a booking, an order) grows with the mall; on a real Valkey Cluster over a network each round trip is
a fraction of a millisecond the page waits, so such a read is batched (a pipeline, an MGET) and this walk finds the
one that is not: the demo's cinema alone lists some twenty-five shows. The counts are sends on the store's
connections (tests/store_sends.py), not time: the same on any machine."""

from __future__ import annotations

from collections import Counter

import pytest

from portal.apps import registry
from tests.security.test_route_fuzz import (  # noqa: F401 (small_live_estimates: a fixture)
    VENUE,
    ZONE_ARGS,
    _app_of_rule,
    _apps_of,
    _paths,
    app_of_blueprint,
    small_live_estimates,
    zones_for,
)
from tests.store_sends import store_sends

# The most round trips a page may make on the demo. The busiest pages on 2026-12-07: the privacy centre 31 (a read or
# two for each app's part of her data), the queue's console 29, Me 23 (26 before it read the zones' apps once),
# the owner's ledger 24 (two per merchant).
# Before they were batched, Me made 49 (a read of each show's hold) and the cinema's console sent 24 reads of one
# shape (each show's seats).
PAGE_BUDGET = 40
# The most times a page may send one shape of read on its own (a command on keys alike but for an id).
SAME_READ_BUDGET = 5
# Pages known to read once per item, with why (the README's *Tests* says so too): the ledger reads each merchant's
# book and its entries as one snapshot (portal/payments/store.py `merchant_snapshot`), a script and its pages a
# merchant. Only the shape check lets it off; its round trips count.
READ_PER_ITEM_KNOWN = {"/console/owner/demo/ledger"}
# Of the pages walked, how many must answer 200 in each role (28 as a shopper, 70 as the operator, 34 as the cinema's
# owner on 2026-12-07; the rest refuse the role or name no real item): a page that fails is cheap, and a walk of
# failures would pass.
ANSWERED_AT_LEAST = {"anonymous": 20, "ops": 55, "cinema": 25}


def _values(svc) -> dict[str, tuple[str, ...]]:
    """The demo's real values for the rules' variables: the first zone of each app the demo runs."""
    host_zones: dict[str, str] = {}
    for zone, name in _apps_of(svc, svc.venues.get_map(VENUE)).items():
        host_zones.setdefault(name, zone)
    return {"venue": (VENUE,), "venue_id": (VENUE,), "level": ("0",), "floor": ("0",), "lang": ("en",),
            **dict.fromkeys(ZONE_ARGS, tuple(host_zones.values()))}


def _page(rule, values: dict[str, tuple[str, ...]]) -> str | None:
    """The rule's path at its real values (None where a variable has none: nothing real to open)."""
    return next((path for path, real in _paths(rule, values)[:1] if real), None)


def _shape(send: bytes) -> str:
    """A send's first command and what it reads, any part of a key holding a digit folded (`HGETALL
    mp:{demo}:cinema:seats:*`; a script by its digest and first key, a SCAN by its pattern): the same shape sent
    again and again is a read per listed item. A part without a digit (a zone's name) stays: a read per zone is
    left to the page's budget, since folding every last part would also fold a page's distinct settings."""
    words = [word.decode(errors="replace") for word in send.split(b"\r\n")[2::2][:8]]
    if not words:
        return "?"
    command = words[0].upper()
    named = {"EVALSHA": words[1:2] + words[3:4], "EVAL": words[3:4], "SCAN": words[words.index("MATCH") + 1:][:1]
             if "MATCH" in words else []}.get(command, words[1:2])
    return " ".join([command, *(":".join("*" if any(c.isdigit() for c in part) else part for part in word.split(":"))
                                for word in named)])


def _round_trips(client, path: str, monkeypatch) -> tuple[int, int, str, int]:
    """(round trips, the most sends of one shape, that shape, the answer's status) of one GET of the page."""
    client.get(path)  # once before: a process's first look (the venue registry, a model's fit) is not the page's
    with store_sends(monkeypatch) as sent:
        status = client.get(path).status_code
    shapes = Counter(_shape(send) for send in sent)
    shape, repeats = shapes.most_common(1)[0] if shapes else ("", 0)
    return len(sent), repeats, shape, status


@pytest.mark.parametrize("role", ["anonymous", "ops", "cinema"])
def test_no_page_reads_the_store_once_per_item_it_lists(app, client, svc, demo, console, role, monkeypatch,
                                                        small_live_estimates):  # noqa: F811 (the fixture)
    if role != "anonymous":
        console.login(role)
    counts: dict[str, tuple[int, int, str, int]] = {}
    values, blueprints = _values(svc), app_of_blueprint(app)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint == "static" or "GET" not in (rule.methods or ()) or "logout" in rule.rule:
            continue
        app_name = _app_of_rule(rule, blueprints)
        if app_name is None:
            path = _page(rule, values)
            counts.update({path: _round_trips(client, path, monkeypatch)} if path else {})
            continue
        with zones_for(svc, registry.get(app_name)) as (on, _off):  # its page on a zone that runs it
            path = _page(rule, {**values, **dict.fromkeys(ZONE_ARGS, (on,))})
            counts.update({path: _round_trips(client, path, monkeypatch)} if path else {})
    answered = [path for path, (*_, status) in counts.items() if status == 200]
    assert len(answered) >= ANSWERED_AT_LEAST[role], sorted(counts.items())  # the walk reached working pages
    over = {path: n for path, (n, *_) in counts.items() if n > PAGE_BUDGET}
    repeated = {path: (repeats, shape) for path, (_n, repeats, shape, _status) in counts.items()
                if repeats > SAME_READ_BUDGET and path not in READ_PER_ITEM_KNOWN}
    busiest = sorted(((n, path) for path, (n, *_) in counts.items()), reverse=True)[:5]
    assert not over, f"pages over {PAGE_BUDGET} round trips: {over}; the busiest: {busiest}"
    assert not repeated, f"pages sending one read more than {SAME_READ_BUDGET} times, not batched: {repeated}"
