"""The tariff's money boxes on the owner console read yuan (the platform's amount rule, read_amount) and store
fen under the same keys: what the fee code, the stored configs and the demo already hold."""

from __future__ import annotations

import html
import re
from zoneinfo import ZoneInfo

import pytest

from lightapps.parking.fees import tariff_for
from lightapps.parking.tariff import Tariff, parking_fee
from portal.apps.registry import get as get_app
from portal.owner import forms
from portal.payments.money import DECIMAL_COMMA, OUT_OF_RANGE, TOO_PRECISE

FORM = "/console/owner/demo/zone/garage"
HOUR_MS = 3_600_000
HOURLY, CAP, SPEND = "Fee per started hour (¥)", "Daily cap (¥, 0 = none)", "Same-day spend per free hour (¥, 0 = none)"


def _saved(svc) -> dict:
    return svc.zone_apps.get("demo", "garage")[1]


def _box(page: str, name: str) -> str:
    return html.unescape(re.search(rf'<input type="text" inputmode="decimal" id="cfg-{name}" name="{name}" '
                                   rf'value="([^"]*)"[^>]*>', page).group(1))  # a refused box also carries aria-*


def _post(client, console, **fields):
    return client.post(FORM, data={"csrf_token": console.csrf(), "app": "parking", **fields})


def test_the_form_shows_stored_fen_in_yuan(client, console, svc):
    """An old stored config (fen, as every config saved before yuan boxes) reads right: 800 fen is ¥8.00."""
    name, config = svc.zone_apps.get("demo", "garage")
    assert svc.zone_apps.set("demo", "garage", name, {**config, "hourly_fen": 800, "daily_cap_fen": 6050,
                                                      "spend_fen_per_hour": 0})
    console.login("parking")
    page = client.get(FORM).get_data(as_text=True)
    assert (_box(page, "hourly_fen"), _box(page, "daily_cap_fen"), _box(page, "spend_fen_per_hour")) == \
        ("8.00", "60.50", "0.00")
    assert f'for="cfg-hourly_fen">{HOURLY}<' in page


def test_the_default_shows_as_five_yuan(client, console, svc):
    name, config = svc.zone_apps.get("demo", "garage")
    assert svc.zone_apps.set("demo", "garage", name, {k: v for k, v in config.items() if k != "hourly_fen"})
    console.login("parking")
    assert _box(client.get(FORM).get_data(as_text=True), "hourly_fen") == "5.00"  # the default, 500 fen


@pytest.mark.parametrize("hourly, cap, spend, stored", [
    ("5", "¥40", "100", (500, 4000, 10_000)),
    ("５.５", "40元", "¥1,000.00", (550, 4000, 100_000)),  # a Chinese keyboard's full-width digits
])
def test_typed_yuan_is_stored_in_fen(client, console, svc, hourly, cap, spend, stored):
    console.login("parking")
    resp = _post(client, console, hourly_fen=hourly, daily_cap_fen=cap, spend_fen_per_hour=spend)
    assert resp.status_code == 303
    saved = _saved(svc)
    assert (saved["hourly_fen"], saved["daily_cap_fen"], saved["spend_fen_per_hour"]) == stored
    page = client.get(FORM).get_data(as_text=True)
    assert _box(page, "hourly_fen") == f"{stored[0] // 100}.{stored[0] % 100:02d}"  # and reads back as saved


@pytest.mark.parametrize("field, label, typed, message", [
    ("hourly_fen", HOURLY, "30,5", DECIMAL_COMMA % {"label": HOURLY}),
    ("daily_cap_fen", CAP, "40.555", TOO_PRECISE % {"label": CAP}),
    ("hourly_fen", HOURLY, "1001", OUT_OF_RANGE % {"label": HOURLY, "low": "¥0.00", "high": "¥1000.00"}),
    ("spend_fen_per_hour", SPEND, "-5", None),
])
def test_a_bad_amount_is_refused_with_the_shared_message(client, console, svc, field, label, typed, message):
    console.login("parking")
    before = _saved(svc)
    resp = _post(client, console, **{field: typed})
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    shown = html.unescape(re.search(rf'id="cfg-{field}-error">([^<]*)<', page).group(1))
    assert shown.startswith(label) and (message is None or shown == message)
    assert _box(page, field) == typed  # what the owner typed is shown again, not lost
    assert _saved(svc) == before


def test_the_fee_is_unchanged_for_the_same_stored_values(app, client, console, svc):
    """Typed as yuan, the tariff is the one the fen config always gave: ¥5.00 an hour, at most ¥40.00 a day."""
    console.login("parking")
    assert _post(client, console, free_minutes="15", hourly_fen="5", daily_cap_fen="40",
                 spend_fen_per_hour="0").status_code == 303
    with app.test_request_context():
        tariff = tariff_for("demo", "garage")
    old = Tariff.from_config({"free_minutes": 15, "hourly_fen": 500, "daily_cap_fen": 4000, "spend_fen_per_hour": 0,
                              "grace_minutes": tariff.grace_minutes, "points_per_yuan": tariff.points_per_yuan,
                              "max_free_hours": tariff.max_free_hours})
    assert tariff == old
    entry, tz = 1_700_000_000_000, ZoneInfo("Asia/Shanghai")
    # 06:13 venue time: 15 min free; 2 h 30 min = 3 started hours; 20 h = 18 hours capped at ¥40 + 2 the next day
    assert [parking_fee(entry, entry + ms, tz, tariff) for ms in (HOUR_MS // 4, 5 * HOUR_MS // 2, 20 * HOUR_MS)] == \
        [0, 1500, 5000]


def test_a_stale_save_names_the_saved_amount_in_yuan(app):
    with app.test_request_context():
        assert forms.saved_text(get_app("parking"), "hourly_fen", 800) == "8.00"
        assert forms.saved_text(get_app("parking"), "free_minutes", 30) == "30"
