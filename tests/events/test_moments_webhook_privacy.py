"""Moments webhooks and the shopper's rights: every try of a webhook (the first, each retry, a replay's)
asks her consent again, so one she withdrew meanwhile is skipped, never sent to the CRM; and an erasure that
runs while a webhook is being sent (or replayed) stays done: the outcome is written only onto a delivery that
still exists, never re-created from the copy read before (with her id, due again, with its refs)."""

from __future__ import annotations

import json
import time

from werkzeug.datastructures import MultiDict

from portal.events.moments import NO_CONSENT, MomentKeys, parse_rule

HOOK = "https://crm.example/hook"


def hook_rule(svc) -> str:
    rule = parse_rule(MultiDict({"name": "CRM hook", "trigger": "zone_enter", "zone": "kopi", "action": "webhook",
                                 "webhook_url": HOOK, "cap_per_day": "1", "cooldown_h": "12", "budget": "0"}),
                      zones=["kopi"], owner="ops", may_webhook=True)
    svc.moments.save("demo", rule)
    return rule.id


def fire(svc, shopper: str, device: str, expect: tuple[str, int] = ("retrying", 1)) -> str:
    """She agrees, lands and enters kopi; the engine fires the webhook and its sender thread tries it once (by
    default the CRM is down: retrying in 30 s). Returns the delivery's id."""
    at = time.time() - 5
    svc.consent.record("demo", shopper, location=True, marketing=True)
    svc.moments.ensure("demo", start="0")
    svc.events.emit("demo", "landing", at=at, device=device, shopper=shopper, zone="atrium")
    svc.events.emit("demo", "zone_enter", at=at + 1, device=device, zone="kopi")
    svc.moments.tick("demo")
    assert svc.moments.sender.wait_idle(60)  # the tracker's tick hands webhooks to the sender thread
    [d] = svc.moments.deliveries("demo")
    assert (d.status, d.attempts) == expect
    return d.id


def crm(svc, answer=(False, "HTTP 503"), during=None) -> list[dict]:
    """The CRM as the engine's `send`: records the bodies it is sent, runs `during` while "in flight"."""
    sent: list[dict] = []

    def send(url, body, headers):
        sent.append(json.loads(body))
        if during is not None:
            during()
        return answer
    svc.moments.send = send
    return sent


def traces(svc, shopper: str, device: str) -> list:
    """What the moments store still holds naming her: deliveries (bodies), due entries, refs."""
    keys = MomentKeys("demo")
    bodies = [svc.db.hget(k, "body") or b"" for k in svc.db.scan_iter(match=keys.delivery("*"))]
    return ([b for b in bodies if shopper.encode() in b] + svc.db.zrange(keys.due(), 0, -1)
            + [*svc.db.smembers(keys.refs("s:" + shopper)), *svc.db.smembers(keys.refs("p:" + device))])


def fire_delivered(svc, shopper: str, device: str) -> str:
    """`fire` with the CRM up: the first try delivers."""
    return fire(svc, shopper, device, expect=("delivered", 1))


def test_a_retry_after_consent_is_withdrawn_is_skipped_not_sent(svc, demo):
    hook_rule(svc)
    sent = crm(svc)
    delivery = fire(svc, "s-wd", "d-wd")
    assert [b["shopper"] for b in sent] == ["s-wd"]  # the first try, while she agreed
    svc.consent.record("demo", "s-wd", location=True, marketing=False)  # she withdraws before the retry
    assert svc.moments.deliver_due("demo", time.time() + 31) == 0
    assert len(sent) == 1  # the retry did not go out
    d = svc.moments.delivery("demo", delivery)
    assert (d.status, d.last_error, d.attempts) == ("skipped", NO_CONSENT, 1)
    assert svc.db.zcard(MomentKeys("demo").due()) == 0  # and is not tried again
    assert svc.moments.deliver_due("demo", time.time() + 3600) == 0 and len(sent) == 1


