"""An id or a BSSID is the whole string: `re.match` with `$` let a trailing newline through ("east\\n" passed as
a venue id to `map-import`, and the map was then stored under an id no URL can name)."""

import pytest

from fingerprints.model import BSSID_RE, ID_RE


@pytest.mark.parametrize("text", ["east\n", "kopi\n", "a\n"])
def test_an_id_with_a_trailing_newline_is_no_id(text):
    assert ID_RE.match(text.rstrip("\n")) and not ID_RE.match(text)


def test_a_bssid_with_a_trailing_newline_is_no_bssid():
    assert BSSID_RE.match("f0:9f:c2:1a:09:01") and not BSSID_RE.match("f0:9f:c2:1a:09:01\n")


def test_map_import_refuses_a_venue_id_with_a_newline(app, tmp_path):
    archive = tmp_path / "plan.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip: refused later, if the id were taken
    result = app.test_cli_runner().invoke(args=["map-import", "east\n", str(archive)])
    assert result.exit_code == 2 and "is not valid" in result.output
