"""Saving a zone's settings, or a shop's text, unchanged writes nothing: no audit entry (repeated no-op saves
would push real changes out of the venue's bounded audit log), no new zone-app table version."""

from __future__ import annotations

from portal.apps.zone_apps import ZoneAppKeys
from portal.auth import AuditLog

CINEMA = "/console/owner/demo/zone/cinema"
SETTINGS = {"app": "cinema", "hold_minutes": "10", "refund_cutoff_minutes": "60", "headline_en": "Hi",
            "headline_zh": "你好"}


def zone_entries(svc) -> list[dict]:
    return [e for e in AuditLog(svc.db).recent("demo", 1000) if e["action"].startswith("zone.")]


def table_version(svc) -> bytes | None:
    return svc.db.get(ZoneAppKeys("demo").version())


def test_an_unchanged_save_writes_no_audit_entry_and_no_version(client, console, svc):
    console.login("cinema")
    assert client.post(CINEMA, data={"csrf_token": console.csrf(), **SETTINGS}).status_code == 303
    [first] = zone_entries(svc)
    assert first["action"] == "zone.config.set" and first["detail"]["changed"]["hold_minutes"] == 10
    version = table_version(svc)
    for _ in range(5):
        resp = client.post(CINEMA + "?lang=en", data={"csrf_token": console.csrf(), **SETTINGS})
        assert resp.status_code == 303 and resp.headers["Location"].endswith(CINEMA)
    assert zone_entries(svc) == [first] and table_version(svc) == version
    page = client.get(CINEMA + "?lang=en").get_data(as_text=True)
    assert "Nothing to save: the settings are as they were." in page

    changed = {**SETTINGS, "hold_minutes": "12"}  # a real change is still saved and audited, once
    assert client.post(CINEMA, data={"csrf_token": console.csrf(), **changed}).status_code == 303
    latest, earlier = zone_entries(svc)
    assert earlier == first and latest["detail"]["changed"] == {"hold_minutes": 12}
    assert table_version(svc) != version
    assert svc.zone_apps.get("demo", "cinema")[1]["hold_minutes"] == 12


def test_switching_the_app_back_is_a_change(client, console, svc):
    console.login("cinema")
    assert client.post(CINEMA, data={"csrf_token": console.csrf(), **SETTINGS}).status_code == 303
    assert client.post(CINEMA, data={"csrf_token": console.csrf(), "app": "directory"}).status_code == 303
    assert client.post(CINEMA, data={"csrf_token": console.csrf(), **SETTINGS}).status_code == 303
    assert [e["action"] for e in zone_entries(svc)] == ["zone.app.set", "zone.app.set", "zone.config.set"]
    assert svc.zone_apps.get("demo", "cinema")[0] == "cinema"


def test_saving_a_shop_text_unchanged_writes_no_audit_entry(client, console, svc, demo_map):
    [shop] = [s.id for s in demo_map.shops if s.zone == "kopi"]
    url = f"/console/owner/demo/zone/kopi/shop/{shop}"
    text = {"description_zh": "手冲咖啡", "description_en": "Pour-over coffee"}
    console.login("kopi")
    for _ in range(4):
        assert client.post(url, data={"csrf_token": console.csrf(), **text}).status_code == 303
    assert [e["action"] for e in zone_entries(svc)] == ["zone.shop.text"]
    assert client.post(url, data={"csrf_token": console.csrf(), **text, "description_en": "Filter coffee"}
                       ).status_code == 303
    assert [e["action"] for e in zone_entries(svc)] == ["zone.shop.text", "zone.shop.text"]
