"""A hold's More time once its order is made: refused, because the order expires with the hold as it was and its
closing releases the seats (lightapps/cinema/views.py, `_may_have_more_time`); before Pay it is offered."""

from __future__ import annotations

from tests.payments.test_cinema_payment import BASE, VENUE, cinema, hold_and_order, new_show  # noqa: F401 - fixture


def test_more_time_is_offered_before_paying_only(cinema, sandbox, pay):  # noqa: F811 - fixture
    _app, client, c, store = cinema
    token, _order_id = hold_and_order(client, store, c)
    expires = store.get_hold(VENUE, token).expires_ms
    page = client.get(f"{BASE}/hold/{token}?c={c}").get_data(as_text=True)
    assert 'id="pay"' in page and 'id="more-time"' not in page and "more time once" not in page
    refused = client.post(f"{BASE}/hold/{token}/more-time", data={"c": c})
    assert refused.status_code == 409 and "only before paying" in refused.get_data(as_text=True)
    assert store.get_hold(VENUE, token).expires_ms == expires
    unpaid = client.post(f"{BASE}/show/{new_show(store)}/hold", data={"seat": ["D4", "D5"], "c": c})
    assert 'id="more-time"' in client.get(unpaid.headers["Location"]).get_data(as_text=True)
