"""The privacy page a person reads is in words, in Chinese as in English (portal/events/mywords.py): states, points
lines, actions, purposes and the currency through the catalog, fen as yuan, zone and shop ids by their names, the ids
of activities, coupons and tiers by the names their apps give them. A Chinese-only shopper saw "issued", "earn",
"activity_join", "group", "CNY", "atrium", "金额 12000" and "活动 1" there. The download keeps the codes (the page says
so). Real payments through the SDK and the sandbox, as the shopper made them."""

from __future__ import annotations

import re
import time

import pytest
import requests
from paid_offers import sale_and_group

from lightapps.activities.deposits import pay_deposit
from lightapps.activities.payment import buy
from lightapps.activities.store import ActivityStore
from lightapps.coupons.store import CouponStore
from portal.apps.views import STORES
from tests.events.test_mydata_page import text_of
from tests.events.test_zh_pages import english

VENUE, CLIENT = "demo", "anon-in-words"
# What the page showed as stored: none may be on it now, not even in <code>.
RAW = ("issued", "earn", "join", "receipt", "tier", "gold", "paid", "CNY", "group", "sale", "payment",
       "activity_join", "coupon_claim", "member_login", "atrium", "kopi", "item", "12000", "9900")


@pytest.fixture
def held(pay_mall, pay, pay_portal, sandbox, token_for):
    """CLIENT has joined an event, bought a flash sale's unit (¥99) and paid a group-buy deposit (¥120), claimed a
    coupon at Kopi, is a gold member who earned points on a ¥120 receipt at Kopi and signed in: (client, token)."""
    app, _map = pay_mall
    svc = app.extensions["mallportal"]
    activities, now = ActivityStore(svc.db), time.time()
    event = activities.create(VENUE, "atrium", {"kind": "event", "title_en": "Yoga", "title_zh": "瑜伽",
                                                "starts_at": now + 3600, "ends_at": now + 7200, "limit": 10})
    sale, group = sale_and_group(activities, VENUE, now)
    activities.join(VENUE, event.id, CLIENT)
    with app.test_request_context():
        orders = [buy(VENUE, sale, CLIENT, "http://back.example/", app.extensions[STORES]["activities.sale"]),
                  pay_deposit(VENUE, group, CLIENT, 12000, "http://back.example/")]
    for order in orders:
        pay.start(VENUE, order.id, "wechat", "native", "203.0.113.7", pay_portal[1], "http://back.example/")
        assert requests.post(f"{sandbox[1]}/sandbox/pay/wechat/{order.id}/approve", timeout=60).status_code == 200
    coupons = CouponStore(svc.db)
    coupon = coupons.create(VENUE, "kopi", {"title_en": "Latte", "title_zh": "拿铁券", "stock": 5,
                                            "valid_from": now - 60, "valid_until": now + 86400})
    coupons.claim(VENUE, "kopi", coupon.id, CLIENT)
    svc.events.emit(VENUE, "txn", shopper=CLIENT, zone="kopi", app="coupons", action="coupon_claim", coupon=coupon.id)
    members = app.extensions[STORES]["membership"]
    member, _new = members.bind(VENUE, "+8613800138000", CLIENT)
    members.post_purchase(VENUE, member.id, "R-1", "kopi", 12000)
    svc.events.emit(VENUE, "txn", shopper=CLIENT, zone="atrium", app="membership", action="member_login",
                    member=member.id, tier="gold")
    return CLIENT, token_for(app, VENUE, CLIENT)


def codes_on(page: str) -> set[str]:
    return set(re.findall(r"<code>([^<]*)</code>", page))


def test_the_chinese_page_puts_every_stored_code_in_words(pay_mall, held):
    app, _map = pay_mall
    _client, c = held
    page = app.test_client().get(f"/v/{VENUE}/my-data?c={c}&lang=zh").get_data(as_text=True)
    assert english(page) == []
    shown = codes_on(page)
    assert not shown & set(RAW), shown & set(RAW)
    activities = text_of(page, "held-app-activities")
    assert all(title in activities for title in ("瑜伽", "耳机", "火锅"))
    coupons = text_of(page, "held-app-coupons")
    assert "拿铁券" in coupons and "考比咖啡" in coupons and "未使用" in coupons
    membership = text_of(page, "held-app-membership")
    assert "¥120.00" in membership and "考比咖啡" in membership and "消费积分" in membership
    payments = text_of(page, "held-app-payments")
    assert all(words in payments for words in ("限时抢购", "团购定金", "人民币", "已支付", "中庭", "¥99.00"))
    events = text_of(page, "held-events")
    assert all(words in events for words in ("会员登录", "领取了优惠券", "参加了活动", "拿铁券", "金卡", "火锅"))
    assert "下载" in text_of(page, "export-codes")


def test_the_english_page_is_in_words_too_and_the_download_keeps_the_codes(pay_mall, held):
    app, _map = pay_mall
    _client, c = held
    client = app.test_client()
    page = client.get(f"/v/{VENUE}/my-data?c={c}&lang=en").get_data(as_text=True)
    assert not codes_on(page) & set(RAW)
    assert all(words in page for words in ("Not used yet", "Earned on a purchase", "Flash sale", "Yuan (CNY)",
                                           "Signed in as a member", "Gold", "Hotpot", "Latte", "Atrium"))
    export = client.get(f"/v/{VENUE}/my-data/export.json?c={c}").get_json()
    orders = export["apps"]["payments"]["orders"]
    assert {(o["purpose"], o["status"], o["currency"]) for o in orders} == {("sale", "paid", "CNY"),
                                                                            ("group", "paid", "CNY")}
    assert {e["action"] for e in export["events"]} >= {"member_login", "coupon_claim", "activity_join", "payment"}
