"""An IMDF re-import that drops a zone an owner manages (the demo's cinema owner) is imported, the zone is released
(portal/operator/zone_release.py) and the operator is told what was let go of: on the direct import, and on the
draft's page before it is applied and again when it is. Real store (the suite's Valkey)."""

from __future__ import annotations

import html
import io
import json
import zipfile

V = "/console/ops/demo"


def _without_cinema(archive: bytes) -> bytes:
    """The demo's own export with the cinema's unit (and the shops anchored in it) left out."""
    files = {n: zipfile.ZipFile(io.BytesIO(archive)).read(n) for n in zipfile.ZipFile(io.BytesIO(archive)).namelist()}
    ext = json.loads(files["mallportal_venue.geojson"])
    unit = next(z["unit_id"] for z in ext["features"][0]["properties"]["zones"] if z["zone_id"] == "cinema")
    units = json.loads(files["unit.geojson"])
    units["features"] = [u for u in units["features"] if u["id"] != unit]
    anchors = json.loads(files["anchor.geojson"])
    gone = {a["id"] for a in anchors["features"] if a["properties"]["unit_id"] == unit}
    anchors["features"] = [a for a in anchors["features"] if a["id"] not in gone]
    occupants = json.loads(files["occupant.geojson"])
    occupants["features"] = [o for o in occupants["features"] if o["properties"]["anchor_id"] not in gone]
    walkways = json.loads(files["mallportal_walkways.geojson"])  # amenities and relationships name the unit too
    amenities = json.loads(files["amenity.geojson"])
    amenities["features"] = [a for a in amenities["features"] if unit not in a["properties"]["unit_ids"]]
    relationships = json.loads(files["relationship.geojson"])
    relationships["features"] = [r for r in relationships["features"]
                                 if unit not in (r["properties"]["origin"]["id"], r["properties"]["destination"]["id"])]
    changed = {"unit.geojson": units, "anchor.geojson": anchors, "occupant.geojson": occupants,
               "amenity.geojson": amenities, "relationship.geojson": relationships,
               "mallportal_walkways.geojson": walkways}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, json.dumps(changed[name]) if name in changed else data)
    return buf.getvalue()


def _upload(client, ops, url, payload, **data):
    return client.post(url, data={"csrf_token": ops.csrf(), "file": (io.BytesIO(payload), "mall.imdf.zip"),
                                  "imdf": (io.BytesIO(payload), "mall.imdf.zip"), **data},
                       content_type="multipart/form-data")


WARNING = "Zone cinema was in use"  # released: what was let go of
BEFORE = ("Applying this removes zones that owners manage, that have an app set up or that moments rules are about: "
          "cinema.")


def test_the_direct_import_says_which_managed_zones_it_removed(client, ops, svc):
    archive = _without_cinema(client.get(V + "/setup/export.imdf.zip").data)
    refused = _upload(client, ops, V + "/setup/import-imdf", archive)  # in use: to be confirmed first
    assert refused.status_code == 409 and svc.venues.get_map("demo").zone("cinema") is not None
    resp = _upload(client, ops, V + "/setup/import-imdf", archive, release_zones="1")
    assert resp.status_code == 303
    assert svc.venues.get_map("demo").zone("cinema") is None
    page = html.unescape(client.get(resp.headers["Location"]).get_data(as_text=True))
    assert WARNING in page


def test_a_reimport_keeping_every_zone_says_nothing(client, ops):
    resp = _upload(client, ops, V + "/setup/import-imdf", client.get(V + "/setup/export.imdf.zip").data)
    page = html.unescape(client.get(resp.headers["Location"]).get_data(as_text=True))
    assert "was in use" not in page


def test_the_draft_page_says_it_before_the_draft_is_applied(client, ops, svc):
    archive = _without_cinema(client.get(V + "/setup/export.imdf.zip").data)
    resp = client.post(V + "/drafts", data={"csrf_token": ops.csrf(), "title": "new plan"})
    draft = resp.headers["Location"]
    resp = _upload(client, ops, draft + "/steps", archive, kind="imdf")
    assert resp.status_code == 303
    assert svc.venues.get_map("demo").zone("cinema") is not None  # not applied yet
    page = html.unescape(client.get(draft).get_data(as_text=True))
    assert BEFORE in page and WARNING not in page
    assert svc.zone_apps.get("demo", "cinema")[0] == "cinema"  # the page is a preview: nothing released yet
    applied = client.post(draft + "/apply", data={"csrf_token": ops.csrf()})
    assert applied.status_code == 303 and svc.venues.get_map("demo").zone("cinema") is None
    assert WARNING in html.unescape(client.get(applied.headers["Location"]).get_data(as_text=True))
    assert svc.zone_apps.get("demo", "cinema")[0] != "cinema"  # released on apply, as the page said


CLI_WARNING = "warning: Zone cinema was in use"
CLI_BEFORE = "warning: Applying this removes zones that owners manage, that have an app set up or that moments rules"


def test_the_command_line_import_says_it_too(app, client, ops, svc, tmp_path):
    archive = tmp_path / "mall.imdf.zip"
    archive.write_bytes(_without_cinema(client.get(V + "/setup/export.imdf.zip").data))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["map-import", "--release-zones", "demo", str(archive)])
    assert result.exit_code == 0, result.output
    assert svc.venues.get_map("demo").zone("cinema") is None
    assert CLI_WARNING in result.stderr
    again = runner.invoke(args=["map-import", "demo", str(archive)])  # nothing more removed: nothing said
    assert again.exit_code == 0 and "warning:" not in again.stderr


def test_the_command_line_draft_says_it_on_show_and_apply(app, client, ops, svc, tmp_path):
    archive = tmp_path / "mall.imdf.zip"
    archive.write_bytes(_without_cinema(client.get(V + "/setup/export.imdf.zip").data))
    runner = app.test_cli_runner()
    draft = runner.invoke(args=["map-draft", "open", "demo", "new plan"]).stdout.strip()
    assert runner.invoke(args=["map-draft", "add-imdf", "demo", draft, str(archive)]).exit_code == 0
    shown = runner.invoke(args=["map-draft", "show", "demo", draft])
    assert shown.exit_code == 0 and CLI_BEFORE in shown.stderr and CLI_WARNING not in shown.stderr
    assert svc.venues.get_map("demo").zone("cinema") is not None  # not applied yet
    applied = runner.invoke(args=["map-draft", "apply", "demo", draft])
    assert applied.exit_code == 0 and CLI_WARNING in applied.stderr
    assert svc.venues.get_map("demo").zone("cinema") is None
