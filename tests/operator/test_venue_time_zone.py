"""The venue's time zone, set where an operator sees it: a venue that names none runs on the TIME_ZONE setting's
zone (Asia/Shanghai by default), so a Madrid mall's shows, coupon days and footfall days would follow Shanghai's
clock. The set-up checklist says so until the venue names its own zone; the operator console's time zone page
sets it (checked, audited, the change's effect on times entered before said); names that are no place
(`localtime`: the host's own zone, `posixrules`, `Factory`) are refused everywhere a zone is named."""

from __future__ import annotations

import html
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from core.settings import Settings, time_zone_name
from portal.auth import AuditLog
from portal.captive.config import PortalConfigKeys, PortalConfigStore

V = "/console/ops/demo"
MADRID = ZoneInfo("Europe/Madrid")
REFUSED = {
    "localtime": "`localtime` is the server's own zone, not a place",
    "Factory": "`Factory` is a placeholder zone with no local time, not a place",
    "Nowhere/City": "must be an IANA name such as Asia/Shanghai or Europe/Madrid, got 'Nowhere/City'",
    "": "name one, such as Asia/Shanghai or Europe/Madrid",
    "x" * 300: "must be an IANA name such as Asia/Shanghai or Europe/Madrid, got 'xxxx",
    "posixrules": "`posixrules` is the zone database's default rules, not a place",
}


def words(resp) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", resp.get_data(as_text=True))).split())


def step(client) -> tuple[str, str]:
    page = client.get(V + "/checklist").get_data(as_text=True)
    item = page.split('<li id="step-time_zone"', 1)[1].split("</li>\n", 1)[0]
    text = html.unescape(re.sub(r"<[^>]+>", " ", item.split(">", 1)[1]))
    return ("done" if item.startswith(' class="done"') else "todo"), " ".join(text.split())


def unset(svc) -> None:
    svc.db.hdel(PortalConfigKeys("demo").config(), "time_zone")  # the demo seed names Asia/Shanghai


def madrid_minutes() -> set[str]:
    return {datetime.now(MADRID).strftime("%Y-%m-%d %H:%M")}


# -- time_zone_name ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["localtime", "posixrules", "Factory", "LOCALTIME", " factory "])
def test_names_that_are_no_place_are_refused_with_the_reason(name):
    with pytest.raises(ValueError, match="not a place"):
        time_zone_name(name)


@pytest.mark.parametrize("name", ["posixrules", "Factory", "localtime"])
def test_a_hosts_time_zone_setting_that_is_no_place_still_starts_with_a_warning(name, caplog):
    """TIME_ZONE=Factory was accepted before 2026-12-07: a host upgraded in place must still start (a venue's own
    `time_zone` refuses it, and the checklist asks for one)."""
    try:
        ZoneInfo(name)
    except (KeyError, OSError):
        pytest.skip(f"this host's zone database has no {name}")
    caplog.set_level("WARNING")
    assert Settings.from_env({"TIME_ZONE": name}).time_zone == name
    assert "is no place" in caplog.text
    with pytest.raises(ValueError, match="IANA name"):
        Settings.from_env({"TIME_ZONE": "Nowhere/City"})


def test_a_hosts_posix_or_right_copy_of_a_zone_is_read_as_the_zone(caplog):
    """The zone database's `posix/` and `right/` copies started a host before 2026-12-07: read as the zone itself."""
    caplog.set_level("WARNING")
    assert Settings.from_env({"TIME_ZONE": "posix/Asia/Shanghai"}).time_zone == "Asia/Shanghai"
    assert Settings.from_env({"TIME_ZONE": "right/Europe/Madrid"}).time_zone == "Europe/Madrid"
    assert "read as Europe/Madrid" in caplog.text
    with pytest.raises(ValueError, match="IANA name"):
        Settings.from_env({"TIME_ZONE": "posix/Nowhere/City"})


def test_a_place_is_taken_and_junk_is_refused_by_name():
    assert time_zone_name(" Europe/Madrid ") == "Europe/Madrid"
    assert time_zone_name("UTC") == "UTC"
    for junk in ("x" * 300, "posix/Europe/Madrid", "../etc/passwd"):  # a 300-char name: no OSError from the file
        with pytest.raises(ValueError, match="IANA name"):
            time_zone_name(junk)


def test_the_command_line_refuses_localtime_and_stores_the_name_trimmed(db):
    store = PortalConfigStore(db)
    with pytest.raises(ValueError, match="server's own zone"):
        store.set("demo", {"time_zone": "localtime"})
    assert store.time_zone("demo") == ""
    store.set("demo", {"time_zone": " Europe/Madrid "})
    assert store.time_zone("demo") == "Europe/Madrid"


