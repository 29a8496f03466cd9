"""The coupon console's two irreversible taps: Stop claims asks for a ticked box saying what it does (else 422,
nothing changed), and the publish form sent twice (a double tap) makes one coupon (its one-time token), also
when the taps arrive together."""

from __future__ import annotations

import re
import threading
import time

from lightapps.coupons.store import CouponStore
from tests.pages import input_values

CONSOLE = "/console/apps/coupons/demo/kopi"


def new_coupon(coupons: CouponStore):
    return coupons.create("demo", "kopi", {"title_en": "Kopi treat", "title_zh": "咖啡券", "stock": 5,
                                           "valid_from": time.time() - 60, "valid_until": time.time() + 86400})


def test_stop_claims_needs_the_tick_and_claimed_coupons_stay_valid(client, console, svc):
    coupons = CouponStore(svc.db)
    console.login("kopi")
    coupon = new_coupon(coupons)
    code = coupons.claim("demo", "kopi", coupon.id, "alice").code
    page = client.get(f"{CONSOLE}/?lang=en").get_data(as_text=True)
    assert f'id="confirm-stop-{coupon.id}"' in page
    assert "For good: shoppers can no longer claim it; coupons already claimed stay valid." in page
    resp = client.post(f"{CONSOLE}/{coupon.id}/stop?lang=en", data={"csrf_token": console.csrf()})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="stop-error"' in html and "Tick the box beside Stop claims to confirm it for Kopi treat" in html
    assert coupons.get("demo", coupon.id).status == "live"  # nothing changed
    resp = client.post(f"{CONSOLE}/{coupon.id}/stop", data={"csrf_token": console.csrf(), "confirm": "yes"})
    assert resp.status_code == 303 and coupons.get("demo", coupon.id).status == "stopped"
    assert coupons.claim("demo", "kopi", coupon.id, "bob").status == "ENDED"
    assert coupons.redeem("demo", "kopi", code, by="kopi").status == "OK"  # what the box says
    gone = client.post(f"{CONSOLE}/99999/stop", data={"csrf_token": console.csrf(), "confirm": "yes"})
    assert gone.status_code == 404


def publish_form(page: str, csrf: str) -> dict:
    form = re.search(r'action="[^"]*/kopi/new".*?</form>', page, re.S).group(0)
    return {"csrf_token": csrf, **input_values(form, "nonce", "valid_from", "valid_until"),
            "title_en": "Double coupon", "stock": "10"}


def test_the_publish_form_sent_twice_makes_one_coupon(client, console, svc):
    coupons = CouponStore(svc.db)
    console.login("kopi")
    form = publish_form(client.get(f"{CONSOLE}/").get_data(as_text=True), console.csrf())
    first = client.post(f"{CONSOLE}/new", data=form)
    again = client.post(f"{CONSOLE}/new", data=form)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]  # both go to the one it made
    assert [c.title_en for c in coupons.for_zone("demo", "kopi")].count("Double coupon") == 1
    assert len([e for e in svc.db.lrange("mp:{demo}:audit", 0, 20) if b"coupons.create" in e]) == 1
    form = publish_form(client.get(f"{CONSOLE}/").get_data(as_text=True), console.csrf())  # a new form
    assert client.post(f"{CONSOLE}/new", data=form).status_code == 303
    assert [c.title_en for c in coupons.for_zone("demo", "kopi")].count("Double coupon") == 2


def test_publish_taps_at_the_same_moment_make_one_coupon(db):
    coupons, barrier = CouponStore(db), threading.Barrier(8)
    fields = {"title_en": "Tapped", "stock": 10, "valid_from": time.time() - 60, "valid_until": time.time() + 86400}
    made = []

    def tap():
        barrier.wait()
        made.append(coupons.create_by_form("demo", "kopi", fields, "form-token-0123456789"))

    threads = [threading.Thread(target=tap) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({coupon.id for coupon, _replayed in made}) == 1
    assert sorted(replayed for _coupon, replayed in made) == [False] + [True] * 7
    assert [c.title_en for c in coupons.for_zone("demo", "kopi")] == ["Tapped"]
    assert coupons.create_by_form("demo", "books", fields, "form-token-0123456789")[1] is False  # another zone's
