"""The zone settings form ties each refused field to its message (WCAG 3.3.1) and focuses the first one only; a shop
description refused is tied to its boxes the same way."""

from __future__ import annotations

import re

import pytest

from tests.owner.test_owner_stale_settings import PAGE, config_form, post


@pytest.fixture
def owner(console):
    console.login("jade")  # the owner of the zone the demo runs the queue in
    return console


def tag(html: str, field_id: str) -> str:
    return re.search(rf'<(?:input|textarea)[^>]* id="{field_id}"[^>]*>', html).group(0)


def test_each_refused_setting_names_its_error_and_the_first_takes_the_focus(client, owner):
    sent = {**config_form(client.get(PAGE).get_data(as_text=True)), "turn_minutes": "abc", "slot_minutes": "5"}
    resp = post(client, owner, sent)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="form-errors" role="alert" tabindex="-1">' in html
    assert tag(html, "cfg-turn_minutes").endswith(
        ' aria-invalid="true" aria-describedby="cfg-turn_minutes-error" autofocus>')
    assert tag(html, "cfg-slot_minutes").endswith(' aria-invalid="true" aria-describedby="cfg-slot_minutes-error">')
    assert 'id="cfg-turn_minutes-error"' in html and 'id="cfg-slot_minutes-error"' in html
    assert "aria-invalid" not in tag(html, "cfg-slot_capacity") and html.count(" autofocus") == 1


def test_a_refused_shop_description_names_its_error(client, console, svc):
    shop = next(s for s in svc.venues.get_map("demo").shops if s.zone == "kopi")
    console.login("kopi")
    resp = client.post(f"/console/owner/demo/zone/kopi/shop/{shop.id}",
                       data={"csrf_token": console.csrf(), "description_zh": "字" * 501, "description_en": "Hi"})
    html = resp.get_data(as_text=True)
    error_id = f"shop-{shop.id}-error"
    assert resp.status_code == 422 and f'role="alert" id="{error_id}"' in html
    zh_box = tag(html, f"shop-{shop.id}-description_zh")
    assert zh_box.endswith(f'aria-invalid="true" aria-describedby="{error_id}" autofocus>')
    assert tag(html, f"shop-{shop.id}-description_en").endswith(f'aria-invalid="true" aria-describedby="{error_id}">')
