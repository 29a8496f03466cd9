"""`flask --app wsgi map-...` commands, through Flask's CLI test runner on the real store."""

from __future__ import annotations

import json
import zipfile

import pytest

from portal import map_cli


@pytest.fixture
def cli(app, demo):
    if "map-export" not in app.cli.commands:  # until the app factory wires it
        map_cli.register(app)
    runner = app.test_cli_runner()

    def run(*args):
        return runner.invoke(args=list(map(str, args)))

    return run


def test_map_export_and_import(cli, svc, tmp_path):
    out = tmp_path / "demo.zip"
    result = cli("map-export", "demo", out, "--origin-lon", "121.47", "--origin-lat", "31.23")
    assert result.exit_code == 0, result.output
    assert "IMDF" in result.output and zipfile.is_zipfile(out)
    with zipfile.ZipFile(out) as zf:
        venue = json.loads(zf.read("mallportal_venue.geojson"))["features"][0]["properties"]
    assert (venue["origin_lon"], venue["origin_lat"]) == (121.47, 31.23)
    version = svc.venues.current_version("demo")
    result = cli("map-import", "demo", out)
    assert result.exit_code == 0, result.output
    assert svc.venues.current_version("demo") == version + 1
    again = tmp_path / "again.zip"  # the venue's plan now lies where its import said: exported there
    assert cli("map-export", "demo", again).exit_code == 0
    with zipfile.ZipFile(again) as zf:
        placed = json.loads(zf.read("mallportal_venue.geojson"))["features"][0]["properties"]
    assert (placed["origin_lon"], placed["origin_lat"]) == (121.47, 31.23)
    before, after = svc.venues.get_map("demo", version), svc.venues.get_map("demo")
    assert len(after.samples) == len(before.samples) and [z.id for z in after.zones] == [z.id for z in before.zones]
    assert [s.zone for s in after.samples] == [s.zone for s in before.samples]
    # into a new venue
    result = cli("map-import", "copy", out)
    assert result.exit_code == 0, result.output
    assert svc.venues.exists("copy") and svc.venues.get_map("copy").samples == []


def test_bad_map_import_changes_nothing(cli, svc, tmp_path):
    version = svc.venues.current_version("demo")
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("manifest.json", json.dumps({"version": "1.0.0", "created": "x", "language": "en"}))
        zf.writestr("venue.geojson", json.dumps({"type": "FeatureCollection", "features": []}))
    result = cli("map-import", "demo", bad)
    assert result.exit_code != 0
    assert "level.geojson: required file is missing" in result.output
    assert svc.venues.current_version("demo") == version
    notzip = tmp_path / "x.zip"
    notzip.write_text("hello")
    result = cli("map-import", "demo", notzip)
    assert result.exit_code != 0 and "not a zip" in result.output
    assert cli("map-import", "Bad Venue", notzip).exit_code != 0
    assert cli("map-export", "nowhere", tmp_path / "n.zip").exit_code != 0
    assert cli("map-export", "demo", tmp_path / "n.zip", "--origin-lat", "95").exit_code != 0


@pytest.mark.parametrize("fmt", ["mallportal", "ujiindoorloc"])
def test_samples_export_and_import(cli, svc, tmp_path, fmt):
    out = tmp_path / f"s-{fmt}.csv"
    result = cli("samples-export", "demo", out, "--format", fmt)
    assert result.exit_code == 0, result.output
    assert out.exists() and (fmt == "mallportal" or (tmp_path / f"s-{fmt}.waps.csv").exists())
    version = svc.venues.current_version("demo")
    n = len(svc.venues.get_map("demo").samples)
    result = cli("samples-import", "demo", out, "--scans", "8")
    assert result.exit_code == 0, result.output
    assert svc.venues.current_version("demo") == version + 1
    again = svc.venues.get_map("demo")
    assert len(again.samples) == n and all(s.n == 8 for s in again.samples)
    result = cli("samples-import", "demo", out, "--mode", "append", "--format", fmt)
    assert result.exit_code == 0 and len(svc.venues.get_map("demo").samples) == 2 * n


def test_samples_import_of_uji_without_its_sidecar_needs_venue_order(cli, svc, tmp_path):
    """A UJIIndoorLoc file away from its sidecar is refused (nothing says which AP each WAP column is), unless
    --venue-order says the columns are the venue's AP list; --waps names a sidecar kept elsewhere."""
    out = tmp_path / "s.csv"
    assert cli("samples-export", "demo", out, "--format", "ujiindoorloc").exit_code == 0
    moved = tmp_path / "elsewhere.waps.csv"
    (tmp_path / "s.waps.csv").rename(moved)
    version = svc.venues.current_version("demo")
    refused = cli("samples-import", "demo", out)
    assert refused.exit_code != 0 and "no WAP,BSSID sidecar" in refused.output and "--venue-order" in refused.output
    assert svc.venues.current_version("demo") == version
    assert "--venue-order" in cli("samples-import", "--help").output
    for extra in (["--venue-order"], ["--waps", moved]):
        result = cli("samples-import", "demo", out, *extra)
        assert result.exit_code == 0, result.output
    assert svc.venues.current_version("demo") == version + 2


def test_bad_samples_import_changes_nothing(cli, svc, tmp_path):
    version = svc.venues.current_version("demo")
    ap = svc.venues.get_map("demo").aps[0].bssid
    bad = tmp_path / "bad.csv"
    bad.write_text(f"building,floor,x,y,zone,{ap}\n0,0,1,1,,-50\n0,0,2,2,,55\n")
    result = cli("samples-import", "demo", bad)
    assert result.exit_code != 0
    assert "line 3" in result.output and ap in result.output and "positive" in result.output
    assert svc.venues.current_version("demo") == version
    assert cli("samples-import", "nowhere", bad).exit_code != 0
    assert cli("samples-export", "demo", tmp_path / "o.csv", "--format", "excel").exit_code != 0


