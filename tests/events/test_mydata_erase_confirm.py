"""Erasing everything takes a confirmation the server checks (WCAG 3.3.4): the form's "I understand" box, required;
a post without it (or with it unticked) is a 400 that erases nothing and says why, the box marked and focused."""

from __future__ import annotations

import re

import pytest

from portal.shopper import Shopper, shopper_token


@pytest.mark.parametrize("confirm", [None, "", "0", "maybe"])
def test_an_erasure_without_i_understand_erases_nothing(app, client, svc, demo, confirm):
    members = app.extensions["light_app_stores"]["membership"]
    member = members.bind("demo", "+8613800138002", "s-keep")[0]
    with app.app_context():
        token = shopper_token(Shopper("demo", "s-keep"))
    svc.events.emit("demo", "txn", shopper="s-keep", zone="kopi", app="coupons", action="coupon_claim")
    form = {"c": token, "lang": "en"} | ({} if confirm is None else {"confirm": confirm})

    resp = client.post("/v/demo/my-data/erase", data=form)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert re.search(r'<p class="error" id="erase-error" role="alert">Nothing was erased', html)
    box = re.search(r'<input type="checkbox" name="confirm"[^>]*>', html).group(0)
    assert 'aria-invalid="true" aria-describedby="erase-error" autofocus' in box and "required" in box
    assert members.get("demo", member.id) is not None
    assert any(e.shopper == "s-keep" for e in svc.events.read("demo"))
    assert not [e for e in svc.privacy.exports("demo") if e["what"] == "erasure"]  # no erasure audited
    assert client.get(f"/v/demo/my-data?c={token}").status_code == 200  # her token still opens her data


def test_the_page_asks_for_the_confirmation(app, client, demo):
    with app.app_context():
        token = shopper_token(Shopper("demo", "s-look"))
    html = client.get(f"/v/demo/my-data?c={token}&lang=en").get_data(as_text=True)
    form = html[html.index('id="erase-form"'):]
    assert re.search(r'<input type="checkbox" name="confirm" value="1" id="erase-confirm" required>', form)
    assert "I understand" in form and 'aria-invalid' not in form and 'id="erase-error"' not in form
