"""A receipt number typed at the console or sent by a till's API is one receipt whatever its case and the spaces
around it ("R1", "r1 "): it earns points once. A receipt stored before numbers were folded, under the case it was
sent in, is still found when refunded or posted again in that case (PURCHASE_LUA and REFUND_LUA fall back to it in
the same script)."""

from __future__ import annotations

import time

import pytest

from lightapps.membership.codes import short_code, step_of, totp
from lightapps.membership.store import MemberStore, parse_receipt_id

API = "/api/v1/venues/demo/membership"
CONSOLE = "/console/apps/membership/demo/pixel"


@pytest.fixture
def store(db):
    return MemberStore(db, "receipt-case-secret", "receipt-case-phone-key")


def current_code(m) -> str:
    return short_code(m.id, totp(m.secret, step_of(time.time())))


def test_the_same_receipt_in_another_case_earns_once(store):
    m, _ = store.bind("demo", "+8613800138011", "alice")
    assert parse_receipt_id(" R1 ") == "R1" and parse_receipt_id("Ｒ１") == "R1"
    assert store.post_purchase("demo", m.id, "R1", "pixel", 12850, fold_case=True).status == "OK"
    again = store.post_purchase("demo", m.id, "r1", "pixel", 12850, fold_case=True)
    assert (again.status, again.points, again.balance) == ("DUPLICATE", 128, 128)
    assert store.post_purchase("demo", m.id, "r1", "pixel", 9900, fold_case=True).status == "CONFLICT"
    assert store.receipt("demo", "pixel", "R1", fold_case=True)["amount"] == "12850"
    refund = store.refund("demo", "pixel", "R1", fold_case=True)
    assert (refund.status, refund.points, refund.balance) == ("OK", 128, 0)


def test_a_receipt_stored_in_its_own_case_is_still_found(store):
    """Stored before receipt numbers were folded: under "AbC-9" as sent (post_purchase without fold_case, as then)."""
    m, _ = store.bind("demo", "+8613800138012", "bob")
    assert store.post_purchase("demo", m.id, "AbC-9", "pixel", 5000).status == "OK"
    assert store.receipt("demo", "pixel", "AbC-9", fold_case=True)["receipt"] == "AbC-9"
    again = store.post_purchase("demo", m.id, "AbC-9", "pixel", 5000, fold_case=True)
    assert (again.status, again.balance) == ("DUPLICATE", 50)
    assert store.post_purchase("demo", m.id, "AbC-9", "pixel", 4000, fold_case=True).status == "CONFLICT"
    part = store.refund("demo", "pixel", "AbC-9", idempotency_key="ret-1", cents=2000, fold_case=True)
    assert (part.status, part.points, part.balance) == ("OK", 20, 30)
    assert store.refund("demo", "pixel", "AbC-9", idempotency_key="ret-1", cents=2000, fold_case=True).status == \
        "DUPLICATE"
    rest = store.refund("demo", "pixel", "AbC-9", fold_case=True)
    assert (rest.status, rest.points, rest.balance) == ("OK", 30, 0)
    assert store.get("demo", m.id).lifetime == 0


def test_the_console_records_r1_and_R1_once(client, console, members):
    m, _ = members.bind("demo", "+8613900002299", "carol")
    console.login("pixel")
    for typed in ("R1", "r1", " R1 "):
        sale = {"code": current_code(m), "receipt_id": typed, "amount": "128.50", "csrf_token": console.csrf()}
        assert client.post(f"{CONSOLE}/purchase", data=sale).status_code == 200, typed
    assert members.get("demo", m.id).points == 128


def test_the_api_posts_and_refunds_a_receipt_whatever_its_case(client, demo, svc, members):
    m, _ = members.bind("demo", "+8613900002298", "dave")
    till = {"Authorization": f"Bearer {svc.tokens.issue('demo', 'pos-pixel', scopes=['membership'])}"}
    sale = {"member": m.id, "store": "pixel", "amount": "128.50"}
    assert client.post(f"{API}/purchases", json={**sale, "receipt_id": "R1"}, headers=till).status_code == 201
    resp = client.post(f"{API}/purchases", json={**sale, "receipt_id": "r1 "}, headers=till)
    assert resp.status_code == 200 and resp.get_json()["duplicate"] is True
    members.post_purchase("demo", m.id, "OLD-x", "pixel", 1000)  # stored under its own case, before folding
    resp = client.post(f"{API}/purchases", json={**sale, "receipt_id": "OLD-x", "amount": "10"}, headers=till)
    assert resp.status_code == 200 and resp.get_json()["duplicate"] is True
    resp = client.post(f"{API}/refunds", json={"receipt_id": "OLD-x", "store": "pixel"}, headers=till)
    assert resp.status_code == 200 and resp.get_json()["points_reversed"] == 10
    resp = client.post(f"{API}/refunds", json={"receipt_id": "R1", "store": "pixel"}, headers=till)
    assert resp.status_code == 200 and resp.get_json()["points_reversed"] == 128
    assert members.get("demo", m.id).points == 0


