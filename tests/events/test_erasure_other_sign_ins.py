"""Each captive landing hands out a new shopper id: a phone vouched for on Monday's sign-in sheet (shopper A, who
claimed a coupon) and again on Tuesday's (shopper B) is two shoppers of one person. Her export as B shows A's data
(the phone's other sign-in) and her erasure as B erases A too (wallet, code, holders, consent, tokens, the phone's
link); only a phone the gateway vouched for links ids (ShopperKeys.shoppers_on): one a token merely claims links
no one, and a shopper with no phone erases only herself."""

from __future__ import annotations

import time

import pytest

from lightapps.coupons.store import CouponStore
from portal.events.mydata import her_shoppers
from portal.shopper import Shopper, ShopperKeys, new_shopper, shopper_token, token_store
from tests.events.test_erasure_everywhere import mentions
from tests.events.test_mydata_page import text_of

VENUE = "demo"
PHONE = "dev-two-sheets-5d1e"


@pytest.fixture
def coupon(app, svc, demo) -> str:
    """A live coupon in kopi with stock for everyone here: its id."""
    now = time.time()
    return CouponStore(svc.db).create(VENUE, "kopi", {"title_en": "Sheet coupon", "title_zh": "券", "stock": 20,
                                                      "valid_from": now - 60, "valid_until": now + 86400}).id


def sheet(app, phone: str = PHONE, verified: bool = True) -> tuple[str, str]:
    """A captive landing's sign-in sheet on `phone`: the handed-out token (a new shopper) and her id."""
    tokens = token_store(app)
    shopper = new_shopper(VENUE, phone, phone_verified=verified)
    return tokens.mint(shopper, handout=True), shopper.client


def claim_and_agree(client, token: str, coupon: str) -> None:
    """Through the real pages: a coupon claimed, then the privacy notice answered (location and offers on)."""
    assert client.post(f"/v/{VENUE}/zone/kopi/coupons/{coupon}/claim", data={"c": token}).status_code == 303
    assert client.post(f"/v/{VENUE}/privacy", data={"c": token, "location": "1", "marketing": "1"}).status_code == 303


def wallet(svc, client_id: str) -> list:
    return CouponStore(svc.db).wallet(VENUE, client_id)


def test_erasing_from_tuesdays_sheet_erases_mondays_shopper_too(app, client, svc, coupon):
    monday, a = sheet(app)
    claim_and_agree(client, monday, coupon)  # opens Monday's token: A on the phone
    assert wallet(svc, a) and svc.consent.get(VENUE, a) is not None
    tuesday, b = sheet(app)
    assert client.get(f"/v/{VENUE}/my-data", query_string={"c": tuesday}).status_code == 200  # opens it: B

    # B's export holds Monday's sign-in: A's coupon and consent, not only the phone's coupon_claim event
    data = client.get(f"/v/{VENUE}/my-data/export.json", query_string={"c": tuesday}).get_json()
    assert data["shopper"] == b and data["apps"] == {}
    (linked,) = data["linked"]
    assert linked["shopper"] == a
    assert linked["apps"]["coupons"]["codes"][0]["coupon"] == coupon
    assert linked["consent"]["marketing"] is True
    assert "coupon_claim" in [e.get("action") for e in data["events"]]
    page = client.get(f"/v/{VENUE}/my-data", query_string={"c": tuesday, "lang": "en"}).get_data(as_text=True)
    assert "Earlier sign-ins on this phone: 1." in text_of(page, "held-linked")
    assert "E-coupons, from an earlier WiFi sign-in on this phone" in text_of(page, "held-linked-1-app-coupons")
    assert "earlier WiFi sign-ins on your phone" in text_of(page, "erase-form")

    assert mentions(svc.db, (a,))  # Monday's wallet, code, holders, consent, tokens, phone link
    erased = client.post(f"/v/{VENUE}/my-data/erase", data={"confirm": "1", "c": tuesday, "lang": "en"})
    assert erased.status_code == 200
    shown = text_of(erased.get_data(as_text=True), "erased")
    assert "including what earlier WiFi sign-ins on your phone left and what this browser kept earlier" in shown
    assert mentions(svc.db, (a,)) == []
    assert mentions(svc.db, (b,)) == []
    assert mentions(svc.db, (PHONE,)) == []  # the phone's index of its shoppers went with them
    assert token_store(app).resolve(monday) is None and token_store(app).resolve(tuesday) is None
    assert wallet(svc, a) == [] and svc.consent.get(VENUE, a) is None


