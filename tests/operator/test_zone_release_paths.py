"""A zone that leaves the map is released whichever way it leaves (portal/operator/zone_release.py): an IMDF import
through the console, a console rollback, the `map-import`, `map-draft apply` and `map-rollback` commands. Its owner
accounts, app and settings and moments rules are let go of, the operator or the command's user is told, and a zone
given the same id afterwards starts afresh; a change that removes no zone releases nothing, nor does a preview.
Real store (the suite's Valkey), real app and commands."""

from __future__ import annotations

import html
import io

import pytest

from fingerprints import edits, imdf
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


def import_in_console(client, ops, data: bytes):
    resp = client.post(V + "/setup/import-imdf", content_type="multipart/form-data",
                       data={"csrf_token": ops.csrf(), "imdf": (io.BytesIO(data), "mall.imdf.zip")})
    assert resp.status_code == 303
    return text(client.get(resp.headers["Location"]))


def test_a_console_import_releases_the_zones_the_archive_lacks(client, ops, svc, in_use):
    with_cafe = archive(svc)
    page = import_in_console(client, ops, archive(svc, without=ZONE))
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
    resp = client.post(V + "/versions/rollback", data={"csrf_token": ops.csrf(), "version": str(without_cafe)})
    assert resp.status_code == 303
    page = text(client.get(resp.headers["Location"]))
    assert svc.venues.get_map("demo").zone(ZONE) is None
    assert "Zone kopi was in use" in page and "brought back by a map rollback" in page
    assert_released(svc)
    resp = client.post(V + "/versions/rollback", data={"csrf_token": ops.csrf(), "version": str(with_cafe)})
    page = text(client.get(resp.headers["Location"]))
    assert "The rollback brought back zones that had left the map: kopi." in page
    assert "no owner account, no app" in page
    assert_afresh(svc)


def test_a_console_rollback_that_removes_no_zone_releases_nothing(client, ops, svc, in_use):
    before = svc.venues.current_version("demo")
    resp = client.post(V + "/setup/floor/0/aps", data={"csrf_token": ops.csrf(), "bssid": "aa:bb:cc:dd:ee:01",
                                                       "x": "5", "y": "5"})
    assert resp.status_code == 303
    resp = client.post(V + "/versions/rollback", data={"csrf_token": ops.csrf(), "version": str(before)})
    page = text(client.get(resp.headers["Location"]))
    assert "was in use" not in page and "brought back" not in page
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


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args):
        result = runner.invoke(args=list(map(str, args)))
        assert result.exit_code == 0, result.output
        return result

    return run


CLI_RELEASED = "warning: Zone kopi was in use: it was taken from the owner accounts kopi; its app (E-coupons)"


def test_map_import_releases_the_zones_the_archive_lacks(cli, svc, in_use, tmp_path):
    with_cafe = archive(svc, tmp_path)
    result = cli("map-import", "demo", archive(svc, tmp_path, without=ZONE))
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
    assert "warning: applying this removes zones that owners manage, that have an app set up or that moments " \
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
    result = cli("map-rollback", "demo", without_cafe)
    assert CLI_RELEASED in result.stderr
    assert_released(svc)
    assert [e["user"] for e in AuditLog(svc.db).recent("demo", 200) if e["action"] == "zone.release"] == ["cli"]
    back = cli("map-rollback", "demo", with_cafe)
    assert "warning: The rollback brought back zones that had left the map: kopi." in back.stderr
    assert_afresh(svc)


def test_map_edit_delete_zone_releases(cli, svc, in_use):
    assert CLI_RELEASED in cli("map-edit", "delete-zone", "demo", "--zone-id", ZONE).stderr
    assert_released(svc)