def test_a_receipt_sent_as_its_idempotency_key_folds_too(client, demo, svc, members):
    """A receipt_id sent and an Idempotency-Key standing for one are the same receipt whatever the case; the key's
    own record stays exact, so a receipt posted under its key's case before folding is still found."""
    m, _ = members.bind("demo", "+8613900002297", "erin")
    till = {"Authorization": f"Bearer {svc.tokens.issue('demo', 'pos-pixel', scopes=['membership'])}"}
    sale = {"member": m.id, "store": "pixel", "amount": "50"}
    assert client.post(f"{API}/purchases", json={**sale, "receipt_id": "R1"}, headers=till).status_code == 201
    resp = client.post(f"{API}/purchases", json=sale, headers=till | {"Idempotency-Key": "R1"})
    assert resp.status_code == 200 and resp.get_json()["duplicate"] is True
    resp = client.post(f"{API}/purchases", json=sale, headers=till | {"Idempotency-Key": "k9"})
    assert resp.status_code == 201
    resp = client.post(f"{API}/purchases", json={**sale, "receipt_id": "K9"}, headers=till)
    assert resp.status_code == 200 and resp.get_json()["duplicate"] is True
    members.post_purchase("demo", m.id, "OLD-k", "pixel", 1000, idempotency_key="OLD-k")  # before folding
    resp = client.post(f"{API}/purchases", json={**sale, "amount": "10"}, headers=till | {"Idempotency-Key": "OLD-k"})
    assert resp.status_code == 200 and resp.get_json()["duplicate"] is True
    assert members.get("demo", m.id).points == 110


def test_the_api_takes_a_store_in_any_case_as_one_store(client, demo, svc, members):
    """"pixel", "Pixel" and "PIXEL" are one store: the same receipt earns once, and a refund in any case finds it."""
    m, _ = members.bind("demo", "+8613900002296", "fay")
    till = {"Authorization": f"Bearer {svc.tokens.issue('demo', 'pos-pixel', scopes=['membership'])}"}
    sale = {"receipt_id": "CASE-1", "member": m.id, "amount": "10"}
    first = client.post(f"{API}/purchases", json={**sale, "store": "pixel"}, headers=till)
    assert first.status_code == 201 and first.get_json()["store"] == "pixel"
    for spelled in ("Pixel", "PIXEL"):
        resp = client.post(f"{API}/purchases", json={**sale, "store": spelled}, headers=till)
        assert resp.status_code == 200 and resp.get_json()["duplicate"] is True, spelled
        assert resp.get_json()["store"] == "pixel"
    assert members.get("demo", m.id).points == 10
    resp = client.post(f"{API}/refunds", json={"receipt_id": "case-1", "store": "PIXEL"}, headers=till)
    assert resp.status_code == 200 and resp.get_json()["points_reversed"] == 10
    assert members.get("demo", m.id).points == 0


@pytest.mark.parametrize("store_sent", ["nosuchstore", "wechat-mall", "Pixel1"])
def test_the_api_refuses_a_store_that_is_none_of_the_venues_zones_or_shops(client, demo, svc, members, store_sent):
    m, _ = members.bind("demo", "+8613900002295", "gus")
    till = {"Authorization": f"Bearer {svc.tokens.issue('demo', 'pos-pixel', scopes=['membership'])}"}
    before = len(members.db.keys("mp:{demo}:member:rcpt:*"))
    sale = {"receipt_id": "CASE-2", "store": store_sent, "member": m.id, "amount": "10"}
    resp = client.post(f"{API}/purchases", json=sale, headers=till)
    assert resp.status_code == 422 and resp.get_json()["field"] == "store", resp.get_json()
    assert store_sent in resp.get_json()["error"]
    resp = client.post(f"{API}/refunds", json={"receipt_id": "CASE-2", "store": store_sent}, headers=till)
    assert resp.status_code == 404 and resp.get_json()["field"] == "receipt_id"  # looked for there: none
    assert len(members.db.keys("mp:{demo}:member:rcpt:*")) == before and members.get("demo", m.id).points == 0
    for default in ({}, {"store": "mall"}, {"store": "MALL"}):  # the default store, named or not
        resp = client.post(f"{API}/purchases", json={**sale, **default} if default else
                           {k: v for k, v in sale.items() if k != "store"}, headers=till)
        assert resp.status_code in (200, 201) and resp.get_json()["store"] == "mall", default


