"""A new time zone re-cuts a venue's finished days at once (insights cut days at the venue's midnight from the event
log, and no history of zones is kept): a partner holding a day pulled before and after the change holds overlapping
windows. So where the venue has traffic, `portal-config VENUE time_zone=...` says so and changes nothing without
`--yes`, and the operator console's time zone form asks for its box to be ticked (409, nothing stored, otherwise).
A venue without traffic, or the zone in force typed again, needs no confirmation."""

from __future__ import annotations

import html
import re
import time

import pytest

from portal.auth import AuditLog
from portal.captive.config import PortalConfigKeys, PortalConfigStore

V = "/console/ops/demo"
NEW_YORK = "America/New_York"


def words(resp) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", resp.get_data(as_text=True))).split())


@pytest.fixture
def traffic(svc, demo):
    """The demo venue with one day of traffic in its event log (what insights cut into days)."""
    svc.events.emit("demo", "arrive", at=time.time() - 86400, device="d-1")
    assert svc.events.length("demo") == 1


def portal_config(app, *args: str):
    result = app.test_cli_runner().invoke(args=["portal-config", "demo", *args])
    return result.exit_code, result.output


def zone(svc) -> str:
    return PortalConfigStore(svc.db).time_zone("demo")


# ---- the command line ------------------------------------------------------------------------------------


def test_the_command_refuses_a_new_zone_for_a_venue_with_traffic_without_yes(app, svc, traffic):
    code, out = portal_config(app, f"time_zone={NEW_YORK}")
    assert code != 0
    text = " ".join(out.split())
    assert f"moving from Asia/Shanghai to {NEW_YORK} re-cuts every past day at once" in text
    assert "a day pulled before and after overlaps" in text and "Run again with --yes" in text
    assert zone(svc) == "Asia/Shanghai"
    code, out = portal_config(app, f"time_zone={NEW_YORK}", "--yes")
    assert code == 0 and "warning: venue demo has traffic data" in out and "updated time_zone" in out
    assert zone(svc) == NEW_YORK


def test_unsetting_the_zone_is_a_change_too(app, svc, traffic, settings):
    PortalConfigStore(svc.db).set("demo", {"time_zone": NEW_YORK})
    code, out = portal_config(app, "time_zone=")
    assert code != 0 and f"to {settings.time_zone} re-cuts" in " ".join(out.split()) and zone(svc) == NEW_YORK


def test_the_same_zone_or_a_venue_without_traffic_needs_no_yes(app, svc, demo):
    assert svc.events.length("demo") == 0
    code, out = portal_config(app, f"time_zone={NEW_YORK}")
    assert code == 0 and "warning" not in out and zone(svc) == NEW_YORK
    svc.events.emit("demo", "arrive", at=time.time(), device="d-1")
    code, out = portal_config(app, f"time_zone={NEW_YORK}", "session_minutes=90")  # typed again: no change
    assert code == 0 and "warning" not in out


def test_a_bad_zone_is_refused_for_what_it_is(app, svc, traffic):
    code, out = portal_config(app, "time_zone=Nowhere/City")
    assert code != 0 and "IANA name" in out and "--yes" not in out and zone(svc) == "Asia/Shanghai"


# ---- the console -----------------------------------------------------------------------------------------


def test_the_console_form_asks_to_confirm_and_stores_nothing_without_it(client, ops, svc, traffic):
    page = client.get(V + "/time-zone").get_data(as_text=True)
    assert 'id="time-zone-recut-note"' in page and 'name="recut"' in page
    assert "time_zone=&lt;Area/City&gt; --yes" in page
    audited = len(AuditLog(svc.db).recent("demo", 1000))
    resp = client.post(V + "/time-zone", data={"time_zone": NEW_YORK, "csrf_token": ops.csrf()})
    assert resp.status_code == 409
    assert (f"Moving from Asia/Shanghai to {NEW_YORK} re-cuts this venue's past days: tick \"Re-cut the past days "
            "in the new zone\" to change it anyway.") in words(resp)
    box = re.search(r'<input type="checkbox" id="time-zone-recut"[^>]*>', resp.get_data(as_text=True)).group(0)
    assert 'aria-invalid="true"' in box and 'aria-describedby="time-zone-error"' in box
    assert zone(svc) == "Asia/Shanghai" and len(AuditLog(svc.db).recent("demo", 1000)) == audited
    resp = client.post(V + "/time-zone", data={"time_zone": NEW_YORK, "recut": "yes", "csrf_token": ops.csrf()})
    assert resp.status_code == 303 and zone(svc) == NEW_YORK


def test_the_console_asks_nothing_of_a_venue_without_traffic(client, ops, svc, demo):
    svc.db.hdel(PortalConfigKeys("demo").config(), "time_zone")
    page = client.get(V + "/time-zone").get_data(as_text=True)
    assert 'name="recut"' not in page and "--yes" not in page
    resp = client.post(V + "/time-zone", data={"time_zone": NEW_YORK, "csrf_token": ops.csrf()})
    assert resp.status_code == 303 and zone(svc) == NEW_YORK
