"""Static files by content (portal/static_files.py): every template's static URL carries `v=<hash of the file>`,
and that URL is cached a year, immutable; any other request for the file (no `v`, an old one) is revalidated,
as /sw.js always is."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import parse_qs, urlsplit

from flask import render_template_string

from core.settings import PROJECT_ROOT
from portal.media.views import CACHE_FOREVER
from portal.static_files import HASH_CHARS, StaticVersions

STATIC_URL = re.compile(r'(?:href|src|data-lib)="(/static/[^"]+)"')


def _content_hash(filename: str) -> str:
    return hashlib.sha256((PROJECT_ROOT / "static" / filename).read_bytes()).hexdigest()[:HASH_CHARS]


def _static_urls(client, paths: list[str]) -> set[str]:
    urls = set()
    for path in paths:
        resp = client.get(path)
        assert resp.status_code == 200, path
        urls |= set(STATIC_URL.findall(resp.get_data(as_text=True)))
    return urls


def test_every_static_url_of_the_pages_carries_its_files_hash(app, client, demo):
    urls = _static_urls(client, ["/v/demo/", "/v/demo/zone/atrium", "/console/login", "/pwa/offline"])
    files = {urlsplit(url).path.removeprefix("/static/") for url in urls}
    assert {"portal.css", "icons/icon-32.png", "manifest.webmanifest"} <= files, urls
    with app.test_request_context("/console/"):  # the consoles' and the light apps' templates: the same url_for
        urls.add(render_template_string("{{ url_for('static', filename='console.css') }}"))
        urls.add(render_template_string("{{ url_for('static', filename='vendor/html5-qrcode/html5-qrcode.min.js') }}"))
    for url in urls:
        parts = urlsplit(url.replace("&amp;", "&"))
        assert parse_qs(parts.query).get("v") == [_content_hash(parts.path.removeprefix("/static/"))], url


def test_a_versioned_file_is_cached_for_a_year_anything_else_is_revalidated(client):
    version = _content_hash("portal.css")
    cached = client.get(f"/static/portal.css?v={version}")
    assert cached.status_code == 200 and cached.headers["Cache-Control"] == CACHE_FOREVER
    for target in ("/static/portal.css", "/static/portal.css?v=0123456789ab", "/static/portal.css?v="):
        resp = client.get(target)  # the service worker's own link; a page of an older deploy
        assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-cache", target
    revalidated = client.get(f"/static/portal.css?v={version}", headers={"If-None-Match": cached.headers["ETag"]})
    assert revalidated.status_code == 304 and revalidated.headers["Cache-Control"] == CACHE_FOREVER
    assert client.get("/static/nope.css?v=0123456789ab").status_code == 404
    assert client.get("/sw.js").headers["Cache-Control"] == "no-cache"  # a new worker on the next visit


def test_a_changed_file_gets_a_new_version_and_nothing_outside_the_folder_has_one(tmp_path):
    (tmp_path / "site.css").write_text("a{}")
    versions = StaticVersions(str(tmp_path))
    first = versions.of("site.css")
    assert first and versions.of("./site.css") == first
    (tmp_path / "site.css").write_text("a{color:red}")
    assert versions.of("site.css") not in (None, first)
    (tmp_path / "folder").mkdir()
    assert versions.of("../secret") is None and versions.of("missing.css") is None and versions.of("folder") is None
