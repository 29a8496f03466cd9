"""Pages that mark refused fields do it through templates/_invalid.html: each refused field says it is invalid
and names its message, and only the first of them takes the focus as the page loads (WCAG 3.3.1, 2.4.3)."""

from __future__ import annotations

import re

QUEUE = "/v/demo/queue/jade"


def tag(page: str, input_id: str) -> str:
    return re.search(rf'<input[^>]*id="{input_id}"[^>]*>', page).group(0)


def test_a_refused_preorder_focuses_its_first_bad_dish_only(client, demo):
    token = re.search(r'name="c" value="([^"]+)"', client.get(QUEUE).get_data(as_text=True)).group(1)
    assert client.post(f"{QUEUE}/take", data={"party": "2", "c": token}).status_code == 303
    resp = client.post(f"{QUEUE}/preorder", data={"for": "ticket", "qty_m1": "99", "qty_m3": "99", "c": token})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert tag(page, "qty_m1").endswith(' aria-invalid="true" aria-describedby="error_m1" autofocus>')
    assert tag(page, "qty_m3").endswith(' aria-invalid="true" aria-describedby="error_m3">')
    assert page.count(" autofocus") == 1


def test_a_refused_retention_form_focuses_its_first_bad_day_only(client, console):
    console.login("ops")
    form = {"csrf_token": console.csrf(), "events_anonymise": "50", "events_delete": "40", "deliveries_delete": "x"}
    page = client.post("/console/ops/demo/insights/retention", data=form).get_data(as_text=True)
    assert tag(page, "ret-events_anonymise").endswith(
        ' aria-invalid="true" aria-describedby="ret-events_anonymise-error" autofocus>')
    assert tag(page, "ret-deliveries_delete").endswith(
        ' aria-invalid="true" aria-describedby="ret-deliveries_delete-error">')
    assert "aria-invalid" not in tag(page, "ret-events_delete") and page.count(" autofocus") == 1
