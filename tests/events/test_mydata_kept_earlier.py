"""A browser that kept Monday's shopper and then today's (a keep link) lists Monday's things on Me as hers: her
export shows them and her erasure erases them, and the browser's earlier list with them."""

from __future__ import annotations

import time

from lightapps.coupons.store import CouponStore
from portal.shopper import new_shopper, token_store
from tests.hub.conftest import mint
from tests.hub.test_keep_handoff import OWN, code_of, keep_link


def test_the_export_shows_and_the_erasure_erases_what_me_lists_as_kept_earlier(app, svc, demo):
    browser, monday, today = app.test_client(), new_shopper("demo"), new_shopper("demo")
    coupons = CouponStore(svc.db)
    coupon = coupons.create("demo", "kopi", {"title_en": "Monday coffee", "stock": 5, "valid_from": time.time() - 60,
                                             "valid_until": time.time() + 86400})
    code = coupons.claim("demo", "kopi", coupon.id, monday.client).code
    at = float(int(time.time()) - 60)  # whole seconds: the log keeps milliseconds
    svc.events.emit("demo", "landing", at=at, shopper=monday.client, zone="kopi")
    monday_token = mint(app, monday)
    for who in (monday_token, mint(app, today)):
        assert browser.post("/v/demo/keep", data={"k": code_of(keep_link(app.test_client(), who))},
                            headers=OWN).status_code == 303
    assert "Monday coffee" in browser.get("/v/demo/me?lang=en", headers=OWN).get_data(as_text=True)

    data = browser.get("/v/demo/my-data/export.json", headers=OWN).get_json()
    (earlier,) = data["earlier"]
    assert earlier["shopper"] == monday.client and code in str(earlier["apps"]["coupons"])
    assert [e["at"] for e in data["events"] if e["kind"] == "landing"] == [at]
    page = browser.get("/v/demo/my-data?lang=en", headers=OWN).get_data(as_text=True)
    assert 'id="held-earlier-1-app-coupons"' in page and "kept earlier in this browser" in page

    erased = browser.post("/v/demo/my-data/erase", data={"confirm": "1"}, headers=OWN)
    assert erased.status_code == 200 and browser.get_cookie("mp_e", path="/v/demo") is None
    assert "Monday coffee" not in browser.get("/v/demo/me?lang=en", headers=OWN).get_data(as_text=True)
    assert coupons.wallet("demo", monday.client) == [] and all(e.at != at for e in svc.events.read("demo"))
    with app.app_context():
        assert token_store(app).resolve(monday_token) is None