def test_quality_report(cli, tmp_path):
    out = tmp_path / "report"
    result = cli("quality-report", "demo", "--floor", "1", "--out", out, "--json", tmp_path / "r.json")
    assert result.exit_code == 0, result.output
    assert "zone hit rate" in result.output and "floor 1:" in result.output
    assert (out / "confusion.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "error-floor1.png").exists() and len(list(out.glob("ap-*.png"))) == 10
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["zone_hit_rate"] > 0.8
    assert cli("quality-report", "demo", "--floor", "7").exit_code != 0
    assert cli("quality-report", "nowhere").exit_code != 0


def test_quality_report_of_every_floor_adds_the_live_estimate_with_progress(cli):
    """Without --floor the report goes on to the live estimate (the simulated visits through the live path),
    showing its progress as it goes (a large mall's takes minutes)."""
    result = cli("quality-report", "demo", "--no-ap-heatmaps")
    assert result.exit_code == 0, result.output
    assert "simulating visits" in result.output  # the progress bar (click's runner mixes stderr in)
    assert "right zone at the first probe" in result.output and "cannot know:" in result.output
    assert "runs its own configuration" not in result.output  # the demo runs the live defaults


def test_rebuild_model(cli):
    result = cli("rebuild-model", "demo")
    assert result.exit_code == 0, result.output
    assert "1600 samples x 20 APs" in result.output and "fitted in" in result.output and "KiB" in result.output


def test_versions_and_rollback(cli, svc, tmp_path):
    cli("samples-export", "demo", tmp_path / "s.csv")
    assert cli("samples-import", "demo", tmp_path / "s.csv").exit_code == 0
    result = cli("map-versions", "demo")
    assert result.exit_code == 0, result.output
    assert "  v1: 2 floors" in result.output and "* v2:" in result.output
    result = cli("map-rollback", "demo", "1")
    assert result.exit_code == 0 and svc.venues.current_version("demo") == 1
    assert "* v1:" in cli("map-versions", "demo").output
    result = cli("map-rollback", "demo", "9")
    assert result.exit_code != 0 and "no map version 9" in result.output
    assert svc.venues.current_version("demo") == 1
    assert cli("map-versions", "nowhere").exit_code != 0
    assert cli("map-rollback", "demo", "one").exit_code != 0


def test_map_commands_are_audited_as_the_command_line(cli, svc, tmp_path):
    """Every map change a command makes is in the venue's audit log under "cli" (as the token and account
    commands' entries are), not "-" (which says: nobody knows who)."""
    from portal.auth import AuditLog

    cli("samples-export", "demo", tmp_path / "s.csv")
    assert cli("samples-import", "demo", tmp_path / "s.csv").exit_code == 0  # map_cli
    assert cli("map-edit", "add-floor", "demo", "--level", "7", "--name", "Roof", "--width-m", "20",
               "--height-m", "20").exit_code == 0  # setup_cli
    assert cli("map-export", "demo", tmp_path / "plan.zip").exit_code == 0
    draft = cli("map-draft", "open", "demo", "walkways").output.strip()
    assert cli("map-draft", "add-walkways", "demo", draft, tmp_path / "plan.zip").exit_code == 0
    assert cli("map-draft", "apply", "demo", draft).exit_code == 0  # the draft store
    assert cli("map-rollback", "demo", "1").exit_code == 0  # the venue store's set_current
    entries = AuditLog(svc.db).recent("demo", 4)
    assert [e["action"] for e in reversed(entries)] == ["samples.import", "add.floor", "draft.apply", "map.rollback"]
    assert {e["user"] for e in entries} == {"cli"}, entries



def test_map_edit_marks_and_unmarks_an_entrance(cli, svc):
    """`map-edit add-node --entrance` and `map-edit set-entrance [--clear]`: a walkway node where shoppers on foot come
    in (the quality report's claim starts their visits there); a node that does not exist is refused, nothing kept."""
    before = svc.venues.get_map("demo")
    added = cli("map-edit", "add-node", "demo", "--node-id", "north-door", "--level", "0", "--x", "60", "--y", "1",
                "--entrance")
    assert added.exit_code == 0, added.output
    assert (0, 60.0, 1.0) in svc.venues.get_map("demo").entrance_spots()
    spot = next((n.floor, n.x, n.y) for n in before.nodes if not n.entrance)
    node = next(n.id for n in before.nodes if not n.entrance)
    assert cli("map-edit", "set-entrance", "demo", "--node", node).exit_code == 0
    assert spot in svc.venues.get_map("demo").entrance_spots()
    assert cli("map-edit", "set-entrance", "demo", "--node", node, "--clear").exit_code == 0
    assert spot not in svc.venues.get_map("demo").entrance_spots()
    version = svc.venues.get_map("demo").version
    refused = cli("map-edit", "set-entrance", "demo", "--node", "no-such-node")
    assert refused.exit_code != 0 and "There is no node 'no-such-node'" in refused.output
    again = cli("map-edit", "set-entrance", "demo", "--node", "north-door")  # a no-op is refused, not a new version
    assert again.exit_code != 0 and "Node north-door is already an entrance." in again.output
    unmarked = cli("map-edit", "set-entrance", "demo", "--node", node, "--clear")
    assert unmarked.exit_code != 0 and f"Node {node} is not an entrance." in unmarked.output
    assert svc.venues.get_map("demo").version == version
