"""The keep hand-off's three edges: a repeat of the button's POST (a double tap, a retry after a dropped answer)
gets the same answer for a short while, for the page that spent the code only; every page shows the same live link,
so a copied one keeps working; and keeping a shopper in a browser that already kept another leaves the earlier one
reachable from Me."""

from __future__ import annotations

import re
import time
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from lightapps.coupons.store import CouponStore
from lightapps.queue.store import QueueStore
from portal.hub.keep import MAX_REPEATS, REPEAT_S, KeepKeys, KeepStore, _digest
from portal.shopper import Shopper, cookie_name, new_shopper, token_store
from tests.hub.conftest import mint
from tests.hub.test_me import CNA_UA, SAFARI_UA

OWN = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin", "User-Agent": SAFARI_UA}


def keep_link(client, token: str, path: str = "/v/demo/me") -> str:
    page = client.get(f"{path}?c={token}", headers={"User-Agent": CNA_UA}).get_data(as_text=True)
    return unescape(re.search(r'id="keep-link" href="([^"]+)"', page).group(1))


def code_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["k"][0]


def confirm_form(browser, link: str, headers: dict = OWN) -> dict[str, str]:
    """The confirm page's form as the browser would post it: the code, and the page's nonce."""
    page = browser.get(urlsplit(link).path + "?" + urlsplit(link).query, headers=headers).get_data(as_text=True)
    form = page.split('id="keep-form"', 1)[1].split("</form>", 1)[0]
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form))


def cookie_client(app, browser) -> str:
    with app.app_context():
        return token_store(app).resolve(browser.get_cookie(cookie_name("demo")).value).client


# ---- a repeat of the button's POST ------------------------------------------------------------------


WECHAT_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
             "Mobile/15E148 MicroMessenger/8.0.40(0x1800282a) NetType/WIFI Language/zh_CN")


def test_a_repeated_post_gets_the_same_answer_and_cookie(app, db, shopper):
    """The first POST spent the code but its answer never arrived (a double tap, a flaky link): the page's POST sent
    again gets the same 303 and a cookie of the same shopper, not "already used". WeChat names the network in its
    User-Agent: the retry, sent over 4G once the WiFi dropped the answer, is still the same page's."""
    who, token = shopper
    on_wifi = {**OWN, "User-Agent": WECHAT_UA}
    form = confirm_form(app.test_client(), keep_link(app.test_client(), token), on_wifi)
    lost, retry = app.test_client(), app.test_client()  # the first answer lost: the browser never got its cookie
    first = lost.post("/v/demo/keep", data=form, headers=on_wifi)
    assert first.status_code == 303 and cookie_client(app, lost) == who.client
    again = retry.post("/v/demo/keep", data=form, headers={**on_wifi, "User-Agent": WECHAT_UA.replace("WIFI", "4G")})
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    assert cookie_client(app, retry) == who.client
    (spent,) = db.keys(KeepKeys("demo").spent("*"))
    assert 0 < db.ttl(spent) <= REPEAT_S  # the window is short


def test_only_the_page_that_spent_the_code_repeats_a_few_times_and_erasure_ends_it(app, db, shopper):
    """The repeat needs the confirm page's nonce as well as the code: anyone else holding the spent link (the same
    common User-Agent, a forged Sec-Fetch-Site) finds it used, and gets no page with a nonce that would do. The
    browser that spent it reloads the page with the same nonce (its keep cookie), a few times; erasure ends it."""
    who, token = shopper
    link = keep_link(app.test_client(), token)
    browser = app.test_client()
    form = confirm_form(browser, link)
    assert browser.post("/v/demo/keep", data=form, headers=OWN).status_code == 303
    stranger = app.test_client()
    assert stranger.post("/v/demo/keep", data={"k": form["k"]}, headers=OWN).status_code == 404
    assert stranger.get(f"/v/demo/keep?k={form['k']}", headers=OWN).status_code == 404
    assert stranger.get_cookie(cookie_name("demo")) is None
    assert confirm_form(browser, link) == form  # reload, then retry
    for _ in range(MAX_REPEATS):
        assert app.test_client().post("/v/demo/keep", data=form, headers=OWN).status_code == 303
    assert app.test_client().post("/v/demo/keep", data=form, headers=OWN).status_code == 404

    second = new_shopper("demo")
    form = confirm_form(app.test_client(), keep_link(app.test_client(), mint(app, second)))
    assert app.test_client().post("/v/demo/keep", data=form, headers=OWN).status_code == 303
    with app.app_context():
        assert KeepStore(db).forget_shopper("demo", second.client) == 1
    assert app.test_client().post("/v/demo/keep", data=form, headers=OWN).status_code == 404
    assert all(who.client in db.hget(k, "v").decode() for k in db.keys(KeepKeys("demo").spent("*")))


