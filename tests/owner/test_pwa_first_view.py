"""What the installable web app costs a phone on the mall WiFi: the icon every page declares (fetched on each
first view) is a small one, and the service worker's install list holds what the offline page needs only."""

from __future__ import annotations

import io
import re

from PIL import Image

FAVICON_BUDGET_BYTES = 2_000
INSTALL_BUDGET_BYTES = 16_000  # the offline page and the stylesheet, uncompressed


def _install_list(client) -> list[str]:
    worker = client.get("/sw.js").get_data(as_text=True)
    return re.findall(r'"([^"]+)"', re.search(r"const SHELL = \[(.*?)\];", worker, re.S).group(1))


def test_the_icon_every_page_declares_is_small(client, demo):
    page = client.get("/v/demo/").get_data(as_text=True)
    (icon,) = re.findall(r'<link rel="icon"[^>]*href="([^"]+)"', page)
    resp = client.get(icon)
    assert resp.status_code == 200 and len(resp.get_data()) <= FAVICON_BUDGET_BYTES, (icon, len(resp.get_data()))
    assert Image.open(io.BytesIO(resp.get_data())).size == (32, 32)
    assert 'sizes="32x32"' in re.search(r'<link rel="icon"[^>]*>', page).group(0)


def test_the_worker_installs_the_offline_page_and_its_stylesheet_only(client, demo):
    shell = _install_list(client)
    assert "/pwa/offline" in shell and "/static/portal.css" in shell
    assert not [url for url in shell if "/icons/" in url or url.endswith(".webmanifest")], shell
    sizes = {url: len(client.get(url).get_data()) for url in shell}
    assert sum(sizes.values()) <= INSTALL_BUDGET_BYTES, sizes
