"""Coupon pages and console endpoints through the Flask test client: the happy path, bad input
(clear 4xx, nothing stored) and who may call what."""

from __future__ import annotations

import functools
import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from core.settings import DEFAULT_BUDGETS
from lightapps.coupons import APP
from lightapps.coupons.codes import format_code, qr_payload
from lightapps.coupons.demo import seed as seed_demo
from lightapps.coupons.store import CouponKeys, CouponStore
from portal.shopper import Shopper, shopper_token

CONSOLE = "/console/apps/coupons/demo"


@pytest.fixture
def coupons(svc):
    return CouponStore(svc.db)


@pytest.fixture
def token(app):
    @functools.cache  # one token per shopper, as a browser keeps the one its links carry
    def make(client_id: str = "alice") -> str:
        with app.app_context():
            return shopper_token(Shopper("demo", client_id))

    return make


def new_coupon(coupons, zone="kopi", **over):
    fields = {"title_en": "Test coupon", "title_zh": "测试券", "description_en": "desc", "stock": 5,
              "valid_from": time.time() - 60, "valid_until": time.time() + 86400}
    fields.update(over)
    return coupons.create("demo", zone, fields)


def claim(client, coupon, token, zone="kopi"):
    return client.post(f"/v/demo/zone/{zone}/coupons/{coupon.id}/claim", data={"c": token})


def code_from(resp) -> str:
    match = re.search(r"/coupons/mine/([0-9A-Z]{10})", resp.headers["Location"])
    assert match, resp.headers.get("Location")
    return match.group(1)


def n_codes(db) -> int:
    return len(db.keys(CouponKeys("demo").code("*")))


# ---- app registration and demo data -------------------------------------------------------------


def test_app_is_registered_with_config_schema(app):
    from portal.apps import registry

    assert registry.get("coupons") is APP
    assert APP.validate_config({"headline_en": "Hi", "headline_zh": "嗨"}) == {"headline_en": "Hi", "headline_zh": "嗨"}
    with pytest.raises(ValueError):
        APP.validate_config({"headline_en": "x" * 500})
    assert "coupons_console.home" in app.view_functions


def test_demo_seed_makes_two_coupons_per_shop_once(app, svc, demo, demo_map, coupons):
    for zone in ("kopi", "books", "lumen"):
        assert len(coupons.live_for_zone("demo", zone)) == 2
    with app.app_context():
        seed_demo(svc, demo_map)
    assert [len(coupons.for_zone("demo", z)) for z in ("kopi", "books", "lumen")] == [2, 2, 2]


def test_demo_coupons_read_in_chinese_without_english_fallbacks(client, demo, token):
    """Every demo coupon has its Chinese description: a zh page shows none in English tagged EN."""
    pages = {zone: client.get(f"/v/demo/zone/{zone}/coupons?c={token()}&lang=zh").get_data(as_text=True)
             for zone in ("kopi", "books", "lumen")}
    for zone, html in pages.items():
        assert 'class="lang-tag"' not in html, zone
    assert "在柜台出示券码即可。" in pages["kopi"] and "送完即止。" in pages["books"]
    assert "价格最低的一件免费。" in pages["lumen"]
    coupon_id = re.search(r'/coupons/([^/"]+)/claim', pages["kopi"]).group(1)
    claimed = client.post(f"/v/demo/zone/kopi/coupons/{coupon_id}/claim", data={"c": token(), "lang": "zh"})
    mine = client.get(claimed.headers["Location"] + "&lang=zh").get_data(as_text=True)
    assert claimed.status_code == 303
    assert ("在柜台出示券码即可。" in mine or "每张券限购一袋。" in mine) and 'class="lang-tag"' not in mine


# ---- shopper pages ------------------------------------------------------------------------------


