"""Privacy (issue 14): phone numbers and codes out of logs and key names; the application's log filter."""

from __future__ import annotations

import logging

import pytest

from lightapps.membership.sender import SmsCodeSender, dev_outbox_code
from portal.notify.sms import LoggingSmsProvider, SmsKeys
from portal.notify.views import SMS

PHONE = "+8613800138000"


def test_sign_up_codes_go_through_the_dev_sms_sender_kept_and_logged_only_in_demo_mode(app, db, caplog,
                                                                                        monkeypatch):
    with app.test_request_context("/?lang=en"):
        monkeypatch.setitem(app.extensions, SMS, LoggingSmsProvider(db, show_text=False))
        quiet = SmsCodeSender(keep_codes=False)
        with caplog.at_level(logging.INFO):
            quiet.send("v", PHONE, "123456", 300)
        assert "123456" not in caplog.text and "13800138000" not in caplog.text
        assert "membership.code" in caplog.text
        assert quiet.last_code(PHONE) is None and dev_outbox_code(db, "v", PHONE) is None
        monkeypatch.setitem(app.extensions, SMS, LoggingSmsProvider(db, show_text=True))
        demo = SmsCodeSender(keep_codes=True)
        demo.send("v", PHONE, "654321", 300)
        assert demo.last_code(PHONE) == "654321" and dev_outbox_code(db, "v", PHONE) == "654321"
        assert not any(b"13800138000" in v for v in db.lrange(SmsKeys("v").dev_outbox(), 0, -1))


# ---- the log filter (core/logredact.py) -----------------------------------------------------------

MAC = "3c:22:fb:9a:10:2e"


def test_redact_covers_macs_phones_tokens_and_c_values():
    from core.logredact import redact

    token = "demo." + "A" * 43
    line = redact(f"GET /generate_204?client_mac=aa-bb-cc-dd-ee-ff&c={token} from {MAC} 3c22fb9a102e "
                  f"phone +86 138 0013 8000 token {token}")
    for raw in ("aa-bb-cc-dd-ee-ff", MAC, "3c22fb9a102e", "138 0013 8000", "A" * 43):
        assert raw not in line
    assert "[mac]" in line and "[phone]" in line and "[token]" in line and "c=[redacted]" in line
    assert redact("client 3c22.fb9a.102e joined") == "client [mac] joined"  # Cisco's dotted form
    link = redact("GET /console/welcome?t=alice.s3cr3t-short HTTP/1.1")  # too short for the token pattern
    assert "s3cr3t" not in link and "t=[redacted]" in link
    # What must stay readable does: venue ids, hashed client ids, times, counts, masked numbers.
    kept = "demo: 3 positioned in 12 ms; client 9f2a1b3c4d5e6f7a8b9c0d1e; +86•••••••8000; 2026-11-30 12:00:01"
    assert redact(kept) == kept


def test_tracebacks_are_redacted_too(caplog):
    from core.logredact import install

    install()  # what the app factory, the tracker and gunicorn.conf.py do
    logger = logging.getLogger("mallportal.test.traceback")
    with caplog.at_level(logging.ERROR, logger=logger.name):
        try:
            raise ValueError(f"cannot send to {PHONE} for {MAC}")
        except ValueError:
            logger.exception("send failed")
    text = caplog.text
    assert "ValueError" in text and "send failed" in text
    assert PHONE not in text and MAC not in text and "[phone]" in text


def test_a_real_flow_leaves_no_raw_mac_phone_or_token_in_the_captured_logs(client, demo, svc, caplog):
    from portal.shopper import Shopper, shopper_token

    with client.application.app_context():
        token = shopper_token(Shopper("demo", "s-logtest"))
    with caplog.at_level(logging.DEBUG):
        probe = client.get(f"/generate_204?client_mac={MAC}")
        assert probe.status_code in (200, 204, 302)
        signup = client.post("/v/demo/member/signup", data={"phone": "+86 138 0013 8000", "c": token})
        assert signup.status_code in (303, 429)
        # A line an app writes carelessly, through a real logger of the app: the filter catches it.
        logging.getLogger("lightapps.membership.views").warning(
            "careless: %s asked from %s for %s, link /v/demo/member?c=%s", "+8613800138000", MAC, token, token)
    text = caplog.text
    assert caplog.records and "careless" in text
    for raw in (MAC, MAC.replace(":", ""), "+8613800138000", "138 0013 8000", token, token.split(".")[1]):
        assert raw not in text, raw


def test_a_mac_in_any_form_a_gateway_sends_is_one_phone():
    from core.security import MacHasher, normalise_mac

    hasher = MacHasher("k")
    forms = ("3c:22:fb:9a:10:2e", "3C-22-FB-9A-10-2E", "3c22fb9a102e", "3c22.fb9a.102e", "3C22.FB9A.102E")
    assert {normalise_mac(f) for f in forms} == {"3c:22:fb:9a:10:2e"}
    assert len({hasher.client_id(f) for f in forms}) == 1
    for bad in ("3c22.fb9a.102", "3c22.fb9a:102e", "3c22fb.9a102e", "3c:22:fb:9a:10", "3c22.fb9a.102e.0000"):
        with pytest.raises(ValueError):
            normalise_mac(bad)
