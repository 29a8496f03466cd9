"""Moments' limits count a person, not a shopper id: each captive landing mints a fresh shopper id (the iOS captive
mini-browser keeps no cookies), so the venue's notifications a day ("moments.notify.shopper") count against every
identity the engine knows for her (her phone, her shopper id, her member number), and a first visit or return
rule's own cap and cooldown count her phone where it is known, never only a shopper id a new landing replaces.
An owner sees their rules about a zone the operator took away (paused, never resumed there) and may delete them."""

from __future__ import annotations

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from werkzeug.datastructures import MultiDict

from portal.apps.budgets import budget_store
from portal.auth import AccountStore
from portal.events.moments import Rule, parse_rule, preview
from portal.notify.outbox import NotifyKeys

OWNER = "/console/owner/demo/moments"


def notify_rule(rule_id: str, owner: str = "ops", **over) -> Rule:
    return Rule(**{"id": rule_id, "name": rule_id, "trigger": "zone_enter", "action": "notify", "zone": "kopi",
                   "message_en": "hello", "cap_per_day": 100, "cooldown_s": 0, "owner": owner, **over})


def queued(svc) -> int:
    return svc.db.xlen(NotifyKeys("demo").stream())


def land_and_enter(svc, shopper: str, device: str, at: float, **member) -> int:
    """Her phone lands (a fresh shopper id), she transacts (as a member, if given) and enters Kopi; the
    notifications queued since."""
    before = queued(svc)
    svc.moments.ensure("demo", start="0")
    svc.consent.record("demo", shopper, location=True, marketing=True)
    svc.events.emit("demo", "landing", at=at, device=device, shopper=shopper, zone="atrium")
    if member:
        svc.events.emit("demo", "txn", at=at + 1, device=device, shopper=shopper, app="membership",
                        action="points_earn", **member)
    svc.events.emit("demo", "zone_enter", at=at + 2, device=device, zone="kopi")
    svc.moments.tick("demo")
    return queued(svc) - before


def test_a_new_landing_on_the_same_phone_gets_no_new_days_notifications(app, svc):
    for i in range(5):
        svc.moments.save("demo", notify_rule(f"r{i}"))
    now = time.time() - 60
    assert land_and_enter(svc, "s-first", "phone-1", now) == 3
    # The captive mini-browser kept no cookie: the same phone lands as a new shopper id.
    assert land_and_enter(svc, "s-second", "phone-1", now + 10) == 0
    assert land_and_enter(svc, "s-other", "phone-2", now + 20) == 3  # another phone, another person


def test_a_members_new_phone_shares_her_days_notifications(app, svc):
    budget_store(app).set_limit("demo", "moments.notify.shopper", (2, 86400))
    svc.moments.save("demo", notify_rule("r1"))
    now = time.time() - 60
    assert land_and_enter(svc, "s-a", "phone-a", now, member="100001") == 1
    # A new MAC and a new shopper id, the same member: one left for her today.
    assert land_and_enter(svc, "s-b", "phone-b", now + 10, member="100001") == 1
    assert land_and_enter(svc, "s-c", "phone-c", now + 20, member="100001") == 0


def test_a_refused_notification_gives_back_every_identity_it_counted(app, svc):
    budget_store(app).set_limit("demo", "moments.notify.shopper", (2, 86400))
    svc.moments.save("demo", notify_rule("cool", cooldown_s=12 * 3600))
    now = time.time() - 60
    assert land_and_enter(svc, "s-1", "phone-1", now) == 1
    assert land_and_enter(svc, "s-2", "phone-1", now + 10) == 0  # the rule's cooldown on the phone: given back
    svc.moments.save("demo", notify_rule("other"))
    assert land_and_enter(svc, "s-3", "phone-1", now + 20) == 1  # the phone's second of two
    assert land_and_enter(svc, "s-4", "phone-1", now + 30) == 0


def first_visit_rule() -> Rule:
    form = MultiDict({"name": "welcome", "trigger": "first_visit", "action": "offer", "message_en": "Welcome",
                      "cap_per_day": "1", "cooldown_h": "0"})
    return parse_rule(form, zones=["kopi"], owner="ops", may_webhook=True, now=time.time())


def test_a_first_visit_rules_cap_counts_the_phone_not_each_new_shopper_id(app, svc):
    rule = first_visit_rule()
    svc.moments.save("demo", rule)
    svc.moments.ensure("demo", start="0")
    tz = svc.moments.tz_of("demo")
    now = datetime(2026, 6, 1, 12, tzinfo=ZoneInfo(tz)).timestamp()  # midday: the minutes below are one day
    for i, shopper in enumerate(("s-1", "s-2", "s-3")):  # one phone, a fresh shopper id per landing
        at = now + 100 * i
        svc.consent.record("demo", shopper, location=True, marketing=True)
        svc.events.emit("demo", "landing", at=at, device="phone-1", shopper=shopper, zone="atrium")
        svc.events.emit("demo", "txn", at=at + 1, device="phone-1", shopper=shopper, app="coupons",
                        action="coupon_claim")
    # One who never shows her phone (location declined: her txn names none) is counted by her identity.
    svc.consent.record("demo", "s-nophone", location=True, marketing=True)
    svc.events.emit("demo", "txn", at=now + 400, shopper="s-nophone", app="coupons", action="coupon_claim")
    svc.moments.drain("demo")
    assert svc.moments.fired("demo") == {rule.id: 2}  # at most one a phone a day
    assert preview(rule, list(svc.events.read("demo")), now - 1, now + 3600, tz).fires == 2  # the preview agrees


# ---- a rule about a zone taken from its owner --------------------------------------------------------------


def test_an_owner_sees_and_deletes_a_rule_about_a_zone_taken_away(app, client, console, svc):
    store = AccountStore(svc.db)
    store.create("tea-house", "an old long passphrase", "owner", "demo", ("kopi", "books"))
    svc.moments.save("demo", notify_rule("teakopi", "tea-house"))
    svc.moments.save("demo", notify_rule("teabooks", "tea-house", zone="books"))
    svc.moments.save("demo", notify_rule("kopiown", "kopi"))  # another owner's rule about Kopi
    store.set_zones("tea-house", ("books",))
    assert svc.moments.pause_owner("demo", "tea-house", ["kopi"]) == ["teakopi"]
    console.login("tea-house", "an old long passphrase")
    page = client.get(OWNER).get_data(as_text=True)
    row = re.search(r'<tr data-rule="teakopi" class="gone-zone">.*?</tr>', page, re.S)
    assert row is not None, "the rule about the zone taken away is listed"
    assert "no longer manage" in row.group(0) and "(paused)" in row.group(0)
    assert "/moments/teakopi/delete" in row.group(0) and "/moments/teakopi/active" not in row.group(0)
    assert 'data-rule="teabooks"' in page and 'data-rule="kopiown"' not in page
    resume = client.post(f"{OWNER}/teakopi/active", data={"csrf_token": console.csrf(), "active": "1"})
    assert resume.status_code == 403 and "no longer manage" in resume.get_data(as_text=True)
    assert svc.moments.rule("demo", "teakopi").active is False
    delete = client.post(f"{OWNER}/teakopi/delete", data={"csrf_token": console.csrf()})
    assert delete.status_code == 303 and svc.moments.rule("demo", "teakopi") is None
    assert 'data-rule="teakopi"' not in client.get(OWNER).get_data(as_text=True)
