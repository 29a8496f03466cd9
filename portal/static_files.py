"""Static files under content-versioned URLs, the one rule for every template: `url_for('static', filename=...)`
adds `v=<hash of the file's content>`, and a request whose `v` is the file's current hash is cached for a year,
immutable: a changed file is a new URL, so the render-blocking stylesheet is never asked again on a slow WiFi.
Any other request for a static file keeps Flask's `no-cache` (revalidated, never stale): no `v` (the links
inside sw.js and the manifest), or a `v` this host does not serve (an old page, another host of a rolling
deploy). The service worker itself has its own route, always no-cache (portal/owner/pwa.py)."""

from __future__ import annotations

import hashlib
import os
import stat

from flask import Flask, Response, request
from werkzeug.security import safe_join

from portal.media.views import CACHE_FOREVER

VERSION_ARG = "v"
HASH_CHARS = 12


class StaticVersions:
    """Each static file's content hash, read once per process for each content of the file: its size and mtime
    say when it changed (a developer's edit gets a new URL without a restart)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        # normalised path of an existing file -> ((mtime, size), hash): as many entries as files
        self._hashes: dict[str, tuple[tuple[int, int], str]] = {}

    def of(self, filename: str) -> str | None:
        """The file's version, None when it is no file under the folder."""
        path = safe_join(self.folder, filename)
        try:
            found = os.stat(path) if path else None
        except OSError:
            return None
        if found is None or not stat.S_ISREG(found.st_mode):
            return None
        stamp = (found.st_mtime_ns, found.st_size)
        known = self._hashes.get(path)
        if known is None or known[0] != stamp:
            with open(path, "rb") as file:
                known = (stamp, hashlib.sha256(file.read()).hexdigest()[:HASH_CHARS])
            self._hashes[path] = known
        return known[1]


def init_static_versions(app: Flask) -> None:
    versions = StaticVersions(app.static_folder)

    @app.url_defaults
    def _versioned_static(endpoint: str, values: dict) -> None:
        if endpoint == "static" and VERSION_ARG not in values:
            version = versions.of(values.get("filename", ""))
            if version:
                values[VERSION_ARG] = version

    @app.after_request
    def _immutable_when_versioned(response: Response) -> Response:
        asked = request.args.get(VERSION_ARG)
        if (asked and request.endpoint == "static" and response.status_code in (200, 304)
                and asked == versions.of(request.view_args.get("filename", ""))):
            response.headers["Cache-Control"] = CACHE_FOREVER
        return response
