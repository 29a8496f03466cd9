"""WeChat Pay 智慧商圈: the sandbox sends a mall-wide payment notification (signed, AES-GCM resource) to the
portal's consumption callback; the linked member earns points once however often it is sent, the points are
synced back to WeChat Pay through the SDK, a refund claws them back (partly, then fully, once per refund);
a forged notification is refused; an unlinked shopper earns nothing; the mall's app links a member's openid only
with the member's own rotating code."""

from __future__ import annotations

import time

import requests

from lightapps.membership.codes import short_code, step_of, totp
from portal.apps.views import STORES

VENUE = "demo"


def send(sandbox_url, portal_url, kind, **fields):
    answer = requests.post(f"{sandbox_url}/sandbox/mall/{kind}",
                           data={"notify_url": f"{portal_url}/pay/notify/wechat-mall/{VENUE}", **fields}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_mall_payment_credits_once_and_refunds_claw_back(pay_portal, pay, sandbox):
    app, portal_url = pay_portal
    box, sandbox_url = sandbox
    members = app.extensions[STORES]["membership"]
    member, _new = members.bind(VENUE, "+8613800138000", "anon-wx")
    members.link_wechat(VENUE, member.id, "oMALLMEMBER0001")
    paid = send(sandbox_url, portal_url, "pay", openid="oMALLMEMBER0001", amount="25800", shop_number="kopi")
    assert paid["status"] == 200
    assert members.get(VENUE, member.id).points == 258
    synced = box.mall_points[paid["transaction_id"]]
    assert synced["increased_points"] == 258 and synced["total_points"] == 258 and synced["earn_points"] is True
    # The same notification again (WeChat Pay retries until acknowledged): counted once.
    headers, body, _txn = box.mall_event("paid", "oMALLMEMBER0001", 25800, "kopi", txn=paid["transaction_id"])
    url = f"{portal_url}/pay/notify/wechat-mall/{VENUE}"
    assert requests.post(url, data=body, headers=headers, timeout=60).status_code == 200
    assert members.get(VENUE, member.id).points == 258
    # A partial refund (¥58.00 back: ¥200.00 remain), then the rest, each replayed.
    headers, body, _txn = box.mall_event("refund", "oMALLMEMBER0001", 5800, "kopi", txn=paid["transaction_id"],
                                         pay_amount=25800)
    for _ in range(2):
        assert requests.post(url, data=body, headers=headers, timeout=60).status_code == 200
    assert members.get(VENUE, member.id).points == 200
    rest = send(sandbox_url, portal_url, "refund", openid="oMALLMEMBER0001", amount="20000", pay_amount="25800",
                transaction_id=paid["transaction_id"])
    assert rest["status"] == 200 and members.get(VENUE, member.id).points == 0
    # A forged one (any byte changed) is refused and credits nothing.
    headers, body, _txn = box.mall_event("paid", "oMALLMEMBER0001", 99900, "kopi")
    forged = body.replace(b'"MALL_TRANSACTION.SUCCESS"', b'"MALL_TRANSACTION.SUCCESS" ')
    answer = requests.post(url, data=forged, headers=headers, timeout=60)
    assert answer.status_code == 500 and answer.json()["code"] == "FAIL"
    assert members.get(VENUE, member.id).points == 0
    # A shopper WeChat knows but no member here: acknowledged, nothing credited.
    assert send(sandbox_url, portal_url, "pay", openid="oSTRANGER", amount="5000")["status"] == 200
    assert members.get(VENUE, member.id).points == 0


def test_bad_mall_callbacks(pay_portal, pay):
    client = pay_portal[0].test_client()
    assert client.post(f"/pay/notify/wechat-mall/{VENUE}", data=b"{}").status_code == 500  # unsigned: FAIL
    assert client.post("/pay/notify/wechat-mall/bad%20venue", data=b"{}").status_code == 404


def test_the_mall_app_links_a_member_by_their_code(client, demo, app):
    members = app.extensions[STORES]["membership"]
    member, _new = members.bind(VENUE, "+8613800138001", "anon-link")
    api = f"/api/v1/venues/{VENUE}/membership/wechat-links"
    auth = {"Authorization": f"Bearer {demo}"}
    code = short_code(member.id, totp(member.secret, step_of(time.time())))
    assert client.post(api, json={"member_code": code, "openid": "oLINK000001"}).status_code in (401, 403)
    for body, field in (({"member_code": code, "openid": "x"}, "openid"), ({"member_code": code}, "openid"),
                        ({"member_code": code, "openid": ["o1234567"]}, "openid"),
                        ({"member_code": "100001-000000x", "openid": "oLINK000001"}, "member_code")):
        answer = client.post(api, json=body, headers=auth)
        assert answer.status_code == 422 and answer.get_json()["field"] == field, body
    assert members.for_wechat(VENUE, "oLINK000001") is None  # nothing stored
    answer = client.post(api, json={"member_code": code, "openid": "oLINK000001"}, headers=auth)
    assert answer.status_code == 200 and answer.get_json() == {"member": member.id, "linked": True}
    assert members.for_wechat(VENUE, "oLINK000001").id == member.id
