"""Zones change hands: the operator's owners page changes an owner's zones and disables / enables an owner
(audited, CSRF, the venue's operator only), and a zone deleted from the map is let go of (its owners, its app and
kept settings, its moments rules; the operator is warned), so a zone drawn again with the same id starts afresh
instead of passing to the previous tenant."""

from __future__ import annotations

import html
import re

from portal.apps.zone_apps import ZoneAppKeys
from portal.auth import AccountStore, AuditLog
from portal.events.moments import Rule

OWNERS = "/console/ops/demo/owners"
PASSWORD = "an old long passphrase"


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def csrf_of(client) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get("/console/login").get_data(as_text=True)).group(1)


def sign_in(client, username, password=PASSWORD):
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": csrf_of(client)})


def audits(svc, action: str) -> list[dict]:
    return [e for e in AuditLog(svc.db).recent("demo", 200) if e["action"] == action]


def rule(rule_id: str, owner: str, zone: str) -> Rule:
    return Rule(id=rule_id, name=rule_id, trigger="zone_enter", action="notify", zone=zone, message_en="hi",
                owner=owner)


# ---- an owner's zones --------------------------------------------------------------------------------


def test_the_operator_changes_an_owners_zones(app, client, console, svc):
    store = AccountStore(svc.db)
    store.create("tea-house", PASSWORD, "owner", "demo", ("kopi", "books"))
    svc.moments.save("demo", rule("teakopi", "tea-house", "kopi"))
    svc.moments.save("demo", rule("teabooks", "tea-house", "books"))
    svc.moments.save("demo", rule("kopikopi", "kopi", "kopi"))  # another owner's rule about the zone stays on
    owner = app.test_client()
    assert sign_in(owner, "tea-house").status_code == 303
    assert owner.get("/console/owner/demo/zone/kopi").status_code == 200
    console.login("ops")
    page = text(client.get(OWNERS))
    assert f'href="{OWNERS}/tea-house/zones"' in page and f'action="{OWNERS}/tea-house/disabled"' in page
    form = client.get(f"{OWNERS}/tea-house/zones")
    assert form.status_code == 200 and form.headers["Cache-Control"] == "no-store"
    assert sorted(re.findall(r'name="zones" value="([\w-]+)" checked', text(form))) == ["books", "kopi"]
    resp = client.post(f"{OWNERS}/tea-house/zones", data={"csrf_token": console.csrf(),
                                                         "zones": ["books", "lumen", "not-a-zone"]})
    assert resp.status_code == 303
    assert set(store.get("tea-house").zones) == {"books", "lumen"}
    assert owner.get("/console/owner/demo/zone/kopi").status_code == 403  # taken: at once, signed in or not
    assert owner.get("/console/owner/demo/zone/lumen").status_code == 200
    assert {r.id: r.active for r in svc.moments.rules("demo")} == {"teakopi": False, "teabooks": True,
                                                                  "kopikopi": True}
    [entry] = audits(svc, "owner.zones")
    assert entry["user"] == "ops" and entry["detail"]["username"] == "tea-house"
    assert entry["detail"]["paused_rules"] == "teakopi"
    # the same zones again: nothing written, nothing audited
    same = client.post(f"{OWNERS}/tea-house/zones", data={"csrf_token": console.csrf(), "zones": ["lumen", "books"]})
    assert same.status_code == 303 and len(audits(svc, "owner.zones")) == 1


