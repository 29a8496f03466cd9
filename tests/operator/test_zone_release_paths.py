"""A zone that leaves the map is released whichever way it leaves (portal/operator/zone_release.py): an IMDF import
through the console, a console rollback, the `map-import`, `map-draft apply` and `map-rollback` commands. Its owner
accounts, app and settings and moments rules are let go of, the operator or the command's user is told, and a zone
given the same id afterwards starts afresh; a change that removes no zone releases nothing, nor does a preview.
A change made in one step (a direct import, a rollback) that removes zones in use is refused (409, exit status 1)
with nothing stored unless the operator ticks "Release these zones" (`--release-zones`); a draft needs no more than
its explicit apply. Real store (the suite's Valkey), real app and commands."""

from __future__ import annotations

import html
import io

import pytest

from fingerprints import edits, imdf
from fingerprints.store import VenueStore
from portal.apps.zone_apps import ZoneAppKeys
from portal.auth import AccountStore, AuditLog
from portal.events.moments import Rule

V = "/console/ops/demo"
ZONE = "kopi"  # the demo's cafe: its owner account is "kopi", its app the coupons


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def releases(svc) -> list[dict]:
    return [e["detail"] for e in AuditLog(svc.db).recent("demo", 200) if e["action"] == "zone.release"]


@pytest.fixture
def in_use(svc, demo):
    """The cafe as a tenant set it up: its owner account (the demo's), its app with another app's settings kept,
    and a moments rule about it (and one about another zone, which stays)."""
    svc.zone_apps.set("demo", ZONE, "games", {"desk_en": "old desk", "desk_zh": "旧"})
    svc.zone_apps.set("demo", ZONE, "coupons", {})
    for rule_id, zone in (("caferule", ZONE), ("booksrule", "books")):
        svc.moments.save("demo", Rule(id=rule_id, name=rule_id, trigger="zone_enter", action="notify", zone=zone,
                                      message_en="hi", owner=zone))
    assert ZONE in AccountStore(svc.db).get("kopi").zones


def assert_released(svc) -> None:
    assert ZONE not in AccountStore(svc.db).get("kopi").zones
    assert not svc.db.hexists(ZoneAppKeys("demo").assignments(), ZONE)
    assert svc.zone_apps.kept_config("demo", ZONE, "games") is None
    assert [r.id for r in svc.moments.rules("demo")] == ["booksrule"]
    assert releases(svc) == [{"zone": ZONE, "owners": "kopi", "app": "coupons", "rules": "caferule"}]


def assert_kept(svc) -> None:
    assert ZONE in AccountStore(svc.db).get("kopi").zones
    assert svc.zone_apps.get("demo", ZONE)[0] == "coupons"
    assert sorted(r.id for r in svc.moments.rules("demo")) == ["booksrule", "caferule"]
    assert releases(svc) == []


def assert_afresh(svc) -> None:
    """The zone is on the map again and nothing of the previous tenant's passed to it."""
    assert svc.venues.get_map("demo").zone(ZONE) is not None
    assert svc.zone_apps.get("demo", ZONE) == ("directory", {})
    assert ZONE not in AccountStore(svc.db).get("kopi").zones
    assert not [r for r in svc.moments.rules("demo") if r.zone == ZONE]


def archive(svc, tmp_path=None, *, without: str | None = None):
    """The demo's map as an IMDF archive (its bytes, or a file under tmp_path), with one zone left out."""
    venue_map = svc.venues.get_map("demo", for_update=True)
    if without:
        edits.delete_zone(venue_map, without)
        venue_map.shops = [shop for shop in venue_map.shops if shop.zone != without]  # IMDF anchors need a unit
    data = imdf.imdf_zip_bytes(imdf.export_imdf(venue_map))
    if tmp_path is None:
        return data
    path = tmp_path / f"mall-{without or 'all'}.imdf.zip"
    path.write_bytes(data)
    return str(path)


def version_without_zone(svc) -> tuple[int, int]:
    """(the current version, a stored version without the cafe), the current one still current: stored straight
    through the VenueStore, as an older version the operator made would be."""
    current = svc.venues.current_version("demo")
    with svc.venues.edit("demo", "zone.delete") as venue_map:
        edits.delete_zone(venue_map, ZONE)
    svc.venues.set_current("demo", current)
    return current, venue_map.version


# ---- the console ------------------------------------------------------------------------------------


def unused_zone(svc, venues: VenueStore | None = None) -> str:
    """A zone nothing is kept for: a pop-up drawn on the back third of the bookshop (100-120 x 0-30 m; its shop's
    anchor at y 15 stays in the part the bookshop keeps). Every zone of the demo has an owner, an app or a rule.
    `venues`: the store that saves it (the app's by default)."""
    with (venues or svc.venues).edit("demo", "zone.add") as venue_map:
        books = venue_map.zone("books")
        assert books.polygon == [(100, 0), (120, 0), (120, 30), (100, 30)]
        books.polygon = [(100, 0), (120, 0), (120, 20), (100, 20)]
        edits.add_zone(venue_map, "popup", "Pop-up", books.floor, [(100, 20), (120, 20), (120, 30), (100, 30)])
    return "popup"