def test_landing_lists_live_coupons_with_c_token(client, demo, coupons, token):
    new_coupon(coupons, title_en="Fresh one")
    new_coupon(coupons, title_en="Not yet", valid_from=time.time() + 3600)
    resp = client.get(f"/v/demo/zone/kopi/coupons?c={token()}")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "Fresh one" in page and "Not yet" not in page
    assert "Free kaya toast" in page  # demo data
    assert f'name="c" value="{token()}"' in page
    assert "Today&#39;s coupons" in page or "Today's coupons" in page
    assert len(resp.data) < 100_000
    zh = client.get(f"/v/demo/zone/kopi/coupons?c={token()}&lang=zh").get_data(as_text=True)
    assert "测试券" in zh and "今日优惠券" in zh


@pytest.mark.parametrize("url", ["/v/nowhere/zone/kopi/coupons", "/v/demo/zone/nowhere/coupons",
                                 "/v/demo/zone/cinema/coupons"])
def test_landing_404s(client, demo, url):
    assert client.get(url).status_code == 404


def test_claim_then_my_coupon_shows_qr_and_code(client, demo, coupons, token):
    coupon = new_coupon(coupons)
    resp = claim(client, coupon, token())
    assert resp.status_code == 303
    assert "c=" in resp.headers["Location"]
    code = code_from(resp)
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "<svg" in page and format_code(code) in page
    assert coupons.issued("demo", code).client == "alice"
    mine = client.get(f"/v/demo/coupons/mine?c={token()}").get_data(as_text=True)
    assert "Test coupon" in mine and format_code(code) in mine
    # The landing now offers "show my coupon" instead of a second claim.
    landing = client.get(f"/v/demo/zone/kopi/coupons?c={token()}").get_data(as_text=True)
    assert f"/coupons/mine/{code}" in landing


def test_claim_twice_gives_the_same_coupon(client, demo, coupons, token):
    coupon = new_coupon(coupons)
    first = claim(client, coupon, token())
    second = claim(client, coupon, token())
    assert second.status_code == 303 and "already=1" in second.headers["Location"]
    assert code_from(first) == code_from(second)
    assert coupons.get("demo", coupon.id).claimed == 1
    assert "already have" in client.get(second.headers["Location"]).get_data(as_text=True)


def test_claim_without_token_makes_an_anonymous_shopper(client, demo, coupons):
    coupon = new_coupon(coupons)
    resp = client.post(f"/v/demo/zone/kopi/coupons/{coupon.id}/claim")
    assert resp.status_code == 303 and "c=" in resp.headers["Location"]
    assert client.get(resp.headers["Location"]).status_code == 200


def test_claim_refusals_store_nothing(client, demo, coupons, token, db):
    sold = new_coupon(coupons, stock=1)
    assert claim(client, sold, token("first")).status_code == 303
    before = n_codes(db)
    resp = claim(client, sold, token("second"))
    assert resp.status_code == 410 and "sold out" in resp.get_data(as_text=True)
    early = new_coupon(coupons, valid_from=time.time() + 3600)
    resp = claim(client, early, token())
    assert resp.status_code == 403 and "not valid yet" in resp.get_data(as_text=True)
    late = new_coupon(coupons, valid_from=time.time() - 7200, valid_until=time.time() - 3600)
    assert claim(client, late, token()).status_code == 410
    books = new_coupon(coupons, zone="books")
    assert claim(client, books, token(), zone="kopi").status_code == 404  # wrong zone in the URL
    assert client.post("/v/demo/zone/kopi/coupons/99999/claim", data={"c": token()}).status_code == 404
    assert client.post("/v/demo/zone/kopi/coupons/abc/claim", data={"c": token()}).status_code == 404
    assert client.post("/v/demo/zone/cinema/coupons/1/claim", data={"c": token()}).status_code == 404
    assert client.post("/v/nowhere/zone/kopi/coupons/1/claim", data={"c": token()}).status_code == 404
    assert client.get(f"/v/demo/zone/kopi/coupons/{books.id}/claim").status_code == 405
    assert n_codes(db) == before
    assert coupons.get("demo", books.id).claimed == 0


