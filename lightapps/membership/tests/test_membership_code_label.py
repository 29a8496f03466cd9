"""The sign-up code's field is labelled as an SMS verification code (验证码) in Chinese, not as a program's
"code" (代码): its msgid has a context (pgettext "sms code"); the other uses of "Code" (a booking code in
the cinema console, a coupon's short code) keep their own translation."""

from __future__ import annotations

from flask_babel import force_locale, gettext, pgettext

from portal.shopper import Shopper, shopper_token

PHONE = "+8613900002222"


def test_the_verify_page_labels_the_sms_code_as_a_verification_code(app, client, demo):
    with app.app_context():
        c = shopper_token(Shopper("demo", "code-label"))
    resp = client.post("/v/demo/member/signup", data={"c": c, "phone": PHONE})
    assert resp.status_code == 303 and "/member/verify" in resp.headers["Location"]
    page = client.get(f"/v/demo/member/verify?c={c}&lang=zh").get_data(as_text=True)
    assert '<label for="code">验证码</label>' in page
    assert "代码" not in page
    en = client.get(f"/v/demo/member/verify?c={c}&lang=en").get_data(as_text=True)
    assert '<label for="code">Code</label>' in en


def test_other_uses_of_code_keep_their_meaning(app):
    with app.test_request_context(), force_locale("zh"):
        assert pgettext("sms code", "Code") == "验证码"
        assert gettext("Code") == "代码"  # the cinema console's booking code, a coupon's short code: unchanged