def test_a_rule_about_a_zone_taken_away_stays_paused(app, client, console, svc):
    """The owner may still delete it, not resume it: it would act in another tenant's zone."""
    store = AccountStore(svc.db)
    store.create("tea-house", PASSWORD, "owner", "demo", ("kopi", "books"))
    svc.moments.save("demo", rule("teakopi", "tea-house", "kopi"))
    console.login("ops")
    assert client.post(f"{OWNERS}/tea-house/zones", data={"csrf_token": console.csrf(),
                                                          "zones": ["books"]}).status_code == 303
    owner = app.test_client()
    assert sign_in(owner, "tea-house").status_code == 303
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      owner.get("/console/owner/demo/moments").get_data(as_text=True)).group(1)
    resume = owner.post("/console/owner/demo/moments/teakopi/active", data={"csrf_token": token, "active": "1"})
    assert resume.status_code == 403 and svc.moments.rule("demo", "teakopi").active is False
    assert owner.post("/console/owner/demo/moments/teakopi/delete",
                      data={"csrf_token": token}).status_code == 303
    assert svc.moments.rule("demo", "teakopi") is None


def test_zones_bad_input_and_who_may_call(app, client, console, svc):
    store = AccountStore(svc.db)
    store.create("other-owner", PASSWORD, "owner", "elsewhere", ("x",))
    before = store.get("kopi").zones
    url = f"{OWNERS}/kopi/zones"
    resp = client.post(url, data={"csrf_token": csrf_of(client), "zones": ["books"]})
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]  # signed out
    assert client.get(url).status_code == 302
    console.login("kopi")  # an owner
    assert client.get(url).status_code == 403
    assert client.post(url, data={"csrf_token": console.csrf(), "zones": ["books"]}).status_code == 403
    disable = {"csrf_token": console.csrf(), "disabled": "1"}
    assert client.post(f"{OWNERS}/kopi/disabled", data=disable).status_code == 403
    console.logout()
    console.login("ops")
    csrf = console.csrf()
    for data in ({}, {"zones": []}, {"zones": ["not-a-zone"]}, {"zones": ["x" * 5000]}):
        resp = client.post(url, data={"csrf_token": csrf, **data})
        assert resp.status_code == 400 and "at least one zone" in text(resp), data
        assert 'id="owner-zones"' in text(resp)  # the form again
    assert client.post(url, data={"zones": ["books"]}).status_code == 400  # no CSRF token
    for who in ("other-owner", "ops", "nobody", "x" * 200):  # another venue's owner, an operator, no one
        assert client.get(f"{OWNERS}/{who}/zones").status_code == 404
        assert client.post(f"{OWNERS}/{who}/zones", data={"csrf_token": csrf, "zones": ["books"]}).status_code == 404
        assert client.post(f"{OWNERS}/{who}/disabled", data={"csrf_token": csrf, "disabled": "1"}).status_code == 404
    assert store.get("kopi").zones == before and store.get("other-owner").zones == ("x",)
    console.logout()
    store.create("far-ops", PASSWORD, "operator", "elsewhere")
    console.login("far-ops", PASSWORD)  # another venue's operator
    assert client.get(url).status_code == 403
    assert client.post(url, data={"csrf_token": console.csrf(), "zones": ["books"]}).status_code == 403
    assert store.get("kopi").zones == before and not audits(svc, "owner.zones")


# ---- disabling an owner ------------------------------------------------------------------------------


