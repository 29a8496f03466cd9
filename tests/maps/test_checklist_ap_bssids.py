"""The checklist's "Report sources seen live" step names silent APs one per AP: an AP the map lists under
several BSSIDs (one radio, several SSIDs, as the AP list CSV writes it) is not silent while any of them reports,
and a silent one is named once, with its BSSIDs."""

from __future__ import annotations

from fingerprints.model import AccessPoint
from tests.maps.test_checklist_sources import APS, H, ap_0_reports_and_its_operator_signs_in, harbour, sources_step


def test_an_ap_with_two_bssids_is_named_once_and_alive_when_either_reports(client, console, svc):
    venue_map = harbour()
    for ap in list(venue_map.aps[:2]):  # AP-0 and AP-1 each report under a second BSSID too
        venue_map.aps.append(AccessPoint(ap.bssid.replace("02:11", "06:11"), ap.floor, ap.x, ap.y, ap.name))
    svc.venues.put_map(venue_map)
    ap_0_reports_and_its_operator_signs_in(client, console, svc)
    state, step = sources_step(client)
    assert state == "done" and f"; {APS - 1} of {APS} APs silent" in step, step
    assert "06:11:22:33:44:00" not in step and "AP-0 " not in step  # AP-0 reports under its first BSSID
    assert step.count("AP AP-1 (02:11:22:33:44:01, 06:11:22:33:44:01): silent") == 1
    assert client.get(f"{H}/checklist?lang=zh").status_code == 200
