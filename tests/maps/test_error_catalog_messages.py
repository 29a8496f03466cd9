"""The pure library's errors an operator meets carry their catalog message (template, params) for the console,
and their English (`str()`, what the CLI prints) is word for word what it was."""

from __future__ import annotations

import pytest

from core.errors import CatalogInputError
from fingerprints.ap_lists import ApListError, read_ap_csv
from fingerprints.demo_mall import build_demo_mall
from fingerprints.quality import read_walk_csv, route_point_problem
from fingerprints.samples_io import SampleFileError, export_samples, import_samples
from fingerprints.store import MapBusyError, StaleMapError
from fingerprints.survey import average_fingerprint


@pytest.fixture(scope="module")
def venue():
    return build_demo_mall(survey_step_m=12.0, scans=2)


def english(exc: CatalogInputError) -> str:
    """The catalog message filled in as a console in English fills it (label: the error's field)."""
    return exc.template % {"label": exc.field, **exc.params}


def test_a_bad_cell_names_its_line_and_column_in_the_same_words(venue):
    header, first, *_ = export_samples(venue)[0].splitlines()
    cells = first.split(",")
    bad = header + "\n" + ",".join([*cells[:2], "abc", *cells[3:]]) + "\n"
    with pytest.raises(SampleFileError) as caught:
        import_samples(venue, bad.encode(), name="s.csv")
    assert str(caught.value) == "s.csv: line 2, column x: 'abc' is not a number"
    assert english(caught.value) == str(caught.value) and caught.value.params["line"] == 2


@pytest.mark.parametrize(("data", "text"), [
    (b"floor,x,y\n0,1,2\n", "s.csv: line 1: missing column(s) building, zone; the header must start with "
                            "building,floor,x,y,zone then one column per AP (BSSID)"),
    (b"\xff\xfe", "s.csv: not UTF-8 text (is it a CSV file?)"),
    (b"building,floor,x,y,zone,f0:9f:c2:1a:00:01,F0-9F-C2-1A-00-01\n0,0,1,1,,-50,-60\n",
     "s.csv: line 1, column 'F0-9F-C2-1A-00-01': AP f0:9f:c2:1a:00:01 appears twice"),
    (b"building,floor,x,y,zone,f0:9f:c2:1a:00:01\n0,0,1,1,nowhere,-50\n",
     "s.csv: line 2, column zone: venue demo has no zone 'nowhere'; leave zone empty (the point then gets the zone "
     "whose outline it stands in) or use one of its zone ids (garage, atrium, kopi, books, lumen, cinema, foodcourt, "
     "jade and 1 more; each floor's Zones tool on the console's set-up page lists them all)"),
])
def test_a_samples_csv_header_or_file_problem_keeps_its_english(venue, data, text):
    with pytest.raises(SampleFileError) as caught:
        import_samples(venue, data, name="s.csv")
    assert str(caught.value) == text and english(caught.value) == text


def test_an_ap_list_lists_catalog_problems_under_the_same_english(venue):
    data = (b"name,bssids,level,x_m,y_m\nA,f0:9f:c2:1a:09:01,9,5,5\nB,zz,0,5,5\n"
            b"C,f0:9f:c2:1a:09:03,0,999,5\n")
    with pytest.raises(ApListError) as caught:
        read_ap_csv(venue, data)
    exc = caught.value
    assert exc.problems == [
        "row 2: floor '9' is not one of the venue's floors: 0 (G), 1 (L1) (map the file's floor names to levels: "
        "'Ground Floor=0')",
        "row 3: 'zz' is not a MAC/BSSID",
        "row 4: (999.0, 5.0) m is off the plan of floor G (120 x 60 m)",
    ]
    assert str(exc) == "AP list not imported (3 problem(s)):\n" + "\n".join(exc.problems)
    assert all(isinstance(p, CatalogInputError) and english(p) == str(p) for p in exc.details)
    assert exc.template % exc.params == str(exc)


def test_the_map_store_and_the_survey_errors_carry_catalog_messages():
    busy, stale = MapBusyError(), StaleMapError("demo", 7, 6)
    assert str(busy) == "The map is busy with another change; nothing was stored. Try again in a moment."
    assert str(stale) == "map of demo is at version 7, not 6: changed meanwhile; nothing was stored"
    with pytest.raises(CatalogInputError) as caught:
        average_fingerprint({}, min_readings=3)
    assert str(caught.value) == ("only 0 scan(s) of the survey device were heard; at least 3 are needed (is the "
                                 "device's WiFi on and its MAC the registered one?)")


def test_a_route_point_off_the_plan_keeps_its_english_for_the_walk_scorer_too(venue):
    with pytest.raises(CatalogInputError) as caught:
        read_walk_csv(b"ts,floor,x,y\n1,0,999,30\n", b"ts,ap,rssi\n1,f0:9f:c2:1a:00:01,-60\n", venue)
    assert str(caught.value) == "route CSV line 2: (999, 30) is off the plan of floor 0 (x 0 to 120 m, y 0 to 60 m)"
    assert route_point_problem(venue, 0, 999, 30) == "(999, 30) is off the plan of floor 0 (x 0 to 120 m, y 0 to 60 m)"
    assert route_point_problem(venue, 5, 1, 1) == "floor 5 is not a floor of demo (its floors: 0, 1)"
