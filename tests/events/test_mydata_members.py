"""The privacy centre finds a member's records by her member number, which it asks of the platform's "members"
capability (portal/apps/capabilities.py), naming no app: her other device (another shopper id, which no phone the
gateway vouched for links to this one) wrote an event naming her member number and got a rule's offer; her export
shows the offer, and her erasure takes the event and the offer. With the bundled membership app, and with a test app
that keeps its cards under a field of its own (tests/fixtures_apps/cards)."""

from __future__ import annotations

import time

import pytest
from werkzeug.datastructures import MultiDict

from portal import create_app
from portal.apps import registry
from portal.events.moments import parse_rule
from portal.seed import ensure_demo_mall
from portal.shopper import Shopper, shopper_token

CARDS = "tests.fixtures_apps.cards"
MEMBERSHIP = "lightapps.membership"


@pytest.fixture
def cards_app(settings, db, demo_map, monkeypatch):
    """The portal with the cards app in membership's place (two apps may not provide one capability)."""
    # The registry is process-wide: this portal starts it empty, as a new process does, and gives it back after.
    monkeypatch.setattr(registry, "_REGISTRY", {})
    monkeypatch.setattr(registry, "_PARTS", {})
    apps = (*(name for name in settings.light_apps if name != MEMBERSHIP), CARDS)
    app = create_app(settings.with_(light_apps=apps))
    with app.app_context():
        ensure_demo_mall(app.extensions["mallportal"], "demo", demo_map)
    yield app
    app.extensions["mallportal"].close(timeout_s=10)


def her_other_device_acts_as(svc, member: str) -> None:
    """On her other device she shows herself as the member; a first-visit offer rule fires for it."""
    svc.consent.record("demo", "s-other", location=True, marketing=True)
    svc.moments.save("demo", parse_rule(MultiDict({
        "name": "welcome", "trigger": "first_visit", "zone": "", "action": "offer", "message_en": "Hi"}),
        zones=["kopi"], owner="ops", may_webhook=True))
    svc.events.emit("demo", "txn", at=time.time() - 60, shopper="s-other", zone="kopi", app="loyalty",
                    action="member_login", member=member)
    svc.moments.ensure("demo", start="0")
    svc.moments.tick("demo")
    assert [d.action for d in svc.moments.deliveries("demo")] == ["offer"]


def export_then_erase(app, svc, member: str) -> None:
    client = app.test_client()
    with app.app_context():
        token = shopper_token(Shopper("demo", "s-me"))
    data = client.get(f"/v/demo/my-data/export.json?c={token}").get_json()
    assert [(d["shopper"], d["member"]) for d in data["moments"]] == [("s-other", member)]
    assert client.post("/v/demo/my-data/erase", data={"confirm": "1", "c": token}).status_code == 200
    assert [e for e in svc.events.read("demo") if e.shopper == "s-other"] == []
    assert svc.moments.deliveries("demo") == []


def test_the_bundled_membership_apps_member_is_found_on_her_other_device(app, svc, demo):
    members = app.extensions["light_app_stores"]["membership"]
    member = members.bind("demo", "+8613800138002", "s-me")[0]
    assert members.bind("demo", "+8613800138002", "s-other")[0].id == member.id  # her other device
    her_other_device_acts_as(svc, member.id)
    export_then_erase(app, svc, member.id)


def test_any_app_providing_members_is_asked_and_none_is_named(cards_app):
    svc = cards_app.extensions["mallportal"]
    assert registry.get("membership") is None
    cards_app.extensions["light_app_stores"]["cards"].join("demo", "s-me", "C-77")
    her_other_device_acts_as(svc, "C-77")
    export_then_erase(cards_app, svc, "C-77")
