"""The set-up checklist's guest networks step once the operator says `client_networks=on-premises`: done, and it says
what a hosted portal would do instead; not done where a gateway setting names a public address (a portal that sees
its gateways there is hosted outside the mall, and sees its guests there too: they would land on the mall home)."""

from __future__ import annotations

import pytest

from portal.captive.config import PortalConfigStore
from tests.operator.test_checklist_guest_networks import step


def test_unset_offers_on_premises(client, ops):
    state, words = step(client)
    assert state == "todo" and "a portal on the premises: set it to `on-premises` (or to the guest networks)" in words


def test_on_premises_is_done(client, ops, svc):
    PortalConfigStore(svc.db).set("demo", {"client_networks": "on-premises", "wifidog_gateways": "10.0.0.1"})
    state, words = step(client)
    assert state == "done"
    assert "On the premises (`on-premises`): a MAC no gateway vouched for places a phone only in a request from a " \
           "loopback, private" in words
    assert "Were this portal hosted outside the mall, its guests would land on the mall home" in words


@pytest.mark.parametrize("setting", ["wifidog_gateways", "opennds_authmon_from"])
def test_on_premises_with_gateways_at_public_addresses_is_not_done(client, ops, svc, setting):
    PortalConfigStore(svc.db).set("demo", {"client_networks": "on-premises", setting: "10.0.0.1, 203.0.113.7"})
    state, words = step(client)
    assert state == "todo"
    assert f"Set to `on-premises`, but `{setting}` names 203.0.113.7/32: the portal sees its gateways at public" \
           in words and "they land on the mall home" in words
    assert "set `client_networks` to the mall's public (egress) addresses" in words