CNA_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"


def test_a_coupon_claimed_in_the_sign_in_sheet_offers_the_keep_link(app, client, demo, coupons, token):
    """The sign-in sheet forgets the shopper when it closes: her coupon's page offers the link that keeps it in
    her phone's real browser (in her language), as a seat hold's does; a real browser's page needs none."""
    code = code_from(claim(client, new_coupon(coupons), token()))
    sheet = app.test_client()
    page = sheet.get(f"/v/demo/coupons/mine/{code}?c={token()}&lang=zh",
                     headers={"User-Agent": CNA_UA}).get_data(as_text=True)
    assert 'id="keep-offer"' in page and re.search(r'id="keep-link" href="[^"]*/v/demo/keep\?k=[^"]*lang=zh', page)
    browser = app.test_client()
    assert 'id="keep-offer"' not in browser.get(f"/v/demo/coupons/mine/{code}?c={token()}").get_data(as_text=True)


def test_my_coupon_is_only_for_its_holder(client, demo, coupons, token):
    coupon = new_coupon(coupons)
    code = code_from(claim(client, coupon, token("alice")))
    assert client.get(f"/v/demo/coupons/mine/{code}?c={token('bob')}").status_code == 404
    assert client.get(f"/v/demo/coupons/mine/{code}").status_code == 404
    assert client.get(f"/v/demo/coupons/mine/nonsense?c={token('alice')}").status_code == 404
    assert client.get(f"/v/demo/coupons/mine/{code.lower()}?c={token('alice')}").status_code == 200
    assert "no coupons" in client.get(f"/v/demo/coupons/mine?c={token('bob')}").get_data(as_text=True)


# ---- console: who may call -----------------------------------------------------------------------


def test_logged_out_is_sent_to_login(client, demo, coupons, console, db):
    resp = client.get(f"{CONSOLE}/kopi/")
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    csrf = console.csrf()
    resp = client.post(f"{CONSOLE}/kopi/new", data={"csrf_token": csrf, "title_en": "X", "stock": "5",
                                                   "valid_from": "2030-01-01", "valid_until": "2030-01-02"})
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    coupon = new_coupon(coupons)
    code = coupons.claim("demo", "kopi", coupon.id, "alice").code
    resp = client.post(f"{CONSOLE}/kopi/redeem", data={"csrf_token": csrf, "code": code})
    assert resp.status_code == 302
    resp = client.post(f"{CONSOLE}/kopi/{coupon.id}/stop", data={"csrf_token": csrf})
    assert resp.status_code == 302
    assert coupons.issued("demo", code).state == "issued"
    assert coupons.get("demo", coupon.id).status == "live"
    assert len(coupons.for_zone("demo", "kopi")) == 3


def test_owner_of_another_zone_gets_403(client, console, coupons):
    console.login("books")
    assert client.get(f"{CONSOLE}/books/").status_code == 200
    assert client.get(f"{CONSOLE}/kopi/").status_code == 403
    coupon = new_coupon(coupons)
    code = coupons.claim("demo", "kopi", coupon.id, "alice").code
    csrf = console.csrf()
    assert client.post(f"{CONSOLE}/kopi/redeem", data={"csrf_token": csrf, "code": code}).status_code == 403
    assert client.post(f"{CONSOLE}/kopi/new", data={
        "csrf_token": csrf, "title_en": "X", "stock": "5", "valid_from": "2030-01-01",
        "valid_until": "2030-01-02"}).status_code == 403
    assert client.post(f"{CONSOLE}/kopi/{coupon.id}/stop", data={"csrf_token": csrf}).status_code == 403
    # At their own till, the books owner cannot burn a Kopi coupon either.
    resp = client.post(f"{CONSOLE}/books/redeem", data={"csrf_token": csrf, "code": code})
    assert resp.status_code == 403
    assert "Kopi Coffee" in resp.get_data(as_text=True)
    assert coupons.issued("demo", code).state == "issued"
    assert coupons.get("demo", coupon.id).status == "live"
    assert len(coupons.for_zone("demo", "kopi")) == 3
    # ...and the right shop still can.
    console.logout()
    console.login("kopi")
    assert client.post(f"{CONSOLE}/kopi/redeem", data={"csrf_token": console.csrf(), "code": code}).status_code == 200


