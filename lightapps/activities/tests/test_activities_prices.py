"""A sale's or group buy's price decides whether joining takes money, so it is read by one parser (prices.py):
the console keeps it in one form ("30元" -> "¥30") and refuses what it cannot read ("30/人"), and a stored price
it cannot read (free text saved before the check) is never free: the join is refused, nobody joins unpaid."""

from __future__ import annotations

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from core.payment_settings import PaymentSettings
from lightapps.activities.prices import price_text, read_price
from lightapps.activities.store import ActivityKeys, ActivityStore
from portal.payments.store import PaymentKeys
from portal.shopper import Shopper, shopper_token

VENUE, ZONE = "demo", "atrium"
CONSOLE = f"/console/apps/activities/{VENUE}/{ZONE}"


@pytest.fixture
def paid_app(settings, demo):
    """The portal on the demo mall's store with payments on (the sandbox is never reached: no test here pays)."""
    from portal import create_app

    return create_app(settings.with_(payments=PaymentSettings(sandbox_url="http://127.0.0.1:9")))


def token(app, client: str) -> str:
    with app.test_request_context():
        return shopper_token(Shopper(VENUE, client))


def local(ts: float) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")  # the venue's clock


def owner(app):
    """A test client logged into the console as the atrium's owner, and a CSRF token for its forms."""
    client = app.test_client()

    def csrf() -> str:
        page = client.get("/console/login").get_data(as_text=True)
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    assert client.post("/console/login", data={"username": "events", "password": "mallportal-demo",
                                               "csrf_token": csrf()}).status_code == 303
    return client, csrf()


def new_group_form(csrf: str, **over: str) -> dict[str, str]:
    return {"csrf_token": csrf, "title_en": "Hotpot for four", "ends_at": local(time.time() + 2 * 86400),
            "needed": "2", "limit": "4"} | over


def created_id(resp) -> str:
    assert resp.status_code == 303, resp.status_code
    return re.search(r"created=(\d+)", resp.headers["Location"]).group(1)


def n_items(db) -> int:
    return len(db.keys(ActivityKeys(VENUE).item("*")))


def member(db, item_id: str, client: str) -> bool:
    return bool(db.hexists(ActivityKeys(VENUE).who(item_id), client))


def n_orders(db) -> int:
    return len(db.keys(PaymentKeys(VENUE).order("*")))


# ---- the parser -------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed, fen", [
    ("30", 3000), ("30.5", 3050), ("¥30", 3000), ("￥30", 3000), ("30元", 3000), ("RMB 30", 3000),
    ("CNY 30", 3000), ("rmb30", 3000), ("30 元", 3000), ("３０元", 3000), ("¥1,299.00", 129900), ("", 0), ("0", 0),
])
def test_the_usual_ways_of_writing_yuan_are_read(typed, fen):
    assert read_price(typed) == fen
    assert read_price(price_text(fen)) == fen  # the kept form reads back exactly


@pytest.mark.parametrize("typed", ["30/人", "¥30/人", "30起", "about 30", "30,5", "-5", "30.555", "1e3", "NaN",
                                   "٣٠", "1000000.01", "¥¥30"])
def test_anything_else_is_not_a_price(typed):
    with pytest.raises(ValueError):
        read_price(typed)


# ---- the console keeps one form, or refuses naming the box --------------------------------------------


def test_a_price_typed_30_yuan_is_kept_as_yuan_30_and_joining_goes_to_payment(paid_app, db):
    client, csrf = owner(paid_app)
    item_id = created_id(client.post(f"{CONSOLE}/new/group", data=new_group_form(csrf, price="30元",
                                                                                 was_price="RMB 45.5")))
    item = ActivityStore(db).get(VENUE, item_id)
    assert (item.price, item.was_price) == ("¥30", "¥45.50")
    shopper = paid_app.test_client()
    resp = shopper.post(f"/v/{VENUE}/activities/{item_id}/join", data={"c": token(paid_app, "anon-hotpot")})
    assert resp.status_code == 303 and re.search(r"/pay/MP[0-9A-F]{24}", resp.headers["Location"])
    assert not member(db, item_id, "anon-hotpot")  # a member only once the deposit is paid


@pytest.mark.parametrize("field, label", [("price", "Price (as shown)"), ("was_price", "Usual price (as shown)")])
def test_a_price_per_person_is_refused_naming_the_box(paid_app, db, field, label):
    client, csrf = owner(paid_app)
    before = n_items(db)
    resp = client.post(f"{CONSOLE}/new/group?lang=en", data=new_group_form(csrf, **{field: "30/人"}))
    assert resp.status_code == 400
    error = re.search(r'id="form-error"[^>]*>(.*?)</p>', resp.get_data(as_text=True), re.S).group(1)
    assert label in error and "amount in yuan" in error, error
    assert n_items(db) == before


def test_an_empty_or_zero_price_stays_free(paid_app, db):
    client, csrf = owner(paid_app)
    shopper = paid_app.test_client()
    for typed, kept in (("", ""), ("0", "¥0")):
        item_id = created_id(client.post(f"{CONSOLE}/new/group", data=new_group_form(csrf, price=typed)))
        assert ActivityStore(db).get(VENUE, item_id).price == kept
        resp = shopper.post(f"/v/{VENUE}/activities/{item_id}/join", data={"c": token(paid_app, "anon-free")})
        assert resp.status_code == 303 and "joined=1" in resp.headers["Location"]
        assert member(db, item_id, "anon-free")


# ---- records saved before the check --------------------------------------------------------------------


def stored(db, kind: str, price: str):
    """An activity written straight to the store, as the console saved prices before they were read."""
    now = time.time()
    fields = {"kind": kind, "title_en": f"Old {kind}", "price": price, "starts_at": now - 60, "ends_at": now + 3600,
              "limit": 5, "needed": 2 if kind == "group" else 0}
    return ActivityStore(db).create(VENUE, ZONE, fields)


@pytest.mark.parametrize("kind", ["sale", "group"])
def test_a_stored_price_that_cannot_be_read_refuses_the_join(paid_app, db, kind):
    item = stored(db, kind, "¥30/人")
    orders = n_orders(db)
    resp = paid_app.test_client().post(f"/v/{VENUE}/activities/{item.id}/join?lang=en",
                                       data={"c": token(paid_app, "anon-old")})
    assert resp.status_code == 409
    assert "its price is not an amount we can charge" in resp.get_data(as_text=True)
    assert not member(db, item.id, "anon-old")
    got = ActivityStore(db).get(VENUE, item.id)
    assert got.taken == 0 and n_orders(db) == orders  # no unit taken, no order opened


@pytest.mark.parametrize("kind", ["sale", "group"])
def test_a_stored_price_the_parser_reads_is_charged(paid_app, db, kind):
    item = stored(db, kind, "99元")
    resp = paid_app.test_client().post(f"/v/{VENUE}/activities/{item.id}/join", data={"c": token(paid_app, "anon-99")})
    assert resp.status_code == 303 and "/pay/" in resp.headers["Location"]
    assert not member(db, item.id, "anon-99")
