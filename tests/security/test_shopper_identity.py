"""A shopper's identity is a bearer secret: knowing a phone's MAC or IP (both on the air, or guessable)
never hands out that shopper's token, data or position (issue 14)."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlparse

import pytest

from portal.captive.views import captive_services
from portal.shopper import ShopperKeys, cookie_name, token_store
from portal.tracking import Tracker
from tests.test_slice import post_phone_at

VICTIM = "02:00:5e:00:53:61"
VICTIM_IP = "10.20.0.61"
ATTACKER_IP = "10.20.0.99"
OPENNDS_L0 = {"authaction": "http://192.168.8.1/opennds_auth/", "tok": "abc123"}


def landing_token(resp) -> str:
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return parse_qs(urlparse(resp.headers["Location"]).query)["c"][0]


def resolve(app, token):
    with app.app_context():
        return token_store().resolve(token)


@pytest.fixture
def victim(app, client, demo, svc, demo_map):
    """The victim's phone, heard in the food court and tracked, known to the IP table (from a verified
    gateway request), with its own token from the probe its OS sent."""
    post_phone_at(client, demo, demo_map, 1, 65, 30, phone=VICTIM)
    Tracker(svc.db, svc.venues, svc.locator).drain("demo")
    with app.app_context():
        captive_services().sessions.remember_ip("demo", VICTIM_IP, svc.hasher.client_id(VICTIM))
    token = landing_token(client.get("/generate_204", environ_base={"REMOTE_ADDR": VICTIM_IP}))
    return resolve(app, token), token


def test_a_probe_naming_the_victims_mac_never_returns_the_victims_token(app, client, victim):
    shopper, token = victim
    forged = landing_token(client.get(f"/generate_204?client_mac={VICTIM}",
                                      environ_base={"REMOTE_ADDR": ATTACKER_IP}))
    assert forged != token
    attacker = resolve(app, forged)
    assert attacker.client != shopper.client  # a new, empty shopper
    assert attacker.own_phone is None  # and it cannot ask where the victim's phone is


def test_every_probe_hands_out_a_new_token(client, victim):
    first = landing_token(client.get("/generate_204", environ_base={"REMOTE_ADDR": VICTIM_IP}))
    second = landing_token(client.get("/generate_204", environ_base={"REMOTE_ADDR": VICTIM_IP}))
    assert first != second


def test_a_redirect_naming_the_victims_ip_never_returns_the_victims_shopper(app, client, victim):
    shopper, _ = victim
    resp = client.get("/portal?" + urlencode({**OPENNDS_L0, "clientip": VICTIM_IP}),
                      environ_base={"REMOTE_ADDR": ATTACKER_IP})
    attacker = resolve(app, landing_token(resp))
    assert attacker.client != shopper.client and attacker.phone != shopper.phone


def test_a_forged_redirect_cannot_rebind_the_victims_ip(app, client, svc, victim):
    meraki = {"base_grant_url": "https://n93.network-auth.com/splash/grant", "client_mac": "02:00:5e:00:53:99",
              "client_ip": VICTIM_IP, "node_mac": "e0:cb:bc:b6:0c:83"}
    assert client.get("/portal?" + urlencode(meraki), environ_base={"REMOTE_ADDR": ATTACKER_IP}).status_code == 302
    with app.app_context():
        assert captive_services().sessions.named_at("demo", VICTIM_IP) == svc.hasher.client_id(VICTIM)


def test_route_from_me_needs_the_shoppers_own_secret(app, client, victim):
    _, token = victim
    own = client.get("/v/demo/route?" + urlencode({"from": "me", "to": "shop:kopi", "c": token}))
    assert own.status_code == 200 and own.get_json()["from"]["kind"] == "me"
    attacker = app.test_client()
    forged = landing_token(attacker.get(f"/generate_204?client_mac={VICTIM}",
                                        environ_base={"REMOTE_ADDR": ATTACKER_IP}))
    resp = attacker.get("/v/demo/route?" + urlencode({"from": "me", "to": "shop:kopi", "c": forged}))
    assert resp.status_code == 409
    assert app.test_client().get("/v/demo/route?" + urlencode({"from": "me", "to": "shop:kopi"})).status_code == 409


def test_a_forged_or_old_style_token_is_nobody(app, client, victim, svc):
    from itsdangerous import URLSafeSerializer

    old_style = URLSafeSerializer(app.config["SECRET_KEY"], salt="shopper").dumps(["demo", victim[0].client])
    for token in (old_style, "demo." + "A" * 43, "demo", "", "x" * 500):
        assert resolve(app, token) is None


def test_tokens_expire_unopened_and_slide_when_used(app, client, svc, victim):
    before = set(svc.db.scan_iter("*shopper:token:*"))
    fresh = landing_token(client.get("/generate_204", environ_base={"REMOTE_ADDR": VICTIM_IP}))
    assert set(svc.db.scan_iter("*shopper:token:*")) == before  # handed out sealed: nothing stored yet
    store = token_store(app)
    store.clock = lambda: time.time() + 3601
    assert store.resolve(fresh) is None  # unopened for an hour: nobody
    store.clock = time.time
    resolve(app, fresh)  # opened: lives SHOPPER_TOKEN_TTL_S from now on, keyed by a hash of the token
    (key,) = set(svc.db.scan_iter("*shopper:token:*")) - before
    assert fresh not in key.decode() and fresh.split(".")[1] not in key.decode()
    assert 3600 < svc.db.ttl(key) <= svc.settings.shopper_token_ttl_s


def test_revoke_ends_every_token_of_the_shopper(app, client, victim):
    shopper, token = victim
    with app.app_context():
        assert token_store().revoke("demo", shopper.client) >= 1
    assert resolve(app, token) is None


def test_a_returning_browser_gets_its_shopper_back_through_its_cookie(app, client, svc, victim):
    shopper, token = victim
    client.set_cookie(cookie_name("demo"), token)
    new_probe_token = landing_token(client.get("/generate_204", environ_base={"REMOTE_ADDR": VICTIM_IP}))
    page = client.get("/v/demo/?" + urlencode({"c": new_probe_token}))
    assert page.status_code == 200
    cookie = client.get_cookie(cookie_name("demo"))
    assert cookie is not None and resolve(app, cookie.value).client == shopper.client
    assert svc.db.scard(ShopperKeys("demo").tokens_of(shopper.client)) >= 1


def test_revoke_ends_a_token_minted_while_it_runs(app, victim):
    """Erasure reads the shopper's token set, then deletes: a token minted between the two (another tab's
    landing) must end too, never outlive the erasure as the one live way in."""
    shopper, token = victim
    with app.app_context():
        store = token_store()
        real_smembers = store.db.smembers
        raced: list[str] = []

        def smembers_then_a_new_token(key):
            members = real_smembers(key)
            if not raced:
                raced.append(store.mint(shopper))
            return members

        store.db.smembers = smembers_then_a_new_token
        try:
            assert store.revoke("demo", shopper.client) >= 2
        finally:
            store.db.smembers = real_smembers
    assert raced and resolve(app, raced[0]) is None
    assert resolve(app, token) is None


def test_a_token_in_use_stays_on_its_shoppers_list_for_as_long_as_it_lives(app, svc, victim):
    """A regular's token slides on every use; the list revoke (erasure) reads must slide with it, or a token
    used for longer than the list's first lifetime would outlive an erasure."""
    shopper, token = victim
    with app.app_context():
        store = token_store()
        minted = store.mint(shopper)
        listing = ShopperKeys("demo").tokens_of(shopper.client)
        svc.db.delete(listing)  # the list ran out while the tokens kept being used
        assert store.resolve(minted) is not None and store.resolve(token) is not None
        assert svc.db.scard(listing) == 2 and svc.db.ttl(listing) > 3600
        assert store.revoke("demo", shopper.client) == 2
    assert resolve(app, minted) is None and resolve(app, token) is None
