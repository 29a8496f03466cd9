"""Malformed and hostile zip archives (issue 14): a bad CRC, the encryption flag, an unknown compression
method, a truncated file, a zip bomb (by ratio, and by declared size), not a zip at all. Each is a clear
error: ImdfError / ApListError in the code, a 400 page naming the problem in the console (nothing
imported), a CLI error (exit code 1, the message). The archives are built here, byte by byte."""

from __future__ import annotations

import html
import io
import json
import struct
import zipfile

import pytest

from fingerprints.ap_lists import ApListError, read_esx
from fingerprints.imdf import ImdfError, import_imdf
from portal import map_cli

MANIFEST = json.dumps({"version": "1.0.0", "created": "2026-11-30T00:00:00Z", "language": "en"}).encode()
LOCAL, CENTRAL = b"PK\x03\x04", b"PK\x01\x02"


def one_member_zip(data: bytes = MANIFEST, name: str = "manifest.json", method: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        zf.writestr(name, data)
    return buf.getvalue()


def patch(raw: bytes, signature: bytes, offset: int, fmt: str, value: int) -> bytes:
    """Overwrite one field of the (only) local or central header."""
    at = raw.index(signature) + offset
    return raw[:at] + struct.pack(fmt, value) + raw[at + struct.calcsize(fmt):]


def bad_crc(name: str) -> bytes:
    raw = one_member_zip(name=name)
    return raw.replace(b'"1.0.0"', b'"1.0.1"', 1)  # stored: the content changes, its CRC-32 does not


def encrypted(name: str = "manifest.json") -> bytes:  # general purpose flag bit 0, in both headers
    return patch(patch(one_member_zip(name=name), LOCAL, 6, "<H", 1), CENTRAL, 8, "<H", 1)


def unknown_method(name: str) -> bytes:  # compression method 99 (AE-x), in both headers
    return patch(patch(one_member_zip(name=name), LOCAL, 8, "<H", 99), CENTRAL, 10, "<H", 99)


def truncated(name: str) -> bytes:
    raw = one_member_zip(json.dumps({"pad": "x" * 4000}).encode(), name, zipfile.ZIP_DEFLATED)
    return raw[: len(raw) // 2]


def bomb_by_ratio(name: str) -> bytes:  # 8 MiB of zeros deflate to ~8 kB
    return one_member_zip(b"0" * (8 * 2**20), name, zipfile.ZIP_DEFLATED)


def bomb_by_declared_size(name: str) -> bytes:  # the central directory claims 3 GiB expanded
    return patch(one_member_zip(name=name), CENTRAL, 24, "<I", 3 * 2**30)


def lying_size(name: str) -> bytes:  # claims 10 bytes, holds more: zipfile stops at 10, and the CRC fails
    return patch(patch(one_member_zip(name=name), LOCAL, 22, "<I", 10), CENTRAL, 24, "<I", 10)


CASES = [
    ("bad CRC", bad_crc, "Bad CRC-32"),
    ("encryption flag", encrypted, "encrypted"),
    ("unknown compression", unknown_method, "compression method 99 is not supported"),
    ("truncated", truncated, "not a zip archive, or a truncated one"),
    ("zip bomb (ratio)", bomb_by_ratio, "refused as a zip bomb"),
    ("zip bomb (declared size)", bomb_by_declared_size, "archive expands to more than"),
    ("size that lies", lying_size, "damaged archive"),
    ("not a zip", lambda name: b"hello, not a zip", "not a zip archive"),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize(("label", "build", "message"), CASES, ids=IDS)
def test_imdf_import_names_the_problem(label, build, message):
    with pytest.raises(ImdfError, match=message):
        import_imdf(build("manifest.json"), venue_id="harbour")


@pytest.mark.parametrize(("label", "build", "message"), CASES, ids=IDS)
def test_ekahau_import_names_the_problem(label, build, message, demo_map):
    with pytest.raises(ApListError, match=message):
        read_esx(demo_map, build("floorPlans.json"))


def test_console_upload_answers_400_and_imports_nothing(client, console, svc):
    console.login("ops")
    before = svc.venues.current_version("demo")
    for label, build, message in CASES:
        resp = client.post("/console/ops/demo/setup/import-imdf", content_type="multipart/form-data", data={
            "csrf_token": console.csrf(), "imdf": (io.BytesIO(build("manifest.json")), "plan.zip")})
        page = html.unescape(resp.get_data(as_text=True))
        assert resp.status_code == 400, label
        assert "Nothing was imported" in page and message in page, label
    draft = client.post("/console/ops/demo/drafts", data={"csrf_token": console.csrf(), "title": "zips"})
    resp = client.post(draft.headers["Location"] + "/steps", content_type="multipart/form-data", data={
        "csrf_token": console.csrf(), "kind": "imdf", "file": (io.BytesIO(encrypted()), "plan.zip")})
    assert resp.status_code == 400 and "encrypted" in html.unescape(resp.get_data(as_text=True))
    assert svc.venues.current_version("demo") == before


def test_cli_import_is_a_clear_error(app, demo, svc, tmp_path):
    if "map-import" not in app.cli.commands:
        map_cli.register(app)
    runner = app.test_cli_runner()
    before = svc.venues.current_version("demo")
    for label, build, message in CASES:
        path = tmp_path / "plan.zip"
        path.write_bytes(build("manifest.json"))
        result = runner.invoke(args=["map-import", "demo", str(path)])
        assert result.exit_code == 1 and message in result.output, (label, result.output)
        assert "Traceback" not in result.output
    assert svc.venues.current_version("demo") == before