def test_a_receipt_an_earlier_release_kept_under_the_store_as_sent_is_refunded_in_any_case(client, demo, svc,
                                                                                           members):
    """Posted through the release before as "Pixel" (kept under rcpt:Pixel:<number folded>, as written here):
    a refund that names "pixel" finds it; posted again as "pixel", it is a duplicate."""
    m, _ = members.bind("demo", "+8613900002294", "hal")
    members.post_purchase("demo", m.id, "old-7", "Pixel", 5000)
    till = {"Authorization": f"Bearer {svc.tokens.issue('demo', 'pos-pixel', scopes=['membership'])}"}
    resp = client.post(f"{API}/purchases", json={"receipt_id": "OLD-7", "store": "pixel", "member": m.id,
                                                 "amount": "50"}, headers=till)
    assert resp.status_code == 200 and resp.get_json()["duplicate"] is True
    resp = client.post(f"{API}/refunds", json={"receipt_id": "OLD-7", "store": "pixel"}, headers=till)
    assert resp.status_code == 200 and resp.get_json()["points_reversed"] == 50
    assert members.get("demo", m.id).points == 0


def test_a_receipt_under_a_store_off_todays_map_is_still_refunded(client, demo, svc, members):
    """Receipts are kept 400 days: one the release before took under a store that is none of the venue's zones or
    shops (it took any id of 1 to 40 characters, kept as sent), or under a shop that has since left the map, is
    refunded (all of it, and a part) and its points come back; only the store's case is folded for a refund."""
    m, _ = members.bind("demo", "+8613900002293", "ivy")
    members.post_purchase("demo", m.id, "r-9", "Old-Kiosk", 5000)  # as that release kept it: store as sent
    members.post_purchase("demo", m.id, "r-10", "gone-shop", 3000)  # a shop no longer on the map
    till = {"Authorization": f"Bearer {svc.tokens.issue('demo', 'pos-pixel', scopes=['membership'])}"}
    resp = client.post(f"{API}/refunds", json={"receipt_id": "R-9", "store": "old-kiosk"}, headers=till)
    assert resp.status_code == 200, resp.get_json()
    assert (resp.get_json()["store"], resp.get_json()["points_reversed"]) == ("old-kiosk", 50)
    resp = client.post(f"{API}/refunds", json={"receipt_id": "r-10", "store": "Gone-Shop", "amount": "10"},
                       headers=till | {"Idempotency-Key": "gone-part"})
    assert resp.status_code == 200 and resp.get_json()["points_reversed"] == 10, resp.get_json()
    assert members.get("demo", m.id).points == 20
    resp = client.post(f"{API}/purchases", json={"receipt_id": "R-11", "store": "gone-shop", "member": m.id,
                                                 "amount": "10"}, headers=till)
    assert resp.status_code == 422 and resp.get_json()["field"] == "store"  # a purchase: today's map only


@pytest.mark.parametrize("store_sent", ["pix el", "x" * 49, "pixel\n", "店", 12, ["pixel"]])
def test_a_refund_naming_a_store_that_is_no_store_id_is_422(client, demo, svc, members, store_sent):
    m, _ = members.bind("demo", "+8613900002292", "jon")
    members.post_purchase("demo", m.id, "r-12", "pixel", 2000)
    till = {"Authorization": f"Bearer {svc.tokens.issue('demo', 'pos-pixel', scopes=['membership'])}"}
    resp = client.post(f"{API}/refunds", json={"receipt_id": "R-12", "store": store_sent}, headers=till)
    assert resp.status_code == 422 and resp.get_json()["field"] == "store", resp.get_json()
    assert members.get("demo", m.id).points == 20  # nothing taken back
