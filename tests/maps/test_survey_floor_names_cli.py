"""A survey CSV whose floor cells are ambiguous (floors named "1", "2" on levels 0, 1: "1" is one floor's name and
another's level number) is refused until the operator says which: on the command line with --floor NAME=LEVEL, as
the AP list commands take it. The venue's own export writes floor cells the import reads back unasked ("1.0" where
"1" is ambiguous), and the notes of an import (a zone label far from its point) are printed."""

from __future__ import annotations

import pytest

from fingerprints.model import AccessPoint, Floor, Sample, VenueMap, Zone
from fingerprints.samples_io import FORMATS, export_samples, import_samples
from portal import map_cli
from positioning.datasets import read_dataset

VENUE = "numbered"
A, B = "f0:9f:c2:3c:00:01", "f0:9f:c2:3c:00:02"


def _numbered() -> VenueMap:
    """Floors named by bare numbers one above their levels (the 1F convention), a zone on each."""
    floors = [Floor(level, str(level + 1), 40, 20) for level in (0, 1)]
    zones = [Zone(f"z{level}", f"Zone {level}", f"Zone {level}", level, [(0, 0), (10, 0), (10, 10), (0, 10)])
             for level in (0, 1)]
    samples = [Sample(floor=level, x=x, y=5.0, rssi={A: -60.0 - x, B: -70.0}, spread={}, n=1, zone=f"z{level}")
               for level in (0, 1) for x in (4.0, 8.0)]
    return VenueMap(id=VENUE, name="Numbered", name_zh="Numbered", floors=floors, zones=zones, samples=samples,
                    aps=[AccessPoint(A, 0, 5, 5), AccessPoint(B, 1, 5, 5)])


def _place(samples) -> list[tuple]:
    return sorted((s.floor, s.x, s.y, s.zone, tuple(sorted(s.rssi.items()))) for s in samples)


@pytest.fixture
def cli(app):
    if "samples-import" not in app.cli.commands:
        map_cli.register(app)
    runner = app.test_cli_runner()

    def run(*args, ok=True):
        result = runner.invoke(args=list(map(str, args)))
        assert (result.exit_code == 0) == ok, result.output
        return result

    return run


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_venues_own_export_reads_back_unasked(tmp_path, fmt):
    venue = _numbered()
    text, sidecar = export_samples(venue, fmt)
    options = {"sidecar": sidecar.encode()} if sidecar else {}
    assert _place(import_samples(venue, text.encode(), name="own.csv", **options)) == _place(venue.samples)
    (tmp_path / "own.csv").write_text(text)
    if sidecar:
        (tmp_path / "own.waps.csv").write_text(sidecar)
    assert sorted(set(read_dataset(tmp_path / "own.csv").y[:, 1])) == [0, 1]  # still level numbers to positioning


def test_the_cli_takes_floor_names_and_says_its_notes(cli, svc, tmp_path):
    svc.venues.put_map(_numbered())
    own = tmp_path / "own.csv"
    cli("samples-export", VENUE, own)
    assert "imported 4 reference points" in cli("samples-import", VENUE, own).output
    survey = tmp_path / "survey.csv"
    survey.write_text(f"building,floor,x,y,zone,{A},{B}\n0,1,5,5,,-60,-70\n0,2,30,5,z1,-65,-75\n")
    refused = cli("samples-import", VENUE, survey, ok=False)
    assert "ambiguous: floor name '1' is level 0" in refused.output and "--floor" in refused.output
    assert svc.venues.get_map(VENUE).version == 2  # the import of the export only
    bad = cli("samples-import", VENUE, survey, "--floor", "1", ok=False)
    assert "floor names: write NAME=LEVEL" in bad.output
    done = cli("samples-import", VENUE, survey, "--floor", "1=1", "--floor", "2=1").output
    assert f"note: {survey}: 1 point(s) labelled with a zone that does not hold them" in done
    assert {(s.floor, s.x) for s in svc.venues.get_map(VENUE).samples} == {(1, 5), (1, 30)}
    draft = cli("map-draft", "open", VENUE, "floors").output.strip()
    refused = cli("map-draft", "add-samples", VENUE, draft, survey, ok=False)
    assert "ambiguous: floor name '1' is level 0" in refused.output and "--floor" in refused.output
    added = cli("map-draft", "add-samples", VENUE, draft, survey, "--floor", "1=0").output
    assert f"note: {survey}: 1 point(s) labelled" in added
    cli("map-draft", "apply", VENUE, draft)
    assert {(s.floor, s.x) for s in svc.venues.get_map(VENUE).samples} == {(0, 5), (1, 30)}
    assert "NAME=LEVEL" in cli("samples-import", "--help").output
    assert "NAME=LEVEL" in cli("map-draft", "add-samples", "--help").output