def test_a_phone_a_token_only_claims_links_no_one(app, client, svc, coupon):
    """C's token names the phone, unvouched (a claim, not the gateway's word): C neither sees nor erases the
    phone's shoppers, and their erasure leaves C alone; B, vouched for it, erases A."""
    monday, a = sheet(app)
    claim_and_agree(client, monday, coupon)
    claimed, c = sheet(app, verified=False)
    claim_and_agree(client, claimed, coupon)
    tuesday, b = sheet(app)
    assert token_store(app).resolve(tuesday) is not None
    assert token_store(app).shoppers_on(VENUE, [PHONE]) == {a, b}

    data = client.get(f"/v/{VENUE}/my-data/export.json", query_string={"c": claimed}).get_json()
    assert data["linked"] == [] and len(data["apps"]["coupons"]["codes"]) == 1
    assert [e.get("action") for e in data["events"]].count("coupon_claim") == 1  # hers, not A's
    assert client.post(f"/v/{VENUE}/my-data/erase", data={"confirm": "1", "c": claimed}).status_code == 200
    assert wallet(svc, a) and svc.consent.get(VENUE, a) is not None and token_store(app).resolve(monday)
    assert wallet(svc, c) == [] and token_store(app).resolve(claimed) is None

    again, c2 = sheet(app, verified=False)
    claim_and_agree(client, again, coupon)
    assert client.post(f"/v/{VENUE}/my-data/erase", data={"confirm": "1", "c": tuesday}).status_code == 200
    assert wallet(svc, a) == [] and svc.consent.get(VENUE, a) is None and token_store(app).resolve(monday) is None
    assert wallet(svc, c2) and svc.consent.get(VENUE, c2) is not None and token_store(app).resolve(again)


def test_a_shopper_with_no_phone_erases_only_herself(app, client, svc, coupon):
    with app.test_request_context():
        alone = shopper_token(Shopper(VENUE, "s-no-phone-at-all"))
    claim_and_agree(client, alone, coupon)
    monday, a = sheet(app)
    claim_and_agree(client, monday, coupon)
    tuesday, b = sheet(app)
    token_store(app).resolve(tuesday)
    with app.test_request_context():
        assert her_shoppers(Shopper(VENUE, "s-no-phone-at-all")) == (["s-no-phone-at-all"], [])
    data = client.get(f"/v/{VENUE}/my-data/export.json", query_string={"c": alone}).get_json()
    assert data["linked"] == [] and data["apps"]["coupons"]

    assert client.post(f"/v/{VENUE}/my-data/erase", data={"confirm": "1", "c": alone}).status_code == 200
    assert mentions(svc.db, ("s-no-phone-at-all",)) == []
    assert wallet(svc, a) and token_store(app).resolve(monday) and token_store(app).resolve(tuesday)
    assert client.post(f"/v/{VENUE}/my-data/erase", data={"confirm": "1", "c": tuesday}).status_code == 200
    assert mentions(svc.db, (a, b, PHONE)) == []


