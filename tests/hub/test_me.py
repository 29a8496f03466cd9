"""Me: each app's part, collected through the light-app contract (`me.py`), only the bearer's own things;
the hub header on every shopper page; keeping the shopper in the real browser with a one-time link."""

import re
import time
from html import unescape
from urllib.parse import parse_qs, urlsplit

from lightapps.cinema.store import CinemaStore, ShowtimeInput
from lightapps.coupons.store import CouponStore
from lightapps.queue.store import QueueStore
from portal.apps import registry
from portal.apps.zone_apps import ZoneAppKeys
from portal.hub.keep import KeepKeys
from portal.shopper import cookie_name, new_shopper
from tests.hub.conftest import mint
from tests.store_sends import store_sends

# Apple's captive sign-in sheet (CNA): WebKit without "Safari"
CNA_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
# Android's sign-in screen: a WebView ("; wv)"), which closes by itself once the network validates
ANDROID_SIGN_IN_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
                      "Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36")
SAFARI_UA = CNA_UA.replace("Mobile/15E148", "Version/17.5 Mobile/15E148 Safari/604.1")


def _a_ticket_coupon_and_number(svc, client_id: str) -> None:
    cinema = CinemaStore(svc.db)
    show = cinema.upsert_showtimes("demo", "cinema", [ShowtimeInput("Hub Film", "枢纽电影", "1",
                                                                   int(time.time()) + 3600, 4200)], source="t")
    show_obj = cinema.showtime("demo", show["ids"][0])
    held = cinema.hold("demo", show_obj, client_id, ["A1"], 300)
    assert cinema.confirm("demo", held.token, client_id, "cinema").status == "ok"
    coupons = CouponStore(svc.db)
    coupon = coupons.create("demo", "kopi", {"title_en": "Hub coffee", "title_zh": "枢纽咖啡", "description_en": "",
                                             "stock": 5, "valid_from": time.time() - 60,
                                             "valid_until": time.time() + 86400})
    assert coupons.claim("demo", "kopi", coupon.id, client_id).ok
    assert QueueStore(svc.db).take("demo", "foodcourt", "A", 2, client_id).ok


def test_me_collects_every_apps_part_for_the_bearer_only(app, client, svc, shopper):
    who, token = shopper
    _a_ticket_coupon_and_number(svc, who.client)
    page = client.get(f"/v/demo/me?c={token}&lang=en").get_data(as_text=True)
    for section in ("mine-cinema", "mine-coupons", "mine-queue", "mine-membership", "mine-parking"):
        assert f'id="{section}"' in page, section
    assert "Hub Film" in page and "Hub coffee" in page and "Become a member" in page and "Find my car" in page
    assert re.search(r'href="/v/demo/cinema/cinema/ticket/\w+\?[^"]*c=demo\.', page)
    other = mint(app, new_shopper("demo"))
    theirs = client.get(f"/v/demo/me?c={other}&lang=en").get_data(as_text=True)
    assert "Hub Film" not in theirs and "Hub coffee" not in theirs and 'id="mine-queue"' not in theirs
    anonymous = app.test_client().get("/v/demo/me?lang=en").get_data(as_text=True)  # no token, no cookie
    assert "Hub Film" not in anonymous


def _a_show(svc, film_en="Orbit Nine", film_zh="九号轨道", starts_in_s=3600):
    cinema = CinemaStore(svc.db)
    ids = cinema.upsert_showtimes("demo", "cinema", [ShowtimeInput(film_en, film_zh, "1",
                                                                  int(time.time()) + starts_in_s, 4500)], source="t")
    return cinema, cinema.showtime("demo", ids["ids"][0])


