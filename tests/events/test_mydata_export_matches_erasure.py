"""The privacy centre's access and erasure agree: the export (from a token the gateway vouched for her phone) lists
exactly the events and the rules' deliveries her erasure then deletes: hers, her phone's, her phone's earlier WiFi
sign-in's, and those her other device (a shopper id no vouched phone links) wrote under her member number; nobody
else's, in neither."""

from __future__ import annotations

import json
import time

from werkzeug.datastructures import MultiDict

from portal.events.moments import parse_rule
from tests.events.test_erasure_other_sign_ins import PHONE, VENUE, sheet
from tests.events.test_mydata_members import her_other_device_acts_as


def signed_in(app, client) -> tuple[str, str]:
    """A vouched sign-in sheet on PHONE, opened (which links the phone to her id): the token and her id."""
    token, me = sheet(app)
    assert client.get(f"/v/{VENUE}/my-data", query_string={"c": token}).status_code == 200
    return token, me


def event_rows(svc) -> set[tuple]:
    return {(e.kind, e.at, e.zone, e.data.get("action")) for e in svc.events.read(VENUE)}


def delivery_rows(svc) -> set[tuple]:
    """As the export shows them: the body's fields over the delivery's."""
    return {row({"at": d.created, "rule": d.rule, "action": d.action, **json.loads(d.body)})
            for d in svc.moments.deliveries(VENUE)}


def row(delivery: dict) -> tuple:
    return delivery["at"], delivery["rule"], delivery["action"], delivery.get("shopper")


def test_the_export_lists_exactly_what_the_erasure_deletes(app, client, svc, demo):
    _monday, earlier = signed_in(app, client)  # her phone's earlier sign-in
    token, me = signed_in(app, client)
    members = app.extensions["light_app_stores"]["membership"]
    member = members.bind(VENUE, "+8613800138003", me)[0].id
    assert members.bind(VENUE, "+8613800138003", "s-other")[0].id == member  # her other device
    stranger = members.bind(VENUE, "+8613800138004", "s-stranger")[0].id
    t = float(int(time.time()) - 3600)  # whole seconds: the log keeps milliseconds
    svc.events.emit(VENUE, "landing", at=t + 1, device=PHONE, shopper=me, zone="kopi")
    svc.events.emit(VENUE, "txn", at=t + 2, shopper=earlier, zone="kopi", app="coupons", action="coupon_claim")
    svc.events.emit(VENUE, "landing", at=t + 3, device="dev-stranger", shopper="s-stranger", zone="kopi")
    svc.events.emit(VENUE, "txn", at=t + 4, shopper="s-stranger", zone="kopi", app="loyalty",
                    action="member_login", member=stranger)
    her_other_device_acts_as(svc, member)  # an event naming her member number, and a rule's offer for it
    svc.moments.save(VENUE, parse_rule(MultiDict({
        "name": "others", "trigger": "first_visit", "zone": "", "action": "offer", "message_en": "Hello"}),
        zones=["kopi"], owner="ops", may_webhook=True))
    svc.events.emit(VENUE, "txn", at=time.time() - 30, shopper="s-stranger", zone="kopi", app="loyalty",
                    action="member_login", member=stranger)
    svc.moments.tick(VENUE)

    data = client.get(f"/v/{VENUE}/my-data/export.json", query_string={"c": token}).get_json()
    exported = {(e["kind"], e["at"], e["zone"], e.get("action")) for e in data["events"]}
    assert ("txn", t + 2, "kopi", "coupon_claim") in exported
    assert any(e.get("member") == member for e in data["events"])  # what her other device wrote
    shown = {row(d) for d in [*data["moments"], *data["linked"][0]["moments"]]}
    assert shown and all(d["member"] == member for d in data["moments"])
    events_before, deliveries_before = event_rows(svc), delivery_rows(svc)

    assert client.post(f"/v/{VENUE}/my-data/erase", data={"confirm": "1", "c": token}).status_code == 200
    assert events_before - event_rows(svc) == exported
    assert deliveries_before - delivery_rows(svc) == shown
    assert {e.shopper for e in svc.events.read(VENUE) if e.kind in ("landing", "txn")} == {"s-stranger"}
