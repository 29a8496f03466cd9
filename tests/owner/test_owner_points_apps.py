"""Apps that issue points (the membership card) are turned on by the venue's operator only
(`LightApp.operator_assigns`): a zone owner is neither offered one nor may save one, except in a zone that runs it
already, where the owner keeps configuring it; and a purchase typed by hand at the till is capped per receipt and
counted per account and per zone and day (the "membership.manual" budgets): clear 4xx, nothing added."""

from __future__ import annotations

import re
import time

import pytest

from lightapps.membership.codes import short_code, step_of, totp
from lightapps.membership.store import MemberStore
from portal.apps import registry
from portal.apps.budgets import budget_store
from portal.auth import AuditLog

PHONE = "+8613900002222"
CONSOLE = "/console/apps/membership/demo"


def zone_url(zone: str) -> str:
    return f"/console/owner/demo/zone/{zone}"


def offered(client, zone: str) -> set[str]:
    return set(re.findall(r'name="app" value="([^"]+)"', client.get(zone_url(zone)).get_data(as_text=True)))


def membership_config(headline: str) -> dict[str, str]:
    return {"app": "membership", "headline_en": headline, "headline_zh": "会员卡"}


@pytest.fixture
def members(app, svc):
    return MemberStore.from_services(svc)


def code_of(m) -> str:
    return short_code(m.id, totp(m.secret, step_of(time.time())))


def sale(csrf: str, m, receipt: str, amount: str) -> dict[str, str]:
    return {"csrf_token": csrf, "code": code_of(m), "receipt_id": receipt, "amount": amount}


def test_membership_declares_that_only_the_operator_turns_it_on(app):
    app = registry.get("membership")
    assert app.operator_assigns
    assert not app.may_assign("owner", "coupons") and app.may_assign("owner", "membership")
    assert app.may_assign("operator", "coupons")
    assert registry.get("coupons").may_assign("owner", "membership")  # switching away stays the owner's


def test_an_owner_may_not_turn_on_the_membership_card(client, console, svc):
    console.login("kopi")
    assert "membership" not in offered(client, "kopi") and "coupons" in offered(client, "kopi")
    before = svc.zone_apps.get("demo", "kopi")
    assert client.get(zone_url("kopi") + "?app=membership").status_code == 403
    resp = client.post(zone_url("kopi"), data={"csrf_token": console.csrf(), **membership_config("Points here")})
    assert resp.status_code == 403 and "operator" in resp.get_data(as_text=True)
    preview = client.post(zone_url("kopi"), data={"csrf_token": console.csrf(), "action": "preview",
                                                  **membership_config("Points here")})
    assert preview.status_code == 403
    assert svc.zone_apps.get("demo", "kopi") == before
    assert not [e for e in AuditLog(svc.db).recent("demo", 50) if e["action"].startswith("zone.")]


def test_the_operator_turns_it_on_and_the_owner_keeps_configuring_it(client, console, svc):
    console.login("ops")
    assert "membership" in offered(client, "kopi")
    resp = client.post(zone_url("kopi"), data={"csrf_token": console.csrf(), **membership_config("Our card")})
    assert resp.status_code == 303 and svc.zone_apps.get("demo", "kopi")[0] == "membership"
    console.logout()
    console.login("kopi")
    assert "membership" in offered(client, "kopi")
    resp = client.post(zone_url("kopi"), data={"csrf_token": console.csrf(), **membership_config("Kopi card")})
    assert resp.status_code == 303
    assert svc.zone_apps.get("demo", "kopi") == ("membership", {"headline_en": "Kopi card", "headline_zh": "会员卡"})
    # The owner may switch to another app; the card is then the operator's to turn on again.
    resp = client.post(zone_url("kopi"), data={"csrf_token": console.csrf(), "app": "coupons"})
    assert resp.status_code == 303 and svc.zone_apps.get("demo", "kopi")[0] == "coupons"
    resp = client.post(zone_url("kopi"), data={"csrf_token": console.csrf(), **membership_config("Back")})
    assert resp.status_code == 403 and svc.zone_apps.get("demo", "kopi")[0] == "coupons"


def test_the_seeded_membership_shop_keeps_its_settings_form(client, console, svc):
    console.login("pixel")
    assert "membership" in offered(client, "pixel")
    resp = client.post(zone_url("pixel"), data={"csrf_token": console.csrf(), **membership_config("Pixel card")})
    assert resp.status_code == 303 and svc.zone_apps.get("demo", "pixel")[1]["headline_en"] == "Pixel card"


# ---- purchases typed by hand -----------------------------------------------------------------------


def test_a_receipt_typed_by_hand_is_capped(client, console, members):
    m, _ = members.bind("demo", PHONE, "alice")
    console.login("pixel")
    resp = client.post(f"{CONSOLE}/pixel/purchase", data=sale(console.csrf(), m, "BIG-1", "1000000"))
    assert resp.status_code == 422 and "POS" in resp.get_data(as_text=True)
    assert client.post(f"{CONSOLE}/pixel/purchase", data=sale(console.csrf(), m, "BIG-2", "5000.01")).status_code == 422
    assert members.get("demo", m.id).points == 0 and members.receipt("demo", "pixel", "BIG-1", fold_case=True) is None
    resp = client.post(f"{CONSOLE}/pixel/purchase", data=sale(console.csrf(), m, "OK-1", "5000"))
    assert resp.status_code == 200 and members.get("demo", m.id).points == 5000