def test_her_kept_browser_erases_the_other_sign_ins_of_her_phone(app, client, svc, coupon):
    """The browser she kept (a token naming no phone) reaches her phone through her phone set, and from it
    Monday's shopper; it does not show them (no proof of the phone), its erasure removes them."""
    monday, a = sheet(app)
    claim_and_agree(client, monday, coupon)
    tuesday, b = sheet(app)
    assert token_store(app).resolve(tuesday) is not None
    kept = token_store(app).mint(Shopper(VENUE, b))  # after the keep link: her browser's, no phone
    data = client.get(f"/v/{VENUE}/my-data/export.json", query_string={"c": kept}).get_json()
    assert data["linked"] == [] and data["events"] == []
    assert client.post(f"/v/{VENUE}/my-data/erase", data={"confirm": "1", "c": kept}).status_code == 200
    assert mentions(svc.db, (a, b, PHONE)) == []


def test_the_sign_ins_of_her_phones_are_followed_to_their_other_phones(app, client, svc, coupon):
    """A on the phone and (her browser's cookie carried to it) on a second one; B on the first, C on the second:
    all one person's sign-ins, and B's erasure reaches C through A."""
    tokens = token_store(app)
    monday, a = sheet(app)
    claim_and_agree(client, monday, coupon)
    tokens.mint(Shopper(VENUE, a, phone="dev-her-tablet", phone_verified=True))
    tuesday, b = sheet(app)
    tablet, c = sheet(app, phone="dev-her-tablet")
    claim_and_agree(client, tablet, coupon)
    assert tokens.resolve(tuesday) is not None
    with app.test_request_context():
        clients, phones = her_shoppers(tokens.resolve(tuesday))
    assert clients[0] == b and set(clients) == {a, b, c} and phones == sorted([PHONE, "dev-her-tablet"])
    assert client.post(f"/v/{VENUE}/my-data/erase", data={"confirm": "1", "c": tuesday}).status_code == 200
    assert mentions(svc.db, (a, b, c, PHONE, "dev-her-tablet")) == []


def test_a_phones_links_live_as_long_as_the_phone_sets_they_index(app, svc, demo):
    """The index is written with the phone set and slid with it, also by a token naming no phone or another
    phone (`relink`): it never ends before a set that holds the phone, nor outlives the last such set."""
    tokens, keys, db = token_store(app), ShopperKeys(VENUE), svc.db
    sheet_token, a = sheet(app)
    assert tokens.resolve(sheet_token) is not None
    index, phones = keys.shoppers_on(PHONE), keys.phones_of(a)
    assert db.zrange(index, 0, -1) == [a.encode()]
    assert db.ttl(index) >= db.ttl(phones) > 0
    browser = tokens.mint(Shopper(VENUE, a))  # her kept browser: no phone
    tokens.mint(Shopper(VENUE, a, phone="dev-second", phone_verified=True))
    for use in (lambda: tokens.resolve(browser), lambda: tokens.resolve(sheet_token),
                lambda: tokens.mint(Shopper(VENUE, a))):
        db.expire(phones, 60)  # as if a while had passed since the set was last slid
        db.expire(index, 60)
        db.expire(keys.shoppers_on("dev-second"), 60)
        use()
        for phone in (PHONE, "dev-second"):
            linked = keys.shoppers_on(phone)
            assert db.ttl(linked) >= db.ttl(phones) >= svc.settings.shopper_token_ttl_s
            assert db.zscore(linked, a) >= time.time() + svc.settings.shopper_token_ttl_s - 5
    other_token, other = sheet(app)
    assert tokens.resolve(other_token) is not None and tokens.shoppers_on(VENUE, [PHONE]) == {a, other}
    db.delete(keys.phones_of(other))  # her set ended (as its TTL would): the link it indexed is dead
    assert tokens.shoppers_on(VENUE, [PHONE]) == {a}
    assert tokens.revoke(VENUE, a) == 4  # the sheet's, the browser's, the second phone's, the last mint's
    assert tokens.revoke(VENUE, other) == 1
    assert not db.exists(keys.shoppers_on("dev-second"))
    # left: the dead link (no set names it to revoke), which ends when the set it indexed would have
    assert db.zrange(index, 0, -1) == [other.encode()]
    assert 0 < db.ttl(index) <= svc.settings.shopper_token_ttl_s + tokens.link_slack_s
