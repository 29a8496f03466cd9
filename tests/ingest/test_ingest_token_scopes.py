"""Token scopes on the RSSI feeds: a token issued with no scope named (ingest only, what an AP relay or a
scanner gets) still reports through every token-authenticated feed; a token issued only for a light app's
API (a POS) cannot report; a token issued before scopes existed is an ingest token."""

from __future__ import annotations

import base64
import time

import pytest

from core.security import hash_token, new_token
from portal.ingest.tokens import INGEST, ApiTokenStore, TokenKeys


def native_body(feeds) -> dict:
    return {"ap": feeds.AP1, "observations": [{"client": feeds.PHONE, "rssi": -61, "ts": time.time()}]}


def basic(token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"scanner:{token}".encode()).decode()}


def test_a_default_token_is_an_ingest_token(svc):
    token = svc.tokens.issue("demo", "ap-floor1-openwrt-relay")
    source = svc.tokens.source_for("demo", token)
    assert source.label == "ap-floor1-openwrt-relay" and source.scopes == {INGEST}


def test_a_default_token_reports_through_every_token_feed(feeds, svc):
    feeds.token = svc.tokens.issue("demo", "ap-floor1-openwrt-relay")
    assert feeds.native(native_body(feeds)).status_code == 202
    assert feeds.openwrt(feeds.event()).status_code == 202
    assert feeds.find3(feeds.passive()).status_code == 202
    assert feeds.find3(feeds.passive(), headers=basic(feeds.token)).status_code == 202  # FIND3's URL form
    assert feeds.readings(feeds.PHONE)


def test_a_token_with_another_scope_cannot_report(feeds, svc):
    pos = svc.tokens.issue("demo", "pos-pixel", scopes=["membership"])
    for answer in (feeds.native(native_body(feeds), token=pos), feeds.openwrt(feeds.event(), token=pos),
                   feeds.find3(feeds.passive(), headers=basic(pos))):
        assert answer.status_code == 403
        assert "'ingest' scope" in answer.get_json()["error"]
    assert feeds.nothing_stored()


def test_a_token_issued_before_scopes_is_ingest_only(feeds, svc, db):
    """What an older release stored: the digest -> the label, nothing more."""
    legacy = new_token()
    db.hset(TokenKeys("demo").tokens(), hash_token(legacy), "old-relay")
    assert svc.tokens.source_for("demo", legacy).scopes == {INGEST}
    assert feeds.openwrt(feeds.event(), token=legacy).status_code == 202
    answer = feeds.client.post("/api/v1/venues/demo/parking/events", json={"events": []},
                               headers=feeds.auth(legacy))
    assert answer.status_code == 403 and "'parking' scope" in answer.get_json()["error"]


def test_unknown_and_missing_tokens_stay_401(feeds, svc):
    assert feeds.native(native_body(feeds), token=None).status_code == 401
    assert feeds.native(native_body(feeds), token="not-a-token").status_code == 401
    other = svc.tokens.issue("elsewhere", "other-venue", scopes=["ingest", "membership"])
    assert feeds.native(native_body(feeds), token=other).status_code == 401  # another venue's token
    assert feeds.nothing_stored()


@pytest.mark.parametrize("scopes", [[], [""], ["Membership"], ["parking events"], ["x" * 33], [None]])
def test_the_store_refuses_malformed_scopes(db, scopes):
    store = ApiTokenStore(db)
    with pytest.raises(ValueError):
        store.issue("demo", "bad", scopes=scopes)
    assert not db.exists(TokenKeys("demo").tokens())


def test_revoke_forgets_label_and_scopes(db):
    store = ApiTokenStore(db)
    token = store.issue("demo", "till", scopes=["membership", "ingest"])
    assert store.source_for("demo", token).scopes == {"membership", "ingest"}
    store.revoke("demo", token)
    assert store.source_for("demo", token) is None
    assert not db.exists(TokenKeys("demo").tokens())
