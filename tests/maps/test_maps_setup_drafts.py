"""A whole venue set-up through the CLI's drafts: IMDF plan + AP CSV + survey CSV (+ zone apps, which are
not map changes) ends in exactly one map version per applied draft, with one model build each."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from shapely.geometry import Polygon

from fingerprints.drafts import DraftStore
from fingerprints.edits import EDGE_KINDS
from fingerprints.imdf import imdf_zip_bytes, import_imdf_with_notes
from portal import map_cli
from portal.auth import AuditLog
from portal.maps.builds import wait_for_model
from tests.maps.imdf_builder import fid, mall_archive, split_unit
from tests.maps.test_maps_samples_io import _reversed_uji

ROOT = Path(__file__).resolve().parents[2]
VENUE = "harbour"
APS = [(f"f0:9f:c2:2b:00:{i:02x}", x, y) for i, (x, y) in enumerate([(5, 5), (30, 5), (55, 5), (5, 20), (30, 20),
                                                                      (55, 20)], 1)]


@pytest.fixture
def cli(app):
    if "map-draft" not in app.cli.commands:
        map_cli.register(app)
    runner = app.test_cli_runner()

    def run(*args, ok=True):
        result = runner.invoke(args=list(map(str, args)))
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def _files(tmp_path):
    plan = tmp_path / "harbour.imdf.zip"
    plan.write_bytes(imdf_zip_bytes(mall_archive(levels=2)))
    aps = tmp_path / "aps.csv"
    rows = [f"AP-{level}-{i},{b[:-2]}{level}{b[-1]},{level},{x},{y},3,U6" for level in (0, 1)
            for i, (b, x, y) in enumerate(APS)]
    aps.write_text("name,bssids,level,x_m,y_m,height_m,model\n" + "\n".join(rows) + "\n")
    header = ["building", "floor", "x", "y", "zone"] + [f"{b[:-2]}{lv}{b[-1]}" for lv in (0, 1) for b, _, _ in APS]
    lines = [",".join(header)]
    for level in (0, 1):
        for x in range(3, 60, 6):
            for y in (5, 12, 19):
                cells = []
                for lv in (0, 1):
                    for _, ax, ay in APS:
                        d = math.hypot(ax - x, ay - y) + (0 if lv == level else 15)
                        cells.append(f"{-35 - 20 * math.log10(max(d, 1)):.1f}")
                lines.append(",".join(["0", str(level), str(x), str(y), ""] + cells))
    samples = tmp_path / "survey.csv"
    samples.write_text("\n".join(lines) + "\n")
    return plan, aps, samples


def test_whole_setup_is_one_version_per_applied_draft(cli, svc, tmp_path):
    plan, aps, samples = _files(tmp_path)
    assert not svc.venues.exists(VENUE)
    draft = cli("map-draft", "open", VENUE, "opening set-up").output.strip()
    cli("map-draft", "add-imdf", VENUE, draft, plan)
    cli("map-draft", "add-aps", VENUE, draft, aps)
    cli("map-draft", "add-samples", VENUE, draft, samples, "--scans", "5")
    shown = cli("map-draft", "show", VENUE, draft).output
    assert "3 steps" in shown and "aps: +12" in shown and "zones: +" in shown
    assert svc.venues.current_version(VENUE) == 0  # nothing stored while drafting
    applied = cli("map-draft", "apply", VENUE, draft).output
    assert svc.venues.versions(VENUE) == [1] and "map v1" in applied
    venue_map = svc.venues.get_map(VENUE)
    assert len(venue_map.aps) == 12 and len(venue_map.samples) == 60 and venue_map.nodes
    state = wait_for_model(VENUE, 1, svc.db, timeout_s=120)
    assert state["state"] == "ready", state
    for zone in venue_map.zones:  # zone apps are not map changes
        svc.zone_apps.set(VENUE, zone.id, "directory", {})
    # a second draft: abandoned drafts store nothing, applied ones one version each
    second = cli("map-draft", "open", VENUE, "move APs").output.strip()
    cli("map-draft", "add-aps", VENUE, second, aps)
    cli("map-draft", "abandon", VENUE, second)
    third = cli("map-draft", "open", VENUE, "walkways again").output.strip()
    cli("map-draft", "add-walkways", VENUE, third, plan)
    cli("map-draft", "apply", VENUE, third)
    assert svc.venues.versions(VENUE) == [1, 2]
    actions = [e["action"] for e in AuditLog(svc.db).recent(VENUE)]
    assert actions.count("draft.apply") == 2
    assert DraftStore(svc.db, svc.venues).list(VENUE) == []


def test_bad_steps_are_refused_and_the_draft_kept(cli, svc, tmp_path):
    plan, aps, _ = _files(tmp_path)
    draft = cli("map-draft", "open", VENUE, "bad").output.strip()
    result = cli("map-draft", "add-aps", VENUE, draft, aps, ok=False)
    assert result.exit_code != 0 and "no floors yet" in result.output
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"nope")
    assert cli("map-draft", "add-imdf", VENUE, draft, bad, ok=False).exit_code != 0
    assert "empty" in cli("map-draft", "apply", VENUE, draft, ok=False).output
    assert cli("map-draft", "apply", VENUE, "nosuchdraft", ok=False).exit_code != 0
    assert not svc.venues.exists(VENUE)
    assert json.loads(json.dumps(DraftStore(svc.db, svc.venues).get(VENUE, draft).steps)) == []


def test_ap_import_and_help_at_every_level(cli, svc, tmp_path):
    plan, aps, _ = _files(tmp_path)
    cli("map-import", VENUE, plan)
    version = svc.venues.current_version(VENUE)
    out = cli("ap-import", VENUE, aps).output
    assert "placed 12 AP entries" in out and svc.venues.current_version(VENUE) == version + 1
    half = cli("ap-import", VENUE, aps, "--origin-lon", "114.17", ok=False)  # one of the two: said, not ignored
    assert half.exit_code != 0 and "both --origin-lon and --origin-lat" in half.output
    template = tmp_path / "template.csv"
    cli("ap-template", template)
    assert template.read_text().startswith("name,bssids,level")
    for args in (["--help"], ["map-draft", "--help"], ["map-draft", "add-aps", "--help"], ["ap-import", "--help"]):
        assert "Usage" in cli(*args).output


def test_python_m_portal_flask_help_works_at_every_level(redis_url):
    """`python -m portal flask ...` hands every argument, --help included, to the wsgi app's Flask CLI: the
    deepest level here (the top level, which lists the portal's commands, in
    tests/test_portal_command_line.py). Each call is a full interpreter start, so only this one runs here; every
    command's own help is checked in process by test_ap_import_and_help_at_every_level."""
    env = {**os.environ, "REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)}
    for args, listed in ((["flask", "map-draft", "add-aps", "--help"], "add-aps"),):
        done = subprocess.run([sys.executable, "-m", "portal", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "Usage" in done.stdout and listed in done.stdout


def test_console_edits_as_commands(cli, svc, tmp_path):
    plan, _, _ = _files(tmp_path)
    cli("map-import", VENUE, plan)
    first = svc.venues.current_version(VENUE)
    cli("map-edit", "add-floor", VENUE, "--level", "5", "--name", "L5", "--width-m", "60", "--height-m", "24")
    cli("map-edit", "place-ap", VENUE, "--bssid", "F0-9F-C2-1A-00-55", "--level", "5", "--x", "10", "--y", "10",
        "--height-m", "3")
    cli("map-edit", "add-zone", VENUE, "--zone-id", "popup", "--name", "Pop-up", "--level", "5", "--points",
        "1,1 10,1 10,8 1,8")
    cli("map-edit", "add-node", VENUE, "--node-id", "n5a", "--level", "5", "--x", "2", "--y", "2")
    cli("map-edit", "add-node", VENUE, "--node-id", "n5b", "--level", "5", "--x", "9", "--y", "2")
    cli("map-edit", "add-edge", VENUE, "--a", "n5a", "--b", "n5b")
    assert svc.venues.current_version(VENUE) == first + 6
    m = svc.venues.get_map(VENUE)
    assert m.zone("popup").floor == 5 and any(a.bssid == "f0:9f:c2:1a:00:55" and a.height_m == 3 for a in m.aps)
    bad = cli("map-edit", "add-zone", VENUE, "--zone-id", "popup", "--name", "x", "--level", "5", "--points",
              "1,1 10,1 10,8", ok=False)
    assert bad.exit_code != 0 and "already exists" in bad.output
    assert cli("map-edit", "place-ap", VENUE, "--bssid", "zz", "--level", "5", "--x", "1", "--y", "1",
               ok=False).exit_code != 0
    assert svc.venues.current_version(VENUE) == first + 6
    out = cli("users", "create", "popup-owner", "--role", "owner", "--venue", VENUE, "--zone", "popup",
              "--initial-password").output
    assert "initial password" in out
    assert cli("users", "create", "x", "--role", "owner", "--venue", VENUE, "--zone", "nozone", "--invite",
               ok=False).exit_code != 0


def test_map_edit_help_and_errors_say_what_to_type(cli, svc, tmp_path):
    plan, _, _ = _files(tmp_path)
    cli("map-import", VENUE, plan)
    cli("map-edit", "add-node", VENUE, "--node-id", "na", "--level", "0", "--x", "2", "--y", "2")
    cli("map-edit", "add-node", VENUE, "--node-id", "nb", "--level", "0", "--x", "9", "--y", "2")
    version = svc.venues.current_version(VENUE)
    lift = cli("map-edit", "add-edge", VENUE, "--a", "na", "--b", "nb", "--kind", "lift", ok=False)
    assert lift.exit_code != 0 and "elevator" in lift.output and "'lift'" in lift.output
    assert f"[{'|'.join(EDGE_KINDS)}]" in cli("map-edit", "add-edge", "--help").output  # a click.Choice
    assert "'x1,y1 x2,y2 x3,y3 ...'" in " ".join(cli("map-edit", "add-zone", "--help").output.split())
    assert svc.venues.current_version(VENUE) == version
    cli("map-edit", "add-edge", VENUE, "--a", "na", "--b", "nb", "--kind", "elevator")
    assert svc.venues.get_map(VENUE).edges[-1].kind == "elevator"


def test_draft_samples_of_a_uji_file_take_its_sidecar_from_anywhere(cli, svc, tmp_path):
    """`map-draft add-samples --waps`: the sidecar of a survey tool's own WAP numbering, kept elsewhere than
    beside the file; without one the file is refused unless --venue-order says it is the venue's AP order."""
    plan, aps, samples = _files(tmp_path)
    draft = cli("map-draft", "open", VENUE, "opening").output.strip()
    for step, source in (("add-imdf", plan), ("add-aps", aps), ("add-samples", samples)):
        cli("map-draft", step, VENUE, draft, source)
    cli("map-draft", "apply", VENUE, draft)
    truth = svc.venues.get_map(VENUE)
    data, sidecar = _reversed_uji(truth)
    (tmp_path / "tool.csv").write_bytes(data)
    (tmp_path / "sidecar.csv").write_bytes(sidecar)
    draft = cli("map-draft", "open", VENUE, "uji").output.strip()
    refused = cli("map-draft", "add-samples", VENUE, draft, tmp_path / "tool.csv", ok=False)
    assert refused.exit_code != 0 and "no WAP,BSSID sidecar" in refused.output
    assert "--venue-order" in cli("map-draft", "add-samples", "--help").output
    cli("map-draft", "add-samples", VENUE, draft, tmp_path / "tool.csv", "--waps", tmp_path / "sidecar.csv",
        "--scans", "4")
    cli("map-draft", "apply", VENUE, draft)
    place = {(s.floor, s.x, s.y): s.rssi for s in truth.samples}
    stored = svc.venues.get_map(VENUE).samples
    assert len(stored) == len(place) and all(s.rssi == place[(s.floor, s.x, s.y)] and s.n == 4 for s in stored)


def test_ap_import_aligns_a_plan_with_a_margin(cli, svc, tmp_path):
    """`--align`: the file's plan has a 1 m x 0.5 m margin round the venue's; bad points are said, not guessed."""
    plan, aps, _ = _files(tmp_path)
    cli("map-import", VENUE, plan)
    bad = cli("ap-import", VENUE, aps, "--align", "0,0=1,1", ok=False)
    assert bad.exit_code != 0 and "align: write two points" in bad.output
    cli("ap-import", VENUE, aps, "--align", "1,0.5=0,0; 11,0.5=10,0")
    placed = {ap.bssid: ap for ap in svc.venues.get_map(VENUE).aps}
    first = placed["f0:9f:c2:2b:00:01"]  # the ground floor's first AP, at (5, 5) on the file's plan
    assert (first.floor, first.x, first.y) == (0, 4.0, 4.5)


def test_a_unit_drawn_in_several_parts_is_noted_wherever_it_is_imported(cli, svc, tmp_path):
    """The zone model keeps one shape per unit: the other parts of a MultiPolygon unit are dropped, and the
    operator is told which unit lost how much, in the import's output and in the draft's step."""
    plan = tmp_path / "split.imdf.zip"
    plan.write_bytes(imdf_zip_bytes(split_unit(mall_archive(levels=2))))
    imported, notes = import_imdf_with_notes(plan.read_bytes(), VENUE)
    assert [str(note) for note in notes] == [
        f"unit.geojson: feature {fid('unit', 0, 'Books')} (Books 0): 1 other part(s) dropped (50.0 m²); its zone is "
        "the largest part (90.0 m²)"]
    books = next(z for z in imported.zones if z.name == "Books 0")
    assert abs(Polygon(books.polygon).area - 90) < 0.1
    assert import_imdf_with_notes(imdf_zip_bytes(mall_archive(levels=2)), VENUE)[1] == []  # nothing dropped
    draft = cli("map-draft", "open", VENUE, "split").output.strip()
    added = cli("map-draft", "add-imdf", VENUE, draft, plan).output
    assert str(notes[0]) in added and "1 import note(s)" in added
    assert "1 import note(s)" in cli("map-draft", "show", VENUE, draft).output
    assert str(notes[0]) in cli("map-import", "other", plan).output
