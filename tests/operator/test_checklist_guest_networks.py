"""The set-up checklist's guest networks step: a venue that names no `client_networks` is told what that means (a MAC
no gateway vouched for places a phone only from private addresses: right on the premises) and that a portal hosted
outside the mall must name the mall's public addresses; once named, the step is done and shows them."""

from __future__ import annotations

import html

from portal.captive.config import PortalConfigStore

V = "/console/ops/demo"


def step(client) -> tuple[str, str]:
    page = html.unescape(client.get(V + "/checklist").get_data(as_text=True))
    item = page.split('<li id="step-client_networks"', 1)[1].split("</li>\n", 1)[0]
    return ("done" if item.startswith(' class="done"') else "todo"), " ".join(item.split())


def test_unset_says_what_a_hosted_portal_must_set(client, ops, svc):
    state, words = step(client)
    assert state == "todo"
    assert "only in a request from a loopback, private, CGNAT, link-local or IPv6 unique-local address" in words
    assert "a portal hosted outside the mall: set `client_networks` to the mall's public (egress) addresses" in words
    assert "portal-config demo client_networks=" in words
    PortalConfigStore(svc.db).set("demo", {"client_networks": "203.0.113.7, 10.20.0.0/16"})
    state, words = step(client)
    assert state == "done" and "only in a request from 203.0.113.7, 10.20.0.0/16." in words


def test_only_the_venues_operator_sees_it(client, console):
    assert client.get(V + "/checklist").status_code in (302, 303)
    console.login("cinema")  # a zone owner
    assert client.get(V + "/checklist").status_code in (302, 303, 403)
