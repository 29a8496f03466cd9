"""The portal runs on several web hosts whose clocks differ a little (NTP keeps them within a second; a broken one
drifts minutes): a shopper token handed out, or a gateway context sealed, on a host whose clock is ahead opens on
another host while it is no further ahead than MAX_CLOCK_SKEW_S (300 s by default); one further ahead is refused."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlparse

import pytest

from portal.captive.common import captive_services_of
from portal.captive.gateways import ContextSealer, GatewayContext, GatewayError
from portal.shopper import ShopperTokenStore, new_shopper, token_store
from tests.captive.test_captive_gateways import MERAKI

AHEAD_S = 120  # a host's clock two minutes fast: inside the tolerance
FAR_AHEAD_S = 600  # ten minutes fast: outside it
KEY = "the install's SECRET_KEY"


def on_host(clock_ahead_s: float):
    """The clock of a host running `clock_ahead_s` seconds fast."""
    return lambda: time.time() + clock_ahead_s


def handout_from(tokens: ShopperTokenStore, ahead_s: float) -> tuple[str, str]:
    shopper = new_shopper("demo", "dev-0123456789abcdef01234567", phone_verified=True)
    real = tokens.clock
    tokens.clock = on_host(ahead_s)  # the same install (key, store) on another host
    try:
        return tokens.mint(shopper, handout=True), shopper.client
    finally:
        tokens.clock = real


def test_a_handout_from_a_host_two_minutes_ahead_opens(app):
    tokens = token_store(app)
    token, client = handout_from(tokens, AHEAD_S)
    shopper = tokens.resolve(token)
    assert shopper is not None and shopper.client == client and shopper.handout


def test_a_handout_from_a_host_ten_minutes_ahead_is_refused(app):
    tokens = token_store(app)
    token, _ = handout_from(tokens, FAR_AHEAD_S)
    assert tokens.resolve(token) is None


def test_a_gateway_context_from_a_host_two_minutes_ahead_opens_ten_minutes_is_refused():
    ctx = GatewayContext(gateway="meraki", client_ip="10.0.0.7")
    fast, far, here = ContextSealer(KEY), ContextSealer(KEY), ContextSealer(KEY)
    fast.clock, far.clock = on_host(AHEAD_S), on_host(FAR_AHEAD_S)
    assert here.open(fast.seal(ctx)) == ctx
    with pytest.raises(GatewayError):
        here.open(far.seal(ctx))
    sealed = here.seal(ctx)
    here.clock = on_host(3600)
    assert here.open(sealed, max_age_s=3601) == ctx  # an hour old, allowed six
    with pytest.raises(GatewayError):
        here.open(sealed, max_age_s=3599)


def test_landing_on_a_fast_host_and_continuing_on_another_grants(app, client, demo, monkeypatch):
    """The auditor's case: the captive landing answered by a host two minutes fast, the shopper's Continue by
    another: the grant, not "Your session has expired"."""
    tokens, sealer = token_store(app), captive_services_of(app).sealer
    monkeypatch.setattr(tokens, "clock", on_host(AHEAD_S))
    monkeypatch.setattr(sealer, "clock", on_host(AHEAD_S))
    landed = client.get(MERAKI)
    assert landed.status_code == 302
    token = parse_qs(urlparse(landed.headers["Location"]).query)["c"][0]
    monkeypatch.setattr(tokens, "clock", time.time)  # the next request reaches a host with the right time
    monkeypatch.setattr(sealer, "clock", time.time)
    assert client.get(f"/v/demo/?c={token}").status_code == 200
    granted = client.post("/portal/continue", data={"c": token})
    assert granted.status_code == 303, granted.get_data(as_text=True)
    assert urlparse(granted.headers["Location"]).path == "/splash/grant"
