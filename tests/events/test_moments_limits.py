"""Moments across rules: a venue and each zone owner have a most number of rules (422 when full, nothing
stored), one shopper gets at most the "moments.notify.shopper" budget's notifications a day from all the venue's
rules together (the operator's and owners'; set per venue like any budget), and an owner pauses, resumes and
deletes their own rules (audited; anyone else's: 403, none: 404)."""

from __future__ import annotations

import re
import time

import portal.events.moments as moments_module
import portal.operator.moments as operator_moments
from portal.apps.budgets import budget_store
from portal.auth import AuditLog
from portal.events.moments import MAX_RULES_PER_OWNER, MomentKeys, Rule
from portal.notify.outbox import NotifyKeys

OWNER = "/console/owner/demo/moments"


def form(csrf, **over):
    data = {"csrf_token": csrf, "name": "Coffee hello", "trigger": "zone_enter", "zone": "kopi", "action": "notify",
            "message_en": "10% off today", "cap_per_day": "100", "cooldown_h": "0", "budget": "0"}
    data.update(over)
    return data


def notify_rule(rule_id: str, owner: str, zone: str = "kopi", **over) -> Rule:
    return Rule(**{"id": rule_id, "name": rule_id, "trigger": "zone_enter", "action": "notify", "zone": zone,
                   "message_en": "hello", "cap_per_day": 100, "cooldown_s": 0, "owner": owner, **over})


def audits(svc, action: str) -> list[dict]:
    return [e for e in AuditLog(svc.db).recent("demo", 200) if e["action"] == action]


def enter(svc, shopper: str, device: str, zone: str = "kopi", times: int = 1) -> int:
    """`shopper` lands, then her phone enters `zone` `times` times; the notifications queued since."""
    before = svc.db.xlen(NotifyKeys("demo").stream())
    svc.moments.ensure("demo", start="0")
    svc.consent.record("demo", shopper, location=True, marketing=True)
    now = time.time() - 10
    svc.events.emit("demo", "landing", at=now, device=device, shopper=shopper, zone="atrium")
    for i in range(times):
        svc.events.emit("demo", "zone_enter", at=now + 1 + i, device=device, zone=zone)
    svc.moments.tick("demo")
    return svc.db.xlen(NotifyKeys("demo").stream()) - before


# ---- how many rules ----------------------------------------------------------------------------------


def test_an_owner_may_make_a_bounded_number_of_rules(client, console, svc):
    console.login("kopi")
    csrf = console.csrf()
    for i in range(MAX_RULES_PER_OWNER):
        assert client.post(OWNER, data=form(csrf, name=f"rule {i}")).status_code == 303
    resp = client.post(OWNER, data=form(csrf, name="one too many"))
    assert resp.status_code == 422 and f"You have {MAX_RULES_PER_OWNER} rules" in resp.get_data(as_text=True)
    assert len(svc.moments.rules("demo")) == MAX_RULES_PER_OWNER
    assert len(audits(svc, "moments.create")) == MAX_RULES_PER_OWNER
    console.logout()
    console.login("pixel")  # another owner has their own count
    assert client.post(OWNER, data=form(console.csrf(), zone="pixel")).status_code == 303
    console.logout()
    console.login("kopi")
    rule_id = svc.moments.rules("demo")[0].id  # deleting one makes room
    assert client.post(f"{OWNER}/{rule_id}/delete", data={"csrf_token": console.csrf()}).status_code == 303
    assert client.post(OWNER, data=form(console.csrf(), name="room again")).status_code == 303


def test_a_venue_has_a_bounded_number_of_rules(client, console, svc, monkeypatch):
    monkeypatch.setattr(moments_module, "MAX_RULES_PER_VENUE", 3)
    monkeypatch.setattr(operator_moments, "MAX_RULES_PER_VENUE", 3)  # the message's number
    for i in range(2):
        svc.moments.save("demo", notify_rule(f"r{i}", "ops"))
    console.login("kopi")
    assert client.post(OWNER, data=form(console.csrf())).status_code == 303
    resp = client.post(OWNER, data=form(console.csrf()))
    assert resp.status_code == 422 and "This venue has 3 rules" in resp.get_data(as_text=True)
    console.logout()
    console.login("ops")  # the operator too
    resp = client.post("/console/ops/demo/moments", data=form(console.csrf(), action="offer"))
    assert resp.status_code == 422 and "This venue has 3 rules" in resp.get_data(as_text=True)
    assert len(svc.moments.rules("demo")) == 3


def test_the_engine_counts_rules_in_one_step(svc):
    engine = svc.moments
    assert engine.add("demo", notify_rule("a1", "kopi"), owner_most=2) == "OK"
    assert engine.add("demo", notify_rule("a2", "kopi"), owner_most=2) == "OK"
    assert engine.add("demo", notify_rule("a3", "kopi"), owner_most=2) == "OWNER"
    assert engine.add("demo", notify_rule("b1", "pixel", zone="pixel"), owner_most=2, venue_most=3) == "OK"
    assert engine.add("demo", notify_rule("c1", "ops"), venue_most=3) == "VENUE"
    assert sorted(r.id for r in engine.rules("demo")) == ["a1", "a2", "b1"]


# ---- notifications per shopper across rules --------------------------------------------------------


def test_one_zone_entry_sends_one_shopper_a_few_notifications_whatever_the_rules(app, svc):
    for i in range(6):
        svc.moments.save("demo", notify_rule(f"k{i}", "kopi"))
    svc.moments.save("demo", notify_rule("ops1", "ops"))  # the operator's rules share the shopper's budget
    assert enter(svc, "s-1", "d-1") == 3
    assert enter(svc, "s-1", "d-1") == 0  # her day's notifications are spent
    assert enter(svc, "s-2", "d-2") == 3  # another shopper has her own
    budget_store(app).set_limit("demo", "moments.notify.shopper", (1, 86400))  # set per venue
    assert enter(svc, "s-3", "d-3") == 1


