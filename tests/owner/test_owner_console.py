"""The zone-owner console: zone list, app picker, generated config form, validation, audit, preview,
and who may see or change what."""

from __future__ import annotations

import dataclasses
import re

import pytest

from portal.apps import registry
from portal.apps.registry import ConfigField, LightApp
from portal.auth import AuditLog

HOME = "/console/owner/demo/"


def zone_url(zone: str) -> str:
    return f"/console/owner/demo/zone/{zone}"


def assignment(svc, zone: str):
    return svc.zone_apps.get("demo", zone)


def audit_entries(svc, action_prefix: str = "zone.") -> list[dict]:
    return [e for e in AuditLog(svc.db).recent("demo", 1000) if e["action"].startswith(action_prefix)]


# ---- the zone list -------------------------------------------------------------------------------


def test_console_home_sends_an_owner_to_the_owner_console(client, console):
    console.login("cinema")
    resp = client.get("/console/")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(HOME)


def test_owner_sees_only_their_zones(client, console):
    console.login("foodcourt")
    page = client.get(HOME)
    assert page.status_code == 200
    zones = re.findall(r'data-zone="([^"]+)"', page.get_data(as_text=True))
    assert zones == ["foodcourt"]


def test_operator_sees_every_zone_of_the_venue(client, console, svc):
    console.login("ops")
    html = client.get(HOME).get_data(as_text=True)
    zones = set(re.findall(r'data-zone="([^"]+)"', html))
    assert zones == {z.id for z in svc.venues.get_map("demo").zones}


def test_zone_list_names_the_landing_app(client, console):
    console.login("cinema")
    html = client.get(HOME).get_data(as_text=True)
    assert "Cinema seats" in html
    html_zh = client.get(HOME + "?lang=zh").get_data(as_text=True)
    assert "影院选座" in html_zh and "您的区域" in html_zh


def test_logged_out_is_sent_to_login(client, demo):
    for url in (HOME, zone_url("cinema")):
        resp = client.get(url)
        assert resp.status_code == 302
        assert "/console/login" in resp.headers["Location"]


def test_logged_out_post_changes_nothing(client, console, svc):
    before = assignment(svc, "cinema")
    resp = client.post(zone_url("cinema"), data={"csrf_token": console.csrf(), "app": "directory"})
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    assert assignment(svc, "cinema") == before


def test_another_venue_is_forbidden(client, console):
    console.login("ops")
    assert client.get("/console/owner/elsewhere/").status_code == 403
    assert client.get("/console/owner/elsewhere/zone/cinema").status_code == 403


# ---- another owner's zone ------------------------------------------------------------------------


def test_owner_cannot_see_another_owners_zone(client, console):
    console.login("cinema")
    assert client.get(zone_url("garage")).status_code == 403
    assert client.get(zone_url("garage") + "?app=directory").status_code == 403
    assert client.get(zone_url("no-such-zone")).status_code == 403  # not even whether it exists


def test_owner_cannot_change_another_owners_zone(client, console, svc):
    console.login("cinema")
    before = assignment(svc, "foodcourt")
    resp = client.post(zone_url("foodcourt"), data={"csrf_token": console.csrf(), "app": "directory",
                                                     "welcome_en": "hijacked"})
    assert resp.status_code == 403
    assert assignment(svc, "foodcourt") == before
    assert audit_entries(svc) == []


def test_operator_may_manage_any_zone(client, console, svc):
    console.login("ops")
    assert client.get(zone_url("garage")).status_code == 200
    resp = client.post(zone_url("garage"), data={"csrf_token": console.csrf(), "app": "directory",
                                                 "welcome_en": "Park here", "welcome_zh": "在此停车"})
    assert resp.status_code == 303
    assert assignment(svc, "garage") == ("directory", {"welcome_en": "Park here", "welcome_zh": "在此停车"})


def test_unknown_zone_is_404_for_an_operator(client, console):
    console.login("ops")
    assert client.get(zone_url("no-such-zone")).status_code == 404


# ---- the zone page and its generated form ---------------------------------------------------------


