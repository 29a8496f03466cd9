"""The owner's texts in the zone settings: a text field the owner cleared stays empty (one language is enough,
the other page shows the owner's text tagged, README "Owner content: two languages"), the console's labels and
the car park entrance's errors are in the catalog, and an entrance off the venue's plan is refused."""

from __future__ import annotations

import html
import re

import pytest

from core.errors import CatalogInputError
from core.settings import DEFAULT_LIGHT_APPS, PROJECT_ROOT
from lightapps.parking.wayfinding import EntranceError, check_entrance, parse_entrance
from portal import errors
from portal.apps import registry
from portal.apps.registry import ConfigField
from portal.owner import forms
from portal.owner.babel_extract import config_field_strings
from portal.owner.forms import field_error

ZONE = "/console/owner/demo/zone/{zone}"


def save(client, console, zone: str, data: dict, lang: str = "en"):
    return client.post(ZONE.format(zone=zone) + f"?lang={lang}", data={"csrf_token": console.csrf(), **data})


def preview(client, zone: str, lang: str) -> str:
    """The zone's landing page as the console's preview link shows it."""
    page = client.get(ZONE.format(zone=zone) + f"?lang={lang}").get_data(as_text=True)
    link = html.unescape(re.search(r'id="preview-link" href="([^"]+)"', page).group(1))
    return client.get(link).get_data(as_text=True)


def stored(svc, zone: str) -> tuple[str, dict]:
    return svc.zone_apps.get("demo", zone)


# ---- a cleared text field stays empty ------------------------------------------------------------


@pytest.mark.parametrize("field_type", ["str", "text"])
def test_a_text_field_sent_empty_is_empty_and_one_not_sent_is_the_default(field_type):
    field = ConfigField("headline_zh", "Headline (Chinese)", type=field_type, default="今日优惠券")
    assert field.parse("") == "" and field.parse("   ") == ""
    assert field.parse(None) == "今日优惠券"
    assert field.parse(" 你好 ") == "你好"


def test_a_text_filled_to_its_box_with_line_breaks_fits():
    """A browser counts a textarea's line break as one character against maxlength and sends it as CRLF: a
    box filled to its limit was refused as too long. Stored with "\n" line breaks."""
    field = ConfigField("notes", "Notes", type="text", max_length=10)
    assert field.parse("abc\r\ndef\r\ngh") == "abc\ndef\ngh"  # 10 in the box, 12 as sent
    with pytest.raises(ValueError, match="at most 10 characters"):
        field.parse("abc\r\ndef\r\nghi")


def test_other_types_sent_empty_still_take_the_default():
    assert ConfigField("n", "N", type="int", default=4).parse("") == 4
    assert ConfigField("r", "R", type="float", default=0.5).parse("") == 0.5
    assert ConfigField("m", "M", type="choice", default="fast", choices=("fast", "slow")).parse("") == "fast"
    assert ConfigField("b", "B", type="bool", default=True).parse("") is False  # an unticked box


def test_a_required_text_of_only_spaces_is_refused():
    with pytest.raises(ValueError, match="Title is required"):
        ConfigField("title", "Title", required=True).parse("   ")


def pair_fields() -> list[tuple[str, str]]:
    """(app, name) of every `<name>_en` / `<name>_zh` pair in the apps' config schemas."""
    pairs = []
    for app in registry.load(DEFAULT_LIGHT_APPS).values():  # at collection, before any app is created
        names = {f.name for f in app.config_schema}
        pairs += [(app.name, n[:-3]) for n in sorted(names) if n.endswith("_en") and n[:-3] + "_zh" in names]
    return pairs


def test_the_apps_have_text_pairs():
    assert {"coupons", "games", "directory"} <= {app for app, _name in pair_fields()}


@pytest.mark.parametrize(("app_name", "name"), pair_fields())
def test_every_apps_text_pair_keeps_one_language_only(app_name, name):
    app = registry.get(app_name)
    for written, cleared in (("en", "zh"), ("zh", "en")):
        config = app.validate_config({**app.default_config(), f"{name}_{written}": "Owner's text",
                                      f"{name}_{cleared}": ""})
        assert config[f"{name}_{written}"] == "Owner's text" and config[f"{name}_{cleared}"] == "", name


def test_a_headline_in_english_only_is_what_the_chinese_page_shows_tagged(client, console, svc):
    console.login("kopi")
    deal = "Flash deal: 2-for-1 flat whites till 3pm"
    assert save(client, console, "kopi", {"app": "coupons", "headline_en": deal, "headline_zh": ""}).status_code == 303
    assert stored(svc, "kopi") == ("coupons", {"headline_en": deal, "headline_zh": ""})
    zh = preview(client, "kopi", "zh")
    assert deal in zh and "今日优惠券" not in zh and 'class="lang-tag" lang="en">EN<' in zh
    form = client.get(ZONE.format(zone="kopi") + "?lang=en").get_data(as_text=True)
    assert re.search(r'name="headline_zh" value=""', form)  # the form shows what the owner left, not the default


