"""Privacy (issue 14): phone numbers and codes out of logs and key names; the application's log filter."""

from __future__ import annotations

import logging

from lightapps.membership.sender import LoggingCodeSender, dev_outbox_code

PHONE = "+8613800138000"


def test_dev_sender_keeps_and_logs_codes_only_in_demo_mode(db, caplog):
    quiet = LoggingCodeSender(db=db, demo=False)
    with caplog.at_level(logging.INFO):
        quiet.send("v", PHONE, "123456", 300)
    assert "123456" not in caplog.text and "13800138000" not in caplog.text and "a code" in caplog.text
    assert quiet.last_code(PHONE) is None and dev_outbox_code(db, "v", PHONE) is None
    demo = LoggingCodeSender(db=db, demo=True)
    demo.send("v", PHONE, "654321", 300)
    assert demo.last_code(PHONE) == "654321" and dev_outbox_code(db, "v", PHONE) == "654321"
    assert not any(b"13800138000" in v for v in db.lrange(db.keys("*dev_outbox*")[0], 0, -1))