def test_operator_may_manage_any_zone_of_the_venue(client, console):
    console.login("ops")
    assert client.get(f"{CONSOLE}/kopi/").status_code == 200
    assert client.get(f"{CONSOLE}/nowhere/").status_code == 404
    assert client.get("/console/apps/coupons/other/kopi/").status_code == 403


def test_console_posts_need_csrf(client, console, coupons):
    console.login("kopi")
    resp = client.post(f"{CONSOLE}/kopi/new", data={"title_en": "X", "stock": "5", "valid_from": "2030-01-01",
                                                   "valid_until": "2030-01-02"})
    assert resp.status_code == 400
    assert len(coupons.for_zone("demo", "kopi")) == 2


# ---- console: publishing -------------------------------------------------------------------------


def good_form(csrf, **over):
    today = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d")  # the venue's day
    data = {"csrf_token": csrf, "title_en": "Half-price latte", "title_zh": "拿铁半价", "description_en": "Weekdays",
            "stock": "20", "valid_from": today, "valid_until": today}
    data.update(over)
    return data


def test_publish_lists_the_coupon_and_shoppers_see_it(client, console, coupons, db):
    console.login("kopi")
    resp = client.post(f"{CONSOLE}/kopi/new", data=good_form(console.csrf()))
    assert resp.status_code == 303
    made = [c for c in coupons.for_zone("demo", "kopi") if c.title_en == "Half-price latte"]
    assert len(made) == 1 and made[0].stock == 20 and made[0].created_by == "kopi"
    page = client.get(f"{CONSOLE}/kopi/").get_data(as_text=True)
    assert "Half-price latte" in page
    assert "Half-price latte" in client.get("/v/demo/zone/kopi/coupons").get_data(as_text=True)
    audit = [e.decode() for e in db.lrange("mp:{demo}:audit", 0, 5)]
    assert any("coupons.create" in e for e in audit)


@pytest.mark.parametrize("over, words", [
    ({"title_en": "", "title_zh": ""}, "title is required"),  # one language is enough, none is not
    ({"title_en": None, "title_zh": None}, "title is required"),
    ({"stock": "0"}, "stock"),
    ({"stock": "lots"}, "stock"),
    ({"stock": None}, "stock"),
    ({"valid_from": "tomorrow"}, "valid_from"),
    ({"valid_until": None}, "valid_until"),
    ({"valid_from": "2031-01-02", "valid_until": "2031-01-01"}, "valid_until"),
    ({"valid_from": "2000-01-01", "valid_until": "2000-01-02"}, "past"),
    ({"valid_from": "9999-12-31", "valid_until": "9999-12-31"}, "days ahead"),  # a 500 once, its id spent
    ({"description_en": "x" * 600}, "description_en"),
])
def test_publish_bad_input_is_400_and_stores_nothing(client, console, coupons, db, over, words):
    console.login("kopi")
    data = {k: v for k, v in good_form(console.csrf(), **over).items() if v is not None}
    seq_before = db.get(CouponKeys("demo").seq())
    resp = client.post(f"{CONSOLE}/kopi/new", data=data)
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert words in page and 'id="form-error"' in page
    assert len(coupons.for_zone("demo", "kopi")) == 2
    assert db.get(CouponKeys("demo").seq()) == seq_before