# -- the checklist step --------------------------------------------------------------------------------------


def test_the_checklist_says_the_default_zone_is_used_until_the_venue_names_one(client, ops, svc):
    unset(svc)
    state, text = step(client)
    assert state == "todo"
    assert "Not set: the `TIME_ZONE` setting's zone, Asia/Shanghai, is used" in text
    assert "every day, opening hour, show time and figure follows it" in text
    assert "portal-config demo time_zone=<Area/City>" in text and "Set the time zone" in text

    PortalConfigStore(svc.db).set("demo", {"time_zone": "Europe/Madrid"})
    before = madrid_minutes()
    state, text = step(client)
    now = re.search(r"Europe/Madrid: the venue's local time now is (\S+ \S+)\.", text)
    assert state == "done" and now and now.group(1) in before | madrid_minutes()
    assert "portal-config demo time_zone=<Area/City>" in text


def test_the_checklist_flags_a_stored_localtime(client, ops, svc):
    svc.db.hset(PortalConfigKeys("demo").config(), "time_zone", "localtime")  # stored before it was refused
    state, text = step(client)
    assert state == "todo" and "`localtime` is the server's own zone, not a place" in text


# -- the console form ----------------------------------------------------------------------------------------


def test_the_form_shows_the_zone_in_force_and_sets_it(client, ops, svc):
    unset(svc)
    page = words(client.get(V + "/time-zone"))
    assert "Not set for this venue: the TIME_ZONE setting's zone, Asia/Shanghai, is used" in page
    assert "Asia/Shanghai" in words(client.get(V + "/"))

    resp = client.post(V + "/time-zone", data={"time_zone": "Europe/Madrid", "csrf_token": ops.csrf()})
    assert resp.status_code == 303
    assert PortalConfigStore(svc.db).time_zone("demo") == "Europe/Madrid"
    entry = AuditLog(svc.db).recent("demo", 1)[0]
    assert entry["user"] == "ops" and entry["action"] == "venue.time_zone"
    assert entry["detail"] == {"time_zone": "- -> Europe/Madrid"}
    page = words(client.get(resp.headers["Location"]))
    assert "Time zone set to Europe/Madrid" in page and "The venue runs on Europe/Madrid" in page
    # 21:30 in Shanghai (UTC+8, no summer time) is 14:30 in Madrid's winter, 15:30 in its summer
    shown = datetime.now(ZoneInfo("Asia/Shanghai")).replace(hour=21, minute=30).astimezone(MADRID).strftime("%H:%M")
    assert ("The venue's clock moved from Asia/Shanghai to Europe/Madrid. Times entered before, if any (show times, "
            "coupon validity days, game windows, opening hours), stay at the same instants: a show entered for 21:30 "
            f"Asia/Shanghai time now shows at {shown}.") in page


def test_setting_the_same_zone_again_warns_of_nothing(client, ops, svc):
    resp = client.post(V + "/time-zone", data={"time_zone": "Asia/Shanghai", "csrf_token": ops.csrf()})
    page = words(client.get(resp.headers["Location"]))
    assert "Time zone set to Asia/Shanghai" in page and "clock moved" not in page


@pytest.mark.parametrize("typed", list(REFUSED), ids=lambda t: t[:12] or "empty")
def test_a_bad_zone_is_refused_with_the_reason_and_nothing_changes(client, ops, svc, typed):
    audited = len(AuditLog(svc.db).recent("demo", 1000))
    resp = client.post(V + "/time-zone", data={"time_zone": typed, "csrf_token": ops.csrf()})
    assert resp.status_code == 400
    assert REFUSED[typed] in words(resp)
    assert PortalConfigStore(svc.db).time_zone("demo") == "Asia/Shanghai"
    assert len(AuditLog(svc.db).recent("demo", 1000)) == audited


def test_only_the_venues_operator_may_see_or_set_it(client, console, svc, demo):
    data = {"time_zone": "Europe/Madrid", "csrf_token": console.csrf()}
    assert client.get(V + "/time-zone").status_code in (302, 303)
    resp = client.post(V + "/time-zone", data=data)
    assert resp.status_code in (302, 303) and "/console/login" in resp.headers["Location"]
    console.login("cinema")  # a zone owner
    assert client.get(V + "/time-zone").status_code == 403
    assert client.post(V + "/time-zone", data={**data, "csrf_token": console.csrf()}).status_code == 403
    assert PortalConfigStore(svc.db).time_zone("demo") == "Asia/Shanghai"