def test_points_by_hand_are_counted_per_account_and_day(app, client, console, members):
    m, _ = members.bind("demo", PHONE, "alice")
    budget_store(app).set_limit("demo", "membership.manual.account", (1000, 86400))
    console.login("pixel")
    csrf = console.csrf()
    assert client.post(f"{CONSOLE}/pixel/purchase", data=sale(csrf, m, "R-1", "600")).status_code == 200
    # the same receipt again adds nothing and spends nothing
    again = client.post(f"{CONSOLE}/pixel/purchase", data=sale(csrf, m, "R-1", "600"))
    assert again.status_code == 200 and "already recorded" in again.get_data(as_text=True)
    assert client.post(f"{CONSOLE}/pixel/purchase", data=sale(csrf, m, "R-1", "700")).status_code == 409
    refused = client.post(f"{CONSOLE}/pixel/purchase", data=sale(csrf, m, "R-2", "500"))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "capped per account and per zone" in refused.get_data(as_text=True)
    assert members.get("demo", m.id).points == 600 and members.receipt("demo", "pixel", "R-2", fold_case=True) is None
    assert client.post(f"{CONSOLE}/pixel/purchase", data=sale(csrf, m, "R-3", "400")).status_code == 200
    assert members.get("demo", m.id).points == 1000
    console.logout()
    console.login("ops")  # another account at the same till: its own count
    assert client.post(f"{CONSOLE}/pixel/purchase", data=sale(console.csrf(), m, "R-4", "500")).status_code == 200
    assert members.get("demo", m.id).points == 1500


def test_a_purchase_beyond_a_whole_days_cap_is_a_422_not_a_wait(app, client, console, members):
    """A venue may set the day's cap below a purchase's points (MANUAL_MAX_AMOUNT is checked first, against the
    default caps): that purchase fits no day, so a 429 with "try again in 24 hours" would never come true; a cap of 0
    switches points by hand off (403)."""
    m, _ = members.bind("demo", PHONE, "alice")
    budget_store(app).set_limit("demo", "membership.manual.account", (300, 86400))
    console.login("pixel")
    refused = client.post(f"{CONSOLE}/pixel/purchase", data=sale(console.csrf(), m, "R-9", "400"))
    page = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "Retry-After" not in refused.headers
    assert "400 points are more than the whole cap" in page and "(300)" in page and "POS" in page
    assert members.get("demo", m.id).points == 0 and members.receipt("demo", "pixel", "R-9", fold_case=True) is None
    assert client.post(f"{CONSOLE}/pixel/purchase", data=sale(console.csrf(), m, "R-10", "300")).status_code == 200
    budget_store(app).set_limit("demo", "membership.manual.zone", (0, 86400))  # the operator switched them off
    off = client.post(f"{CONSOLE}/pixel/purchase", data=sale(console.csrf(), m, "R-11", "1"))
    assert off.status_code == 403 and "switched off" in off.get_data(as_text=True)
    assert members.get("demo", m.id).points == 300


def test_points_by_hand_are_counted_per_zone_and_day(app, client, console, members, svc):
    m, _ = members.bind("demo", PHONE, "alice")
    budget_store(app).set_limit("demo", "membership.manual.zone", (1000, 86400))
    svc.zone_apps.set("demo", "kopi", "membership", {})  # the operator turned the card on there too
    console.login("pixel")
    assert client.post(f"{CONSOLE}/pixel/purchase", data=sale(console.csrf(), m, "Z-1", "900")).status_code == 200
    console.logout()
    console.login("ops")  # another account, the same zone: the zone's count
    resp = client.post(f"{CONSOLE}/pixel/purchase", data=sale(console.csrf(), m, "Z-2", "200"))
    assert resp.status_code == 429 and members.get("demo", m.id).points == 900
    assert client.post(f"{CONSOLE}/kopi/purchase", data=sale(console.csrf(), m, "Z-3", "200")).status_code == 200
    assert members.get("demo", m.id).points == 1100


def test_the_audit_log_names_the_member_by_a_keyed_hash(client, console, members, svc):
    m, _ = members.bind("demo", PHONE, "alice")
    console.login("pixel")
    assert client.post(f"{CONSOLE}/pixel/purchase", data=sale(console.csrf(), m, "A-1", "12")).status_code == 200
    entry = next(e for e in AuditLog(svc.db).recent("demo", 20) if e["action"] == "membership.purchase")
    assert entry["detail"]["member"] == members.audit_ref(m.id) != m.id
    assert m.id not in str(entry) and entry["detail"]["points"] == 12
    assert members.audit_ref(m.id) == members.audit_ref(m.id) != members.audit_ref(str(int(m.id) + 1))
