"""The set-up checklist's guest networks step, once `client_networks` names the mall's public NAT address: it says
that the per-address abuse budgets do not count there (portal/apps/budgets.py `shared_address`) and what holds a
phone back instead; a portal on the premises (private networks only) is told nothing of it."""

from __future__ import annotations

from portal.captive.config import PortalConfigStore
from tests.operator.test_checklist_guest_networks import step

SHARED = "the per-address abuse budgets do not count there"


def test_a_public_address_in_client_networks_is_said_to_count_no_per_address_budget(client, ops, svc):
    PortalConfigStore(svc.db).set("demo", {"client_networks": "203.0.113.7, 10.20.0.0/16"})
    state, words = step(client)
    assert state == "done" and "203.0.113.7: public addresses, the mall's NAT" in words and SHARED in words
    assert "10.20.0.0/16:" not in words  # a private network keeps its per-address budgets
    assert "its device budget" in words and "shopper budget" in words and "shared ceilings" in words


def test_private_networks_alone_say_nothing_of_it(client, ops, svc):
    PortalConfigStore(svc.db).set("demo", {"client_networks": "10.20.0.0/16, 100.64.0.0/10, 2001:db8::/32"})
    state, words = step(client)
    assert state == "done" and SHARED not in words
