"""Owners' texts in two languages: the one fallback rule (portal/apps/bilingual.py), what shoppers see,
and the shop descriptions an owner writes from the zone console."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from core.errors import InputError
from portal.apps.bilingual import pick, read_pair
from portal.apps.shop_profiles import ShopProfileKeys, ShopProfileStore


def test_pick_prefers_the_page_language_and_marks_the_other():
    assert (str(pick("拿铁", "Latte", zh=True)), pick("拿铁", "Latte", zh=True).fallback) == ("拿铁", False)
    assert str(pick("拿铁", "Latte", zh=False)) == "Latte"
    only_zh = pick("拿铁", "", zh=False)
    assert (only_zh.text, only_zh.lang, only_zh.fallback) == ("拿铁", "zh", True)
    assert only_zh.__html__() == '<span lang="zh">拿铁</span> <small class="lang-tag" lang="zh">中文</small>'
    only_en = pick(None, "Latte", zh=True)
    assert 'lang="en"' in only_en.__html__() and ">EN<" in only_en.__html__()
    assert not pick("", "  ", zh=True) and pick("", "", zh=True).__html__() == ""
    assert pick("<b>", "", zh=True).__html__() == "&lt;b&gt;"  # owners' text is escaped


def test_read_pair_needs_one_language_and_caps_each():
    assert read_pair({"title_zh": " 茶 "}, "title", 5, required=True) == {"title_zh": "茶", "title_en": ""}
    with pytest.raises(InputError) as missing:
        read_pair({"title_zh": "", "title_en": " "}, "title", 5, required=True)
    assert missing.value.field == "title_zh"
    with pytest.raises(InputError) as long:
        read_pair({"title_en": "x" * 6}, "title", 5)
    assert long.value.field == "title_en"


def test_a_coupon_written_only_in_chinese_is_shown_marked_on_english_pages(client, console, svc):
    console.login("kopi")
    resp = client.post("/console/apps/coupons/demo/kopi/new", data={
        "csrf_token": console.csrf(), "title_zh": "只有中文的券", "description_en": "English only text",
        "stock": "5", "valid_from": str(date.today() - timedelta(days=1)),
        "valid_until": str(date.today() + timedelta(days=30))})
    assert resp.status_code == 303
    en = client.get("/v/demo/zone/kopi/coupons?lang=en").get_data(as_text=True)
    assert '<span lang="zh">只有中文的券</span> <small class="lang-tag" lang="zh">中文</small>' in en
    assert "English only text" in en and 'English only text</span> <small class="lang-tag"' not in en
    zh = client.get("/v/demo/zone/kopi/coupons?lang=zh").get_data(as_text=True)
    assert '<span lang="en">English only text</span> <small class="lang-tag" lang="en">EN</small>' in zh


def test_a_shop_description_filled_to_its_box_is_saved_and_one_refused_stays_in_the_form(client, console, svc):
    """The box takes 500 characters, a line break counted as one; the browser sends each as CRLF, so such a
    text was refused as too long, and the form then showed the stored text: what was typed was gone."""
    shop = next(s for s in svc.venues.get_map("demo").shops if s.zone == "kopi")
    url = f"/console/owner/demo/zone/kopi/shop/{shop.id}"
    console.login("kopi")
    in_box = "\n".join(["咖啡" * 10] * 24)[:500]  # 500 in the box, 23 of them line breaks
    sent = in_box.replace("\n", "\r\n")
    assert client.post(url, data={"csrf_token": console.csrf(), "description_zh": sent}).status_code == 303
    assert ShopProfileStore(svc.db).get("demo", shop.id)["description_zh"] == in_box
    too_long = "字" * 501
    bad = client.post(url, data={"csrf_token": console.csrf(), "description_zh": too_long, "description_en": "Hi"})
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and f">{too_long}</textarea>" in page and ">Hi</textarea>" in page


def test_owner_writes_a_shop_description_the_directory_shows(client, console, svc):
    venue_map = svc.venues.get_map("demo")
    shop = next(s for s in venue_map.shops if s.zone == "kopi")
    url = f"/console/owner/demo/zone/kopi/shop/{shop.id}"
    assert client.post(url, data={"description_zh": "x"}).status_code in (302, 400)  # logged out / no CSRF
    console.login("books")  # another owner's zone
    assert client.post(url, data={"csrf_token": console.csrf(), "description_zh": "x"}).status_code == 403
    console.logout()
    console.login("kopi")
    csrf = console.csrf()
    assert client.post("/console/owner/demo/zone/kopi/shop/nope", data={"csrf_token": csrf}).status_code == 404
    before = svc.db.hgetall(ShopProfileKeys("demo").profile(shop.id))  # the demo seed's texts
    bad = client.post(url, data={"csrf_token": csrf, "description_zh": "字" * 501})
    assert bad.status_code == 422 and 'role="alert"' in bad.get_data(as_text=True)
    assert svc.db.hgetall(ShopProfileKeys("demo").profile(shop.id)) == before  # nothing saved
    assert client.post(url, data={"csrf_token": csrf, "description_zh": "手冲咖啡专门店"}).status_code == 303
    assert ShopProfileStore(svc.db).get("demo", shop.id)["description_zh"] == "手冲咖啡专门店"
    en = client.get(f"/v/demo/shop/{shop.id}?lang=en").get_data(as_text=True)
    assert '<span lang="zh">手冲咖啡专门店</span> <small class="lang-tag" lang="zh">中文</small>' in en
    zh = client.get(f"/v/demo/shop/{shop.id}?lang=zh").get_data(as_text=True)
    assert "手冲咖啡专门店" in zh and 'lang-tag' not in zh.split('id="shop-description"')[1].split("</p>")[0]