def test_the_prize_desk_in_english_only_is_what_the_chinese_page_names(client, console, svc):
    console.login("events")
    desk = "the Level 3 kiosk by Gate B"
    assert save(client, console, "atrium", {"app": "games", "desk_en": desk, "desk_zh": ""}).status_code == 303
    assert stored(svc, "atrium")[1] == {"desk_en": desk, "desk_zh": ""}
    zh = preview(client, "atrium", "zh")
    assert f'<span lang="en">{desk}</span> <small class="lang-tag" lang="en">EN</small>' in zh
    assert "服务台" not in zh
    en = preview(client, "atrium", "en")
    assert desk in en and "lang-tag" not in en


# ---- the console's labels and errors are in the catalog ------------------------------------------


def test_extractor_collects_the_labels_of_config_field_subclasses():
    source = '''
EntranceField("entrance", "Entrance label", help="Entrance help")
rules.HoursField("open_hours", label="Hours label")
FormField(field=f, value=v)
'''
    assert [text for _line, text in config_field_strings(source)] == ["Entrance label", "Entrance help",
                                                                     "Hours label"]


@pytest.mark.parametrize("app_name", ["parking", "queue"])
def test_every_label_and_help_of_the_apps_schemas_is_extracted(app_name):
    app = registry.get(app_name)
    source = (PROJECT_ROOT / "lightapps" / app_name / "__init__.py").read_text(encoding="utf-8")
    extracted = {text for _line, text in config_field_strings(source)}
    wanted = {s for field in app.config_schema for s in (field.label, field.help) if s}
    assert wanted <= extracted, wanted - extracted


@pytest.mark.parametrize(("raw", "template"), [
    ("B1;10;20", "Entrance must be floor,x,y in metres, e.g. 0,40,30"),
    ("0,x,3", "Entrance must be floor,x,y in metres, e.g. 0,40,30"),
    ("0,-5,10", "Entrance x and y must be metres on the plan"),
    ("0,nan,10", "Entrance x and y must be metres on the plan"),
])
def test_entrance_format_errors_carry_their_catalog_message(monkeypatch, raw, template):
    with pytest.raises(EntranceError) as caught:
        parse_entrance(raw)
    assert caught.value.template == template
    [field] = [f for f in registry.get("parking").config_schema if f.name == "entrance"]
    monkeypatch.setattr(errors, "_", lambda msgid, **params: f"translated: {msgid % params if params else msgid}")
    assert field_error(field, caught.value) == f"translated: {template}"  # through the catalog, not as raised


def test_a_catalog_error_naming_its_field_names_it_by_the_forms_translated_label(monkeypatch):
    """An app's rule error whose catalog message says %(label)s shows the field's label as the form shows it
    (it raised KeyError, a 500, when field_error passed no label)."""
    field = ConfigField("capacity", "Seats per table", type="int")
    exc = CatalogInputError("capacity", "%(label)s must be a whole number of seats (%(n)s given).", n="2.5")
    monkeypatch.setattr(forms, "_", lambda msgid, **params: f"<{msgid}>")
    monkeypatch.setattr(errors, "_", lambda msgid, **params: msgid % params)
    assert field_error(field, exc) == "<Seats per table> must be a whole number of seats (2.5 given)."


# ---- the entrance must lie on the venue's plan ---------------------------------------------------


def test_check_entrance_refuses_an_unknown_floor_and_a_point_off_the_plan(demo_map):
    check_entrance(demo_map, (0, 2, 58))
    with pytest.raises(EntranceError, match="floor 7 is not a floor of this venue"):
        check_entrance(demo_map, (7, 10, 10))
    with pytest.raises(EntranceError, match="off the plan: floor 0 is 120 by 60 metres"):
        check_entrance(demo_map, (0, 500, 10))


@pytest.mark.parametrize(("entrance", "message"), [
    ("7,99999,99999", "Entrance floor 7 is not a floor of this venue (its floors: 0, 1)"),
    ("0,500,10", "Entrance 500,10 is off the plan: floor 0 is 120 by 60 metres"),
])
def test_an_entrance_off_the_plan_is_refused_naming_the_field(client, console, svc, entrance, message):
    console.login("parking")
    before = stored(svc, "garage")
    resp = save(client, console, "garage", {"app": "parking", "entrance": entrance})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert re.search(rf'id="cfg-entrance-error">{re.escape(message)}<', page)
    assert stored(svc, "garage") == before


def test_an_entrance_on_the_plan_is_saved(client, console, svc):
    console.login("parking")
    assert save(client, console, "garage", {"app": "parking", "entrance": " 0, 2.0, 58 "}).status_code == 303
    assert stored(svc, "garage")[1]["entrance"] == "0,2,58"


# ---- the cinema console's hall names -------------------------------------------------------------


def test_the_cinema_console_names_the_halls_in_the_pages_language(client, console):
    console.login("cinema")
    zh = client.get("/console/apps/cinema/demo/cinema/?lang=zh").get_data(as_text=True)
    assert re.search(r'<option value="1"[^>]*>1号厅 \(', zh) and ">Hall 1 (" not in zh
    en = client.get("/console/apps/cinema/demo/cinema/?lang=en").get_data(as_text=True)
    assert re.search(r'<option value="1"[^>]*>Hall 1 \(', en)
