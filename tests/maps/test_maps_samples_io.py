"""Fingerprint samples CSV: both layouts round trip, the positioning readers accept our files, bad files
are refused with the line and column named, and nothing is returned from a bad file."""

from __future__ import annotations

import pytest

from fingerprints.demo_mall import build_demo_mall
from fingerprints.samples_io import (
    FORMATS,
    export_samples,
    import_samples,
    sidecar_path,
    write_samples_csv,
)
from positioning.datasets import read_mallportal, read_ujiindoorloc


@pytest.fixture(scope="module")
def small_map():
    return build_demo_mall("mini", survey_step_m=12.0, scans=3)


def key(s):
    return (s.floor, s.x, s.y, s.zone, s.rssi)


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(small_map, tmp_path, fmt):
    path = tmp_path / f"samples-{fmt}.csv"
    written = write_samples_csv(small_map, path, fmt)
    assert written[0] == path
    again = import_samples(small_map, path, fmt, scans=3)
    assert [key(s) for s in again] == [key(s) for s in small_map.samples]
    assert all(s.n == 3 for s in again)
    # the format is guessed from the header too
    assert [key(s) for s in import_samples(small_map, path)] == [key(s) for s in small_map.samples]


def test_the_positioning_readers_accept_our_files(small_map, tmp_path):
    write_samples_csv(small_map, tmp_path / "a.csv", "mallportal")
    data = read_mallportal(tmp_path / "a.csv")
    assert data.X.shape == (len(small_map.samples), len(small_map.aps))
    assert data.ap_ids == small_map.ap_ids()
    assert data.zones == [s.zone for s in small_map.samples]
    write_samples_csv(small_map, tmp_path / "b.csv", "ujiindoorloc")
    data = read_ujiindoorloc(tmp_path / "b.csv")
    assert data.X.shape == (len(small_map.samples), len(small_map.aps))
    assert list(data.y[0]) == [0, small_map.samples[0].floor, small_map.samples[0].x, small_map.samples[0].y]


def test_uji_sidecar_maps_waps_to_bssids(small_map, tmp_path):
    path = tmp_path / "u.csv"
    written = write_samples_csv(small_map, path, "ujiindoorloc")
    assert written[1] == sidecar_path(path) == tmp_path / "u.waps.csv"
    lines = sidecar_path(path).read_text().splitlines()
    assert lines[0] == "WAP,BSSID" and lines[1] == f"WAP001,{small_map.aps[0].bssid}"
    # Swap two WAP columns and say so in the sidecar: the right APs get the right values.
    text = path.read_text().splitlines()
    header = text[0].split(",")
    header[0], header[1] = header[1], header[0]
    sidecar_path(path).write_text(f"WAP,BSSID\nWAP001,{small_map.aps[1].bssid}\nWAP002,{small_map.aps[0].bssid}\n"
                                  + "\n".join(lines[3:]) + "\n")
    rows = [r.split(",") for r in text[1:]]
    for r in rows:
        r[0], r[1] = r[1], r[0]
    path.write_text("\n".join([",".join(header), *[",".join(r) for r in rows]]) + "\n")
    path.write_text(path.read_text().replace("WAP002,WAP001", "WAP001,WAP002", 1))
    again = import_samples(small_map, path)
    assert [s.rssi for s in again] == [s.rssi for s in small_map.samples]
    # Without the sidecar the columns are read by position only when the caller says they are the venue's AP
    # list in order, and then they must be exactly as many
    sidecar_path(path).unlink()
    text = path.read_text().splitlines()
    cut = [",".join(line.split(",")[1:]) for line in text]
    path.write_text("\n".join(cut) + "\n")
    with pytest.raises(ValueError, match="WAP columns but venue mini has 20 APs"):
        import_samples(small_map, path, waps_in_venue_order=True)


def test_repeated_scans_at_one_point_are_averaged(small_map, tmp_path):
    a, b = small_map.aps[0].bssid, small_map.aps[1].bssid
    path = tmp_path / "scans.csv"
    path.write_text(f"building,floor,x,y,zone,{a},{b}\n"
                    "0,0,10,10,,-50,-70\n0,0,10,10,,-54,\n0,0,10,10,,-52,\n0,0,30,20,garage,-60,-61\n")
    samples = import_samples(small_map, path, scans=5)
    assert len(samples) == 2
    first, second = samples
    assert first.n == 3 and first.rssi == {a: -52.0} and first.spread[a] == pytest.approx(1.63, abs=0.01)
    assert first.zone == "garage"  # from the zone polygons when the CSV leaves it empty
    assert second.n == 5 and second.rssi == {a: -60.0, b: -61.0}


