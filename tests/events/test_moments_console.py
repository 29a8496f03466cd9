"""Moment rules in the operator and zone-owner consoles (Flask test client): create, bad input (422,
nothing stored), who may make what (owners: their zones, no webhooks), pause, the delivery log, replay."""

from __future__ import annotations

import time


def form(csrf, **over):
    data = {"csrf_token": csrf, "name": "Coffee hello", "trigger": "zone_enter", "zone": "kopi", "action": "offer",
            "message_en": "10% off today", "cap_per_day": "1", "cooldown_h": "12", "budget": "0"}
    data.update(over)
    return data


def test_operator_creates_pauses_and_sees_deliveries(client, console, svc):
    console.login("ops")
    csrf = console.csrf()
    assert client.post("/console/ops/demo/moments", data=form(csrf, trigger="nope")).status_code == 422
    assert client.post("/console/ops/demo/moments", data=form(csrf, action="webhook",
                                                              webhook_url="ftp://x")).status_code == 422
    assert svc.moments.rules("demo") == []
    assert client.post("/console/ops/demo/moments", data=form(csrf)).status_code == 303
    [rule] = svc.moments.rules("demo")
    svc.moments.ensure("demo", start="0")
    svc.events.emit("demo", "landing", at=time.time(), device="d1", shopper="s-1", zone="atrium")
    svc.events.emit("demo", "zone_enter", at=time.time(), device="d1", zone="kopi")
    svc.moments.tick("demo")
    page = client.get("/console/ops/demo/moments").get_data(as_text=True)
    assert f'data-rule="{rule.id}"' in page and 'class="fired">1' in page and 'id="webhook-secret"' in page
    [d] = svc.moments.deliveries("demo")
    assert f'data-delivery="{d.id}"' in page
    assert f'data-delivery="{d.id}"' not in client.get("/console/ops/demo/moments?status=failed").get_data(as_text=True)
    assert client.post(f"/console/ops/demo/moments/replay/{d.id}", data={"csrf_token": csrf}).status_code == 303
    assert client.post("/console/ops/demo/moments/replay/nope", data={"csrf_token": csrf}).status_code == 404
    assert client.post(f"/console/ops/demo/moments/{rule.id}/active", data={"csrf_token": csrf,
                                                                          "active": "0"}).status_code == 303
    assert svc.moments.rule("demo", rule.id).active is False
    assert client.post(f"/console/ops/demo/moments/{rule.id}/active", data={"active": "1"}).status_code == 400


def test_owner_makes_rules_for_its_zones_only(client, console, svc):
    assert client.get("/console/owner/demo/moments").status_code == 302
    console.login("kopi")
    csrf = console.csrf()
    assert client.post("/console/owner/demo/moments", data=form(csrf, zone="books")).status_code == 422
    assert client.post("/console/owner/demo/moments", data=form(csrf, action="webhook",
                                                                webhook_url="http://x/")).status_code == 422
    assert client.post("/console/owner/demo/moments", data=form(csrf, trigger="arrive", zone="")).status_code == 422
    assert svc.moments.rules("demo") == []
    assert client.post("/console/owner/demo/moments", data=form(csrf)).status_code == 303
    assert [r.owner for r in svc.moments.rules("demo")] == ["kopi"]
    assert 'data-rule="' in client.get("/console/owner/demo/moments").get_data(as_text=True)
    assert client.get("/console/ops/demo/moments").status_code == 403
