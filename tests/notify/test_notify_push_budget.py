"""The "notify.push" budgets (per client address and per shopper): an anonymous shopper costs one GET, so the
per-shopper cap of MAX_PUSH subscriptions alone let one address store any number of them. A subscription the
shopper already has is refreshed for free; one refused (full, bad input, a parallel request stored it first)
spends nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from core.settings import DEFAULT_BUDGETS
from portal.apps.budgets import BudgetKeys, budget_store
from portal.notify.contacts import MAX_PUSH
from portal.shopper import Shopper, token_store

IP_LIMIT = DEFAULT_BUDGETS["notify.push.ip"][0]
SHOPPER_LIMIT = DEFAULT_BUDGETS["notify.push.shopper"][0]


def token_for(app, client: str = "s-1") -> str:
    return token_store(app).mint(Shopper(venue="demo", client=client))


def subscribe(client, token: str, body: dict, address: str = "127.0.0.1"):
    return client.post("/api/v1/venues/demo/notify/push", json=body, headers={"Authorization": f"Bearer {token}"},
                       environ_base={"REMOTE_ADDR": address})


def endpoint(name: str) -> str:
    return f"https://fcm.googleapis.com/fcm/send/{name}"


def spent(app, db, scope: str, value: str) -> int:
    """What the "notify.push.<scope>" counter of `value` holds in the current window."""
    key = BudgetKeys("demo").counter(f"notify.push.{scope}", budget_store(app).hashed(scope, value))
    return int(db.hget(key, "c") or 0)


def test_one_address_cannot_subscribe_any_number_of_new_shoppers(app, client, db, new_browser, demo, contacts):
    statuses = []
    for i in range(IP_LIMIT + 2):  # a new anonymous shopper each time, from one address
        body = {"subscription": new_browser().subscription(endpoint(f"flood-{i}"))}
        statuses.append(subscribe(client, token_for(app, client=f"flood-{i}"), body))
    assert [r.status_code for r in statuses] == [201] * IP_LIMIT + [429, 429]
    refused = statuses[-1]
    assert int(refused.headers["Retry-After"]) > 0 and "error" in refused.json
    assert contacts.get("demo", f"flood-{IP_LIMIT}").push == {}  # nothing stored past the budget
    assert spent(app, db, "ip", "127.0.0.1") == IP_LIMIT


def test_one_shopper_cannot_churn_subscriptions(app, client, db, new_browser, demo, contacts):
    token = token_for(app)
    for i in range(MAX_PUSH):  # each from another address: the shopper's own budget is what counts
        body = {"subscription": new_browser().subscription(endpoint(f"own-{i}"))}
        assert subscribe(client, token, body, address=f"198.51.100.{i}").status_code == 201
    full = {"subscription": new_browser().subscription(endpoint("sixth"))}
    # full: refused before any budget is spent
    assert subscribe(client, token, full, address="198.51.100.9").status_code == 409
    assert spent(app, db, "shopper", "s-1") == MAX_PUSH == SHOPPER_LIMIT
    for sid in list(contacts.get("demo", "s-1").push):
        contacts.remove_push("demo", "s-1", sid)
    refused = subscribe(client, token, full, address="198.51.100.9")
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert contacts.get("demo", "s-1").push == {}


def test_subscribing_again_is_free_even_with_the_budget_spent(app, client, db, new_browser, demo, contacts):
    budget_store(app).set_limit("demo", "notify.push.ip", (1, 3600))
    token = token_for(app)
    body = {"subscription": new_browser().subscription(endpoint("mine"))}
    assert subscribe(client, token, body).status_code == 201
    body["lang"] = "en"
    for _ in range(3):  # the browser subscribing again (a new page, a new tap): refreshed, not counted
        assert subscribe(client, token, body).status_code == 201
    assert contacts.get("demo", "s-1").lang == "en" and len(contacts.get("demo", "s-1").push) == 1
    assert spent(app, db, "ip", "127.0.0.1") == spent(app, db, "shopper", "s-1") == 1
    other = {"subscription": new_browser().subscription(endpoint("another"))}
    assert subscribe(client, token, other).status_code == 429


def test_parallel_requests_with_one_new_subscription_spend_once(app, db, new_browser, demo, contacts):
    token = token_for(app)
    body = {"subscription": new_browser().subscription(endpoint("parallel"))}
    taps = SHOPPER_LIMIT - 1  # all may spend at once; those the first one beat give it back
    with ThreadPoolExecutor(taps) as pool:
        statuses = list(pool.map(lambda _: subscribe(app.test_client(), token, body).status_code, range(taps)))
    assert statuses == [201] * taps
    assert len(contacts.get("demo", "s-1").push) == 1
    assert spent(app, db, "ip", "127.0.0.1") == spent(app, db, "shopper", "s-1") == 1