def bad(small_map, tmp_path, text: str, fmt=None, name="bad.csv", **options):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        import_samples(small_map, path, fmt, **options)
    return str(err.value)


def test_floor_by_name(small_map, tmp_path):
    """A survey tool names floors as the operator does (the AP list took "G", "L1"): the name is the floor;
    a number is still the level number, and a name the venue lacks is refused, listing its floors."""
    a = small_map.aps[0].bssid
    head = f"building,floor,x,y,zone,{a}\n"
    path = tmp_path / "named.csv"
    path.write_text(head + "0,l1,1,1,,-50\n0,G,2,2,,-60\n0,1,3,3,,-55\n")
    samples = import_samples(small_map, path)
    assert sorted((s.floor, s.x) for s in samples) == [(0, 2.0), (1, 1.0), (1, 3.0)]
    msg = bad(small_map, tmp_path, head + "0,Level 5,1,1,,-50\n")
    assert ("line 2, column floor: 'Level 5' is neither a floor number nor one of the venue's floor names: "
            "0 (G), 1 (L1)") in msg
    assert "line 2, column floor: is empty" in bad(small_map, tmp_path, head + "0,,1,1,,-50\n")


def test_bad_mallportal_files(small_map, tmp_path):
    a = small_map.aps[0].bssid
    head = f"building,floor,x,y,zone,{a}\n"
    assert "missing column(s) zone" in bad(small_map, tmp_path, f"building,floor,x,y,{a}\n0,0,1,1,-50\n")
    msg = bad(small_map, tmp_path, head + "0,0,1,1,,-50\n0,0,2,2,,45\n")
    assert "line 3, column " + a in msg and "positive" in msg and "Meraki" in msg
    # below MISSING_DBM is "not heard" (a -127/-200 marker), not a reading: a row with nothing else hears nothing
    assert "line 2: no AP heard in this row" in bad(small_map, tmp_path, head + "0,0,1,1,,-150\n")
    assert "line 2, column x: 'abc' is not a number" in bad(small_map, tmp_path, head + "0,0,abc,1,,-50\n")
    assert "line 2, column floor: venue mini has no floor 7" in bad(small_map, tmp_path, head + "0,7,1,1,,-50\n")
    assert "line 2, column x: x 500 m is off the plan" in bad(small_map, tmp_path, head + "0,0,500,1,,-50\n")
    assert "line 2, column zone: venue mini has no zone 'moon'; leave zone empty" in bad(
        small_map, tmp_path, head + "0,0,1,1,moon,-50\n")
    assert "line 2 has 5 fields" in bad(small_map, tmp_path, head + "0,0,1,1,\n")
    assert "no AP heard" in bad(small_map, tmp_path, head + "0,0,1,1,,\n")
    assert "AP 00:11:22:33:44:55 is not in venue mini" in bad(
        small_map, tmp_path, "building,floor,x,y,zone,00:11:22:33:44:55\n0,0,1,1,,-50\n")
    assert "not a BSSID" in bad(small_map, tmp_path, "building,floor,x,y,zone,ap-one\n0,0,1,1,,-50\n")
    assert "empty file" in bad(small_map, tmp_path, "")
    assert "no data rows" in bad(small_map, tmp_path, head)
    assert "building" in bad(small_map, tmp_path, head + "3,0,1,1,,-50\n")


def test_bad_uji_files(small_map, tmp_path):
    waps = ",".join(f"WAP{i + 1:03d}" for i in range(len(small_map.aps)))
    heard = ",".join(["-60"] + ["100"] * (len(small_map.aps) - 1))
    tail = "LONGITUDE,LATITUDE,FLOOR,BUILDINGID,SPACEID,RELATIVEPOSITION,USERID,PHONEID,TIMESTAMP"
    good = f"{waps},{tail}\n{heard},10,10,0,0,0,0,0,0,0\n"
    assert len(import_samples(small_map, _write(tmp_path, good), waps_in_venue_order=True)) == 1
    no_floor = f"{waps},LONGITUDE,LATITUDE,BUILDINGID\n{heard},10,10,0\n"
    assert "missing column(s) FLOOR" in bad(small_map, tmp_path, no_floor, "ujiindoorloc")
    positive = good.replace("-60,", "60,", 1)
    msg = bad(small_map, tmp_path, positive, waps_in_venue_order=True)
    assert "line 2, column WAP001" in msg and "positive" in msg
    assert "column SPACEID: 99" in bad(small_map, tmp_path, f"{waps},{tail}\n{heard},10,10,0,0,99,0,0,0,0\n",
                                       waps_in_venue_order=True)
    assert "every WAP is 100" in bad(small_map, tmp_path, good.replace("-60,", "100,", 1), waps_in_venue_order=True)


