"""A zone owner's moments page shows each rule's fire count k-safely ("<5" for 1-4), as its preview; the
operator's page keeps the raw count (its delivery log lists every firing anyway)."""

from __future__ import annotations

import re
import time


def fire_once(client, console, svc) -> None:
    console.login("kopi")
    data = {"csrf_token": console.csrf(), "name": "Hello kopi", "trigger": "zone_enter", "zone": "kopi",
            "action": "offer", "message_en": "hi", "cap_per_day": "1", "cooldown_h": "12", "budget": "0"}
    assert client.post("/console/owner/demo/moments", data=data).status_code == 303
    svc.moments.ensure("demo", start="0")
    svc.consent.record("demo", "s-1", location=True, marketing=True)
    svc.events.emit("demo", "landing", at=time.time(), device="d1", shopper="s-1", zone="atrium")
    svc.events.emit("demo", "zone_enter", at=time.time(), device="d1", zone="kopi")
    svc.moments.tick("demo")
    [rule] = svc.moments.rules("demo")
    assert svc.moments.fired("demo") == {rule.id: 1}


def fired_cells(page: str) -> list[str]:
    return re.findall(r'class="fired">([^<]*)<', page)


def test_the_owner_sees_a_fire_count_below_k_as_such(client, console, svc):
    fire_once(client, console, svc)
    page = client.get("/console/owner/demo/moments").get_data(as_text=True)
    assert fired_cells(page) == ["&lt;5"]


def test_the_operator_sees_the_raw_count(client, console, svc):
    fire_once(client, console, svc)
    console.logout()
    console.login("ops")
    page = client.get("/console/ops/demo/moments").get_data(as_text=True)
    assert fired_cells(page) == ["1"]