def test_zone_page_shows_the_apps_and_the_current_apps_form(client, console, svc):
    console.login("cinema")
    html = client.get(zone_url("cinema")).get_data(as_text=True)
    for app in registry.all_apps():  # only the apps that fit a cinema and that an owner may turn on are offered
        offered = f'name="app" value="{app.name}"' in html
        assert offered == (app.fits("cinema") and app.may_assign("owner", "cinema")), app.name
        if offered:
            assert app.title_en in html and app.title_zh in html
    assert 'value="parking"' not in html and 'value="coupons"' not in html
    # the cinema's schema: an int field with its bounds, two text inputs
    assert re.search(r'<input type="number" id="cfg-hold_minutes" name="hold_minutes" value="8" step="1" '
                     r'min="2(\.0)?" max="30(\.0)?">', html)
    assert 'name="headline_en"' in html and 'name="headline_zh"' in html
    assert 'name="csrf_token"' in html


def test_zone_page_for_another_app_shows_its_form_with_defaults(client, console):
    console.login("cinema")
    html = client.get(zone_url("cinema") + "?app=directory").get_data(as_text=True)
    assert 'name="welcome_en"' in html and 'value="Welcome!"' in html
    assert 'name="hold_minutes"' not in html
    assert 'name="app" value="directory"' in html


def test_an_app_switched_away_from_and_back_shows_its_own_settings_again(client, console, svc):
    """Each app's last saved settings in the zone are kept: the owner switches the food court from the queue to
    coupons and back, and the queue's form shows the table classes they had typed (the picker says so)."""
    console.login("foodcourt")
    _app, config = svc.zone_apps.get("demo", "foodcourt")
    form = {k: ("on" if v is True else v) for k, v in config.items() if v is not False}
    form.update({"csrf_token": console.csrf(), "app": "queue", "table_classes": "A:1-2,B:3-6,C:7+",
                 "headline_zh": "老板写的标语"})
    assert client.post(zone_url("foodcourt"), data=form).status_code == 303
    other = client.get(zone_url("foodcourt") + "?app=coupons&lang=en").get_data(as_text=True)
    note = re.search(r'<p class="small" id="settings-kept">([^<]*)</p>', other)
    assert note and "The settings of Restaurant queue are kept" in note.group(1)
    assert 'id="settings-kept"' not in client.get(zone_url("foodcourt")).get_data(as_text=True)
    assert client.post(zone_url("foodcourt"), data={"csrf_token": console.csrf(), "app": "coupons"}).status_code == 303
    assert assignment(svc, "foodcourt")[0] == "coupons"
    back = client.get(zone_url("foodcourt") + "?app=queue").get_data(as_text=True)
    assert 'value="A:1-2,B:3-6,C:7-' in back and "老板写的标语" in back  # "7+": up to the largest party


def test_zone_page_with_unknown_or_unfitting_app_is_400(client, console, svc):
    console.login("cinema")
    assert client.get(zone_url("cinema") + "?app=nope").status_code == 400
    assert client.get(zone_url("cinema") + "?app=parking").status_code == 400  # a car park app in a cinema
    before = assignment(svc, "cinema")
    resp = client.post(zone_url("cinema"), data={"csrf_token": console.csrf(), "app": "parking"})
    assert resp.status_code == 400 and assignment(svc, "cinema") == before


def test_save_config_stores_it_and_writes_the_audit_log(client, console, svc):
    console.login("cinema")
    resp = client.post(zone_url("cinema"), data={"csrf_token": console.csrf(), "app": "cinema",
                                                  "hold_minutes": "10", "headline_en": "Hi",
                                                  "headline_zh": "你好"})
    assert resp.status_code == 303
    assert resp.headers["Location"].endswith(zone_url("cinema"))
    assert assignment(svc, "cinema") == ("cinema", {"hold_minutes": 10, "refund_cutoff_minutes": 60,
                                                    "headline_en": "Hi", "headline_zh": "你好"})
    [entry] = audit_entries(svc)
    assert entry["user"] == "cinema" and entry["action"] == "zone.config.set"
    assert entry["detail"]["zone"] == "cinema" and entry["detail"]["changed"]["hold_minutes"] == 10
    page = client.get(zone_url("cinema")).get_data(as_text=True)
    assert re.search(r"Settings of Cinema seats changed: Seat hold \(minutes\), [^<]*Headline \(English\)", page)
    assert "zone.config.set" not in page  # recent changes in words, not event names
    assert 'value="10"' in page