def test_the_confirm_page_reloaded_after_the_tap_claims_no_other_shopper(app, shopper):
    """Reloaded in the repeat window, the page finds this browser keeping the code's own shopper: nothing to move."""
    link = keep_link(app.test_client(), shopper[1])
    browser = app.test_client()
    form = confirm_form(browser, link)
    assert browser.post("/v/demo/keep", data=form, headers=OWN).status_code == 303
    again = browser.get(urlsplit(link).path + "?" + urlsplit(link).query, headers=OWN)
    assert again.status_code == 200 and 'id="keep-replaces"' not in again.get_data(as_text=True)


def test_the_button_turns_itself_off_once_tapped(client, shopper):
    """Progressive: the form posts without JavaScript; with it, the button is disabled on submit (and on again
    after a while, or back from the next page, for a retry)."""
    _, token = shopper
    link = keep_link(client, token)
    page = client.application.test_client().get(urlsplit(link).path + "?" + urlsplit(link).query,
                                                headers={"User-Agent": SAFARI_UA}).get_data(as_text=True)
    assert re.search(r'<button type="submit" id="keep-confirm"[^>]*>', page).group(0).find("disabled") == -1
    script = re.search(r'<script nonce="[^"]+">(.*?)</script>', page, re.S).group(1)
    assert "keep-form" in script and "disabled = true" in script and "pageshow" in script


# ---- one live link per shopper ------------------------------------------------------------------------


@pytest.fixture
def claimed(svc, shopper):
    coupons = CouponStore(svc.db)
    coupon = coupons.create("demo", "kopi", {"title_en": "Kept coffee", "stock": 5, "valid_from": time.time() - 60,
                                             "valid_until": time.time() + 86400})
    return coupons.claim("demo", "kopi", coupon.id, shopper[0].client).code


def test_every_page_shows_the_same_link_until_it_is_spent(app, db, shopper, claimed):
    """The link copied from Me keeps working however many pages with a keep offer are opened after it."""
    who, token = shopper
    copied = keep_link(app.test_client(), token)
    for _ in range(6):
        assert keep_link(app.test_client(), token, f"/v/demo/coupons/mine/{claimed}") == copied
    assert keep_link(app.test_client(), token) == copied
    assert len(db.keys(KeepKeys("demo").code("*"))) == 1
    assert app.test_client().post("/v/demo/keep", data={"k": code_of(copied)}, headers=OWN).status_code == 303
    fresh = keep_link(app.test_client(), token)  # spent: the next page offers a new one
    assert fresh != copied and keep_link(app.test_client(), token) == fresh


def test_a_live_code_whose_key_is_gone_is_not_shown_again(app, db, shopper):
    """In a rolling deploy, hosts on the release before spend a code (GETDEL) or drop a shopper's oldest without the
    live hash: the next page shows a new link, which works, not the dead one."""
    who, token = shopper
    dead = code_of(keep_link(app.test_client(), token))
    db.getdel(KeepKeys("demo").code(_digest(dead)))  # as that release's redeem, or its trim of the oldest, does
    db.zrem(KeepKeys("demo").of(who.client), _digest(dead))
    shown = code_of(keep_link(app.test_client(), token))
    assert shown != dead and code_of(keep_link(app.test_client(), token)) == shown
    assert app.test_client().post("/v/demo/keep", data={"k": shown}, headers=OWN).status_code == 303


def test_a_page_issuing_between_the_read_and_the_write_is_read_again(db, demo):
    """Another page writes the live code after this one read it: this one reads it again and shows the same."""
    store = KeepStore(db, "the install's secret")
    script, shown = store._issue, []

    def racing(keys, args):
        if not shown:  # the first read is overtaken by another page's issue
            store._issue = script
            shown.append(store.issue("demo", "s-race"))
            store._issue = racing
        return script(keys=keys, args=args)

    store._issue = racing
    assert store.issue("demo", "s-race") == shown[0] == store.issue("demo", "s-race")


def test_a_link_near_its_end_is_replaced_and_another_install_key_reissues(app, db, shopper):
    who, token = shopper
    copied = keep_link(app.test_client(), token)
    live = KeepKeys("demo").live(who.client)
    (field,) = db.hkeys(live)
    digest, _ends, sealed = db.hget(live, field).decode().split(" ")
    db.hset(live, field, f"{digest} {int(time.time()) + 60} {sealed}")  # a minute left: too little to copy
    near = keep_link(app.test_client(), token)
    assert near != copied and keep_link(app.test_client(), token) == near
    assert app.test_client().post("/v/demo/keep", data={"k": code_of(copied)}, headers=OWN).status_code == 303
    with app.app_context():  # a store whose sealed code this install cannot open (another SECRET_KEY)
        other = KeepStore(db, "another install's secret")
        assert other.issue("demo", who.client) not in (code_of(near), code_of(copied))


