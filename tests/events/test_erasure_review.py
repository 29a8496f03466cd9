"""Erasure review: a keep link issued before erasure no longer opens the erased shopper; the export lists the
cinema holds erasure unlinks; a group buy's notice keys name a member only through a keyed digest."""

from __future__ import annotations

import hashlib
import re
import time
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from lightapps.activities.store import ActivityStore
from lightapps.cinema.store import CinemaStore, ShowtimeInput
from portal.apps.notify import notify
from portal.hub.keep import KeepKeys, KeepStore
from portal.notify.contacts import ContactStore
from portal.notify.outbox import NotifyKeys, Outbox
from portal.shopper import Shopper, cookie_name, new_shopper, token_store
from tests.events.test_erasure_everywhere import mentions


@pytest.fixture
def shopper(app, demo):
    with app.app_context():
        who = new_shopper("demo")
        return who, token_store(app).mint(who)


def _keep_code(client, token: str) -> str:
    page = client.get(f"/v/demo/me?c={token}").get_data(as_text=True)
    link = unescape(re.search(r'id="keep-link" href="([^"]+)"', page).group(1))
    return parse_qs(urlsplit(link).query)["k"][0]


def test_a_keep_link_issued_before_erasure_no_longer_opens_the_shopper(client, db, shopper):
    who, token = shopper
    code = _keep_code(client, token)
    assert client.post("/v/demo/my-data/erase", data={"confirm": "1", "c": token}).status_code == 200
    assert not db.keys(KeepKeys("demo").code("*")) and not db.exists(KeepKeys("demo").of(who.client))
    browser = client.application.test_client()  # the real browser the link was copied into
    assert browser.get(f"/v/demo/keep?k={code}").status_code == 404
    assert browser.post("/v/demo/keep", data={"k": code}).status_code == 404
    assert browser.get_cookie(cookie_name("demo")) is None
    assert mentions(db, (who.client,)) == []


def test_keep_index_lists_live_codes_only_and_redeem_tidies_it(db, demo):
    store, keys = KeepStore(db, "a test install's secret"), KeepKeys("demo")
    first = store.issue("demo", "s-keep-a")
    assert store.issue("demo", "s-keep-a") == first  # one live code: every page shows it
    assert db.zcard(keys.of("s-keep-a")) == 1 and 0 < db.ttl(keys.of("s-keep-a")) <= 86400
    assert store.redeem("demo", first).client == "s-keep-a"
    second = store.issue("demo", "s-keep-a")  # spent: the next page shows a new one
    assert second != first and db.zcard(keys.of("s-keep-a")) == 2  # the spent one listed while it may repeat
    other = store.issue("demo", "s-keep-b")
    assert store.forget_shopper("demo", "s-keep-a") == 2
    assert not db.exists(keys.live("s-keep-a")) and not db.keys(keys.spent("*"))  # the spent one's answer too
    assert store.redeem("demo", second) is None and store.redeem("demo", first) is None
    assert store.redeem("demo", other).client == "s-keep-b"
    assert store.forget_shopper("demo", "s-keep-a") == 0


def test_export_lists_the_cinema_holds_erasure_unlinks(app, client, svc, shopper):
    who, token = shopper
    cinema = CinemaStore(svc.db)
    show_id = cinema.upsert_showtimes("demo", "cinema", [ShowtimeInput("Held Film", "保留电影", "1",
                                                                       int(time.time()) + 3600, 4200)],
                                      source="t")["ids"][0]
    show = cinema.showtime("demo", show_id)
    replaced = cinema.hold("demo", show, who.client, ["A1"], 300)
    live = cinema.hold("demo", show, who.client, ["B1", "B2"], 300)
    cinema.hold("demo", show, "s-someone-else", ["C1"], 300)
    holds = client.get(f"/v/demo/my-data/export.json?c={token}").get_json()["apps"]["cinema"]["holds"]
    # Two holds made in the same millisecond may come in either order: compare them as a set.
    assert sorted((h["show"], h["seats"], h["status"]) for h in holds) == [(show_id, ["A1"], "replaced"),
                                                                           (show_id, ["B1", "B2"], "held")]
    assert all(h["created_ms"] and h["expires_ms"] for h in holds)
    text = str(holds)
    assert replaced.token not in text and live.token not in text  # the hold's handle stays out of the file
    assert cinema.forget_shopper("demo", who.client) == 2  # the same two records erasure unlinks
    assert cinema.export_shopper("demo", who.client) == {}


def _join(client, app, item, member):
    with app.app_context():
        token = token_store(app).mint(Shopper("demo", member))
    return client.post(f"/v/demo/activities/{item.id}/join", data={"c": token})


def test_group_buy_notice_keys_name_the_member_only_through_a_keyed_digest(app, client, svc, db, demo):
    member = "s-group-keyed-5d1e"
    ContactStore(db, svc.settings.phone_key).set_phone("demo", member, "+8613800138001", "en")
    now = time.time()
    item = ActivityStore(db).create("demo", "atrium", {
        "kind": "group", "title_en": "Noodles", "title_zh": "面", "starts_at": now, "ends_at": now + 3600,
        "limit": 0, "needed": 2})
    unkeyed = hashlib.blake2s(member.encode(), digest_size=12).hexdigest()
    with app.test_request_context():  # a "group buy off" scheduled before the keyed digest
        assert notify("demo", member, "activities.group_failed", {"title": "Noodles", "path": "/"},
                      key=f"activities.group_failed:{item.id}:{unkeyed}", at=item.ends_at)
    assert _join(client, app, item, member).status_code == 303
    seen = [k.decode() for k in db.keys(NotifyKeys("demo").seen("*")) if f":{item.id}:" in k.decode()
            and unkeyed not in k.decode()]
    assert len(seen) == 1 and member not in seen[0]
    assert unkeyed not in " ".join(mentions(db, (member,)))
    assert _join(client, app, item, "s-group-other-77").status_code == 303  # complete: withdraws both notices
    assert Outbox(db).stats("demo")["scheduled"] == 0
