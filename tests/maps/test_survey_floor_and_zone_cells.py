"""A survey CSV's floor and zone cells (fingerprints.samples_io), read as the AP list reads a floor.

The audit's campus (SPBSTU): floors on ordinals 0 and 2 with short names "1" and "3". The AP list with level "1"
placed its APs on floor 0 (by short name); the survey with floor "1" was refused "venue has no floor 1 (floors: 0,
2)". One rule now reads both (fingerprints.ap_lists.read_floor), with the same ambiguity, and the errors name the
floors. A survey row's zone label on another floor than the row is refused; one on its floor that does not hold the
point (beyond ZONE_LABEL_SLACK_M: a doorway point is labelled with its room) is kept as labelled and noted."""

from __future__ import annotations

import pytest

from fingerprints.ap_lists import ApListError, read_ap_csv
from fingerprints.model import AccessPoint, Floor, VenueMap, Zone
from fingerprints.samples_io import (
    ZONE_LABEL_SLACK_M,
    SampleFileError,
    export_samples,
    import_samples,
    import_samples_with_notes,
)

A, B = "f0:9f:c2:1a:00:01", "f0:9f:c2:1a:00:02"


def _campus(short_names: tuple[str, str] = ("1", "3"), levels: tuple[int, int] = (0, 2)) -> VenueMap:
    floors = [Floor(level, f"Этаж {short}", 60, 24, short_name=short) for level, short in zip(levels, short_names,
                                                                                                strict=True)]
    zones = [Zone("lab", "Лаборатория", "Лаборатория", levels[0], [(0, 0), (20, 0), (20, 10), (0, 10)]),
             Zone("hall", "Коридор", "Коридор", levels[0], [(0, 10), (60, 10), (60, 14), (0, 14)]),
             Zone("library", "Библиотека", "Библиотека", levels[1], [(0, 0), (30, 0), (30, 10), (0, 10)])]
    return VenueMap(id="campus", name="Campus", name_zh="Campus", floors=floors, zones=zones,
                    aps=[AccessPoint(A, levels[0], 5, 5), AccessPoint(B, levels[1], 5, 5)])


def _survey(*rows: str) -> bytes:
    return (f"building,floor,x,y,zone,{A},{B}\n" + "".join(r + "\n" for r in rows)).encode()


def _ap_list(level: str) -> int:
    return read_ap_csv(_campus(), f"name,bssids,level,x_m,y_m\nAP,{A},{level},5,5\n".encode()).placements[0]["level"]


@pytest.mark.parametrize(("cell", "level"), [("1", 0), ("3", 2), ("0", 0), ("2", 2), ("этаж 3", 2)])
def test_the_survey_reads_a_floor_cell_as_the_ap_list_does(cell, level):
    (sample,) = import_samples(_campus(), _survey(f"0,{cell},5,5,,-60,"), name="s.csv")
    assert sample.floor == level == _ap_list(cell)


def test_a_floor_neither_reads_is_refused_naming_the_floors():
    known = "0 (Этаж 1, short name 1), 2 (Этаж 3, short name 3)"
    with pytest.raises(SampleFileError) as refused:
        import_samples(_campus(), _survey("0,7,5,5,,-60,"), name="s.csv")
    assert str(refused.value) == f"s.csv: line 2, column floor: venue campus has no floor 7 (floors: {known})"
    with pytest.raises(SampleFileError) as named:
        import_samples(_campus(), _survey("0,Этаж 9,5,5,,-60,"), name="s.csv")
    assert f"'Этаж 9' is neither a floor number nor one of the venue's floor names: {known}" in str(named.value)
    with pytest.raises(ApListError) as listed:
        _ap_list("7")
    assert listed.value.problems == [f"row 2: floor '7' is not one of the venue's floors: {known} (map the file's "
                                     "floor names to levels: 'Ground Floor=0')"]


def test_a_floor_that_is_one_floors_name_and_anothers_number_is_ambiguous_in_the_survey_too():
    """Floors named "1", "2" on levels 0, 1: "1" is refused in both files until the operator says which."""
    numbered = _campus(("1", "2"), (0, 1))
    with pytest.raises(SampleFileError) as refused:
        import_samples(numbered, _survey("0,1,5,5,,,-60"), name="s.csv")
    assert str(refused.value) == (
        "s.csv: line 2, column floor: ambiguous: floor name '1' is level 0, level number 1 is another floor (Этаж 2); "
        "say which in Floor names in the file (--floor on the CLI): '1=0' or '1=1'")
    with pytest.raises(ApListError, match="ambiguous: floor name '1' is level 0"):
        read_ap_csv(numbered, f"name,bssids,level,x_m,y_m\nAP,{A},1,5,5\n".encode())
    (sample,) = import_samples(numbered, _survey("0,1,5,5,,,-60"), name="s.csv", floors={"1": 1})
    assert sample.floor == 1
    (uji,) = import_samples(numbered, b"WAP001,WAP002,LONGITUDE,LATITUDE,FLOOR,BUILDINGID\n100,-60,5,5,2,0\n"
, name="u.csv", waps_in_venue_order=True)
    assert uji.floor == 1  # the UJIIndoorLoc FLOOR column by the same rule


def test_a_zone_label_on_another_floor_is_refused():
    with pytest.raises(SampleFileError) as refused:
        import_samples(_campus(), _survey("0,1,5,5,library,-60,"), name="s.csv")
    assert str(refused.value) == ("s.csv: line 2, column zone: zone library is on floor Этаж 3, not on this row's "
                                  "floor Этаж 1")
    venue = _campus()
    text, sidecar = export_samples(venue, "ujiindoorloc")
    row = "100,-60,5,5,0,0,3,0,0,0,0\n"  # SPACEID 3: the library, on level 2; the row is on level 0
    with pytest.raises(SampleFileError, match="column SPACEID: zone library is on floor Этаж 3"):
        import_samples(venue, (text + row).encode(), name="u.csv", sidecar=sidecar.encode())


def test_a_zone_label_that_does_not_hold_the_point_is_kept_and_noted():
    doorway = f"0,1,5,{10 + ZONE_LABEL_SLACK_M / 2:g},lab,-60,"  # in the corridor, half the slack off the lab
    far = "0,1,50,5,lab,-61,", "0,1,50,5,lab,-63,", "0,1,55,12,hall,-62,", "0,1,40,12,lab,-64,"
    samples, notes = import_samples_with_notes(_campus(), _survey(doorway, *far), name="s.csv")
    assert [(s.x, s.y, s.zone) for s in samples] == [(5, 10 + ZONE_LABEL_SLACK_M / 2, "lab"), (50, 5, "lab"),
                                                     (55, 12, "hall"), (40, 12, "lab")]
    assert [str(n) for n in notes] == [
        f"s.csv: 2 point(s) labelled with a zone that does not hold them (more than {ZONE_LABEL_SLACK_M:g} m off "
        "it), kept as labelled: lines 3, 4, 6; the quality report takes the label as where the point is"]
    assert import_samples_with_notes(_campus(), _survey(doorway), name="s.csv")[1] == []
