"""The token a probe hands out is sealed, not stored (portal/shopper.py): handing it out writes nothing;
its first opening writes its record; a forged, altered, expired, revoked or replayed one is nobody."""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlparse

import pytest
import redis

from core.logredact import redact
from portal.shopper import ShopperKeys, ShopperTokenStore, new_shopper, token_store
from portal.tools.net import free_port

PHONE = "dev-0123456789abcdef01234567"


@pytest.fixture
def tokens(app) -> ShopperTokenStore:
    return token_store(app)


def handed_out(tokens: ShopperTokenStore, venue: str = "demo", verified: bool = True) -> tuple[str, str]:
    shopper = new_shopper(venue, PHONE, phone_verified=verified)
    return tokens.mint(shopper, handout=True), shopper.client


def shopper_keys(db) -> list[bytes]:
    return sorted(db.scan_iter("*shopper:*"))


def test_a_probe_writes_no_token(client, svc, demo):
    before = shopper_keys(svc.db)
    resp = client.get("/generate_204")
    assert resp.status_code == 302
    token = parse_qs(urlparse(resp.headers["Location"]).query)["c"][0]
    assert shopper_keys(svc.db) == before  # nothing stored for it until it is opened
    assert redact(f"landing {token}") == "landing [token]"  # the log filter knows its shape


def test_first_opening_writes_the_record_then_it_slides(tokens, svc):
    token, client = handed_out(tokens)
    shopper = tokens.resolve(token)
    assert (shopper.client, shopper.phone, shopper.phone_verified, shopper.handout) == (client, PHONE, True, True)
    (record,) = [k for k in shopper_keys(svc.db) if b":token:" in k]
    assert token.split(".")[1] not in record.decode()  # keyed by a hash of the token
    assert svc.db.ttl(record) > 3600  # opened: SHOPPER_TOKEN_TTL_S from each use
    assert svc.db.sismember(ShopperKeys("demo").tokens_of(client), record.decode().rsplit(":", 1)[1])
    assert tokens.resolve(token) == shopper  # again: the same shopper, through its record


def test_a_forged_or_altered_handout_is_nobody_and_costs_no_store_call(app, tokens, svc):
    token, _ = handed_out(tokens)
    venue, sealed = token.split(".")
    flipped = sealed[:30] + ("A" if sealed[30] != "A" else "B") + sealed[31:]
    other_key = ShopperTokenStore(svc.db, svc.settings.shopper_token_ttl_s, "another install's SECRET_KEY")
    forged, _ = handed_out(other_key)
    for bad in (f"{venue}.{flipped}", f"{venue}.{sealed[:-4]}", f"cinema.{sealed}", forged, f"{venue}.{sealed}=="):
        assert tokens.resolve(bad) is None, bad
    assert shopper_keys(svc.db) == []


def test_unopened_for_an_hour_it_is_nobody_opened_in_time_it_lives_on(tokens):
    now = time.time()
    tokens.clock = lambda: now
    late, _ = handed_out(tokens)
    in_time, client = handed_out(tokens)
    tokens.clock = lambda: now + 3599
    assert tokens.resolve(in_time).client == client
    tokens.clock = lambda: now + 3601
    assert tokens.resolve(late) is None
    assert tokens.resolve(in_time).client == client  # opened within the hour: its record answers


def test_a_token_from_the_future_is_nobody(tokens):
    now = time.time()
    tokens.clock = lambda: now + 600  # handed out on a clock ten minutes ahead
    token, _ = handed_out(tokens)
    tokens.clock = lambda: now
    assert tokens.resolve(token) is None


def test_a_revoked_or_expired_handout_is_not_opened_again(tokens, svc):
    token, client = handed_out(tokens)
    assert tokens.resolve(token).client == client
    assert tokens.revoke("demo", client) == 1
    assert tokens.resolve(token) is None  # replayed after the erasure: its "opened" mark refuses it
    other, client = handed_out(tokens)
    assert tokens.resolve(other).client == client
    for key in shopper_keys(svc.db):
        if b":token:" in key:
            svc.db.delete(key)  # its record expired unused (SHOPPER_TOKEN_TTL_S)
    assert tokens.resolve(other) is None


def test_the_landing_page_answers_503_when_the_store_is_gone(app, client, svc, demo, settings):
    if settings.redis_cluster:
        pytest.skip("moves a single node's connection pool")
    token, _ = handed_out(token_store(app), verified=False)
    pool = svc.db.connection_pool
    real_port = pool.connection_kwargs["port"]
    pool.reset()
    pool.connection_kwargs.update(port=free_port())
    try:
        with pytest.raises(redis.ConnectionError):
            token_store(app).resolve(token)
        assert client.get(f"/v/demo/?c={token}").status_code == 503
    finally:
        pool.reset()
        pool.connection_kwargs.update(port=real_port)


def token_records(db, venue: str = "demo") -> set[bytes]:
    return set(db.scan_iter(ShopperKeys(venue).token("*"), count=1000))


def test_anonymous_page_visits_store_no_token_until_one_is_used(app, svc, demo):
    """A GET costs nothing, so a page for a browser that brought no token hands out a sealed one (as a probe
    does): 60 cookieless visits from one address store no token record; the page's own form still works
    with its token, whose first use writes the one record."""
    before = token_records(svc.db)
    handed = []
    for path in ["/v/demo/", "/v/demo/zone/kopi/coupons"] * 10 + ["/v/demo/queue/foodcourt"] * 40:
        page = app.test_client().get(path)  # a fresh client: no cookie, the same address
        assert page.status_code == 200, path
        found = re.search(r'name="c" value="([^"]+)"', page.get_data(as_text=True))
        if path.endswith("foodcourt"):
            handed.append(found.group(1))
    assert token_records(svc.db) == before
    assert len(set(handed)) == len(handed)  # a new shopper each

    client = app.test_client()
    taken = client.post("/v/demo/queue/foodcourt/take", data={"party": "2", "c": handed[0]})
    assert taken.status_code == 303
    ticket_page = client.get(taken.headers["Location"])
    assert ticket_page.status_code == 200 and 'id="ticket-number"' in ticket_page.get_data(as_text=True)
    assert len(token_records(svc.db) - before) == 1  # the used token, now stored
    shopper = token_store(app).resolve(handed[0])
    assert shopper is not None and shopper.handout