def test_me_lists_an_open_hold_with_a_link_to_it(app, client, svc, shopper):
    """A hold not yet confirmed or paid is found again from Me (the sheet reloaded, or the real browser after
    the keep link): its seats, until when, and its page (with the Pay button)."""
    who, token = shopper
    cinema, show = _a_show(svc)
    held = cinema.hold("demo", show, who.client, ["B1", "B2"], 300)
    page = client.get(f"/v/demo/me?c={token}&lang=en").get_data(as_text=True)
    assert re.search(rf'href="/v/demo/cinema/cinema/hold/{held.token}\?[^"]*c={re.escape(token)}', page)
    assert "Orbit Nine" in page and re.search(r"Seats B1, B2 held until \d\d:\d\d", page)
    zh = client.get(f"/v/demo/me?c={token}&lang=zh").get_data(as_text=True)
    assert "九号轨道" in zh and f"/hold/{held.token}" in zh
    other = mint(app, new_shopper("demo"))
    assert held.token not in client.get(f"/v/demo/me?c={other}&lang=en").get_data(as_text=True)


def test_me_leaves_out_holds_that_ended(client, svc, shopper):
    who, token = shopper
    cinema, show = _a_show(svc)
    lapsed = cinema.hold("demo", show, who.client, ["C1"], 300, now_ms=int((time.time() - 600) * 1000))
    _cinema, other_show = _a_show(svc, starts_in_s=7200)
    cancelled = cinema.hold("demo", other_show, who.client, ["D1"], 300)
    assert cinema.cancel_hold("demo", cancelled.token, who.client).ok
    _cinema, third = _a_show(svc, starts_in_s=9000)
    booked = cinema.hold("demo", third, who.client, ["E1"], 300)
    assert cinema.confirm("demo", booked.token, who.client, "cinema").ok
    page = client.get(f"/v/demo/me?c={token}&lang=en").get_data(as_text=True)
    assert lapsed.token not in page and cancelled.token not in page and booked.token not in page
    assert "held until" not in page and "/ticket/" in page  # the booked one is listed as its ticket


def test_zh_me_and_times_in_the_venue_zone(client, svc, shopper):
    who, token = shopper
    _a_ticket_coupon_and_number(svc, who.client)
    page = client.get(f"/v/demo/me?c={token}&lang=zh").get_data(as_text=True)
    assert "枢纽电影" in page and "我的" in page


def test_an_app_without_a_mine_part_is_simply_absent(app):
    assert registry.parts("directory").mine is None
    assert registry.parts("cinema").mine is not None


def test_hub_header_on_every_shopper_page_keeps_the_token(client, shopper):
    _, token = shopper
    for path in ("/v/demo/", "/v/demo/cinema/cinema", "/v/demo/parking/garage", "/v/demo/queue/foodcourt",
                 "/v/demo/member", "/v/demo/coupons/mine"):
        page = client.get(f"{path}?c={token}").get_data(as_text=True)
        assert 'id="hub-nav"' in page, path
        assert f'href="/v/demo/me?c={token}"' in page, path
        assert f'href="/v/demo/?c={token}"' in page, path


def test_mall_home_lists_every_app_with_its_zones(client, shopper):
    _, token = shopper
    page = client.get(f"/v/demo/?c={token}&lang=en").get_data(as_text=True)
    assert 'id="venue-apps"' in page
    for url in ("/v/demo/cinema/cinema", "/v/demo/parking/garage", "/v/demo/queue/foodcourt",
                "/v/demo/zone/kopi/coupons", "/v/demo/zone/pixel/member"):
        assert re.search(rf'href="{url}\?[^"]*c={re.escape(token)}', page), url


def _keep_path(client, token: str) -> str:
    page = client.get(f"/v/demo/me?c={token}").get_data(as_text=True)
    link = unescape(re.search(r'id="keep-link" href="([^"]+)"', page).group(1))
    assert link == unescape(re.search(r'class="small keep-text">([^<]+)<', page).group(1))  # the copy to type
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


def _code(path: str) -> str:
    return parse_qs(urlsplit(path).query)["k"][0]


