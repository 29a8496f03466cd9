"""The checklist's "Report sources seen live" step (portal/maps/checklist.py:_sources) on a new mall.

Found by an onboarding pass on a generated mall of 74 APs: before any feed was connected the step listed 20
BSSIDs as "silent" (all 74 were; nothing said how many more, nor what to do), and a new operator does not
know yet that a feed needs a token and a URL. Now: no feed, how to connect one; a feed, the silent APs and
how many more than the step names."""

from __future__ import annotations

import html
import re
import time

from fingerprints.model import AccessPoint, Floor, VenueMap, Zone
from portal.auth import AccountStore
from portal.ingest.tokens import ApiTokenStore

H = "/console/ops/harbour"
APS = 30


def harbour() -> VenueMap:
    aps = [AccessPoint(f"02:11:22:33:44:{i:02x}", 0, 2.0 * i, 5.0, f"AP-{i}") for i in range(APS)]
    return VenueMap(id="harbour", name="Harbour", name_zh="海港", floors=[Floor(0, "L0", 70.0, 30.0)], aps=aps,
                    zones=[Zone("mall-0", "Mall", "商场", 0, [(0, 0), (70, 0), (70, 30), (0, 30)], "corridor")])


def sources_step(client, lang: str = "en") -> tuple[str, str]:
    page = client.get(f"{H}/checklist?lang={lang}").get_data(as_text=True)
    item = re.search(r'<li id="step-sources" class="(\w+)">(.*?)</li>\s*(?:<li id="step-|</ol>)', page, re.S)
    assert item, page
    return item.group(1), html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item.group(2))))


def ap_0_reports_and_its_operator_signs_in(client, console, svc) -> None:
    """Harbour's feed reports a reading heard by AP-0 (02:11:22:33:44:00), and harbour's operator signs in."""
    AccountStore(svc.db).create("harbour-ops", "harbour-pass-1", "operator", "harbour")
    token = ApiTokenStore(svc.db).issue("harbour", "ap-feed")
    body = {"ap": "02:11:22:33:44:00", "observations": [{"client": "02:00:5e:00:53:01", "rssi": -61,
                                                         "ts": int(time.time())}]}
    resp = client.post("/api/v1/venues/harbour/reports", json=body, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    console.login("harbour-ops", "harbour-pass-1")


def test_no_feed_yet_says_how_to_connect_one_not_thirty_bssids(client, console, svc):
    svc.venues.put_map(harbour())
    AccountStore(svc.db).create("harbour-ops", "harbour-pass-1", "operator", "harbour")
    console.login("harbour-ops", "harbour-pass-1")
    state, step = sources_step(client)
    assert state == "todo" and f"; {APS} of {APS} APs silent" in step
    assert "`python -m portal flask issue-token harbour <label>`" in step and "/api/v1/venues/harbour/reports" in step
    assert "02:11:22:33:44" not in step
    assert "python -m portal flask issue-token harbour" in sources_step(client, "zh")[1]


def test_a_feed_names_the_silent_aps_and_how_many_more(client, console, svc):
    svc.venues.put_map(harbour())
    ap_0_reports_and_its_operator_signs_in(client, console, svc)
    state, step = sources_step(client)
    assert state == "done" and f"; {APS - 1} of {APS} APs silent" in step
    assert len(re.findall(r"AP AP-\d+ \(02:11:22:33:44:[0-9a-f]{2}\): silent", step)) == 20  # by name and BSSID
    assert f"and {APS - 1 - 20} more silent APs (Ingest health lists them all)" in step
    assert "(02:11:22:33:44:00): silent" not in step


def test_only_the_venues_operator_sees_the_step(client, console, svc):
    svc.venues.put_map(harbour())
    AccountStore(svc.db).create("other-ops", "other-pass-12", "operator", "elsewhere")
    assert client.get(f"{H}/checklist").status_code in (302, 401, 403)  # signed out: the login
    console.login("other-ops", "other-pass-12")
    assert client.get(f"{H}/checklist").status_code == 403