def post_import(client, ops, data: bytes, *, release: bool = False):
    form = {"csrf_token": ops.csrf(), "imdf": (io.BytesIO(data), "mall.imdf.zip")}
    return client.post(V + "/setup/import-imdf", content_type="multipart/form-data",
                       data={**form, "release_zones": "1"} if release else form)


def import_in_console(client, ops, data: bytes, *, release: bool = False):
    resp = post_import(client, ops, data, release=release)
    assert resp.status_code == 303
    return text(client.get(resp.headers["Location"]))


def post_rollback(client, ops, version: int, *, release: bool = False):
    form = {"csrf_token": ops.csrf(), "version": str(version)}
    return client.post(V + "/versions/rollback", data={**form, "release_zones": "1"} if release else form)


RELEASE_BOX = "Release these zones (their owners, apps and moments rules): kopi"


def test_a_console_import_releases_the_zones_the_archive_lacks(client, ops, svc, in_use):
    with_cafe = archive(svc)
    page = import_in_console(client, ops, archive(svc, without=ZONE), release=True)
    assert svc.venues.get_map("demo").zone(ZONE) is None
    assert "Zone kopi was in use: it was taken from the owner accounts kopi" in page and "E-coupons" in page
    assert_released(svc)
    page = import_in_console(client, ops, with_cafe)  # an archive that has the cafe's unit again
    assert "was in use" not in page
    assert_afresh(svc)


def test_a_console_import_that_removes_no_zone_releases_nothing(client, ops, svc, in_use):
    page = import_in_console(client, ops, archive(svc))
    assert "was in use" not in page
    assert_kept(svc)


def test_a_console_rollback_releases_and_brings_the_zone_back_bare(client, ops, svc, in_use):
    with_cafe, without_cafe = version_without_zone(svc)
    resp = post_rollback(client, ops, without_cafe, release=True)
    assert resp.status_code == 303
    page = text(client.get(resp.headers["Location"]))
    assert svc.venues.get_map("demo").zone(ZONE) is None
    assert "Zone kopi was in use" in page and "brought back by a map rollback" in page
    assert_released(svc)
    resp = post_rollback(client, ops, with_cafe)  # brings a zone back, removes none: nothing to confirm
    page = text(client.get(resp.headers["Location"]))
    assert "The rollback brought back zones that had left the map: kopi." in page
    assert "no owner account, no app" in page
    assert_afresh(svc)


def test_a_console_rollback_that_removes_no_zone_releases_nothing(client, ops, svc, in_use):
    before = svc.venues.current_version("demo")
    resp = client.post(V + "/setup/floor/0/aps", data={"csrf_token": ops.csrf(), "bssid": "aa:bb:cc:dd:ee:01",
                                                       "x": "5", "y": "5"})
    assert resp.status_code == 303
    resp = post_rollback(client, ops, before)
    page = text(client.get(resp.headers["Location"]))
    assert "was in use" not in page and "brought back" not in page
    assert_kept(svc)


def test_a_console_import_removing_zones_in_use_is_refused_unconfirmed(client, ops, svc, in_use):
    version = svc.venues.current_version("demo")
    resp = post_import(client, ops, archive(svc, without=ZONE))
    assert resp.status_code == 409
    page = text(resp)
    assert "Nothing was imported: the archive lacks zones in use (managed by owners, with an app set up or with " \
           "moments rules): kopi." in page and "choose the file again" in page
    assert RELEASE_BOX in page and 'name="release_zones"' in page
    assert svc.venues.current_version("demo") == version and svc.venues.get_map("demo").zone(ZONE) is not None
    assert_kept(svc)


def test_a_console_import_removing_only_unused_zones_needs_no_confirmation(client, ops, svc, in_use):
    zone = unused_zone(svc)
    page = import_in_console(client, ops, archive(svc, without=zone))
    assert svc.venues.get_map("demo").zone(zone) is None
    assert "was in use" not in page
    assert_kept(svc)


def test_a_console_rollback_removing_zones_in_use_is_refused_unconfirmed(client, ops, svc, in_use):
    with_cafe, without_cafe = version_without_zone(svc)
    resp = post_rollback(client, ops, without_cafe)
    assert resp.status_code == 409
    page = text(resp)
    assert f"Map version {without_cafe} was not made current: it lacks zones in use" in page
    assert RELEASE_BOX in page and f'name="version" value="{without_cafe}"' in page
    assert svc.venues.current_version("demo") == with_cafe
    assert_kept(svc)


