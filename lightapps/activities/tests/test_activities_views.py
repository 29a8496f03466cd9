"""Activities pages, the outbound-link redirect and the owner console through the Flask test client:
happy paths, bad input (clear 4xx, nothing stored) and who may call what."""

from __future__ import annotations

import re
import time
from datetime import datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from lightapps.activities import APP
from lightapps.activities.demo import seed as seed_demo
from lightapps.activities.store import ActivityKeys

CONSOLE = "/console/apps/activities/demo"


def local(ts: float) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")  # the venue's clock


def new_event(acts, capacity=2, zone="atrium", **over):
    now = time.time()
    fields = {"kind": "event", "title_en": "Test talk", "title_zh": "测试讲座", "starts_at": now + 3600,
              "ends_at": now + 7200, "limit": capacity}
    fields.update(over)
    return acts.create("demo", zone, fields)


def n_items(db) -> int:
    return len(db.keys(ActivityKeys("demo").item("*")))


# ---- registration and demo ------------------------------------------------------------------------


def test_registered_and_demo_seeded_once(app, svc, demo, demo_map, acts):
    from portal.apps import registry

    assert registry.get("activities") is APP
    assert "activities_console.home" in app.view_functions
    assert getattr(APP, "console_endpoint", "activities_console.home") == "activities_console.home"
    items = acts.for_zone("demo", "atrium")
    assert sorted(a.kind for a in items) == ["event", "event", "group", "sale", "sale"]
    assert len(acts.links_for_zone("demo", "atrium")) == 1
    with app.app_context():
        seed_demo(svc, demo_map)
    assert len(acts.for_zone("demo", "atrium")) == 5


# ---- shopper pages ----------------------------------------------------------------------------------


def test_atrium_landing_lists_everything_with_c_token(client, demo, token):
    resp = client.get(f"/v/demo/zone/atrium/activities?c={token()}")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and len(resp.data) < 100_000
    for text in ("Lion dance and drums", "Wireless earbuds", "Family cinema pack", "0 of 10 joined",
                 "Starts ", "Pixel Electronics online shop", "What&#39;s on in the mall"):
        assert text in page, text
    assert f'name="c" value="{token()}"' in page
    zh = client.get(f"/v/demo/zone/atrium/activities?c={token()}&lang=zh").get_data(as_text=True)
    assert "舞狮迎春" in zh and "商场活动" in zh


def test_demo_activities_read_in_chinese_without_english_fallbacks(client, demo, acts, token):
    """Every demo activity has its Chinese description: a zh page shows none in English tagged EN."""
    landing = client.get(f"/v/demo/zone/atrium/activities?c={token()}&lang=zh").get_data(as_text=True)
    assert 'class="lang-tag"' not in landing
    for item in acts.for_zone("demo", "atrium"):
        assert item.description_zh, item.title_en
        page = client.get(f"/v/demo/activities/{item.id}?c={token()}&lang=zh").get_data(as_text=True)
        assert item.description_zh in page and 'class="lang-tag"' not in page, item.title_en


@pytest.mark.parametrize("url", ["/v/nowhere/zone/atrium/activities", "/v/demo/zone/nowhere/activities",
                                 "/v/demo/zone/kopi/activities", "/v/demo/activities/999", "/v/demo/activities/x",
                                 "/v/demo/out/nosuchlink", "/v/demo/out/../../x"])
def test_404s(client, demo, url):
    assert client.get(url).status_code == 404


def test_sign_up_for_an_event(client, demo, acts, token):
    e = new_event(acts)
    resp = client.post(f"/v/demo/activities/{e.id}/join", data={"c": token()})
    assert resp.status_code == 303 and "c=" in resp.headers["Location"] and "joined=1" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "You are signed up" in page and "1 of 2 places left" in page
    code = acts.joined("demo", "alice", [e.id])[e.id]
    assert code in page
    again = client.post(f"/v/demo/activities/{e.id}/join", data={"c": token()})
    assert again.status_code == 303 and "joined" not in again.headers["Location"]
    assert acts.get("demo", e.id).taken == 1
    client.post(f"/v/demo/activities/{e.id}/join", data={"c": token("bob")})
    full = client.post(f"/v/demo/activities/{e.id}/join", data={"c": token("carol")})
    assert full.status_code == 409 and "no places" in full.get_data(as_text=True)
    assert acts.get("demo", e.id).taken == 2
    mine = client.get(f"/v/demo/activities/mine?c={token()}").get_data(as_text=True)
    assert "Test talk" in mine and code in mine


def test_join_refusals(client, demo, acts, token):
    now = time.time()
    early = acts.create("demo", "atrium", {"kind": "sale", "title_en": "Soon", "starts_at": now + 600,
                                           "ends_at": now + 3600, "limit": 5})
    resp = client.post(f"/v/demo/activities/{early.id}/join", data={"c": token()})
    assert resp.status_code == 403 and "not started" in resp.get_data(as_text=True)
    over = acts.create("demo", "atrium", {"kind": "group", "title_en": "Late", "ends_at": now + 0.2, "needed": 2})
    time.sleep(0.3)
    resp = client.post(f"/v/demo/activities/{over.id}/join", data={"c": token()})
    assert resp.status_code == 410
    page = client.get(f"/v/demo/activities/{over.id}").get_data(as_text=True)
    assert "Did not reach its goal" in page and "0 of 2 joined" in page
    assert client.post("/v/demo/activities/999/join", data={"c": token()}).status_code == 404
    assert acts.get("demo", early.id).taken == 0 and acts.get("demo", over.id).taken == 0


