"""The consoles' store steps on the local cluster, each once: the moments rules' limits, pause and delete (Lua on
the venue's keys) and the per-shopper notification budget, a deleted zone's app table entries dropped, an owner's
zones changed and released (WATCH/MULTI on the account's key), the preview shopper's kept token."""

from __future__ import annotations

import time

from portal.apps.preview import PreviewKeys, PreviewTokens
from portal.auth import AccountStore
from portal.events.moments import Rule
from portal.notify.outbox import NotifyKeys


def notify_rule(rule_id: str, owner: str, zone: str = "kopi") -> Rule:
    return Rule(id=rule_id, name=rule_id, trigger="zone_enter", action="notify", zone=zone, message_en="hi",
                cap_per_day=10, cooldown_s=0, owner=owner)


def test_moments_rules_limits_pause_delete_and_messages_on_the_cluster(app, svc, demo):
    engine = svc.moments
    assert engine.add("demo", notify_rule("a1", "kopi"), owner_most=1) == "OK"
    assert engine.add("demo", notify_rule("a2", "kopi"), owner_most=1) == "OWNER"
    for i in range(4):
        engine.save("demo", notify_rule(f"o{i}", "ops"))
    assert engine.set_active("demo", "a1", False, owner="pixel") == "NOT_YOURS"
    assert engine.set_active("demo", "a1", False, owner="kopi") == "OK"
    assert engine.set_active("demo", "a1", True) == "OK"
    engine.ensure("demo", start="0")
    svc.consent.record("demo", "s-1", location=True, marketing=True)
    svc.events.emit("demo", "landing", at=time.time(), device="d1", shopper="s-1", zone="atrium")
    svc.events.emit("demo", "zone_enter", at=time.time(), device="d1", zone="kopi")
    engine.tick("demo")
    assert svc.db.xlen(NotifyKeys("demo").stream()) == 3  # five rules, the shopper's day's three
    assert engine.delete("demo", "a1", owner="kopi") == "OK" and engine.rule("demo", "a1") is None
    assert engine.delete_for_zone("demo", "kopi") == ["o0", "o1", "o2", "o3"]


def test_zone_release_steps_on_the_cluster(app, svc, demo):
    svc.zone_apps.set("demo", "kopi", "games", {})
    svc.zone_apps.set("demo", "kopi", "coupons", {})
    assert svc.zone_apps.drop("demo", "kopi") == 3  # the assignment and the two kept configs
    assert svc.zone_apps.get("demo", "kopi") == ("directory", {})
    accounts = AccountStore(svc.db)
    assert accounts.set_zones("books", ("books", "kopi")) == ("books",)
    assert accounts.release_zone("demo", "kopi") == ["books", "kopi"]
    assert accounts.get("books").zones == ("books",) and accounts.get("kopi").zones == ()


def test_the_preview_token_kept_on_the_cluster(svc):
    made = iter(["demo.one", "demo.two"])
    kept = PreviewTokens(svc.db, "cluster-secret", 600)
    assert kept.token("demo", "ops", mint=lambda: next(made), resolves=lambda t: True) == "demo.one"
    assert kept.token("demo", "ops", mint=lambda: next(made), resolves=lambda t: False) == "demo.two"
    assert svc.db.exists(PreviewKeys("demo").shopper_token("ops"))