def _write(tmp_path, text):
    path = tmp_path / "ok.csv"
    path.write_text(text)
    return path


def test_bytes_uploads_and_unknown_format(small_map):
    text, _ = export_samples(small_map, "mallportal")
    samples = import_samples(small_map, text.encode(), name="upload.csv")
    assert len(samples) == len(small_map.samples)
    with pytest.raises(ValueError, match="unknown format"):
        import_samples(small_map, text.encode(), "excel")
    with pytest.raises(ValueError, match="not UTF-8"):
        import_samples(small_map, b"\xff\xfe\x00garbage", name="x.csv")
    with pytest.raises(ValueError, match="unknown format"):
        export_samples(small_map, "excel")


def _reversed_uji(venue_map) -> tuple[bytes, bytes]:
    """The venue's samples as a survey tool writes UJIIndoorLoc: its own WAP numbering (here the venue's AP list
    reversed, so the WAP count is the venue's AP count) and the sidecar that says which AP each WAP is."""
    text, sidecar = export_samples(venue_map, "ujiindoorloc")
    rows = [line.split(",") for line in text.splitlines()]
    n = len(venue_map.aps)
    out = [[f"WAP{k + 1:03d}" for k in range(n)] + rows[0][n:]]
    out += [row[:n][::-1] + row[n:] for row in rows[1:]]
    side = ["WAP,BSSID"] + [f"WAP{k + 1:03d},{bssid}" for k, bssid in enumerate(reversed(venue_map.ap_ids()))]
    return "\n".join(map(",".join, out)).encode() + b"\n", ("\n".join(side) + "\n").encode()


def test_uji_in_a_survey_tools_own_wap_order_needs_its_sidecar(small_map):
    """Read by position, a file with the venue's AP count but another WAP order gave every reading to the wrong
    AP without any error: without its sidecar it is refused, saying what to give."""
    data, sidecar = _reversed_uji(small_map)
    with pytest.raises(ValueError, match=r"tool\.csv: line 1: no WAP,BSSID sidecar.*<name>\.waps\.csv.*--venue-order"):
        import_samples(small_map, data, name="tool.csv")
    with_sidecar = import_samples(small_map, data, name="tool.csv", sidecar=sidecar)
    assert [key(s) for s in with_sidecar] == [key(s) for s in small_map.samples]
    # The operator's word that the columns are the venue's AP list is taken: it is the only way to know
    own, _ = export_samples(small_map, "ujiindoorloc")
    by_position = import_samples(small_map, own.encode(), name="own.csv", waps_in_venue_order=True)
    assert [key(s) for s in by_position] == [key(s) for s in small_map.samples]
    # ...and the sidecar wins over it when both are given
    both = import_samples(small_map, data, name="tool.csv", sidecar=sidecar, waps_in_venue_order=True)
    assert [s.rssi for s in both] == [s.rssi for s in small_map.samples]


def test_an_unknown_zone_says_the_column_may_be_left_empty(small_map, tmp_path):
    a = small_map.aps[0].bssid
    msg = bad(small_map, tmp_path, f"building,floor,x,y,zone,{a}\n0,0,1,1,p-a,-50\n")
    ids = [z.id for z in small_map.zones]
    assert "line 2, column zone: venue mini has no zone 'p-a'; leave zone empty" in msg
    assert ", ".join(ids[:8]) in msg and "Zones tool" in msg
    if len(ids) > 8:
        assert f"and {len(ids) - 8} more" in msg
    bare = build_demo_mall("bare", survey_step_m=40.0, scans=1)
    bare.zones = []
    msg = bad(bare, tmp_path, f"building,floor,x,y,zone,{bare.aps[0].bssid}\n0,0,1,1,p-a,-50\n")
    assert "leave zone empty" in msg and "has none yet" in msg


