"""Both plate forms tie a refused plate to its field (WCAG 3.3.1): marked invalid, naming its error, focused; an error
that is not the plate's (the result expired) is named by the field but does not mark it."""

from __future__ import annotations

import re

from parking_fixtures import LANDING, find, garage_fixture, shopper_c  # noqa: F401 (the `garage` fixture)


def field(html: str, field_id: str) -> str:
    return " ".join(re.search(rf'<input class="plate-input" type="text" id="{field_id}"[^>]*>', html).group(0).split())


def test_a_one_letter_plate_is_marked_on_the_find_form(client, garage):
    resp = find(client, "B", shopper_c(client.application))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and '<p class="error" id="error" role="alert">' in html
    assert 'required aria-invalid="true" aria-describedby="error" autofocus autocomplete' in field(html, "plate")
    assert "aria-invalid" not in field(html, "fee-plate")


def test_a_malformed_plate_is_marked_on_the_fee_form(client, garage):
    resp = client.post(f"{LANDING}/fee", data={"plate": "B", "c": shopper_c(client.application)})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert 'aria-invalid="true" aria-describedby="fee-error" autofocus' in field(html, "fee-plate")
    assert "aria-invalid" not in field(html, "plate")


def test_an_expired_result_is_named_but_not_the_plates_fault(client, garage):
    resp = client.get(f"{LANDING}/car/expired-result-1?c={shopper_c(client.application)}")
    plate = field(resp.get_data(as_text=True), "plate")
    assert resp.status_code == 404 and 'aria-describedby="error"' in plate
    assert "aria-invalid" not in plate and "autofocus" not in plate