@pytest.mark.parametrize("over, label, raw", [
    ({"stock": "abc"}, "库存（优惠券数量）", "stock"),
    ({"valid_from": "2026-13-01"}, "生效日期", "valid_from"),
    ({"title_en": "", "title_zh": ""}, "", "title"),  # neither language: no box to name
    ({"parking_yuan": "5.555"}, "", "parking_yuan"),
])
def test_form_errors_are_in_the_owners_language_naming_the_box(client, console, coupons, over, label, raw):
    console.login("kopi")
    resp = client.post(f"{CONSOLE}/kopi/new?lang=zh", data=good_form(console.csrf(), **over))
    assert resp.status_code == 400
    text = re.search(r'id="form-error"[^>]*>(.*?)</p>', resp.get_data(as_text=True), re.S).group(1)
    assert re.search(r"[\u4e00-\u9fff]", text) and label in text, text
    assert raw not in text and not re.match(r"\s*[a-z_]+:", text), text


def test_stop_claims(client, console, coupons, token):
    coupon = new_coupon(coupons)
    console.login("kopi")
    assert client.post(f"{CONSOLE}/kopi/{coupon.id}/stop", data={"csrf_token": console.csrf(),
                                                                  "confirm": "yes"}).status_code == 303
    assert coupons.get("demo", coupon.id).status == "stopped"
    assert claim(client, coupon, token()).status_code == 410
    assert client.post(f"{CONSOLE}/kopi/99999/stop", data={"csrf_token": console.csrf()}).status_code == 404
    books = new_coupon(coupons, zone="books")
    assert client.post(f"{CONSOLE}/kopi/{books.id}/stop", data={"csrf_token": console.csrf()}).status_code == 404
    assert coupons.get("demo", books.id).status == "live"


# ---- console: redeeming --------------------------------------------------------------------------