def test_not_heard_markers_are_not_averaged_as_readings(small_map, tmp_path):
    """Survey apps write -110 for an AP not heard: averaged as a reading, a point heard once at -70 and twice "not
    heard" was stored at -96.7 dBm. At or below positioning's MISSING_DBM a value is not heard, as there."""
    a, b, c = (ap.bssid for ap in small_map.aps[:3])
    path = tmp_path / "m110.csv"
    path.write_text(f"building,floor,x,y,zone,{a},{b},{c}\n"
                    "0,0,10,10,,-60,-70,-110\n0,0,10,10,,-62,-110,-110\n0,0,10,10,,-61,-110,-105\n"
                    "0,0,30,20,,-50,-110,-104\n")
    first, second = import_samples(small_map, path)
    assert first.rssi == {a: -61.0} and first.n == 3  # b heard once in 3 scans: dropped, not -96.7
    assert second.rssi == {a: -50.0, c: -104.0}  # one scan: -110 not heard, -104 a (weak) reading
    # the same in the UJIIndoorLoc layout, beside its own 100
    waps = ",".join(f"WAP{i + 1:03d}" for i in range(len(small_map.aps)))
    tail = "LONGITUDE,LATITUDE,FLOOR,BUILDINGID,SPACEID,RELATIVEPOSITION,USERID,PHONEID,TIMESTAMP"
    heard = ",".join(["-60", "-110", "-200"] + ["100"] * (len(small_map.aps) - 3))
    (uji,) = import_samples(small_map, f"{waps},{tail}\n{heard},10,10,0,0,0,0,0,0,0\n".encode(), name="u.csv",
                            waps_in_venue_order=True)
    assert uji.rssi == {a: -60.0}


def test_100_is_not_heard_only_in_a_file_with_no_other_positive_value(small_map, tmp_path):
    """UJIIndoorLoc's "not heard" (100) in the MallPortal layout: read as not heard where nothing else in the file
    is positive (no vendor's 0..100 scale reads 100 dB above noise beside dBm values); mixed with other positive
    values it is refused, and the message says how to write "not heard"."""
    a, b, c = (ap.bssid for ap in small_map.aps[:3])
    head = f"building,floor,x,y,zone,{a},{b},{c}\n"
    (sample,) = import_samples(small_map, (head + "0,0,10,10,,-60,100,-80\n").encode(), name="s.csv")
    assert sample.rssi == {a: -60.0, c: -80.0}
    msg = bad(small_map, tmp_path, head + "0,0,10,10,,-60,100,-80\n0,0,20,10,,45,100,\n")
    assert "line 2, column " + b in msg and "RSSI 100 is positive" in msg and "Meraki" in msg
    assert "leave the cell empty" in msg and "-110" in msg and "100 in a file with no other positive value" in msg


def test_a_point_whose_scans_each_hear_other_aps_is_refused(small_map, tmp_path):
    """Three scans at one point, each hearing a different AP: every AP is under the half-the-scans rule, and the
    point was stored with no reading at all. It is refused, naming its lines and place."""
    a, b, c = (ap.bssid for ap in small_map.aps[:3])
    text = (f"building,floor,x,y,zone,{a},{b},{c}\n0,0,30,20,,-50,-60,\n"
            "0,0,10,10,,-60,,\n0,0,10,10,,,-70,\n0,0,10,10,,,,-75\n")
    msg = bad(small_map, tmp_path, text)
    assert msg.endswith("bad.csv: lines 3, 4, 5 (floor 0, x 10, y 10): no AP is heard in at least half of this "
                        "point's 3 scans, so it has no reading left; scan the point again, or delete these rows")
    # -110 markers empty a point the same way
    assert "lines 2, 3, 4 (floor 0, x 10, y 10)" in bad(
        small_map, tmp_path, f"building,floor,x,y,zone,{a},{b},{c}\n0,0,10,10,,-60,-110,-110\n"
        "0,0,10,10,,-110,-70,-110\n0,0,10,10,,-110,-110,-75\n")


@pytest.mark.parametrize("sep", [";", "\t"])
def test_semicolon_and_tab_separated_files_are_read(small_map, tmp_path, sep):
    """Excel in a European locale saves "CSV" with `;` (and a decimal comma), "Text" with tabs: the header was one
    column, and the import said "missing column(s) building, floor, x, y, zone" of a header that had them."""
    a, b = small_map.aps[0].bssid, small_map.aps[1].bssid
    x = "10,5" if sep == ";" else "10.5"
    path = tmp_path / "eu.csv"
    path.write_text(sep.join(["building", "floor", "x", "y", "zone", a, b]) + "\n"
                    + sep.join(["0", "0", x, "20", "", "-60", ""]) + "\n"
                    + sep.join(["0", "1", "3", "4", "", "-61,5" if sep == ";" else "-61.5", "-70"]) + "\n")
    first, second = import_samples(small_map, path)
    assert (first.floor, first.x, first.y, first.rssi) == (0, 10.5, 20.0, {a: -60.0})
    assert (second.floor, second.rssi) == (1, {a: -61.5, b: -70.0})
    # the UJIIndoorLoc layout and its sidecar too
    text, sidecar = export_samples(small_map, "ujiindoorloc")
    again = import_samples(small_map, text.replace(",", sep).encode(), name="u.csv",
                           sidecar=sidecar.replace(",", sep).encode())
    assert [key(s) for s in again] == [key(s) for s in small_map.samples]