def test_location_consent_withdrawn_skips_a_whereabouts_webhook(svc, demo):
    hook_rule(svc)  # zone entry: her whereabouts need location consent too
    sent = crm(svc)
    fire(svc, "s-loc", "d-loc")
    svc.consent.record("demo", "s-loc", location=False, marketing=True)
    svc.moments.deliver_due("demo", time.time() + 31)
    assert len(sent) == 1 and svc.moments.deliveries("demo")[0].status == "skipped"


def test_a_replayed_webhook_asks_again_when_it_is_sent(svc, demo):
    hook_rule(svc)
    sent = crm(svc, answer=(True, "HTTP 200"))
    delivery = fire_delivered(svc, "s-rp", "d-rp")
    assert svc.moments.replay("demo", delivery) == "SENT"  # she agreed when the operator replayed it
    svc.consent.record("demo", "s-rp", location=False, marketing=False)  # and withdrew before the worker ran
    svc.moments.deliver_due("demo", time.time() + 1)
    assert len(sent) == 1 and svc.moments.delivery("demo", delivery).status == "skipped"
    svc.consent.record("demo", "s-rp", location=True, marketing=True)  # agrees again: a replay sends it
    assert svc.moments.replay("demo", delivery) == "SENT"
    svc.moments.deliver_due("demo", time.time() + 1)
    assert len(sent) == 2 and svc.moments.delivery("demo", delivery).status == "delivered"


def test_an_erasure_during_a_failed_send_stays_done(svc, demo):
    hook_rule(svc)
    crm(svc)
    fire(svc, "s-er", "d-er")
    assert traces(svc, "s-er", "d-er")
    sent = crm(svc, during=lambda: svc.moments.forget("demo", ["s-er", "d-er"]))  # the CRM is slow
    assert svc.moments.deliver_due("demo", time.time() + 31) == 1 and len(sent) == 1
    assert traces(svc, "s-er", "d-er") == []  # not re-created, not due again, no refs
    assert svc.moments.deliveries("demo") == []


def test_an_erasure_during_a_successful_send_stays_done(svc, demo):
    hook_rule(svc)
    crm(svc)
    fire(svc, "s-ok", "d-ok")
    crm(svc, answer=(True, "HTTP 200"), during=lambda: svc.moments.forget("demo", ["s-ok", "d-ok"]))
    svc.moments.deliver_due("demo", time.time() + 31)
    assert traces(svc, "s-ok", "d-ok") == [] and svc.moments.deliveries("demo") == []


def test_an_erasure_during_a_replay_stays_done(svc, demo):
    hook_rule(svc)
    crm(svc, answer=(True, "HTTP 200"))
    delivery = fire_delivered(svc, "s-rx", "d-rx")
    asked = svc.moments.consent

    def consent(*args):  # the erasure lands while the replay asks for consent
        svc.moments.forget("demo", ["s-rx", "d-rx"])
        return asked(*args)
    svc.moments.consent = consent
    svc.moments.replay("demo", delivery)
    assert traces(svc, "s-rx", "d-rx") == [] and svc.moments.deliveries("demo") == []


def test_occupancy_alerts_name_nobody_and_are_sent_without_asking(svc, demo):
    sent = crm(svc, answer=(True, "HTTP 200"))
    svc.moments.set_alert_url("demo", HOOK)
    svc.moments.consent = lambda *args: False  # nobody agrees to anything: an alert is about no one
    svc.presence.set_limit("demo", "jade", 5)  # limits are 0 or at least k (5)
    for i in range(5):
        svc.presence.record("demo", f"o{i}", "jade", time.time())
    assert svc.moments.check_occupancy("demo", time.time()) == ["jade"]
    svc.moments.deliver_due("demo", time.time() + 1)
    assert [b["rule"] for b in sent] == ["occupancy"]
    assert svc.moments.deliveries("demo", rule="occupancy")[0].status == "delivered"
