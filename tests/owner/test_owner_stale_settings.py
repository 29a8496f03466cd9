"""The zone settings form saved from a stale tab (portal/owner/views.py `save_zone`, portal/apps/edits.py): only the
fields changed on that page are written over what is saved now, so another tab's change stays; a field changed in
both is refused (409, nothing stored) with both values kept, to save again; and the store writes nothing over an
assignment that changed after the merge read it."""

from __future__ import annotations

import html
import re

import pytest

from portal.apps import edits
from portal.apps.zone_apps import ZoneAppStore
from tests.owner.test_owner_switch_safety import refusal

PAGE = "/console/owner/demo/zone/jade"  # the demo runs the queue there


@pytest.fixture
def owner(console):
    console.login("jade")
    return console


def config_form(page: str) -> dict:
    """What the settings form sends, as the page shows it (a checkbox left off is absent)."""
    form = page[page.index('id="config-form"'):page.index("</form>", page.index('id="config-form"'))]
    data = {}
    for tag in re.findall(r"<input [^>]*>", form):
        attrs = dict(re.findall(r'([a-z_-]+)="([^"]*)"', tag))
        if "name" in attrs and (attrs.get("type") != "checkbox" or " checked" in tag):
            data[attrs["name"]] = html.unescape(attrs.get("value", "on"))
    data.update({name: html.unescape(text) for name, text in
                 re.findall(r'<textarea [^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S)})
    return data


def post(client, owner, data: dict):
    return client.post(PAGE + "?lang=en", data={**data, "csrf_token": owner.csrf()})


def test_two_tabs_changing_different_settings_keep_both(client, owner, svc):
    stale = config_form(client.get(PAGE).get_data(as_text=True))
    assert post(client, owner, {**stale, "headline_en": "New headline"}).status_code == 303  # tab 1
    assert post(client, owner, {**stale, "turn_minutes": "20"}).status_code == 303  # tab 2, opened before
    saved = svc.zone_apps.get("demo", "jade")[1]
    assert (saved["headline_en"], saved["turn_minutes"]) == ("New headline", 20)


def test_a_setting_changed_in_both_tabs_is_refused_and_kept_to_save_again(client, owner, svc):
    stale = config_form(client.get(PAGE).get_data(as_text=True))
    assert post(client, owner, {**stale, "headline_en": "Tab one"}).status_code == 303
    before = svc.zone_apps.get("demo", "jade")
    resp = post(client, owner, {**stale, "headline_en": "Tab two", "turn_minutes": "20"})
    assert resp.status_code == 409
    assert "Changed elsewhere since you opened this page: Headline (English): “Tab one”." in html.unescape(
        refusal(resp))
    assert svc.zone_apps.get("demo", "jade") == before  # nothing stored
    again = config_form(resp.get_data(as_text=True))
    assert (again["headline_en"], again["turn_minutes"]) == ("Tab two", "20")  # what this tab typed
    assert post(client, owner, again).status_code == 303
    saved = svc.zone_apps.get("demo", "jade")[1]
    assert (saved["headline_en"], saved["turn_minutes"]) == ("Tab two", 20)


def test_a_stale_tab_does_not_switch_back_a_zone_switched_meanwhile(client, owner, svc):
    stale = config_form(client.get(PAGE).get_data(as_text=True))
    svc.zone_apps.set("demo", "jade", "coupons", {})  # another tab (or the operator) switched it
    resp = post(client, owner, {**stale, "headline_en": "Back to the queue?"})
    assert resp.status_code == 409 and "Landing app: " in refusal(resp)
    assert svc.zone_apps.get("demo", "jade")[0] == "coupons"


def test_a_form_without_what_it_showed_saves_what_it_sent(client, owner, svc):
    """A script's post (no `loaded` field) is saved as sent, as before."""
    sent = {k: v for k, v in config_form(client.get(PAGE).get_data(as_text=True)).items() if k != edits.LOADED}
    svc.zone_apps.set("demo", "jade", "queue", {**svc.zone_apps.get("demo", "jade")[1], "turn_minutes": 30})
    assert post(client, owner, sent).status_code == 303
    assert svc.zone_apps.get("demo", "jade")[1]["turn_minutes"] == 15


def test_the_store_writes_nothing_over_an_assignment_that_changed_since(db):
    zone_apps = ZoneAppStore(db)
    assert zone_apps.get_versioned("demo", "jade") == ("directory", {}, edits.version(None))  # none yet
    assert zone_apps.set("demo", "jade", "queue", {"turn_minutes": 15}, expected=edits.version(None))
    _app, config, version = zone_apps.get_versioned("demo", "jade")
    assert zone_apps.set("demo", "jade", "queue", {**config, "turn_minutes": 20}, expected=version)
    assert not zone_apps.set("demo", "jade", "queue", {**config, "turn_minutes": 25}, expected=version)
    assert zone_apps.get("demo", "jade") == ("queue", {"turn_minutes": 20})
    assert zone_apps.kept_config("demo", "jade", "queue") == {"turn_minutes": 20}