def test_the_operator_disables_and_enables_an_owner(app, client, console, svc):
    store = AccountStore(svc.db)
    store.create("tea-house", PASSWORD, "owner", "demo", ("kopi",))
    svc.moments.save("demo", rule("teakopi", "tea-house", "kopi"))
    svc.moments.save("demo", rule("kopikopi", "kopi", "kopi"))  # another owner's: stays on
    owner = app.test_client()
    assert sign_in(owner, "tea-house").status_code == 303
    console.login("ops")
    url = f"{OWNERS}/tea-house/disabled"
    for bad in ({}, {"disabled": "yes"}, {"disabled": "x" * 300}):
        assert client.post(url, data={"csrf_token": console.csrf(), **bad}).status_code == 400
    assert client.post(url, data={"disabled": "1"}).status_code == 400  # no CSRF token
    assert not store.status("tea-house")["disabled"]
    assert client.post(url, data={"csrf_token": console.csrf(), "disabled": "1"}).status_code == 303
    assert store.status("tea-house")["disabled"]
    # a disabled owner's rules stop messaging shoppers (the owner resumes them once enabled)
    assert {r.id: r.active for r in svc.moments.rules("demo")} == {"teakopi": False, "kopikopi": True}
    assert audits(svc, "owner.disable")[0]["detail"]["paused_rules"] == "teakopi"
    assert owner.get("/console/owner/demo/").status_code == 302  # signed out
    assert sign_in(app.test_client(), "tea-house").status_code != 303
    assert 'class="inline set-disabled"' in text(client.get(OWNERS)) and ">Enable<" in text(client.get(OWNERS))
    assert client.post(url, data={"csrf_token": console.csrf(), "disabled": "1"}).status_code == 303  # no change
    assert client.post(url, data={"csrf_token": console.csrf(), "disabled": "0"}).status_code == 303
    assert sign_in(app.test_client(), "tea-house").status_code == 303
    assert [e["action"] for e in AuditLog(svc.db).recent("demo", 50)
            if e["action"].startswith("owner.")][:2] == ["owner.enable", "owner.disable"]
    assert len(audits(svc, "owner.disable")) == 1


# ---- a zone deleted from the map ---------------------------------------------------------------------


def test_a_deleted_zone_is_let_go_of_and_a_new_one_of_its_id_starts_afresh(client, console, svc):
    z = svc.venues.get_map("demo").zone("kopi")
    svc.zone_apps.set("demo", "kopi", "games", {"desk_en": "old desk", "desk_zh": "旧"})
    svc.zone_apps.set("demo", "kopi", "coupons", {})  # games' settings kept for a switch back
    svc.moments.save("demo", rule("kopirule", "kopi", "kopi"))
    svc.moments.save("demo", rule("booksrule", "books", "books"))
    console.login("ops")
    resp = client.post("/console/ops/demo/setup/zones/delete", data={"csrf_token": console.csrf(),
                                                                     "floor": str(z.floor), "zone": "kopi"})
    assert resp.status_code == 303
    page = text(client.get(resp.headers["Location"]))
    assert "Zone kopi was in use" in page and "owner accounts kopi" in page and "E-coupons" in page
    assert "its moments rule was deleted" in page
    assert "kopi" not in AccountStore(svc.db).get("kopi").zones
    assert not svc.db.hexists(ZoneAppKeys("demo").assignments(), "kopi")
    assert svc.zone_apps.kept_config("demo", "kopi", "games") is None
    assert [r.id for r in svc.moments.rules("demo")] == ["booksrule"]
    [entry] = audits(svc, "zone.release")
    assert entry["detail"] == {"zone": "kopi", "owners": "kopi", "app": "coupons", "rules": "kopirule"}

    pts = " ".join(f"{x},{y}" for x, y in z.polygon)
    resp = client.post(f"/console/ops/demo/setup/floor/{z.floor}/zones", data={
        "csrf_token": console.csrf(), "id": "kopi", "name": "New Tenant Tea", "kind": "shop", "points": pts})
    assert svc.venues.get_map("demo").zone("kopi").name == "New Tenant Tea"
    assert svc.zone_apps.get("demo", "kopi") == ("directory", {})
    console.logout()
    console.login("kopi")  # the previous tenant
    assert client.get("/console/owner/demo/zone/kopi").status_code == 403
    assert client.get("/console/apps/coupons/demo/kopi/").status_code == 403


def test_deleting_a_zone_nobody_used_warns_of_nothing(client, console, svc):
    z = svc.venues.get_map("demo").zone("books")
    AccountStore(svc.db).set_zones("books", ("lumen",))
    svc.zone_apps.drop("demo", "books")
    console.login("ops")
    resp = client.post("/console/ops/demo/setup/zones/delete", data={"csrf_token": console.csrf(),
                                                                     "floor": str(z.floor), "zone": "books"})
    assert resp.status_code == 303
    assert "was in use" not in text(client.get(resp.headers["Location"])) and not audits(svc, "zone.release")
