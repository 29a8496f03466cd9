"""The publish form's token resent with other content (the back button, an edit, send) is a new form: it makes
its own coupon, while a double tap of either sending still makes one."""

from __future__ import annotations

import time

from werkzeug.datastructures import MultiDict

from lightapps.coupons.store import CouponStore
from lightapps.coupons.tests.test_coupons_confirm_and_once import CONSOLE, publish_form
from portal.apps.once import read_form_once

TOKEN = "form-token-0123456789"


def test_the_publish_token_resent_edited_makes_a_second_coupon(client, console, svc):
    coupons = CouponStore(svc.db)
    console.login("kopi")
    form = publish_form(client.get(f"{CONSOLE}/").get_data(as_text=True), console.csrf())
    edited = {**form, "title_en": "Edited coupon", "stock": "20"}
    sent = [client.post(f"{CONSOLE}/new", data=data) for data in (form, form, edited, edited, form)]
    assert all(resp.status_code == 303 for resp in sent)
    titles = [c.title_en for c in coupons.for_zone("demo", "kopi")]
    assert titles.count("Double coupon") == 1 and titles.count("Edited coupon") == 1
    [made] = [c for c in coupons.for_zone("demo", "kopi") if c.title_en == "Edited coupon"]
    assert made.stock == 20 and sent[2].headers["Location"] == sent[3].headers["Location"]
    assert sent[4].headers["Location"] == sent[0].headers["Location"]  # back to the first: its coupon again
    assert len([e for e in svc.db.lrange("mp:{demo}:audit", 0, 20) if b"coupons.create" in e]) == 2


def test_one_token_with_two_contents_makes_two_coupons_each_once(db):
    """The store keeps each (token, content) record in the venue's slot with the coupon (rerun on the cluster)."""
    coupons = CouponStore(db)
    fields = {"title_en": "Kept", "stock": 10, "valid_from": time.time() - 60, "valid_until": time.time() + 86400}
    first = read_form_once(MultiDict([("nonce", TOKEN), ("title_en", "Kept")]))
    edited = read_form_once(MultiDict([("nonce", TOKEN), ("title_en", "Kept, edited")]))
    made = [coupons.create_by_form("demo", "kopi", fields, once) for once in (first, first, edited, edited)]
    assert [replayed for _coupon, replayed in made] == [False, True, False, True]
    assert made[0][0].id == made[1][0].id != made[2][0].id == made[3][0].id