def test_the_sign_in_sheets_link_and_a_kept_browsers_stay_apart(app, demo):
    """The sheet's code carries the phone the gateway vouched for, another token of hers (a texted link's) none:
    each keeps its own live link, so neither hands on the other's phone nor ends the other's link."""
    sheet = token_store(app).mint(new_shopper("demo", "dev-apart", phone_verified=True), handout=True)
    sheet_link = keep_link(app.test_client(), sheet)
    with app.app_context():
        texted = token_store(app).mint(Shopper("demo", token_store(app).resolve(sheet).client))
    texted_link = keep_link(app.test_client(), texted)
    assert texted_link != sheet_link and keep_link(app.test_client(), sheet) == sheet_link
    for link, phone in ((texted_link, None), (sheet_link, "dev-apart")):
        browser = app.test_client()
        assert browser.post("/v/demo/keep", data={"k": code_of(link)}, headers=OWN).status_code == 303
        with app.app_context():
            assert token_store(app).resolve(browser.get_cookie(cookie_name("demo")).value).own_phone == phone


# ---- a browser that kept another shopper ---------------------------------------------------------------


def test_keeping_another_shopper_leaves_the_earlier_one_on_me(app, svc, demo):
    """A browser kept Monday's shopper (a coupon); today's sign-in sheet took a queue number and its keep link is
    opened in that browser: Me shows today's queue number and, under "Kept earlier", Monday's coupon, its link
    reaching it with the earlier token the browser holds. The confirm page said so before the tap."""
    browser = app.test_client()
    assert browser.get("/v/demo/?lang=en", headers=OWN).status_code == 200
    earlier_token = browser.get_cookie(cookie_name("demo")).value
    with app.app_context():
        earlier = token_store(app).resolve(earlier_token)
    coupons = CouponStore(svc.db)
    coupon = coupons.create("demo", "kopi", {"title_en": "Monday coffee", "stock": 5, "valid_from": time.time() - 60,
                                             "valid_until": time.time() + 86400})
    code = coupons.claim("demo", "kopi", coupon.id, earlier.client).code
    today = new_shopper("demo")
    assert QueueStore(svc.db).take("demo", "foodcourt", "A", 2, today.client).ok
    link = keep_link(app.test_client(), mint(app, today))

    confirm = browser.get(urlsplit(link).path + "?" + urlsplit(link).query + "&lang=en", headers=OWN)
    assert 'id="keep-replaces"' in confirm.get_data(as_text=True)
    assert browser.post("/v/demo/keep", data={"k": code_of(link), "lang": "en"}, headers=OWN).status_code == 303
    assert cookie_client(app, browser) == today.client

    me = browser.get("/v/demo/me?lang=en", headers=OWN).get_data(as_text=True)
    assert 'data-kind="queue"' in me.split('id="kept-earlier"')[0]
    older = me.split('id="kept-earlier"')[1]
    assert "Monday coffee" in older
    coupon_link = unescape(re.search(r'href="([^"]*/coupons/mine/[^"]+)"', older).group(1))
    (held,) = parse_qs(urlsplit(coupon_link).query)["c"]
    assert held == browser.get_cookie("mp_e", path="/v/demo").value  # the secret this browser holds
    with app.app_context():  # the home's handed-out token, kept as a minted one: in a link it gives way to no cookie
        assert token_store(app).resolve(held).client == earlier.client and held != earlier_token
    page = browser.get(coupon_link, headers=OWN)
    assert page.status_code == 200 and code in page.get_data(as_text=True)
    assert cookie_client(app, browser) == today.client  # the link's page is the earlier shopper's; the cookie stays


def test_the_earlier_list_is_short_newest_first_and_never_the_current_shopper(app, demo):
    """Five keeps in one browser: the list holds the MAX_EARLIER before the current one, newest first; keeping an
    earlier one again takes it off the list (it is the current one now); a forged or foreign list opens no one."""
    from portal.hub.views import EARLIER_SEP, MAX_EARLIER

    browser, shoppers = app.test_client(), [new_shopper("demo") for _ in range(5)]
    for who in shoppers:
        link = keep_link(app.test_client(), mint(app, who))
        assert browser.post("/v/demo/keep", data={"k": code_of(link)}, headers=OWN).status_code == 303

    def listed() -> list[str]:
        with app.app_context():
            return [token_store(app).resolve(t).client
                    for t in browser.get_cookie("mp_e", path="/v/demo").value.split(EARLIER_SEP)]

    assert listed() == [who.client for who in shoppers[-2::-1][:MAX_EARLIER]]
    again = keep_link(app.test_client(), mint(app, shoppers[2]))
    assert browser.post("/v/demo/keep", data={"k": code_of(again)}, headers=OWN).status_code == 303
    assert listed() == [shoppers[4].client, shoppers[3].client, shoppers[1].client]

    stranger = app.test_client()
    stranger.set_cookie("mp_e", EARLIER_SEP.join(["demo.forged", "other-mall." + "x" * 43, "x" * 5000]),
                        path="/v/demo")
    me = stranger.get("/v/demo/me?lang=en", headers=OWN)
    assert me.status_code == 200 and 'id="kept-earlier"' not in me.get_data(as_text=True)
