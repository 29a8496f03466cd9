"""An AP list CSV whose header names a column twice is refused, naming the column: csv.DictReader keeps the
last one's value, so the AP would be placed by a column nobody meant (x_m twice: at the second x) without a
word. Through the reader, the draft CLI (`map-draft add-aps`) and the console's draft upload."""

from __future__ import annotations

import html
import io

import pytest

from fingerprints.ap_lists import ApListError, read_ap_csv, read_ap_list
from fingerprints.drafts import DraftStore
from fingerprints.model import Floor, VenueMap
from portal import map_cli
from portal.auth import AccountStore
from tests.maps.test_maps_setup_drafts import _files

# The reviewer's file: x_m twice, the second one 99 (the AP was placed at x = 99).
TWICE = ("name,bssids,level,x_m,y_m,x_m,lat,lon,height_m,model\n"
         "AP-X,0c:8d:db:09:00:01,{level},10,10,99,,,,\n")


@pytest.fixture
def venue():
    return VenueMap(id="harbour", name="Harbour", name_zh="海港", floors=[Floor(0, "G", 120, 24)])


def test_a_column_named_twice_is_refused_naming_it(venue):
    with pytest.raises(ApListError) as err:
        read_ap_csv(venue, TWICE.format(level="G"))
    assert err.value.problems == ["line 1: column 'x_m' appears twice (columns 4 and 6 of the header); keep one"]
    with pytest.raises(ApListError, match="'x_m' appears twice"):  # the console's and the CLI's way in
        read_ap_list(venue, TWICE.format(level="G").encode(), "aps.csv")


def test_names_compare_as_the_reader_matches_them(venue):
    """The reader matches names case- and space-insensitively: `X_M ` is x_m again."""
    text = "name,bssids,level,x_m,y_m,X_M ,Level\nAP-X,0c:8d:db:09:00:01,G,10,10,99,G\n"
    with pytest.raises(ApListError) as err:
        read_ap_csv(venue, text)
    assert sorted(err.value.problems) == [
        "line 1: column 'level' appears twice (columns 3 and 7 of the header); keep one",
        "line 1: column 'x_m' appears twice (columns 4 and 6 of the header); keep one"]


def test_distinct_and_unnamed_columns_are_still_read(venue):
    """x and x_m are two names (x_m is read first), and unnamed columns (a spreadsheet's trailing commas)
    are not read at all: neither is a column named twice."""
    text = "name,bssids,level,x_m,y_m,x,,\nAP-X,0c:8d:db:09:00:01,G,10,10,99,,\n"
    (placed,) = read_ap_csv(venue, text).placements
    assert (placed["x"], placed["y"]) == (10.0, 10.0)


@pytest.fixture
def cli(app):
    if "map-draft" not in app.cli.commands:
        map_cli.register(app)
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=list(map(str, args)))


def test_the_draft_cli_refuses_it_and_adds_nothing(cli, svc, tmp_path):
    plan, _aps, _samples = _files(tmp_path)
    draft = cli("map-draft", "open", "harbour", "aps").output.strip()
    assert cli("map-draft", "add-imdf", "harbour", draft, plan).exit_code == 0
    twice = tmp_path / "twice.csv"
    twice.write_text(TWICE.format(level=0))
    result = cli("map-draft", "add-aps", "harbour", draft, twice)
    assert result.exit_code != 0 and "column 'x_m' appears twice" in result.output
    assert len(DraftStore(svc.db, svc.venues).get("harbour", draft).steps) == 1  # the plan only


def test_the_console_upload_refuses_it_and_adds_nothing(client, console, svc, tmp_path):
    AccountStore(svc.db).create("harbour-ops", "harbour-pass-1", "operator", "harbour")
    console.login("harbour-ops", "harbour-pass-1")
    plan, _aps, _samples = _files(tmp_path)
    draft_url = client.post("/console/ops/harbour/drafts",
                            data={"csrf_token": console.csrf(), "title": "x"}).headers["Location"]

    def upload(payload: bytes, filename: str, kind: str):
        return client.post(draft_url + "/steps", content_type="multipart/form-data",
                           data={"csrf_token": console.csrf(), "file": (io.BytesIO(payload), filename), "kind": kind})

    assert upload(plan.read_bytes(), "plan.zip", "imdf").status_code == 303
    resp = upload(TWICE.format(level=0).encode(), "aps.csv", "aps")
    page = html.unescape(resp.get_data(as_text=True))
    assert resp.status_code == 400 and "Nothing was added" in page and "column 'x_m' appears twice" in page
    assert "Added to the draft" not in page
    draft_id = draft_url.rstrip("/").rsplit("/", 1)[-1]
    assert len(DraftStore(svc.db, svc.venues).get("harbour", draft_id).steps) == 1  # the plan only
