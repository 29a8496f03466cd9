"""The queue's refusals in the page's language: a party size no table seats, or out of range, on a Chinese
phone (taking a number, booking a table), and a menu price the owner typed wrong in the console. The rules
(lightapps/queue/rules.py) raise a catalog message and its values; the views translate them."""

from __future__ import annotations

import html
import re

import pytest

from lightapps.queue import rules
from lightapps.queue.store import QueueStore
from portal.apps.registry import get as get_app
from portal.shopper import cookie_name

BASE = "/v/demo/queue/jade"
CONSOLE = "/console/apps/queue/demo/jade"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en-US,en;q=0.9"}


@pytest.fixture
def classes_a_and_c(svc, demo):
    """The owner's table classes A:1-2,C:5-12 at Jade Tea House: no table for 3 or 4."""
    svc.zone_apps.set("demo", "jade", "queue", {**get_app("queue").default_config(), "table_classes": "A:1-2,C:5-12"})


@pytest.fixture
def shopper(client, demo) -> str:
    client.delete_cookie(cookie_name("demo"))
    page = client.get(BASE).get_data(as_text=True)
    client.delete_cookie(cookie_name("demo"))
    return re.search(r'name="c" value="([^"]+)"', page).group(1)


def test_a_party_no_table_seats_is_refused_in_chinese_on_a_chinese_phone(client, db, classes_a_and_c, shopper):
    resp = client.post(f"{BASE}/take", data={"party": "3", "c": shopper}, headers=ZH)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "没有可容纳 3 位顾客的餐桌。" in body and "No table seats" not in body
    resp = client.post(f"{BASE}/take", data={"party": "99", "c": shopper}, headers=ZH)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "人数须为 1 到 12 之间的整数。" in body and "Party size" not in body
    assert all(QueueStore(db).waiting_count("demo", "jade", cls) == 0 for cls in "AC")  # nothing taken
    # the same refusals in English on an English phone, with their numbers
    en = client.post(f"{BASE}/take", data={"party": "4", "c": shopper}, headers=EN).get_data(as_text=True)
    assert "No table seats a party of 4." in en
    en = client.post(f"{BASE}/take", data={"party": "x", "c": shopper}, headers=EN).get_data(as_text=True)
    assert "Party size must be a whole number from 1 to 12." in en


def test_booking_a_table_for_a_party_no_table_seats_is_refused_in_chinese(client, classes_a_and_c, shopper):
    form = {"party": "3", "c": shopper, "date": "", "slot": ""}
    resp = client.post(f"{BASE}/reserve?lang=zh", data=form)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "没有可容纳 3 位顾客的餐桌。" in body
    resp = client.post(f"{BASE}/reserve?lang=zh", data={**form, "party": "0"})
    assert resp.status_code == 400 and "人数须为 1 到 12 之间的整数。" in resp.get_data(as_text=True)


def test_a_bad_menu_price_is_refused_in_chinese_in_the_console(client, console, demo):
    console.login("jade")
    csrf = console.csrf()
    for price, zh in (("abc", "价格必须是以元为单位的金额"), ("1.234", "价格最多两位小数。")):
        resp = client.post(CONSOLE + "/menu", data={"name_en": "Tea", "price": price, "csrf_token": csrf}, headers=ZH)
        body = resp.get_data(as_text=True)
        assert resp.status_code == 422 and zh in body and "Price must" not in body, price


def test_rule_errors_carry_a_catalog_message_and_its_values():
    classes = rules.parse_table_classes("A:1-2,C:5-12")
    with pytest.raises(rules.RuleError) as refused:
        rules.parse_party("3", classes)
    assert (refused.value.template, refused.value.params) == ("No table seats a party of %(n)s.", {"n": 3})
    assert str(refused.value) == "No table seats a party of 3."
    with pytest.raises(ValueError, match="from 1 to 12"):  # still a ValueError for callers that catch one
        rules.parse_party("13", classes)


@pytest.mark.parametrize(("field", "value", "zh"), [
    ("table_classes", "A:1-2,B:2-4", "桌型 A 与 B 的人数范围重叠"),
    ("table_classes", "A:1-2,A:3-4", "桌型代号不能重复"),
    ("table_classes", "Z", "桌型 'Z' 的格式应为 A:1-2 或 C:5+"),
    ("open_hours", "25:00-02:00", "营业时间的格式应为 11:00-21:00"),  # 21:00-11:00 is open past midnight now
])
def test_the_owners_config_errors_are_in_the_owners_language(client, console, svc, field, value, zh):
    console.login("jade")
    before = svc.zone_apps.get("demo", "jade")
    form = {"csrf_token": console.csrf(), "app": "queue", **{k: str(v) for k, v in before[1].items()}, field: value}
    resp = client.post("/console/owner/demo/zone/jade?lang=zh", data=form)
    assert resp.status_code == 422 and zh in html.unescape(resp.get_data(as_text=True))
    assert svc.zone_apps.get("demo", "jade") == before
