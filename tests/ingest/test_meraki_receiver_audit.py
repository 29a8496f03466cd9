"""The Meraki receiver's audit fixes: a post is parsed only once its raw body names the network's secret (a guess
costs no parse, however large); the secret must still sit at the top of the payload; a right secret never spends
the abuse budget, however many of Meraki's uploads from one address are in flight; and a v3 client's fresh
`latestRecord` is kept when its `locations` came too late for the RSSI window."""

from __future__ import annotations

import io
import json
import time

import pytest

from portal import api
from portal.apps.budgets import budget_store

URL = "/api/v1/venues/demo/meraki/main"
MERAKI_CLOUD = "203.0.113.50"
LATE_PHONE = "11:22:33:44:55:01"


def post(feeds, body, address=MERAKI_CLOUD, **kw):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return feeds.client.post(URL, data=data, content_type="application/json",
                             environ_base={"REMOTE_ADDR": address}, **kw)


@pytest.fixture
def parses(monkeypatch) -> list[int]:
    """The sizes of the bodies the receiver parsed."""
    seen: list[int] = []
    real = api.parse_json

    def counting(data: bytes) -> object:
        seen.append(len(data))
        return real(data)

    monkeypatch.setattr(api, "parse_json", counting)
    return seen


@pytest.fixture
def per_address(svc) -> int:
    return svc.settings.budgets["meraki.secret.ip"][0]


def large_v2(feeds, secret: str, clients: int = 5_000) -> dict:
    body = feeds.v2(secret=secret)
    one = body["data"]["observations"][0]
    body["data"]["observations"] = [{**one, "clientMac": f"02:00:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:"
                                                         f"{i & 255:02x}"} for i in range(clients)]
    return body


# ---- no parse without the secret ----------------------------------------------------------------


def test_a_large_body_with_a_wrong_secret_is_refused_unparsed(feeds, parses):
    body = large_v2(feeds, "guess")
    resp = post(feeds, body)
    assert resp.status_code == 403 and resp.get_json()["field"] == "secret"
    assert parses == [] and feeds.nothing_stored()
    resp = post(feeds, {**body, "secret": feeds.SECRET})  # the same body with the right secret
    assert resp.status_code == 202 and resp.get_json()["accepted"] == 5_000
    assert len(parses) == 1


@pytest.mark.parametrize("body", [b"{not json", b"", b"\xff\xfe", b'{"secret": 1}', b'["secret", "supersecret"]'])
def test_a_body_naming_no_secret_is_refused_unparsed(feeds, parses, body):
    resp = post(feeds, body)
    assert resp.status_code == 403 and resp.get_json()["field"] == "secret"
    assert parses == []


def test_the_right_secret_only_inside_data_is_refused(feeds, per_address):
    body = feeds.v2(secret="guess")
    body["data"]["observations"][0]["secret"] = feeds.SECRET
    nested = feeds.v2()
    del nested["secret"]
    nested["data"]["secret"] = feeds.SECRET
    for each in (body, nested):
        resp = post(feeds, each)
        assert resp.status_code == 403 and resp.get_json()["field"] == "secret"
    assert feeds.nothing_stored()
    assert [post(feeds, feeds.v2(secret=f"g{i}")).status_code for i in range(per_address - 1)] == [403] * (
        per_address - 2) + [429]  # both were counted as guesses


@pytest.mark.parametrize("write", [
    lambda body: json.dumps(body, indent=2),  # pretty-printed: whitespace around the colon
    lambda body: json.dumps(body).replace('"supersecret"', '"\\u0073uper\\u0073ecret"'),  # escaped
    lambda body: json.dumps({"data": body["data"], **body}),  # after `data`
    lambda body: json.dumps({"note": {"secret": "other"}, **body}),  # after another "secret" member
])
def test_the_right_secret_is_found_however_the_json_is_written(feeds, write):
    resp = post(feeds, write(feeds.v2()))
    assert resp.status_code == 202 and resp.get_json()["accepted"] == 1


