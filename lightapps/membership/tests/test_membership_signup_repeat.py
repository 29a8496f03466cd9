"""A shopper who is a member already is sent to her card: a second tap on Verify (after her first made her a member,
or while it still binds her), the verify POST sent again, an old sign-up tab or the back button. No 410 "enter your
number again", and no SMS sent again."""

from __future__ import annotations

import time

import pytest

from lightapps.membership.store import MemberStore
from portal.shopper import Shopper, shopper_token

PHONE = "+8613900007777"


@pytest.fixture
def c(app):
    with app.app_context():
        return shopper_token(Shopper("demo", "double-tap"))


def sign_up(client, sender, c: str, phone: str = PHONE) -> str:
    resp = client.post("/v/demo/member/signup", data={"c": c, "phone": phone})
    assert resp.status_code == 303 and "/member/verify" in resp.headers["Location"]
    return sender.last_code(phone)


def to_card(resp) -> str:
    assert resp.status_code == 303, resp.get_data(as_text=True)[-400:]
    location = resp.headers["Location"]
    assert location.startswith("/v/demo/member?") and "c=" in location
    return location


def test_verify_tapped_again_after_joining_shows_her_card(client, demo, sender, members, c):
    code = sign_up(client, sender, c)
    assert "welcome=new" in to_card(client.post("/v/demo/member/verify", data={"c": c, "code": code}))
    again = client.post("/v/demo/member/verify", data={"c": c, "code": code})
    assert "welcome=new" in to_card(again)
    # an odd code sent later by the member (a stale tab) is no wrong code either: her card
    to_card(client.post("/v/demo/member/verify", data={"c": c, "code": "000000"}))
    assert to_card(client.get(f"/v/demo/member/verify?c={c}"))
    assert members.count("demo") == 2  # the demo member and her
    assert members.for_client("demo", "double-tap").phone == PHONE


def test_verify_tapped_twice_at_once_makes_her_the_member_once(app, client, demo, sender, members, c, monkeypatch):
    """The second POST arrives while the first is binding her (after her code was taken, before she is a member)."""
    code = sign_up(client, sender, c)
    real_bind = MemberStore.bind
    taps, second = [], []

    def bind_after_a_second_tap(self, *args, **kwargs):
        taps.append(1)
        if len(taps) == 1:  # the first tap's bind: the second tap comes in now, and binds first
            second.append(app.test_client().post("/v/demo/member/verify", data={"c": c, "code": code}))
        return real_bind(self, *args, **kwargs)

    monkeypatch.setattr(MemberStore, "bind", bind_after_a_second_tap)
    first = client.post("/v/demo/member/verify", data={"c": c, "code": code})
    assert "welcome=new" in to_card(first) and "welcome=new" in to_card(second[0])
    assert members.count("demo") == 2 and members.for_client("demo", "double-tap").phone == PHONE


def test_a_returning_member_tapping_twice_is_welcomed_back(client, demo, sender, members, c):
    members.bind("demo", PHONE, "her-old-phone", now=time.time() - 86400)
    code = sign_up(client, sender, c)
    assert "welcome=back" in to_card(client.post("/v/demo/member/verify", data={"c": c, "code": code}))
    assert "welcome=back" in to_card(client.post("/v/demo/member/verify", data={"c": c, "code": code}))


def test_a_member_signing_up_or_resending_gets_her_card_and_no_sms(client, demo, sender, members, c):
    code = sign_up(client, sender, c)
    to_card(client.post("/v/demo/member/verify", data={"c": c, "code": code}))
    sent = len(sender.sent)
    for path, data in (("signup", {"c": c, "phone": PHONE}), ("signup", {"c": c, "phone": "+8613900008888"}),
                       ("resend", {"c": c})):
        assert "welcome" not in to_card(client.post(f"/v/demo/member/{path}", data=data))
    assert len(sender.sent) == sent and members.for_client("demo", "double-tap").phone == PHONE