def test_the_draft_page_says_beforehand_that_applying_releases(client, ops, svc, in_use):
    draft = client.post(V + "/drafts", data={"csrf_token": ops.csrf(), "title": "new plan"}).headers["Location"]
    resp = client.post(draft + "/steps", content_type="multipart/form-data", data={
        "csrf_token": ops.csrf(), "kind": "imdf", "file": (io.BytesIO(archive(svc, without=ZONE)), "mall.imdf.zip")})
    assert resp.status_code == 303
    page = text(client.get(draft))
    assert "Applying this removes zones that owners manage, that have an app set up or that moments rules are " \
           "about: kopi. They will be let go of" in page
    assert_kept(svc)  # a preview releases nothing


# ---- the commands -----------------------------------------------------------------------------------


CLI_RELEASED = "warning: Zone kopi was in use: it was taken from the owner accounts kopi; its app (E-coupons)"


def test_map_import_releases_the_zones_the_archive_lacks(cli, svc, in_use, tmp_path):
    with_cafe = archive(svc, tmp_path)
    result = cli("map-import", "--release-zones", "demo", archive(svc, tmp_path, without=ZONE))
    assert svc.venues.get_map("demo").zone(ZONE) is None
    assert CLI_RELEASED in result.stderr
    assert_released(svc)
    again = cli("map-import", "demo", with_cafe)  # the cafe's unit again
    assert "warning:" not in again.stderr
    assert_afresh(svc)


def test_a_map_import_that_removes_no_zone_releases_nothing(cli, svc, in_use, tmp_path):
    assert "warning:" not in cli("map-import", "demo", archive(svc, tmp_path)).stderr
    assert_kept(svc)


def test_map_draft_apply_releases_and_show_only_warns(cli, svc, in_use, tmp_path):
    cafe = svc.venues.get_map("demo").zone(ZONE)
    draft = cli("map-draft", "open", "demo", "new plan").stdout.strip()
    cli("map-draft", "add-imdf", "demo", draft, archive(svc, tmp_path, without=ZONE))
    shown = cli("map-draft", "show", "demo", draft)
    assert "warning: Applying this removes zones that owners manage, that have an app set up or that moments " \
           "rules are about: kopi. They will be let go of" in shown.stderr
    assert_kept(svc)  # a preview releases nothing
    applied = cli("map-draft", "apply", "demo", draft)
    assert CLI_RELEASED in applied.stderr
    assert_released(svc)
    cli("map-edit", "add-zone", "demo", "--zone-id", ZONE, "--name", "New Tenant Tea", "--level", cafe.floor,
        "--points", " ".join(f"{x},{y}" for x, y in cafe.polygon))  # a new tenant's shop drawn where it was
    assert svc.venues.get_map("demo").zone(ZONE).name == "New Tenant Tea"
    assert_afresh(svc)


def test_a_map_draft_that_removes_no_zone_releases_nothing(cli, svc, in_use, tmp_path):
    draft = cli("map-draft", "open", "demo", "same plan").stdout.strip()
    cli("map-draft", "add-imdf", "demo", draft, archive(svc, tmp_path))
    assert "warning:" not in cli("map-draft", "apply", "demo", draft).stderr
    assert_kept(svc)


def test_map_rollback_releases_and_brings_the_zone_back_bare(cli, svc, in_use):
    with_cafe, without_cafe = version_without_zone(svc)
    result = cli("map-rollback", "--release-zones", "demo", without_cafe)
    assert CLI_RELEASED in result.stderr
    assert_released(svc)
    assert [e["user"] for e in AuditLog(svc.db).recent("demo", 200) if e["action"] == "zone.release"] == ["cli"]
    back = cli("map-rollback", "demo", with_cafe)
    assert "warning: The rollback brought back zones that had left the map: kopi." in back.stderr
    assert_afresh(svc)


def test_map_import_and_rollback_removing_zones_in_use_are_refused_unconfirmed(app, svc, in_use, tmp_path):
    runner = app.test_cli_runner()
    version = svc.venues.current_version("demo")
    imported = runner.invoke(args=["map-import", "demo", archive(svc, tmp_path, without=ZONE)])
    assert imported.exit_code == 1
    assert "nothing was changed: the archive lacks zones in use (managed by owners, with an app set up or with " \
           "moments rules): kopi." in imported.output and "--release-zones" in imported.output
    assert svc.venues.current_version("demo") == version
    _, without_cafe = version_without_zone(svc)
    rolled = runner.invoke(args=["map-rollback", "demo", str(without_cafe)])
    assert rolled.exit_code == 1 and f"map v{without_cafe} lacks zones in use" in rolled.output
    assert svc.venues.current_version("demo") == version and svc.venues.get_map("demo").zone(ZONE) is not None
    assert_kept(svc)


def test_a_map_import_removing_only_unused_zones_needs_no_confirmation(cli, svc, in_use, tmp_path):
    zone = unused_zone(svc)
    assert "warning:" not in cli("map-import", "demo", archive(svc, tmp_path, without=zone)).stderr
    assert svc.venues.get_map("demo").zone(zone) is None
    assert_kept(svc)


def test_map_edit_delete_zone_releases(cli, svc, in_use):
    assert CLI_RELEASED in cli("map-edit", "delete-zone", "demo", "--zone-id", ZONE).stderr
    assert_released(svc)