def test_a_rule_that_does_not_fire_spends_none_of_her_notifications(app, svc):
    budget_store(app).set_limit("demo", "moments.notify.shopper", (3, 86400))
    for i in range(2):
        svc.moments.save("demo", notify_rule(f"cool{i}", "kopi", cooldown_s=12 * 3600))
    assert enter(svc, "s-1", "d-1") == 2
    assert enter(svc, "s-1", "d-1") == 0  # both in their cooldown: nothing sent, nothing counted
    for i in range(2):
        svc.moments.save("demo", notify_rule(f"new{i}", "pixel", zone="kopi"))
    assert enter(svc, "s-1", "d-1") == 1  # 2 + 1: the cooldowns' refusals were given back


def test_a_replay_counts_against_her_notifications(app, svc):
    budget_store(app).set_limit("demo", "moments.notify.shopper", (1, 86400))
    svc.moments.save("demo", notify_rule("r1", "ops"))
    assert enter(svc, "s-1", "d-1") == 1
    [delivery] = svc.moments.deliveries("demo")
    assert svc.moments.replay("demo", delivery.id) == "DAILY"


# ---- an owner's own rules: pause, resume, delete -------------------------------------------------------


def test_an_owner_pauses_resumes_and_deletes_their_own_rule(client, console, svc):
    console.login("kopi")
    assert client.post(OWNER, data=form(console.csrf())).status_code == 303
    [rule] = svc.moments.rules("demo")
    page = client.get(OWNER).get_data(as_text=True)
    assert f"/moments/{rule.id}/active" in page and f"/moments/{rule.id}/delete" in page
    resp = client.post(f"{OWNER}/{rule.id}/active", data={"csrf_token": console.csrf(), "active": "0"})
    assert resp.status_code == 303 and svc.moments.rule("demo", rule.id).active is False
    assert enter(svc, "s-1", "d-1") == 0  # paused: it does not act
    resume = {"csrf_token": console.csrf(), "active": "1"}
    assert client.post(f"{OWNER}/{rule.id}/active", data=resume).status_code == 303
    assert svc.moments.rule("demo", rule.id).active is True
    assert enter(svc, "s-2", "d-2") == 1
    assert svc.db.hexists(MomentKeys("demo").used(), rule.id)
    assert client.post(f"{OWNER}/{rule.id}/delete", data={"csrf_token": console.csrf()}).status_code == 303
    assert svc.moments.rule("demo", rule.id) is None and not svc.db.hexists(MomentKeys("demo").used(), rule.id)
    assert not svc.db.exists(MomentKeys("demo").fired_for(rule.id))
    assert [e["detail"]["active"] for e in audits(svc, "moments.active")] == [True, False]
    assert [e["detail"]["rule"] for e in audits(svc, "moments.delete")] == [rule.id]
    assert client.post(f"{OWNER}/{rule.id}/delete", data={"csrf_token": console.csrf()}).status_code == 404


def test_nobody_else_changes_an_owners_rule(client, console, svc):
    svc.moments.save("demo", notify_rule("ownkopi", "kopi"))
    svc.moments.save("demo", notify_rule("opskopi", "ops"))  # the operator's rule about kopi
    svc.moments.save("demo", notify_rule("ownpixel", "pixel", zone="pixel"))
    for rule_id in ("ownkopi", "opskopi", "ownpixel"):  # logged out: the login page
        resp = client.post(f"{OWNER}/{rule_id}/delete", data={"csrf_token": console.csrf()})
        assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    console.login("kopi")
    page = client.get(OWNER).get_data(as_text=True)
    assert "/moments/ownkopi/delete" in page and 'data-rule="opskopi"' in page and "/moments/opskopi/" not in page
    for rule_id in ("opskopi", "ownpixel"):
        for action, data in (("delete", {}), ("active", {"active": "0"})):
            resp = client.post(f"{OWNER}/{rule_id}/{action}", data={"csrf_token": console.csrf(), **data})
            assert resp.status_code == 403, (rule_id, action)
    assert client.post(f"{OWNER}/nosuchrule/delete", data={"csrf_token": console.csrf()}).status_code == 404
    assert client.post(f"{OWNER}/{'x' * 500}/active", data={"csrf_token": console.csrf()}).status_code == 404
    assert client.post(f"{OWNER}/ownkopi/delete", data={}).status_code == 400  # no CSRF token
    assert client.post("/console/owner/galleria/moments/ownkopi/delete",
                       data={"csrf_token": console.csrf()}).status_code == 403  # not the owner's venue
    assert {r.id: r.active for r in svc.moments.rules("demo")} == {"ownkopi": True, "opskopi": True, "ownpixel": True}
    assert not audits(svc, "moments.delete") and not audits(svc, "moments.active")
    console.logout()
    console.login("ops")  # the operator may change any rule of the venue, here as on the operator's page
    assert client.post(f"{OWNER}/ownkopi/active", data={"csrf_token": console.csrf(), "active": "0"}).status_code == 303
    assert svc.moments.rule("demo", "ownkopi").active is False


def test_the_operators_pause_answers_404_for_no_rule(client, console):
    console.login("ops")
    resp = client.post("/console/ops/demo/moments/nosuchrule/active", data={"csrf_token": console.csrf(),
                                                                             "active": "0"})
    assert resp.status_code == 404 and re.search("No such rule", resp.get_data(as_text=True))