def test_changing_the_landing_app_is_audited(client, console, svc):
    console.login("cinema")
    resp = client.post(zone_url("cinema"), data={"csrf_token": console.csrf(), "app": "directory",
                                                  "welcome_en": "Hello", "welcome_zh": "你好"})
    assert resp.status_code == 303
    assert assignment(svc, "cinema")[0] == "directory"
    [entry] = audit_entries(svc)
    assert entry["action"] == "zone.app.set"
    assert entry["detail"]["previous"] == "cinema" and entry["detail"]["app"] == "directory"


@pytest.mark.parametrize("value, message", [
    ("99", "must be at most 30"),
    ("1", "must be at least 2"),
    ("abc", "must be a number"),
    ("9" * 5000, "must be a number"),
])
def test_invalid_config_is_refused_and_nothing_is_saved(client, console, svc, value, message):
    console.login("cinema")
    before = assignment(svc, "cinema")
    resp = client.post(zone_url("cinema"), data={"csrf_token": console.csrf(), "app": "cinema",
                                                  "hold_minutes": value, "headline_en": "changed"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'id="cfg-hold_minutes-error"' in html and message in html
    assert "Nothing was saved" in html
    assert 'value="changed"' in html  # the owner's input is kept in the form
    assert assignment(svc, "cinema") == before
    assert audit_entries(svc) == []


def test_too_long_text_is_refused(client, console, svc):
    console.login("cinema")
    before = assignment(svc, "cinema")
    resp = client.post(zone_url("cinema"), data={"csrf_token": console.csrf(), "app": "cinema",
                                                  "hold_minutes": "8", "headline_en": "x" * 201})
    assert resp.status_code == 422
    assert "at most 200 characters" in resp.get_data(as_text=True)
    assert assignment(svc, "cinema") == before


def test_validation_errors_in_chinese(client, console):
    console.login("cinema")
    resp = client.post(zone_url("cinema") + "?lang=zh", data={"csrf_token": console.csrf(), "app": "cinema",
                                                               "hold_minutes": "99"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "座位保留时间（分钟）不能大于 30。" in html
    assert "未保存任何内容" in html


@pytest.mark.parametrize("data", [{}, {"app": ""}, {"app": "no-such-app"}, {"app": "x" * 500}])
def test_bad_app_name_is_400_and_nothing_is_saved(client, console, svc, data):
    console.login("cinema")
    before = assignment(svc, "cinema")
    resp = client.post(zone_url("cinema"), data={"csrf_token": console.csrf(), **data})
    assert resp.status_code == 400
    assert assignment(svc, "cinema") == before


def test_post_without_csrf_token_is_refused(client, console, svc):
    console.login("cinema")
    before = assignment(svc, "cinema")
    resp = client.post(zone_url("cinema"), data={"app": "directory"})
    assert resp.status_code == 400
    assert assignment(svc, "cinema") == before


# ---- every field type of the schema --------------------------------------------------------------


@pytest.fixture
def kitchen_sink(app, monkeypatch):
    """A light app with every kind of config field, registered for the test only."""
    sink = LightApp(
        name="zz_sink", title_en="Every field", title_zh="所有字段", blueprint=registry.get("directory").blueprint,
        landing_endpoint="directory.landing",
        config_schema=(
            ConfigField("title", "Title", required=True, max_length=20, help="Shown at the top."),
            ConfigField("seats", "Seats", type="int", default=4, min=1, max=12),
            ConfigField("ratio", "Ratio", type="float", default=0.5, min=0, max=1),
            ConfigField("open", "Open now", type="bool", default=True),
            ConfigField("mode", "Mode", type="choice", default="fast", choices=("fast", "slow")),
            ConfigField("notes", "Notes", type="text", default="", max_length=50),
        ),
        zone_kinds=("cinema",),
    )
    monkeypatch.setitem(registry._REGISTRY, sink.name, sink)
    return sink


def test_form_renders_every_field_type(client, console, kitchen_sink):
    console.login("cinema")
    html = client.get(zone_url("cinema") + "?app=zz_sink").get_data(as_text=True)
    assert re.search(r'<input type="text" id="cfg-title" name="title" value="" maxlength="20">', html)
    assert "Title *" in html and "Shown at the top." in html
    assert re.search(r'id="cfg-seats" name="seats" value="4" step="1"', html)
    assert re.search(r'id="cfg-ratio" name="ratio" value="0.5" step="any"', html)
    assert re.search(r'<input type="checkbox" id="cfg-open" name="open" checked>', html)
    assert re.search(r'<select id="cfg-mode" name="mode">\s*<option value="fast" selected>fast</option>'
                     r'<option value="slow">slow</option>', html)
    assert re.search(r'<textarea id="cfg-notes" name="notes" rows="4" maxlength="50"></textarea>', html)


def test_every_bad_field_gets_its_own_message(client, console, svc, kitchen_sink):
    console.login("cinema")
    before = assignment(svc, "cinema")
    resp = client.post(zone_url("cinema"), data={"csrf_token": console.csrf(), "app": "zz_sink", "title": "",
                                                  "seats": "13", "ratio": "x", "mode": "medium", "notes": "n" * 51})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    for name, text in [("title", "Title is required."), ("seats", "Seats must be at most 12."),
                       ("ratio", "Ratio must be a number."), ("mode", "Mode must be one of: fast, slow."),
                       ("notes", "Notes must be at most 50 characters.")]:
        assert re.search(rf'id="cfg-{name}-error">{re.escape(text)}<', html), name
    assert 'id="cfg-open-error"' not in html
    assert assignment(svc, "cinema") == before


def test_every_field_type_is_saved_typed(client, console, svc, kitchen_sink):
    console.login("cinema")
    resp = client.post(zone_url("cinema"), data={"csrf_token": console.csrf(), "app": "zz_sink", "title": " Hi ",
                                                  "seats": "12", "ratio": "0.25", "mode": "slow", "notes": "ok"})
    assert resp.status_code == 303
    assert assignment(svc, "cinema") == ("zz_sink", {"title": "Hi", "seats": 12, "ratio": 0.25, "open": False,
                                                     "mode": "slow", "notes": "ok"})
    html = client.get(zone_url("cinema")).get_data(as_text=True)
    assert re.search(r'<input type="checkbox" id="cfg-open" name="open">', html)  # saved off, shown off


# ---- preview and the app's own console ----------------------------------------------------------


def test_preview_is_the_landing_page_with_a_preview_shopper(client, console):
    console.login("cinema")
    html = client.get(zone_url("cinema")).get_data(as_text=True)
    src = re.search(r'<iframe id="preview" class="preview" src="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert src.startswith("/v/demo/") and "c=" in src
    page = client.get(src)
    assert page.status_code == 200
    from portal.shopper import token_store

    with client.application.test_request_context():
        token = re.search(r"[?&]c=([^&]+)", src).group(1)
        shopper = token_store().resolve(token)
    assert shopper.venue == "demo" and shopper.client == "preview-cinema"


def test_preview_follows_the_saved_app(client, console):
    console.login("kopi")
    client.post(zone_url("kopi"), data={"csrf_token": console.csrf(), "app": "directory",
                                        "welcome_en": "Coffee time", "welcome_zh": "咖啡时间"})
    html = client.get(zone_url("kopi")).get_data(as_text=True)
    src = re.search(r'id="preview-link" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert src.startswith("/v/demo/zone/kopi")
    assert "Coffee time" in client.get(src).get_data(as_text=True)


def test_app_console_link_only_when_the_app_has_one(client, console, app, monkeypatch):
    console.login("cinema")
    cinema = registry.get("cinema")
    plain = dataclasses.replace(cinema, console_endpoint=None)
    monkeypatch.setitem(registry._REGISTRY, "cinema", plain)
    assert 'id="app-console"' not in client.get(zone_url("cinema")).get_data(as_text=True)
    endpoint = next(e for e in app.view_functions if e.startswith("cinema_console."))
    monkeypatch.setitem(registry._REGISTRY, "cinema", dataclasses.replace(cinema, console_endpoint=endpoint))
    html = client.get(zone_url("cinema")).get_data(as_text=True)
    assert re.search(r'id="app-console" href="/console/apps/cinema/demo/cinema/', html)
    assert "/console/apps/cinema/demo/cinema/" in client.get(HOME).get_data(as_text=True)
    # an endpoint that does not exist is not linked (no 500)
    monkeypatch.setitem(registry._REGISTRY, "cinema", dataclasses.replace(cinema, console_endpoint="nope.home"))
    assert 'id="app-console"' not in client.get(zone_url("cinema")).get_data(as_text=True)


def test_zone_page_in_chinese(client, console):
    console.login("cinema")
    html = client.get(zone_url("cinema") + "?lang=zh").get_data(as_text=True)
    assert "落地应用" in html and "座位保留时间（分钟）" in html and "保存" in html
