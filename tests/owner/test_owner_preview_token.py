"""The zone page's preview carries one token per account and venue, reused: viewing the page again (any zone)
stores no new shopper token (each view used to store a new 30-day one)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from portal.apps.preview import PreviewKeys, PreviewTokens
from portal.shopper import Shopper, ShopperKeys, token_store


def preview_token(client, zone: str) -> str:
    html = client.get(f"/console/owner/demo/zone/{zone}").get_data(as_text=True)
    src = re.search(r'<iframe id="preview" class="preview" src="([^"]+)"', html).group(1).replace("&amp;", "&")
    link = re.search(r'id="preview-link" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert src == link
    return parse_qs(urlsplit(src).query)["c"][0]


def token_records(db) -> int:
    return len(db.keys(ShopperKeys("demo").token("*")))


def test_viewing_the_zone_page_again_stores_no_new_token(app, client, console, db):
    console.login("ops")
    first = preview_token(client, "kopi")
    records = token_records(db)
    for zone in ["kopi"] * 20 + ["pixel", "cinema"]:
        assert preview_token(client, zone) == first
    assert token_records(db) == records
    assert len(db.smembers(ShopperKeys("demo").tokens_of("preview-ops"))) == 1
    with app.app_context():
        assert token_store(app).resolve(first) == Shopper("demo", "preview-ops")
    assert db.get(PreviewKeys("demo").shopper_token("ops")) and first.encode() not in db.get(
        PreviewKeys("demo").shopper_token("ops"))  # kept sealed


def test_each_account_has_its_own_and_a_dead_one_is_made_again(app, client, console, db):
    console.login("kopi")
    kopi = preview_token(client, "kopi")
    console.logout()
    console.login("pixel")
    pixel = preview_token(client, "pixel")
    assert pixel != kopi
    with app.app_context():
        token_store(app).revoke("demo", "preview-pixel")  # gone (expired, revoked): a new one
        fresh = preview_token(client, "pixel")
        assert fresh != pixel and token_store(app).resolve(fresh) == Shopper("demo", "preview-pixel")
    assert preview_token(client, "pixel") == fresh


def test_a_kept_token_sealed_under_another_key_is_made_again(app, db):
    made = iter(["demo.first", "demo.second"])
    kept = PreviewTokens(db, "one-secret", 3600)
    assert kept.token("demo", "ops", mint=lambda: next(made), resolves=lambda t: True) == "demo.first"
    assert kept.token("demo", "ops", mint=lambda: next(made), resolves=lambda t: True) == "demo.first"
    other = PreviewTokens(db, "another-secret", 3600)
    assert other.token("demo", "ops", mint=lambda: next(made), resolves=lambda t: True) == "demo.second"
    assert 3500 < db.ttl(PreviewKeys("demo").shopper_token("ops")) <= 3600