def test_group_buy_page_shows_success_after_the_deadline(client, demo, acts, token):
    g = acts.create("demo", "atrium", {"kind": "group", "title_en": "Pack", "ends_at": time.time() + 3600,
                                       "needed": 2})
    for who in ("a", "b"):
        assert client.post(f"/v/demo/activities/{g.id}/join", data={"c": token(who)}).status_code == 303
    page = client.get(f"/v/demo/activities/{g.id}?c={token('a')}").get_data(as_text=True)
    assert "2 of 2 joined" in page and "Goal reached" in page
    # The deadline passes (moved into the past in the store: no sleep racing a slow machine's joins)
    acts.db.hset(ActivityKeys("demo").item(g.id), "ends_at", repr(time.time() - 1))
    page = client.get(f"/v/demo/activities/{g.id}?c={token('a')}").get_data(as_text=True)
    assert "Succeeded" in page and "goes ahead" in page
    assert acts.get("demo", g.id).outcome == "succeeded"


def test_outbound_link_adds_attribution_and_counts(client, demo, acts, token):
    link = acts.links_for_zone("demo", "atrium")[0]
    resp = client.get(f"/v/demo/out/{link.id}?c={token()}")
    assert resp.status_code == 302 and resp.headers["Cache-Control"] == "no-store"
    target = urlsplit(resp.headers["Location"])
    assert target.netloc == "shop.example.com"
    q = parse_qs(target.query)
    assert q["utm_source"] == ["mallportal"] and q["utm_medium"] == ["wifi"] and q["ref"] == ["mall"]
    assert q["utm_campaign"] == [link.campaign] and link.campaign.startswith("wireless-earbuds-")
    assert "c=" not in resp.headers["Location"]
    client.get(f"/v/demo/out/{link.id}")
    got = acts.link("demo", link.id)
    assert (got.clicks, got.shoppers) == (2, 1)
    # No open redirect: the target comes only from the stored link; request parameters are ignored.
    resp = client.get(f"/v/demo/out/{link.id}?url=https://evil.example/&next=https://evil.example/")
    assert "evil" not in resp.headers["Location"]


def test_links_stop_when_the_zone_no_longer_runs_the_app(client, svc, demo, acts):
    link = acts.links_for_zone("demo", "atrium")[0]
    svc.zone_apps.set("demo", "atrium", "directory", {})
    assert client.get(f"/v/demo/out/{link.id}").status_code == 404


# ---- owner console -----------------------------------------------------------------------------------


def test_console_who_may_call(client, console, acts):
    e = new_event(acts)
    resp = client.get(f"{CONSOLE}/atrium/")
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    csrf = console.csrf()
    assert client.post(f"{CONSOLE}/atrium/new/event", data={"csrf_token": csrf}).status_code == 302
    console.login("kopi")
    csrf = console.csrf()
    assert client.get(f"{CONSOLE}/atrium/").status_code == 403
    assert client.post(f"{CONSOLE}/atrium/new/event", data={"title_en": "X", "csrf_token": csrf}).status_code == 403
    assert client.post(f"{CONSOLE}/atrium/{e.id}/stop", data={"csrf_token": csrf}).status_code == 403
    assert client.post(f"{CONSOLE}/atrium/links/new", data={"csrf_token": csrf}).status_code == 403
    # kopi's own zone, but the activity is the atrium's: not found there.
    assert client.post(f"{CONSOLE}/kopi/{e.id}/stop", data={"csrf_token": csrf}).status_code == 404
    assert acts.get("demo", e.id).status == "live"
    console.logout()
    console.login("events")
    assert client.get(f"{CONSOLE}/atrium/").status_code == 200
    assert client.get(f"{CONSOLE}/kopi/").status_code == 403
    assert client.post(f"{CONSOLE}/atrium/{e.id}/stop").status_code == 400  # no CSRF token
    assert client.post(f"{CONSOLE}/atrium/{e.id}/stop", data={"csrf_token": console.csrf(),
                                                               "confirm": "yes"}).status_code == 303
    assert acts.get("demo", e.id).status == "stopped"


