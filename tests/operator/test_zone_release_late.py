"""A zone that leaves the map is released even when something goes wrong between the save and the release
(portal/operator/zone_release.py): the release is a reconciliation against the venue's current map, run after every
save and by the payments sweeper each minute (portal/payments/worker.py), so a release a store fault cut short, one
a process that died after the save never made, and one a racing change hid from the path that saved (its `before`
lacked the zone) are all done, and audited as zone.release. A draft's zones are left alone until it is applied.
Real store (the suite's Valkey), real app, commands and sweeper; no clock involved."""

from __future__ import annotations

import html

import pytest
import redis

from fingerprints import edits
from fingerprints.drafts import DraftStore
from fingerprints.store import VenueStore
from portal.apps.zone_apps import ZoneAppKeys
from portal.auth import AccountStore, AuditLog
from portal.events.moments import Rule
from portal.operator import zone_release
from portal.operator.zone_release import CHECK_AGAIN_S, ZoneReleaseKeys
from portal.payments.worker import PaymentsSweeper
from tests.operator.test_zone_release_paths import unused_zone

V = "/console/ops/demo"
ZONE = "kopi"  # the demo's cafe: its owner account is "kopi", its app the coupons (floor 0)
CUT_SHORT = "The map was saved, but the store did not answer while the zones it removed were let go of."
RELEASED = "Zone kopi was in use: it was taken from the owner accounts kopi"


@pytest.fixture
def in_use(svc, demo):
    """The cafe as a tenant set it up: its owner account (the demo's), its app, a moments rule about it."""
    svc.zone_apps.set("demo", ZONE, "coupons", {})
    svc.moments.save("demo", Rule(id="caferule", name="caferule", trigger="zone_enter", action="notify", zone=ZONE,
                                  message_en="hi", owner=ZONE))


def releases(svc) -> list[tuple[str, str]]:
    """(who, zone) of each zone.release in the demo's audit log, newest first."""
    return [(e["user"], e["detail"]["zone"]) for e in AuditLog(svc.db).recent("demo", 200)
            if e["action"] == "zone.release"]


def kept(svc, zone: str = ZONE) -> bool:
    """Whether anything of the zone's tenant is still kept: its owner, its app, its moments rule."""
    return (zone in AccountStore(svc.db).get("kopi").zones or svc.db.hexists(ZoneAppKeys("demo").assignments(), zone)
            or any(r.zone == zone for r in svc.moments.rules("demo")))


def sweep(app, svc) -> None:
    """One round of the payments sweeper, in its app's context as `python -m portal sweep` runs it."""
    with app.app_context():
        assert PaymentsSweeper(svc.payments, svc.venues).round() == (0, 0)


def fail_once(monkeypatch) -> None:
    """The first zone release meets a store fault (the store stops answering right after the save)."""
    real = zone_release.release_zone
    calls = []

    def release_zone(venue: str, zone: str, by: str | None = None):
        calls.append(zone)
        if len(calls) == 1:
            raise redis.ConnectionError("the store stopped answering")
        return real(venue, zone, by)

    monkeypatch.setattr(zone_release, "release_zone", release_zone)


def delete_in_console(client, ops, zone: str = ZONE) -> str:
    resp = client.post(V + "/setup/zones/delete", data={"csrf_token": ops.csrf(), "floor": "0", "zone": zone})
    assert resp.status_code == 303
    return html.unescape(client.get(resp.headers["Location"]).get_data(as_text=True))


def test_a_console_save_whose_release_meets_a_store_fault_is_released_by_the_sweeper(app, client, ops, svc,
                                                                                      in_use, monkeypatch):
    fail_once(monkeypatch)
    page = delete_in_console(client, ops)
    assert svc.venues.get_map("demo").zone(ZONE) is None  # saved, and said so
    assert CUT_SHORT in page and RELEASED not in page
    assert kept(svc) and releases(svc) == []
    sweep(app, svc)
    assert not kept(svc)
    assert releases(svc) == [("cli", ZONE)]


def test_a_release_cut_short_is_finished_by_the_next_save(svc, in_use, monkeypatch, cli):
    fail_once(monkeypatch)
    assert CUT_SHORT in cli("map-edit", "delete-zone", "demo", "--zone-id", ZONE).stderr
    assert kept(svc)
    later = cli("map-edit", "place-ap", "demo", "--bssid", "F0-9F-C2-1A-00-55", "--level", "0", "--x", "10", "--y",
                "10").stderr  # a change that removes no zone
    assert f"warning: {RELEASED}" in later
    assert not kept(svc) and releases(svc) == [("cli", ZONE)]