def test_keep_link_works_once_and_leaves_no_token_in_the_address(client, db, shopper):
    who, token = shopper
    path = _keep_path(client, token)
    browser = client.application.test_client()  # the real browser: no cookie yet
    confirm = browser.get(path)
    assert confirm.status_code == 200 and confirm.headers["Cache-Control"] == "no-store"
    html = confirm.get_data(as_text=True)
    assert 'action="/v/demo/keep"' in html and f'name="k" value="{_code(path)}"' in html
    assert browser.get_cookie(cookie_name("demo")) is None
    resp = browser.post("/v/demo/keep", data={"k": _code(path)})
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/v/demo/me"
    cookie = browser.get_cookie(cookie_name("demo"))
    assert cookie is not None and cookie.value != token
    me = browser.get("/v/demo/me")
    assert me.status_code == 200 and 'id="kept"' in me.get_data(as_text=True)
    elsewhere = client.application.test_client()  # once: only its own browser's repeat gets an answer again
    again = elsewhere.post("/v/demo/keep", data={"k": _code(path)}, headers={"User-Agent": SAFARI_UA})
    assert again.status_code == 404 and "already been used or has expired" in again.get_data(as_text=True)
    assert elsewhere.get(path, headers={"User-Agent": SAFARI_UA}).status_code == 404
    assert not db.keys(KeepKeys("demo").code("*"))


def test_opening_the_keep_link_spends_nothing(client, db, shopper):
    """A sign-in sheet that follows the button in place (no new windows), or a link preview, only GETs: the
    printed copy the shopper types into the real browser still works, once."""
    _, token = shopper
    path = _keep_path(client, token)
    sheet = client.application.test_client()
    for _ in range(3):
        page = sheet.get(path, headers={"User-Agent": CNA_UA})
        assert page.status_code == 200
        assert sheet.get_cookie(cookie_name("demo")) is None
    assert 'id="keep-captive"' in page.get_data(as_text=True)  # told to open the link in the real browser
    assert len(db.keys(KeepKeys("demo").code("*"))) == 1
    browser = client.application.test_client()
    assert 'id="keep-captive"' not in browser.get(path).get_data(as_text=True)
    assert browser.post("/v/demo/keep", data={"k": _code(path), "lang": "zh"}).headers["Location"] == \
        "/v/demo/me?lang=zh"
    assert sheet.post("/v/demo/keep", data={"k": _code(path)}, headers={"User-Agent": CNA_UA}).status_code == 404


def test_the_keep_link_carries_the_language_she_chose(client, shopper):
    """A shopper who picked 中文 in the sign-in sheet opens the keep link in her real browser, which has no cookie
    of that choice: the link says it, its page and its button keep it, and Me opens in Chinese."""
    _, token = shopper
    page = client.get(f"/v/demo/me?c={token}&lang=zh", headers={"User-Agent": CNA_UA}).get_data(as_text=True)
    link = unescape(re.search(r'id="keep-link" href="([^"]+)"', page).group(1))
    assert parse_qs(urlsplit(link).query)["lang"] == ["zh"]
    browser = client.application.test_client()
    path = "/" + link.split("://", 1)[1].split("/", 1)[1]
    confirm = browser.get(path, headers={"User-Agent": SAFARI_UA, "Accept-Language": "en"}).get_data(as_text=True)
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', confirm))
    assert form == {"k": _code(path), "lang": "zh", "n": form["n"]} and form["n"]  # the page's nonce (repeats)
    kept = browser.post("/v/demo/keep", data=form, headers={"User-Agent": SAFARI_UA, "Accept-Language": "en"})
    assert kept.headers["Location"] == "/v/demo/me?lang=zh"


def test_me_shows_a_coupon_code_grouped_as_the_till_types_it(client, svc, shopper):
    """Me lists a coupon's code as its coupon page and the till show it (XXXXX-XXXXX), as it lists prize codes."""
    who, token = shopper
    _a_ticket_coupon_and_number(svc, who.client)
    code = CouponStore(svc.db).wallet("demo", who.client)[0][0].code
    page = client.get(f"/v/demo/me?c={token}&lang=en").get_data(as_text=True)
    assert f"Code {code[:5]}-{code[5:]}" in page and code not in page.replace(f"/coupons/mine/{code}", "")