def test_console_creates_all_three_kinds_and_shows_counts(client, console, acts, token):
    console.login("events")
    csrf = console.csrf()
    now = time.time()
    common = {"csrf_token": csrf, "starts_at": local(now + 7200), "ends_at": local(now + 10800)}
    resp = client.post(f"{CONSOLE}/atrium/new/event", data=common | {"title_en": "Quiz night", "capacity": "30"})
    assert resp.status_code == 303 and "created=" in resp.headers["Location"]
    resp = client.post(f"{CONSOLE}/atrium/new/sale", data=common | {"title_en": "Blender", "stock": "10",
                                                                    "price": "¥199", "starts_at": local(now - 60)})
    assert resp.status_code == 303
    resp = client.post(f"{CONSOLE}/atrium/new/group", data=common | {"title_en": "Spa day", "needed": "5"})
    assert resp.status_code == 303
    blender = next(a for a in acts.for_zone("demo", "atrium") if a.title_en == "Blender")
    client.post(f"/v/demo/activities/{blender.id}/join", data={"c": token()})
    page = client.get(f"{CONSOLE}/atrium/").get_data(as_text=True)
    for text in ("Quiz night", "Blender", "Spa day"):
        assert text in page
    row = re.search(rf'id="activity-{blender.id}".*?class="taken">(.*?)</td>', page, re.S).group(1)
    assert row.strip() == "1 / 10"


@pytest.mark.parametrize("kind, data, field_text", [
    ("event", {"title_en": "", "capacity": "5"}, "title is required"),
    ("event", {"title_en": "X", "capacity": "0"}, "Capacity (places) must be between 1 and"),
    ("sale", {"title_en": "X", "stock": "abc"}, "Stock must be a whole number"),
    ("group", {"title_en": "X", "needed": "1"}, "People needed must be between 2 and"),
    ("event", {"title_en": "X", "capacity": "5", "starts_at": "nope"}, "Starts (sign-up closes then) must be a date"),
    ("sale", {"title_en": "X", "stock": "5", "ends_at": "nope"}, "Sale closes must be a date"),  # each kind's label
])
def test_console_bad_input_is_400_and_stores_nothing(client, console, acts, kind, data, field_text):
    console.login("events")
    before = n_items(acts.db)
    now = time.time()
    form = {"csrf_token": console.csrf(), "starts_at": local(now + 7200), "ends_at": local(now + 10800)} | data
    resp = client.post(f"{CONSOLE}/atrium/new/{kind}", data=form)
    assert resp.status_code == 400
    assert field_text in resp.get_data(as_text=True)
    assert n_items(acts.db) == before
    assert client.post(f"{CONSOLE}/atrium/new/party", data=form).status_code == 404


def error_text(resp, element: str = "form-error") -> str:
    return re.search(rf'id="{element}"[^>]*>(.*?)</p>', resp.get_data(as_text=True), re.S).group(1)


@pytest.mark.parametrize("kind, data, label, raw", [
    ("event", {"title_zh": "周末活动", "starts_at": ""}, "开始时间（届时截止报名）", "starts_at"),
    ("sale", {"title_zh": "限时抢购", "stock": "abc"}, "库存", "stock"),
    ("group", {"title_zh": "拼团", "ends_at": "nope"}, "截止时间", "ends_at"),
    ("event", {"title_zh": "", "title_en": ""}, "", "title"),
])
def test_form_errors_are_in_the_owners_language_naming_the_box(client, console, acts, kind, data, label, raw):
    console.login("events")
    now = time.time()
    form = {"csrf_token": console.csrf(), "starts_at": local(now + 7200), "ends_at": local(now + 10800)} | data
    resp = client.post(f"{CONSOLE}/atrium/new/{kind}?lang=zh", data=form)
    assert resp.status_code == 400
    text = error_text(resp)
    assert re.search(r"[\u4e00-\u9fff]", text) and label in text, text
    assert raw not in text and not re.match(r"\s*[a-z_]+:", text), text


def test_link_errors_are_in_the_owners_language(client, console, acts):
    console.login("events")
    resp = client.post(f"{CONSOLE}/atrium/links/new?lang=zh", data={"csrf_token": console.csrf(), "label_zh": "链接",
                                                                   "url": "javascript:alert(1)"})
    assert resp.status_code == 400
    text = error_text(resp, "link-error")
    assert "合作伙伴页面" in text and "url" not in text and not re.match(r"\s*[a-z_]+:", text), text


def test_console_links(client, console, acts):
    console.login("events")
    csrf = console.csrf()
    before = len(acts.links_for_zone("demo", "atrium"))
    bad = client.post(f"{CONSOLE}/atrium/links/new", data={"csrf_token": csrf, "label_en": "X",
                                                          "url": "javascript:alert(1)"})
    assert bad.status_code == 400
    assert "Partner page (https://...) must start with https://" in bad.get_data(as_text=True)
    other = new_event(acts, zone="kopi")
    bad = client.post(f"{CONSOLE}/atrium/links/new", data={"csrf_token": csrf, "label_en": "X",
                                                          "url": "https://x.example/", "activity": other.id})
    assert bad.status_code == 400
    assert len(acts.links_for_zone("demo", "atrium")) == before
    ok = client.post(f"{CONSOLE}/atrium/links/new", data={"csrf_token": csrf, "label_en": "Books online",
                                                         "url": "https://books.example.com/?a=1", "campaign": "Spring"})
    assert ok.status_code == 303
    page = client.get(f"{CONSOLE}/atrium/").get_data(as_text=True)
    assert "Books online" in page and "utm_campaign=spring" in page
