"""Property-based: random payloads, and random mutations of each format's valid payload, never give a
500, and a rejected request never changes what is stored."""

from __future__ import annotations

import copy
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.apps.budgets import budget_store

FORMATS = ("native", "openwrt", "find3", "meraki_v2", "meraki_v3")
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

NOW = time.time()
interesting = st.sampled_from([
    "02:00:5e:00:53:aa", "F0-9F-C2-1A-00-01", "f09fc21a0002", "aa:aa:aa:11:11:11", "AP-G01", "", " ",
    -120, -121, 0, 95, 96, -47, "-47", 47.5, 1e308, -1e308, 2**63, NOW, NOW * 1000, NOW + 1e6, 1474675583,
    "2019-11-28T14:27:46Z", "DevicesSeen", "WiFi", "BLE", "2.0", "3.0", "supersecret", "probe", "assoc",
    10**400, -(10**400), 1e15,
])
leaves = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=24) | interesting)
json_values = st.recursive(
    leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12) | interesting.map(str),
                                                                       children, max_size=4),
    max_leaves=16,
)


@pytest.fixture(autouse=True)
def no_meraki_secret_budget(app):
    """Hypothesis posts dozens of bodies through one store, most without the right secret: the budget of wrong
    Meraki secrets (test_meraki_secret_budget.py) would answer them 429 unread."""
    budget_store(app).set_action_limit("demo", "meraki.secret", (1_000_000, 600))


def valid_payload(feeds, fmt):
    if fmt == "native":
        return {"reports": [{"ap": feeds.AP1, "observations": [
            {"client": feeds.PHONE, "rssi": -60, "ts": time.time()},
            {"client": feeds.PHONE2, "rssi": -71.5, "ts": time.time() - 2, "associated": False}]}]}
    if fmt == "openwrt":
        return {"bssid": feeds.AP1, "events": [feeds.event(), {"type": "assoc", "address": feeds.PHONE2,
                                                               "signal": -40, "freq": 5180, "ts": time.time()}]}
    if fmt == "find3":
        return feeds.passive()
    return feeds.v2() if fmt == "meraki_v2" else feeds.v3()


def post(feeds, fmt, body):
    data = body if isinstance(body, bytes) else json.dumps(body)
    if fmt.startswith("meraki"):
        return feeds.meraki(data)
    return getattr(feeds, fmt)(data)


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, (*prefix, i))


DELETE = object()


def mutate(body, path, value):
    if not path:
        return value if value is not DELETE else None
    body = copy.deepcopy(body)
    target = body
    for part in path[:-1]:
        target = target[part]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


def check(feeds, fmt, body):
    before = feeds.stored()
    resp = post(feeds, fmt, body)
    assert resp.status_code != 500, resp.get_data(as_text=True)
    assert resp.status_code in (202, 400, 401, 403, 404, 413, 415, 422), resp.status_code
    payload = resp.get_json()
    if resp.status_code != 202:
        assert payload["error"] and payload["field"], payload
        assert feeds.stored() == before
    else:  # what was skipped is counted; nothing else is said (but FIND3's success and message)
        said = {"accepted", "stale", "ignored"} | ({"success", "message"} if fmt == "find3" else set())
        assert set(payload) <= said and isinstance(payload["accepted"], int)
        assert all(isinstance(payload[k], int) and payload[k] > 0 for k in ("stale", "ignored") if k in payload)


def _random_body_test(fmt):
    @SETTINGS
    @given(body=json_values)
    def test(feeds, body):
        check(feeds, fmt, body)

    return test


def _random_bytes_test(fmt):
    @SETTINGS
    @given(body=st.binary(max_size=200))
    def test(feeds, body):
        check(feeds, fmt, body)

    return test


def _mutation_test(fmt):
    @SETTINGS
    @given(data=st.data())
    def test(feeds, data):
        body = valid_payload(feeds, fmt)
        path = data.draw(st.sampled_from(sorted(paths(body), key=repr)))
        value = data.draw(st.just(DELETE) | json_values if path else json_values)
        check(feeds, fmt, mutate(body, path, value))

    return test


for _fmt in FORMATS:
    globals()[f"test_random_json_{_fmt}"] = _random_body_test(_fmt)
    globals()[f"test_random_bytes_{_fmt}"] = _random_bytes_test(_fmt)
    globals()[f"test_mutated_{_fmt}"] = _mutation_test(_fmt)


def test_the_valid_payloads_are_valid(feeds):
    for fmt in FORMATS:
        assert post(feeds, fmt, valid_payload(feeds, fmt)).status_code == 202, fmt