def test_a_sign_in_sheet_is_always_offered_the_keep_link(app, shopper):
    """The sheet takes the shopper cookie while it is open and drops it when it closes: Me there must not say
    "kept" and hide the link, or the shopper's things stay behind in the sheet."""
    _, token = shopper
    for ua in (CNA_UA, ANDROID_SIGN_IN_UA):
        sheet = app.test_client()
        sheet.get(f"/v/demo/?c={token}&lang=en", headers={"User-Agent": ua})
        held = sheet.get_cookie(cookie_name("demo"))
        assert held is not None and held.value == token  # what the sheet holds
        page = sheet.get(f"/v/demo/me?c={token}&lang=en", headers={"User-Agent": ua}).get_data(as_text=True)
        assert 'id="keep-link"' in page and 'id="kept"' not in page, ua
    browser = app.test_client()  # the phone's real browser with the same cookie: kept there, no link
    browser.get(f"/v/demo/?c={token}&lang=en", headers={"User-Agent": SAFARI_UA})
    page = browser.get(f"/v/demo/me?c={token}&lang=en", headers={"User-Agent": SAFARI_UA}).get_data(as_text=True)
    assert 'id="kept"' in page and 'id="keep-link"' not in page


def test_me_opened_without_a_token_stores_no_keep_code(app, db, demo):
    """A bookmark or a bot opening Me brings no token: its new anonymous shopper has nothing to keep, and an
    anonymous GET stores nothing (a code per GET, a day each, would let anyone fill the store from one address).
    Its page links to Me with its token instead, which then offers the link."""
    for ua in (CNA_UA, SAFARI_UA):
        for _ in range(3):
            page = app.test_client().get("/v/demo/me?lang=en", headers={"User-Agent": ua})
            assert page.status_code == 200
    assert not db.keys(KeepKeys("demo").code("*")) and not db.keys(KeepKeys("demo").of("*"))
    html = page.get_data(as_text=True)
    assert 'id="keep-link"' not in html
    later = unescape(re.search(r'href="([^"]+)" id="keep-on-me"', html).group(1))
    sheet = app.test_client()
    again = sheet.get(later, headers={"User-Agent": CNA_UA}).get_data(as_text=True)  # the token used: a code
    assert 'id="keep-link"' in again and len(db.keys(KeepKeys("demo").code("*"))) == 1


def test_me_reloaded_keeps_one_live_code(client, db, shopper):
    """Every render of Me shows the shopper's one live code: a token reloading it stores no code per request, and
    the link copied first is the one still shown."""
    who, token = shopper
    # a new browser each time: one keeping the cookie would be "kept" from the second page on (no link)
    paths = {_keep_path(client.application.test_client(), token) for _ in range(6)}
    assert len(paths) == 1 and len(db.keys(KeepKeys("demo").code("*"))) == 1
    assert db.zcard(KeepKeys("demo").of(who.client)) == 1
    assert client.application.test_client().post("/v/demo/keep", data={"k": _code(paths.pop())}).status_code == 303


def test_keep_with_a_bad_code_gets_a_clear_4xx_and_sets_nothing(client, demo):
    for query, status, words in (("", 400, "incomplete"), ("?k=", 400, "incomplete"),
                                 ("?k=" + "x" * 200, 400, "damaged"), ("?k=no%20pe", 400, "damaged"),
                                 ("?k=nope", 404, "already been used or has expired")):
        resp = client.get(f"/v/demo/keep{query}&lang=en" if "?" in query else "/v/demo/keep?lang=en")
        assert resp.status_code == status, query
        assert words in resp.get_data(as_text=True), query
        code = parse_qs(query.lstrip("?")).get("k", [""])[0]
        resp = client.post("/v/demo/keep?lang=en", data={"k": code} if query else {})
        assert resp.status_code == status, query
        assert words in resp.get_data(as_text=True), query
        assert client.get_cookie(cookie_name("demo")) is None


