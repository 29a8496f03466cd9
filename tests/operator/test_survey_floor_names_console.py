"""The console's survey imports (venue set-up and a draft's samples step) with floors named by bare numbers one above
their levels ("1", "2" on levels 0, 1): the venue's own export reads back; a file whose floor cell "1" is one floor's
name and another's level number is refused naming the field that settles it, and read with it; what an import keeps
but deserves a look (a zone label far from its point) is said on the page."""

from __future__ import annotations

import html
import io

from shapely.geometry import Point, Polygon

from tests.operator.test_operator_setup import V, upload, version


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def _numbered_demo(svc):
    venue = svc.venues.get_map("demo")
    for floor in venue.floors:
        floor.name, floor.name_zh, floor.short_name = str(floor.level + 1), "", ""
    svc.venues.put_map(venue)
    return venue


def _far_labelled_row(venue, header: str) -> str:
    """A survey file of one point on level 0 labelled with a zone of its floor far from it."""
    sample = next(s for s in venue.samples if s.floor == 0)
    zone = next(z for z in venue.zones if z.floor == 0 and Polygon(z.polygon).distance(Point(sample.x, sample.y)) > 10)
    cells = ["" if sample.rssi.get(ap) is None else f"{sample.rssi[ap]:g}" for ap in venue.ap_ids()]
    return f"{header}\n0,0,{sample.x:g},{sample.y:g},{zone.id},{','.join(cells)}\n"


def test_set_up_reads_its_own_export_and_takes_floor_names(client, ops, svc):
    venue = _numbered_demo(svc)
    own = client.get(V + "/setup/samples.csv").get_data(as_text=True)
    before = version(svc)
    assert ",1.0," in own  # level 1's cells: "1" is floor 0's name
    assert upload(client, ops, V + "/setup/import-samples", "samples", own.encode(), "own.csv").status_code == 303
    ambiguous = own.replace(",1.0,", ",1,").encode()
    refused = upload(client, ops, V + "/setup/import-samples", "samples", ambiguous, "s.csv")
    assert refused.status_code == 400
    assert "ambiguous: floor name '1' is level 0" in text(refused)
    assert "say which in Floor names in the file" in text(refused)
    bad = upload(client, ops, V + "/setup/import-samples", "samples", ambiguous, "s.csv", floors="1")
    assert bad.status_code == 400 and "floor names: write NAME=LEVEL" in text(bad)
    assert version(svc) == before + 1
    mapped = upload(client, ops, V + "/setup/import-samples", "samples", ambiguous, "s.csv", floors="1=1")
    assert mapped.status_code == 303 and version(svc) == before + 2
    assert {s.floor for s in svc.venues.get_map("demo").samples} == {0, 1}
    far = _far_labelled_row(venue, own.splitlines()[0]).encode()
    noted = upload(client, ops, V + "/setup/import-samples", "samples", far, "far.csv", mode="append")
    assert noted.status_code == 303
    assert "far.csv: 1 point(s) labelled with a zone that does not hold them" in text(client.get(V + "/setup"))
    assert 'id="samples-floors" name="floors"' in text(client.get(V + "/setup"))


def test_a_drafts_samples_step_takes_floor_names_and_says_its_notes(client, ops, svc):
    venue = _numbered_demo(svc)
    own = client.get(V + "/setup/samples.csv").get_data(as_text=True)
    opened = client.post(V + "/drafts", data={"csrf_token": ops.csrf(), "title": "survey"})
    steps = opened.headers["Location"] + "/steps"

    def add(payload: str, name: str, **data):
        return client.post(steps, data={"csrf_token": ops.csrf(), "kind": "samples",
                                        "file": (io.BytesIO(payload.encode()), name), **data},
                           content_type="multipart/form-data")

    assert add(own, "own.csv").status_code == 303
    refused = add(own.replace(",1.0,", ",1,"), "s.csv")
    assert refused.status_code == 400
    assert "ambiguous: floor name '1' is level 0" in text(refused)
    assert "say which in Floor names in the file" in text(refused)
    assert add(own.replace(",1.0,", ",1,"), "s.csv", floors="1=1").status_code == 303
    assert add(_far_labelled_row(venue, own.splitlines()[0]), "far.csv", mode="append").status_code == 303
    page = text(client.get(opened.headers["Location"]))
    assert "far.csv: 1 point(s) labelled with a zone that does not hold them" in page
    assert 'id="samples-floors" name="floors"' in page
