"""The sign-up form's refusals tied to the number field (WCAG 3.3.1): a bad number marks the field invalid, names the
error and takes the focus; a refusal to send (a code just sent) names the error but leaves the number valid. Each
step of the card has a title of its own."""

from __future__ import annotations

import re

from portal.shopper import Shopper, shopper_token


def phone_field(html: str) -> str:
    return re.search(r'<input type="tel" id="phone"[^>]*>', html).group(0)


def token_of(app, who: str) -> str:
    with app.app_context():
        return shopper_token(Shopper("demo", who))


def signup(app, client, phone: str, who: str = "s-sign"):
    return client.post("/v/demo/member/signup", data={"c": token_of(app, who), "phone": phone, "lang": "en"})


def test_a_bad_number_is_marked_and_focused(app, client, demo):
    resp = signup(app, client, "12")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'id="member-error" role="alert"' in html
    assert phone_field(html).endswith(' aria-invalid="true" aria-describedby="member-error" autofocus>')
    assert "<title>Become a member · Membership card</title>" in html


def test_a_refusal_to_send_names_the_error_without_marking_the_number(app, client, demo, sender):
    assert signup(app, client, "+8613900002222", "s-twice").status_code == 303
    resp = signup(app, client, "+8613900002222", "s-twice")
    field = phone_field(resp.get_data(as_text=True))
    assert resp.status_code == 429 and 'aria-describedby="member-error"' in field
    assert "aria-invalid" not in field and "autofocus" not in field
    verify = client.get(f"/v/demo/member/verify?c={token_of(app, 's-twice')}&lang=en")
    assert "<title>Enter the code · Membership card</title>" in verify.get_data(as_text=True)
