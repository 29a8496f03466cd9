"""Wrong Meraki secrets spend an abuse budget ("meraki.secret": per client address and network, and per network):
once spent, a post is answered 429 with Retry-After before its body is read; a right secret never spends it; a
secret that is no valid UTF-8 text (a lone surrogate, which JSON allows) is a wrong secret, not a 500."""

from __future__ import annotations

import io
import json
import time

import pytest

from core.settings import Settings
from portal.apps.budgets import budget_store
from portal.ingest.health import RATE_WINDOW_S, IngestHealth
from portal.ingest.meraki import MerakiStore

URL = "/api/v1/venues/demo/meraki/main"
ATTACKER, OTHER = "203.0.113.7", "198.51.100.9"


class CountingStream(io.BytesIO):
    """A request body that records whether anything read it."""

    read_calls = 0

    def read(self, *args):
        self.read_calls += 1
        return super().read(*args)

    readinto = None  # so Werkzeug reads through read()


def post(feeds, body, address=ATTACKER, network="main"):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return feeds.client.post(f"/api/v1/venues/demo/meraki/{network}", data=data, content_type="application/json",
                             environ_base={"REMOTE_ADDR": address})


def wrong(feeds, n=1, **kw):
    return [post(feeds, feeds.v2(secret=f"guess-{i}"), **kw).status_code for i in range(n)]


@pytest.fixture
def per_address(svc) -> int:
    return svc.settings.budgets["meraki.secret.ip"][0]


def test_the_budgets_are_declared_with_room_for_a_misconfigured_network():
    budgets = Settings().budgets
    ip, network = budgets["meraki.secret.ip"], budgets["meraki.secret.network"]
    assert 1 <= ip[0] <= 30 and ip[0] < network[0]  # one address cannot spend the network's alone


def test_wrong_secrets_from_one_address_are_refused_429_once_spent(feeds, per_address):
    assert wrong(feeds, per_address) == [403] * per_address
    resp = post(feeds, feeds.v2(secret="one-more"))
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1
    assert resp.get_json()["error"]
    resp = post(feeds, feeds.v2())  # the right secret from that address waits too: its body is not read
    assert resp.status_code == 429
    assert feeds.nothing_stored()


def test_a_spent_budget_answers_before_the_body_is_read(feeds, per_address):
    wrong(feeds, per_address)
    body = CountingStream(json.dumps(feeds.v2(secret="big-guess")).encode())
    resp = feeds.client.post(URL, input_stream=body, content_length=len(body.getvalue()),
                             content_type="application/json", environ_base={"REMOTE_ADDR": ATTACKER})
    assert resp.status_code == 429 and body.read_calls == 0


def test_a_spent_budget_leaves_a_form_body_unread_and_its_language_unused(feeds, per_address):
    """A urlencoded body that happens to hold `lang=zh` is no shopper's form: the 429 is the API's, worded for
    the integrator (never the shoppers' "from this device, number or place"), without the body being read."""
    wrong(feeds, per_address)
    body = CountingStream(b"lang=zh&secret=guess")
    resp = feeds.client.post(URL, input_stream=body, content_length=len(body.getvalue()),
                             content_type="application/x-www-form-urlencoded",
                             headers={"Accept-Language": "en"}, environ_base={"REMOTE_ADDR": ATTACKER})
    assert resp.status_code == 429 and body.read_calls == 0
    answer = resp.get_json()
    assert answer["error"].startswith("too many posts with a wrong secret for this Meraki network")
    assert answer["field"] == "secret" and "device" not in answer["error"]
    assert resp.headers["Cache-Control"] == "no-store" and f"{resp.headers['Retry-After']} seconds" in answer["error"]


def test_unreadable_bodies_spend_it_too(feeds, per_address):
    """Malformed JSON names no secret: refused as a wrong secret is, unparsed."""
    codes = [post(feeds, b"{not json").status_code for _ in range(per_address)]
    assert codes == [403] * per_address
    assert post(feeds, feeds.v2()).status_code == 429


def test_a_right_secret_never_spends_it(feeds, per_address):
    assert [post(feeds, feeds.v2()).status_code for _ in range(per_address + 3)] == [202] * (per_address + 3)
    assert wrong(feeds, per_address) == [403] * per_address
    assert wrong(feeds) == [429]


def test_counted_per_address_and_network(feeds, per_address):
    MerakiStore(feeds.db).configure("demo", "second", "validator-2", "second-secret")
    wrong(feeds, per_address)
    assert wrong(feeds, address=OTHER) == [403]  # another address
    assert wrong(feeds, network="second") == [403]  # Meraki's cloud posts every network from the same addresses
    assert post(feeds, feeds.v2(secret="second-secret"), network="second").status_code == 202


def test_an_ipv6_address_is_counted_by_its_64(feeds, per_address):
    codes = [post(feeds, feeds.v2(secret=f"g{i}"), address=f"2001:db8:1:2::{i + 1:x}").status_code
             for i in range(per_address + 1)]
    assert codes == [403] * per_address + [429]


def test_the_network_budget_caps_many_addresses(feeds, app):
    budget_store(app).set_limit("demo", "meraki.secret.network", (3, 600))  # the operator's override
    assert [wrong(feeds, address=f"192.0.2.{i}")[0] for i in range(1, 5)] == [403, 403, 403, 429]
    # the price of capping a distributed guesser: the network's posts wait until the budget has room again
    assert post(feeds, feeds.v2(), address="192.0.2.200").status_code == 429
    assert wrong(feeds, address="192.0.2.1", network="other") == [404]  # unknown network: nothing spent


def test_the_validator_handshake_is_not_budgeted(feeds, per_address):
    wrong(feeds, per_address + 1)
    resp = feeds.client.get(URL, environ_base={"REMOTE_ADDR": ATTACKER})
    assert resp.status_code == 200 and resp.get_data(as_text=True) == feeds.VALIDATOR


def test_a_refused_post_counts_on_the_health_view(feeds, per_address):
    """The operator sees a refused feed (429) as rejections, as a wrong secret (403)."""
    wrong(feeds, per_address + 2)
    rates = {s.source: s for s in IngestHealth(feeds.db).sources("demo", time.time())}
    assert rates["meraki:main"].rejected_per_s * RATE_WINDOW_S == pytest.approx(per_address + 2, abs=0.1)


@pytest.mark.parametrize("secret", ["\\ud800", "\\udfff", "super\\udc80secret"])
def test_a_lone_surrogate_secret_is_a_wrong_secret(feeds, per_address, secret):
    body = json.dumps(feeds.v2()).replace('"secret": "supersecret"', f'"secret": "{secret}"')
    assert f'"{secret}"' in body
    resp = post(feeds, body)
    assert resp.status_code == 403 and resp.get_json()["field"] == "secret"
    assert wrong(feeds, per_address - 1) == [403] * (per_address - 1)
    assert wrong(feeds) == [429]  # it was counted as one
    assert feeds.nothing_stored()
