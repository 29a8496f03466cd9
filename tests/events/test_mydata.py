"""The shopper's own data: export (JSON, audited) and erasure from every store (the event log, presence,
moments, membership through its hook, the tokens); only with the shopper's token; another shopper's
events and an unverified phone's location stay out."""

from __future__ import annotations

import time

from lightapps.membership.store import MemberStore
from portal.events.insights import compute
from portal.ingest.store import RssiKeys
from portal.shopper import Shopper, shopper_token


def test_export_and_erase(app, client, svc, demo):
    members = app.extensions["light_app_stores"]["membership"]
    assert isinstance(members, MemberStore)
    member = members.bind("demo", "+8613800138001", "s-me")[0]
    me = Shopper("demo", "s-me", phone="dev-me", phone_verified=True)
    with app.app_context():
        token = shopper_token(me)
    t = time.time() - 3600
    svc.presence.record("demo", "dev-me", "kopi", t)
    svc.presence.record("demo", "dev-other", "kopi", t)
    svc.events.emit("demo", "landing", at=t + 1, device="dev-me", shopper="s-me", zone="kopi")
    svc.events.emit("demo", "txn", at=t + 2, shopper="s-me", zone="kopi", app="coupons", action="coupon_claim")
    svc.events.emit("demo", "txn", at=t + 3, device="dev-x", shopper="s-unverified", zone="kopi", app="q")

    assert client.get("/v/demo/my-data").status_code == 403  # no token: nothing
    page = client.get(f"/v/demo/my-data?c={token}")
    assert page.status_code == 200 and "membership" in page.get_data(as_text=True)
    data = client.get(f"/v/demo/my-data/export.json?c={token}").get_json()
    assert [e["kind"] for e in data["events"]] == ["arrive", "zone_enter", "landing", "txn"]
    assert data["apps"]["membership"]["member"] == member.id
    assert svc.privacy.exports("demo")[0]["what"] == "my-data.json"

    assert client.post("/v/demo/my-data/erase", data={"confirm": "1", "c": token}).status_code == 200
    left = list(svc.events.read("demo"))
    assert all(e.shopper != "s-me" and e.device != "dev-me" for e in left)
    assert {e.device for e in left} == {"dev-other", "dev-x"}
    assert members.get("demo", member.id) is None and members.for_client("demo", "s-me") is None
    assert svc.presence.occupancy("demo", t + 10) == {"kopi": 1}
    assert client.get(f"/v/demo/my-data?c={token}").status_code == 403  # the token is gone too
    assert compute(svc.events.read("demo"), "demo", t - 10, t + 10).funnels[0].in_zone == 1  # future exports


def test_an_erasure_from_the_kept_browser_reaches_the_phone_the_sheet_was_vouched_for(app, client, svc, demo):
    """The keep link opens the same shopper in the phone's real browser with a token that names no phone;
    erasing from there leaves nothing of her verified phone either (its events, presence, readings), and
    nothing of a phone only claimed (unverified) on another of her tokens, nor of anyone else's."""
    with app.app_context():
        shopper_token(Shopper("demo", "s-kept", phone="dev-kept", phone_verified=True))  # the sign-in sheet's
        shopper_token(Shopper("demo", "s-kept", phone="dev-claimed", phone_verified=False))
        browser = shopper_token(Shopper("demo", "s-kept"))  # the real browser's, after the keep link
    t = time.time() - 3600
    for phone in ("dev-kept", "dev-claimed", "dev-other"):
        svc.presence.record("demo", phone, "kopi", t)
    svc.events.emit("demo", "landing", at=t + 1, device="dev-kept", shopper="s-kept", zone="kopi")
    svc.db.zadd(RssiKeys("demo").readings("dev-kept"), {"ap1:-60": t})

    assert client.post("/v/demo/my-data/erase", data={"confirm": "1", "c": browser}).status_code == 200
    assert {e.device for e in svc.events.read("demo")} == {"dev-claimed", "dev-other"}
    assert svc.presence.occupancy("demo", t + 10) == {"kopi": 2}
    assert not svc.db.exists(RssiKeys("demo").readings("dev-kept"))


def test_an_unverified_phone_does_not_open_its_location_history(app, client, svc, demo):
    with app.app_context():
        token = shopper_token(Shopper("demo", "s-claim", phone="dev-victim", phone_verified=False))
    svc.presence.record("demo", "dev-victim", "kopi", time.time())
    data = client.get(f"/v/demo/my-data/export.json?c={token}").get_json()
    assert data["events"] == []


def test_retention_deletes_and_anonymises(svc, demo):
    now = time.time()
    day = 86400
    for age, dev in ((400, "old"), (100, "mid"), (10, "new")):
        svc.events.emit("demo", "txn", at=now - age * day, device=dev, shopper="s-" + dev, member="100001",
                        app="pay", action="payment", amount_fen=4500, order="MP5796ABC")
    done = svc.privacy.daily("demo", now)
    assert done == {"events_deleted": 1, "events_anonymised": 1, "deliveries_deleted": 0, "dead_letters_deleted": 0}
    assert svc.privacy.daily("demo", now) is None  # once a day
    left = {e.at: e for e in svc.events.read("demo")}
    mid, new = left[round(now - 100 * day, 3)], left[round(now - 10 * day, 3)]
    assert mid.device.startswith("anon-") and mid.shopper.startswith("anon-") and "member" not in mid.data
    # the order names its shopper in the books: only what the figures count is kept
    assert mid.data == {"app": "pay", "action": "payment", "amount_fen": 4500}
    assert (new.device, new.shopper, new.data["member"], new.data["order"]) == ("new", "s-new", "100001", "MP5796ABC")


