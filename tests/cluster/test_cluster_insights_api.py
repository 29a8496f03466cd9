"""The insights API's store steps on the local cluster, each once: a call's slot taken, refused when the token's are
all held, lapsed and given back (Lua on the venue's keys, portal/call_slots.py); its audit roll-up written once
however often it is sent, trimmed and read back with the log (`AuditLog.record_call`, `recent`)."""

from __future__ import annotations

import time

from portal.auth import AuditLog
from portal.call_slots import CallSlots
from tests.events.test_insights_api import (  # noqa: F401 - the fixtures
    DAY,
    URL,
    bearer,
    crowd,
    exports,
    partner,
)


def test_call_slots_on_the_cluster(svc):
    slots = CallSlots(svc.db)
    lapsed = slots.take("demo", "insights.api", "bi", 2, 60, now=time.time() - 61)
    held = [slots.take("demo", "insights.api", "bi", 2, 60) for _ in range(2)]
    assert lapsed and all(held) and slots.take("demo", "insights.api", "bi", 2, 60) is None
    slots.give_back("demo", "insights.api", "bi", held[0])
    assert slots.in_flight("demo", "insights.api", "bi") == 1
    with slots.held("demo", "insights.api", "bi", 2, 60):
        assert slots.in_flight("demo", "insights.api", "bi") == 2
    assert slots.in_flight("demo", "insights.api", "bi") == 1


def test_audit_roll_ups_on_the_cluster(db, monkeypatch):
    monkeypatch.setattr(AuditLog, "CALL_ROLLUPS_KEPT", 2)
    log = AuditLog(db)
    hour = 1_796_000_000 // 3600 * 3600
    for n in range(3):
        assert log.record_call("mall7", "bi", "insights.export", f"c{n}", "2026-11-02 venue", now=hour + n * 3600)
    assert not log.record_call("mall7", "bi", "insights.export", "c2", "2026-11-02 venue", now=hour + 2 * 3600)
    log.record("mall7", "ops", "token.issue", label="bi")
    assert [e["action"] for e in log.recent("mall7")] == ["token.issue"]
    assert [e["ts"] for e in log.call_rollups("mall7", 10)] == [hour + 2 * 3600, hour + 3600]  # the newest 2 kept


def test_the_api_on_the_cluster(client, crowd, partner):  # noqa: F811
    for _ in range(2):
        assert client.get(f"{URL}?day={DAY}", headers=bearer(partner)).status_code == 200
    [entry] = exports(crowd.db)
    assert entry["detail"]["count"] == 2