def test_keep_post_from_another_site_is_refused(client, db, shopper):
    _, token = shopper
    path = _keep_path(client, token)
    browser = client.application.test_client()
    # another site, another host of the same site, and a browser without Fetch Metadata posting from elsewhere
    for foreign in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                    {"Origin": "https://evil.example"}):
        resp = browser.post("/v/demo/keep", data={"k": _code(path)}, headers=foreign)
        assert resp.status_code == 403 and browser.get_cookie(cookie_name("demo")) is None, foreign
    assert len(db.keys(KeepKeys("demo").code("*"))) == 1  # still there for the shopper
    ok = browser.post("/v/demo/keep", data={"k": _code(path)}, headers={"Sec-Fetch-Site": "same-origin"})
    assert ok.status_code == 303


def test_the_keep_link_carries_the_phone_the_gateway_vouched_for_and_no_other(app, client, svc, demo):
    """The sign-in sheet's token was vouched for the phone: the real browser its keep link opens is on that phone,
    so its token is too (its export shows the phone's own trail); a token vouched for none (a texted link's)
    hands on none."""
    from portal.shopper import token_store

    svc.events.emit("demo", "landing", at=time.time() - 60, device="dev-kept", shopper="s-elsewhere", zone="kopi")
    for phone, verified, zones in (("dev-kept", True, ["kopi"]), ("dev-kept", False, []), (None, False, [])):
        sheet = token_store(app).mint(new_shopper("demo", phone, phone_verified=verified), handout=True)
        browser = app.test_client()  # the real browser; the sheet keeps no cookie (a fresh client for each)
        assert browser.post("/v/demo/keep", data={"k": _code(_keep_path(app.test_client(), sheet))}).status_code == 303
        kept = token_store(app).resolve(browser.get_cookie(cookie_name("demo")).value)
        assert (kept.client, kept.own_phone) == (token_store(app).resolve(sheet).client, phone if verified else None)
        exported = browser.get("/v/demo/my-data/export.json").get_json()
        assert [e["zone"] for e in exported["events"]] == zones


def test_a_kept_browsers_own_keep_link_hands_on_no_phone(app, client, svc, demo):
    """Only the token the gateway's redirect or probe handed out (the sign-in sheet's) puts its phone into a keep
    code: a browser a code opened was never seen by the gateway, so the codes it issues carry no phone (no chain
    of browsers each vouched for a phone none of them was seen on)."""
    from portal.shopper import new_shopper, token_store

    sheet = token_store(app).mint(new_shopper("demo", "dev-chain", phone_verified=True), handout=True)
    first = app.test_client()
    assert first.post("/v/demo/keep", data={"k": _code(_keep_path(app.test_client(), sheet))}).status_code == 303
    assert token_store(app).resolve(first.get_cookie(cookie_name("demo")).value).own_phone == "dev-chain"
    second = app.test_client()
    code = _code(_keep_path(app.test_client(), first.get_cookie(cookie_name("demo")).value))  # the kept token, a link
    assert second.post("/v/demo/keep", data={"k": code}).status_code == 303
    chained = token_store(app).resolve(second.get_cookie(cookie_name("demo")).value)
    assert chained.own_phone is None and chained.client == token_store(app).resolve(sheet).client


def test_me_reads_the_zones_apps_table_once(client, shopper, monkeypatch):
    """Each app's part of Me asks which zones run it (`zones_running`): one read of the venue's table a page, not
    one per app (the table is the whole venue's, however many apps ask)."""
    _, token = shopper
    client.get(f"/v/demo/me?c={token}&lang=en")  # once before: a process's first look is not the page's
    with store_sends(monkeypatch) as sent:
        assert client.get(f"/v/demo/me?c={token}&lang=en").status_code == 200
    table = ZoneAppKeys("demo").assignments().encode()
    reads = [send for send in sent if b"HGETALL" in send.upper() and table in send]
    assert len(reads) == 1, len(reads)