def test_a_save_never_followed_by_its_release_is_released_by_the_sweeper(app, svc, in_use, monkeypatch):
    """The process died between the save and the release: the map changed straight through the VenueStore."""
    sweep(app, svc)  # checked against the map with the cafe: nothing off it
    assert kept(svc) and releases(svc) == []
    with svc.venues.edit("demo", "zone.delete") as venue_map:
        edits.delete_zone(venue_map, ZONE)
    sweep(app, svc)
    assert not kept(svc) and releases(svc) == [("cli", ZONE)]

    def read_everything(venue: str):
        raise AssertionError("the accounts, app table and rules read again for a map already checked")

    monkeypatch.setattr(zone_release, "zones_with_state", read_everything)
    sweep(app, svc)  # the map is the one checked: two reads, nothing more


def test_an_owner_given_a_zone_off_the_map_is_released_once_the_check_lapses(app, svc, demo):
    """The owners' form read the map before a change removed the zone, and wrote the owner's zones after its
    release: found once the venue's check lapses (CHECK_AGAIN_S; the key removed here instead of waiting)."""
    sweep(app, svc)
    checked = ZoneReleaseKeys("demo").checked()
    assert 0 < svc.db.ttl(checked) <= CHECK_AGAIN_S
    AccountStore(svc.db).set_zones("kopi", ("kopi", "gone"))
    sweep(app, svc)
    assert "gone" in AccountStore(svc.db).get("kopi").zones
    svc.db.delete(checked)
    sweep(app, svc)
    assert AccountStore(svc.db).get("kopi").zones == ("kopi",)
    assert releases(svc) == [("cli", "gone")]


def test_a_rollback_whose_before_lacks_a_zone_it_removes_still_releases_it(app, client, ops, svc, in_use,
                                                                           monkeypatch):
    """Another operator's rollback brings the cafe back and its tenant sets it up again between this rollback's
    check (its `before`, without the cafe) and its write: the write removes the cafe, which is released."""
    with_cafe = svc.venues.current_version("demo")
    with svc.venues.edit("demo", "zone.delete") as venue_map:
        edits.delete_zone(venue_map, ZONE)
    without_cafe = venue_map.version
    with svc.venues.edit("demo", "ap.place") as venue_map:
        edits.place_ap(venue_map, "f0:9f:c2:1a:00:56", 0, 10.0, 10.0)
    with app.app_context():
        zone_release.release_zone("demo", ZONE, "cli")  # as the save above would have: the cafe starts afresh
    real = svc.venues.set_current
    monkeypatch.setattr(svc.venues, "set_current", lambda venue, version, by=None: (
        real(venue, with_cafe, by="ops2"), AccountStore(svc.db).set_zones("kopi", (ZONE,)),
        svc.zone_apps.set("demo", ZONE, "coupons", {}), real(venue, version, by)))
    resp = client.post(V + "/versions/rollback", data={"csrf_token": ops.csrf(), "version": str(without_cafe)})
    assert resp.status_code == 303
    page = html.unescape(client.get(resp.headers["Location"]).get_data(as_text=True))
    assert svc.venues.current_version("demo") == without_cafe
    assert "Zone kopi was in use: it was taken from the owner accounts kopi; its app (E-coupons)" in page
    assert not kept(svc)


def test_a_drafts_zones_are_left_alone_until_it_is_applied(app, svc, in_use):
    """A draft drawing a pop-up where the cafe is: the pop-up has nothing (only the map's zones get owners, apps
    and rules), and the cafe, still on the current map, keeps its tenant's."""
    drafts = DraftStore(svc.db, svc.venues)
    draft = drafts.open("demo", "pop-up", by="ops")
    cafe = svc.venues.get_map("demo").zone(ZONE)
    drafts.add("demo", draft.id, "delete_zone", {"zone_id": ZONE})
    drafts.add("demo", draft.id, "add_zone", {"zone_id": "popup", "name": "Pop-up", "level": cafe.floor,
                                              "points": [list(p) for p in cafe.polygon]})
    sweep(app, svc)
    assert kept(svc) and releases(svc) == []
    assert not kept(svc, "popup")


def test_a_zone_another_operator_adds_while_this_request_releases_is_kept(app, svc, in_use):
    """The request read (or saved) the map before another operator saved one with a new zone and gave it an owner:
    the release reads the store's current map, not the version this request holds (VenueStore.work_scope)."""
    with app.test_request_context("/console/ops/demo/setup"):
        before = svc.venues.current_version("demo")  # this request's version from here on
        popup = unused_zone(svc, VenueStore(svc.db))  # saved by another process: no request of ours
        AccountStore(svc.db).set_zones("kopi", ("kopi", popup))
        assert svc.venues.current_version("demo") == before  # what the request still reads
        assert zone_release.release_off_map("demo") == []
    assert AccountStore(svc.db).get("kopi").zones == ("kopi", popup)
    assert int(svc.db.get(ZoneReleaseKeys("demo").checked())) == before + 1
