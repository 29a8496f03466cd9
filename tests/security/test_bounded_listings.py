"""A shopper's token set and an account's session set list only live members, however often she comes back or it
signs in: a record that expires (a token 30 days unused, a session after 12 hours) left its member listed, so a
regular's browser (one token minted per visit) or an operator signed in to twice a day grew their sets for ever.
Here a record expires by being deleted, which is all the store's expiry does to it. A set the previous release wrote
(the same SET, full of dead members) is pruned at the next sign-in, and revoke (erasure) and signing out everywhere
still end everything listed."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode

from portal.auth import AccountStore
from portal.shopper import PRUNE_ABOVE, Shopper, ShopperKeys, ShopperTokenStore, cookie_name, token_store
from tests.security.conftest import GOOD
from tests.security.test_accounts import login
from tests.security.test_shopper_identity import VICTIM_IP, landing_token, resolve, victim  # noqa: F401

VISITS = 2 * PRUNE_ABOVE + 3
OLD_RELEASE_DEAD = 200  # the auditor's regular after 200 visits; an operator's set after as many sign-ins


def listed(db, key: str) -> set[str]:
    return {m.decode() for m in db.smembers(key)}


def expire(db, record_of, members) -> None:
    """What the store's expiry does to these records: they are gone, their members stay listed."""
    if members:
        db.delete(*(record_of(m) for m in members))


def minted(store: ShopperTokenStore, shopper: Shopper) -> tuple[str, str]:
    """A new token of hers and the digest it was listed under."""
    tokens = ShopperKeys(shopper.venue).tokens_of(shopper.client)
    before = listed(store.db, tokens)
    token = store.mint(shopper)
    (digest,) = listed(store.db, tokens) - before
    return token, digest


def test_a_regulars_token_set_holds_her_live_tokens_only(app, client, svc, victim):  # noqa: F811
    """Her browser keeps the cookie; each visit (a probe, then the landing page) mints her a new token, those of
    the visits before having expired by then: her set stays small, and revoke still ends her live token."""
    shopper, token = victim
    keys = ShopperKeys("demo")
    tokens = keys.tokens_of(shopper.client)
    client.set_cookie(cookie_name("demo"), token)
    for _ in range(VISITS):
        before = listed(svc.db, tokens)
        handout = landing_token(client.get("/generate_204", environ_base={"REMOTE_ADDR": VICTIM_IP}))
        assert client.get("/v/demo/?" + urlencode({"c": handout})).status_code == 200
        assert listed(svc.db, tokens) - before, "the visit minted her no token"
        assert svc.db.scard(tokens) <= PRUNE_ABOVE
        expire(svc.db, keys.token, before)
    cookie = client.get_cookie(cookie_name("demo")).value
    assert resolve(app, cookie).client == shopper.client
    with app.app_context():
        assert token_store().revoke("demo", shopper.client) >= 1
    assert resolve(app, cookie) is None and not svc.db.exists(tokens)


def test_a_mint_past_the_bound_drops_exactly_the_dead_tokens(app, svc, victim):  # noqa: F811
    shopper, first = victim
    keys = ShopperKeys("demo")
    tokens = keys.tokens_of(shopper.client)
    with app.app_context():
        store = token_store()
        made = [minted(store, shopper) for _ in range(PRUNE_ABOVE)]
        kept = made[-2:]
        expire(svc.db, keys.token, listed(svc.db, tokens) - {digest for _token, digest in kept})
        assert svc.db.scard(tokens) == PRUNE_ABOVE + 1  # the fixture's token too; none pruned: all lived
        newest = minted(store, shopper)  # past the bound: the dead go
        assert listed(svc.db, tokens) == {digest for _token, digest in (*kept, newest)}
        assert all(store.resolve(token) is not None for token, _digest in (*kept, newest))
        assert store.revoke("demo", shopper.client) == 3
        assert all(store.resolve(token) is None for token in (first, *(t for t, _digest in made), newest[0]))
    assert not svc.db.exists(tokens)


def test_a_token_set_the_previous_release_bloated_is_pruned_and_revoked(app, svc, victim):  # noqa: F811
    shopper, first = victim
    keys = ShopperKeys("demo")
    tokens = keys.tokens_of(shopper.client)
    svc.db.sadd(tokens, *(secrets.token_hex(20) for _ in range(OLD_RELEASE_DEAD)))  # digests of expired tokens
    with app.app_context():
        store = token_store()
        token, digest = minted(store, shopper)
        assert svc.db.scard(tokens) == 2 and digest in listed(svc.db, tokens)
        assert store.resolve(first).client == store.resolve(token).client == shopper.client
        assert store.revoke("demo", shopper.client) == 2
        assert store.resolve(first) is None and store.resolve(token) is None
    assert not svc.db.exists(tokens)


def test_an_accounts_session_set_holds_its_live_sessions_only(db, owner):
    """Signed in to more often than sessions last: each sign-in's set has the live sessions, and at most
    PRUNE_ABOVE members; signing out everywhere ends the live ones."""
    store = AccountStore(db)
    sessions = store.keys.sessions_of(owner)
    for _ in range(VISITS):
        before = listed(db, sessions)
        store.start_session(owner)
        assert db.scard(sessions) <= PRUNE_ABOVE
        expire(db, store.keys.session, before)
    made = [store.start_session(owner) for _ in range(PRUNE_ABOVE)]
    expire(db, store.keys.session, listed(db, sessions) - set(made[-2:]))
    newest = store.start_session(owner)
    assert listed(db, sessions) == {*made[-2:], newest}
    assert store.end_sessions(owner) == 3
    assert all(store.session_user(sid) is None for sid in (*made, newest)) and not db.exists(sessions)


def test_a_session_set_the_previous_release_bloated_still_signs_in_and_out(app, client, db, owner):
    store = AccountStore(db)
    sessions = store.keys.sessions_of(owner)
    earlier = store.start_session(owner)  # another browser, still signed in
    db.sadd(sessions, *(secrets.token_urlsafe(32) for _ in range(OLD_RELEASE_DEAD)))  # expired sessions' ids
    assert login(client, owner, GOOD).status_code == 303
    assert client.get("/console/owner/demo/").status_code == 200
    (signed_in,) = listed(db, sessions) - {earlier}
    assert listed(db, sessions) == {earlier, signed_in}
    store.set_password(owner, "another long passphrase")  # signs out everywhere
    assert client.get("/console/owner/demo/").status_code == 302
    assert store.session_user(earlier) is None and not db.exists(sessions)