def test_redeem_by_short_code_exactly_once_and_shopper_sees_it(client, console, coupons, token):
    coupon = new_coupon(coupons)
    code = code_from(claim(client, coupon, token()))
    console.login("kopi")
    resp = client.post(f"{CONSOLE}/kopi/redeem", data={"csrf_token": console.csrf(),
                                                      "code": format_code(code).lower()})
    assert resp.status_code == 200
    assert "Redeemed at" in resp.get_data(as_text=True)
    again = client.post(f"{CONSOLE}/kopi/redeem", data={"csrf_token": console.csrf(), "code": code})
    assert again.status_code == 409
    redeemed_at = coupons.issued("demo", code).redeemed_at
    when = datetime.fromtimestamp(redeemed_at, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d")
    assert "Already redeemed at " + when in again.get_data(as_text=True)
    assert coupons.get("demo", coupon.id).redeemed == 1
    page = client.get(f"/v/demo/coupons/mine/{code}?c={token()}").get_data(as_text=True)
    assert 'id="state" class="redeemed"' in page and "<svg" not in page


def test_the_till_pressing_redeem_twice_is_told_it_redeemed(client, db, console, coupons, token):
    """A double press or a reload after success sends the same form (its nonce) again: the till is shown the
    first redemption as it was (green, its time), not "Already redeemed" in red; the code is redeemed once, the
    audit log has it once, and the page's next form (a new nonce) is told the truth about that code."""
    code = code_from(claim(client, new_coupon(coupons), token()))
    console.login("kopi")
    form = re.search(r'name="nonce" value="([^"]+)"', client.get(f"{CONSOLE}/kopi/").get_data(as_text=True))
    sent = {"csrf_token": console.csrf(), "code": code, "nonce": form.group(1)}
    first = client.post(f"{CONSOLE}/kopi/redeem", data=sent)
    again = client.post(f"{CONSOLE}/kopi/redeem", data=sent)
    assert first.status_code == again.status_code == 200
    said = [re.search(r'id="redeem-result"[^>]*class="(\w+)"[^>]*>\s*(.*?)\s*<br>', r.get_data(as_text=True), re.S)
            .groups() for r in (first, again)]
    assert said[0] == said[1] and said[0][0] == "flash" and "Redeemed at" in said[0][1]
    assert coupons.issued("demo", code).state == "redeemed"
    assert coupons.get("demo", code_coupon(coupons, code)).redeemed == 1
    assert sum("coupons.redeem" in e.decode() for e in db.lrange("mp:{demo}:audit", 0, -1)) == 1
    next_form = re.search(r'name="nonce" value="([^"]+)"', again.get_data(as_text=True)).group(1)
    assert next_form != sent["nonce"]
    other = client.post(f"{CONSOLE}/kopi/redeem", data={**sent, "nonce": next_form})
    assert other.status_code == 409 and "Already redeemed at" in other.get_data(as_text=True)


def code_coupon(coupons, code: str) -> str:
    return coupons.issued("demo", code).coupon_id


def test_redeem_by_qr_payload_and_forged_qr(app, client, console, coupons, token):
    coupon = new_coupon(coupons)
    code = code_from(claim(client, coupon, token()))
    secret = app.config["SECRET_KEY"]
    console.login("kopi")
    forged = qr_payload("not-our-secret", "demo", code)
    resp = client.post(f"{CONSOLE}/kopi/redeem", data={"csrf_token": console.csrf(), "code": forged})
    assert resp.status_code == 400 and "not genuine" in resp.get_data(as_text=True)
    other_mall = qr_payload(secret, "elsewhere", code)
    assert client.post(f"{CONSOLE}/kopi/redeem", data={"csrf_token": console.csrf(),
                                                      "code": other_mall}).status_code == 400
    assert coupons.issued("demo", code).state == "issued"
    resp = client.post(f"{CONSOLE}/kopi/redeem", data={"csrf_token": console.csrf(),
                                                      "code": qr_payload(secret, "demo", code)})
    assert resp.status_code == 200
    assert coupons.issued("demo", code).state == "redeemed"


@pytest.mark.parametrize("typed, status", [
    ("", 400), ("   ", 400), ("abc", 400), ("ABCDE-1234!", 400), ("x" * 500, 400),
    ("MPC1:demo:ABCDEFGHJK:AAAA", 400), ("MPC1:garbage", 400), ("ZZZZZ-ZZZZZ", 404),
])
def test_redeem_bad_input(client, console, coupons, typed, status):
    coupon = new_coupon(coupons)
    code = coupons.claim("demo", "kopi", coupon.id, "alice").code
    console.login("kopi")
    resp = client.post(f"{CONSOLE}/kopi/redeem", data={"csrf_token": console.csrf(), "code": typed})
    assert resp.status_code == status
    assert 'id="redeem-result"' in resp.get_data(as_text=True)
    assert coupons.issued("demo", code).state == "issued"
    assert coupons.get("demo", coupon.id).redeemed == 0


def test_redeem_expired_code_is_refused(client, console, coupons):
    coupon = new_coupon(coupons)
    code = coupons.claim("demo", "kopi", coupon.id, "alice").code
    coupons.db.hset(CouponKeys("demo").coupon(coupon.id), "valid_until", repr(time.time() - 1))
    console.login("kopi")
    resp = client.post(f"{CONSOLE}/kopi/redeem", data={"csrf_token": console.csrf(), "code": code})
    assert resp.status_code == 410 and "expired" in resp.get_data(as_text=True)
    assert coupons.issued("demo", code).state == "issued"


def test_guessing_codes_is_braked(client, console, coupons):
    console.login("kopi")
    csrf = console.csrf()
    for _ in range(DEFAULT_BUDGETS["coupons.redeem_miss.account"][0]):  # tests/security/test_redeem_guess_budgets.py
        assert client.post(f"{CONSOLE}/kopi/redeem", data={"csrf_token": csrf, "code": "ZZZZZZZZZZ"}).status_code == 404
    coupon = new_coupon(coupons)
    code = coupons.claim("demo", "kopi", coupon.id, "alice").code
    assert client.post(f"{CONSOLE}/kopi/redeem", data={"csrf_token": csrf, "code": code}).status_code == 429
    assert coupons.issued("demo", code).state == "issued"
