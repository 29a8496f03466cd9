"""The zone console: previewing unsaved settings, apps offered by zone kind, history in words."""

from __future__ import annotations

import re

from portal.apps.preview import PreviewKeys


def zone_url(zone: str) -> str:
    return f"/console/owner/demo/zone/{zone}"


def test_preview_shows_unsaved_settings_and_publishes_nothing(client, console, svc, db):
    console.login("kopi")
    before = svc.zone_apps.get("demo", "kopi")
    resp = client.post(zone_url("kopi"), data={"csrf_token": console.csrf(), "app": "directory",
                                               "action": "preview", "welcome_en": "Not yet live",
                                               "welcome_zh": "尚未发布"})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'id="preview-unsaved-note"' in html and 'value="Not yet live"' in html
    assert svc.zone_apps.get("demo", "kopi") == before  # nothing published
    src = re.search(r'<iframe id="preview" class="preview" src="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "preview=" in src and src.startswith("/v/demo/zone/kopi")
    assert "Not yet live" in client.get(src).get_data(as_text=True)
    # the same page without the preview id, or with a forged one, is what shoppers get: the saved settings
    plain = re.sub(r"[?&]preview=[^&]+", "", src)
    assert "Not yet live" not in client.get(plain).get_data(as_text=True)
    assert client.get(src.replace("preview=", "preview=x")).status_code == 404  # kopi does not run directory
    # a preview id is for its zone only
    preview_id = re.search(r"preview=([^&]+)", src).group(1)
    assert db.ttl(PreviewKeys("demo").preview(preview_id)) > 0
    other = client.get(f"/v/demo/zone/books?preview={preview_id}&lang=en").get_data(as_text=True)
    assert "Not yet live" not in other


def test_preview_with_bad_settings_is_422_and_stores_nothing(client, console, db):
    console.login("cinema")
    before = set(db.scan_iter(PreviewKeys("demo").preview("*")))
    resp = client.post(zone_url("cinema"), data={"csrf_token": console.csrf(), "app": "cinema",
                                                   "action": "preview", "hold_minutes": "999"})
    assert resp.status_code == 422 and 'id="preview-unsaved-note"' not in resp.get_data(as_text=True)
    assert set(db.scan_iter(PreviewKeys("demo").preview("*"))) == before


def test_history_reads_in_words_in_both_languages(client, console):
    console.login("kopi")
    client.post(zone_url("kopi"), data={"csrf_token": console.csrf(), "app": "directory",
                                        "welcome_en": "Hi", "welcome_zh": "你好"})
    html = client.get(zone_url("kopi") + "?lang=en").get_data(as_text=True)
    history = html.split('id="history"')[1].split("</ul>")[0]
    assert "Landing app changed to Mall directory (was E-coupons)" in history
    assert "zone.app.set" not in history
    zh = client.get(zone_url("kopi") + "?lang=zh").get_data(as_text=True).split('id="history"')[1]
    assert "落地应用改为 商场导览（原为 电子优惠券）" in zh.split("</ul>")[0]


def test_coupon_console_offers_the_camera_scanner_with_the_typed_code_as_fallback(client, console):
    console.login("kopi")
    page = client.get("/console/apps/coupons/demo/kopi/").get_data(as_text=True)
    assert 'id="code" name="code"' in page  # typing the code always works
    assert 'data-scan-into="code"' in page and " hidden>" in page.split('id="scanner"')[1].split("\n")[0]
    assert "/static/scan.js" in page and "vendor/html5-qrcode/html5-qrcode.min.js" in page
    lib = client.get("/static/vendor/html5-qrcode/html5-qrcode.min.js")
    assert lib.status_code == 200 and b"__Html5QrcodeLibrary__" in lib.data
    lib.close()