def test_malformed_json_with_the_right_secret_is_a_400_that_spends_nothing(feeds, per_address):
    codes = [post(feeds, b'{"secret": "supersecret", not json').status_code for _ in range(per_address + 1)]
    assert codes == [400] * (per_address + 1)
    assert post(feeds, feeds.v2()).status_code == 202


# ---- the budget: spent by guesses only ----------------------------------------------------------


class ReadHook(io.BytesIO):
    """A request body that, when first read, runs `hook`: what another request does while this one's body is still
    arriving (deterministically, in this thread)."""

    def __init__(self, data: bytes, hook) -> None:
        super().__init__(data)
        self.hook = hook

    def _started(self) -> None:
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()

    def read(self, *args):
        self._started()
        return super().read(*args)

    def readinto(self, buffer):
        self._started()
        return super().readinto(buffer)


def test_uploads_in_flight_from_one_address_spend_no_budget(feeds, app):
    """Meraki's cloud posts from a few addresses, each upload seconds long: more uploads in flight from one address
    than the budget allows (here 2) are all accepted. Each upload's body, as it is read, starts the next one."""
    budget_store(app).set_limit("demo", "meraki.secret.ip", (2, 600))
    codes: list[int] = []

    def upload(depth: int) -> None:
        data = json.dumps(feeds.v2(client=f"02:00:00:00:00:{depth:02x}")).encode()
        hook = (lambda: upload(depth + 1)) if depth < 4 else None
        resp = feeds.client.post(URL, input_stream=ReadHook(data, hook), content_length=len(data),
                                 content_type="application/json", environ_base={"REMOTE_ADDR": MERAKI_CLOUD})
        codes.append(resp.status_code)

    upload(0)
    assert codes == [202] * 5
    assert [post(feeds, feeds.v2(secret=f"g{i}")).status_code for i in range(3)] == [403, 403, 429]


def test_a_right_secret_gets_the_last_room_and_leaves_it(feeds, per_address):
    assert [post(feeds, feeds.v2(secret=f"g{i}")).status_code for i in range(per_address - 1)] == [403] * (
        per_address - 1)
    assert [post(feeds, feeds.v2()).status_code for _ in range(3)] == [202] * 3
    assert [post(feeds, feeds.v2(secret="last")).status_code, post(feeds, feeds.v2()).status_code] == [403, 429]


# ---- v3: a fresh latestRecord beside late locations ---------------------------------------------


def late_v3(feeds, location_age: float, record_age: float = 3) -> dict:
    now = time.time()
    body = feeds.v3(ts=now - location_age, client=LATE_PHONE)
    body["data"]["observations"][0]["latestRecord"] = {"time": feeds.iso(now - record_age),
                                                       "nearestApMac": feeds.AP1, "nearestApRssi": "-58"}
    return body


@pytest.mark.parametrize("past_window", [30, 400])  # 30: late but within the clock skew, so not stale when parsed
def test_v3_latest_record_is_kept_when_the_locations_are_out_of_the_window(feeds, svc, past_window):
    resp = feeds.meraki(late_v3(feeds, svc.settings.rssi_window_s + past_window))
    assert resp.status_code == 202 and resp.get_json() == {"accepted": 1, "stale": 4}
    assert {ap: r[0][1] for ap, r in feeds.readings(LATE_PHONE).items()} == {feeds.AP1: -58.0}


def test_v3_latest_record_older_than_the_locations_adds_nothing(feeds):
    resp = feeds.meraki(late_v3(feeds, location_age=5, record_age=15))
    assert resp.get_json() == {"accepted": 4}
    assert feeds.AP1 not in feeds.readings(LATE_PHONE)


def test_v3_latest_record_newer_than_fresh_locations_is_one_more_reading(feeds):
    resp = feeds.meraki(late_v3(feeds, location_age=20, record_age=3))
    assert resp.get_json() == {"accepted": 5}
    assert feeds.readings(LATE_PHONE)[feeds.AP1][0][1] == -58.0