def test_an_anonymised_payment_leads_back_to_no_other_event_of_the_day(svc, demo):
    """Its amount, purpose and time still match its ledger entry, whose order names the shopper: under the day's
    pseudonym it would name her whole day (her zones, her landing), so it gets one of its own."""
    old = time.time() - 100 * 86400
    svc.events.emit("demo", "zone_enter", at=old, device="dev-p", zone="kopi")
    svc.events.emit("demo", "landing", at=old + 5, device="dev-p", shopper="s-p", zone="kopi")
    svc.events.emit("demo", "txn", at=old + 60, device="dev-p", shopper="s-p", app="pay", action="payment",
                    amount_fen=4500, order="MP-1")
    svc.privacy.apply_retention("demo", time.time())
    by_kind = {e.kind: e for e in svc.events.read("demo") if e.at >= round(old, 3)}
    enter, landing, paid = by_kind["zone_enter"], by_kind["landing"], by_kind["txn"]
    assert enter.device == landing.device and enter.device.startswith("anon-")  # the day's visit still adds up
    assert paid.device.startswith("anon-") and paid.device != enter.device and paid.shopper != landing.shopper


def test_an_anonymised_paid_ticket_leads_back_to_no_other_event_of_the_day(svc, demo):
    """A light app's transaction written when its order was paid (a cinema ticket) matches the order's ledger entry
    just as the payment does: a pseudonym of its own too, and its `paid` mark is gone."""
    old = time.time() - 100 * 86400
    svc.events.emit("demo", "landing", at=old, device="dev-t", shopper="s-t", zone="cinema")
    svc.events.emit("demo", "txn", at=old + 60, shopper="s-t", zone="cinema", app="cinema", action="ticket",
                    paid="1", show="s1", seats=2)
    svc.events.emit("demo", "txn", at=old + 90, shopper="s-t", zone="cinema", app="cinema", action="seat_hold")
    svc.privacy.apply_retention("demo", time.time())
    got = {e.data.get("action", e.kind): e for e in svc.events.read("demo") if e.at >= round(old, 3)}
    landing, ticket, hold = got["landing"], got["ticket"], got["seat_hold"]
    assert hold.shopper == landing.shopper and ticket.shopper != landing.shopper  # the hold is no purchase
    assert ticket.data == {"app": "cinema", "action": "ticket", "show": "s1", "seats": 2}


def test_retention_settings_in_the_console(client, console, svc):
    console.login("ops")
    csrf = console.csrf()
    form = {"csrf_token": csrf, "events_anonymise": "30", "events_delete": "365", "deliveries_delete": "14"}
    url = "/console/ops/demo/insights/retention"
    for bad in ({"events_delete": "2"}, {"events_anonymise": "x"}, {"events_anonymise": "400"}):
        assert client.post(url, data={**form, **bad}).status_code == 400
    assert svc.privacy.retention("demo") == {"events_anonymise": 90, "events_delete": 395, "deliveries_delete": 30}
    assert client.post("/console/ops/demo/insights/retention", data=form).status_code == 303
    assert svc.privacy.retention("demo") == {"events_anonymise": 30, "events_delete": 365, "deliveries_delete": 14}


def test_an_offer_shows_on_the_shoppers_next_page(app, client, svc, demo):
    from werkzeug.datastructures import MultiDict

    from portal.events.moments import parse_rule

    rule = parse_rule(MultiDict({"name": "hi", "trigger": "zone_enter", "zone": "kopi", "action": "offer",
                                 "message_en": "Free cookie at Kopi", "message_zh": "考比送饼干"}),
                      zones=["kopi"], owner="ops", may_webhook=True)
    svc.moments.save("demo", rule)
    svc.moments.ensure("demo", start="0")
    svc.consent.record("demo", "s-o", location=True, marketing=True)
    svc.events.emit("demo", "landing", at=time.time(), device="dev-o", shopper="s-o", zone="atrium")
    svc.events.emit("demo", "zone_enter", at=time.time(), device="dev-o", zone="kopi")
    svc.moments.tick("demo")
    with app.app_context():
        token = shopper_token(Shopper("demo", "s-o"))
    page = client.get(f"/v/demo/?c={token}").get_data(as_text=True)
    assert 'id="moment-offers"' in page and "Free cookie at Kopi" in page
    assert "考比送饼干" in client.get(f"/v/demo/?c={token}&lang=zh").get_data(as_text=True)
    with app.app_context():
        other = shopper_token(Shopper("demo", "s-someone-else"))
    assert 'id="moment-offers"' not in client.get(f"/v/demo/?c={other}").get_data(as_text=True)


def test_retention_drops_undelivered_notifications_with_the_deliveries(svc, demo):
    """A dead letter names its shopper and its message: the count bound alone kept a quiet venue's for ever."""
    from portal.notify.outbox import Job, Outbox

    outbox, now = Outbox(svc.db), time.time()
    for age_days, who in ((45, "s-old"), (5, "s-new")):
        job = Job(id=f"j-{who}", venue="demo", shopper=who, event="queue.called", data={}, created=now, channel="sms")
        outbox.bury(job, "provider refused", now=now - age_days * 86400)
    done = svc.privacy.apply_retention("demo", now)  # deliveries_delete: 30 days by default
    assert done["dead_letters_deleted"] == 1
    assert [letter.job.shopper for letter in outbox.dead_letters("demo")] == ["s-new"]
