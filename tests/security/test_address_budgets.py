"""Per-address limits count an address as `address_key` makes it (portal/apps/budgets.py): an IPv6 address by
its /64 (one phone on a SLAAC WiFi, or a host routed a /64, may take any address in it), an IPv4-mapped
IPv6 address as its IPv4 address; inside the venue's own guest networks (`client_networks`) an IPv6 address
by itself. Both the abuse budgets and the console login throttle (portal/auth.py),
whose check and count are one step, so guesses sent at once cannot all pass the check."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import threading
import time
from types import SimpleNamespace

import pytest

from core.settings import DEFAULT_BUDGETS
from lightapps.coupons.store import CouponStore
from portal import auth
from portal.apps.budgets import address_key
from portal.auth import AccountStore, Throttled
from portal.captive.config import PortalConfigStore
from tests.security.conftest import GOOD
from tests.security.test_accounts import login


@pytest.mark.parametrize(("address", "key"), [
    ("198.51.100.20", "198.51.100.20"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("2001:DB8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:2::/64"),
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
    ("::ffff:198.51.100.20", "198.51.100.20"),
    ("fe80::1%eth0", "fe80::/64"),
    (None, "-"),
    ("", "-"),
    ("not an address", "not an address"),
])
def test_address_key(address, key):
    assert address_key(address) == key


def _claim_as_new_shopper(app, coupon, ip: str) -> int:
    browser = app.test_client()  # a fresh browser: a new anonymous shopper, which costs one GET
    page = browser.get("/v/demo/zone/kopi/coupons", environ_base={"REMOTE_ADDR": ip}).get_data(as_text=True)
    token = re.search(r'name="c" value="([^"]+)"', page).group(1)
    return browser.post(f"/v/demo/zone/kopi/coupons/{coupon.id}/claim", data={"c": token},
                        environ_base={"REMOTE_ADDR": ip}).status_code


@pytest.fixture
def coupon(svc, demo):
    return CouponStore(svc.db).create("demo", "kopi", {
        "title_en": "Rush", "stock": 40, "valid_from": time.time() - 60, "valid_until": time.time() + 3600})


def test_new_addresses_of_one_ipv6_64_share_one_budget(app, coupon):
    limit = DEFAULT_BUDGETS["coupons.claim.ip"][0]
    statuses = [_claim_as_new_shopper(app, coupon, f"2001:db8:1:2::{i + 1:x}") for i in range(limit + 1)]
    assert statuses == [303] * limit + [429]
    assert _claim_as_new_shopper(app, coupon, "2001:db8:1:3::1") == 303  # the next /64 is someone else


def test_phones_on_the_venues_own_ipv6_wifi_count_each_by_its_address(app, db, coupon):
    """Inside the venue's `client_networks` (its guest WiFi, whose one /64 every phone shares) each address is
    a phone of its own: a crowd of shoppers there is not one budget; outside, the /64 still counts."""
    PortalConfigStore(db).set("demo", {"client_networks": "2001:db8:7:7::/64"})
    limit = DEFAULT_BUDGETS["coupons.claim.ip"][0]
    statuses = [_claim_as_new_shopper(app, coupon, f"2001:db8:7:7::{i + 1:x}") for i in range(limit + 1)]
    assert statuses == [303] * (limit + 1)
    assert address_key("2001:db8:7:7::5", [ipaddress.ip_network("2001:db8:7:7::/64")]) == "2001:db8:7:7::5"


def test_an_ipv4_mapped_address_counts_as_its_ipv4_address(app, coupon):
    limit = DEFAULT_BUDGETS["coupons.claim.ip"][0]
    statuses = [_claim_as_new_shopper(app, coupon, "::ffff:198.51.100.30" if i % 2 else "198.51.100.30")
                for i in range(limit + 1)]
    assert statuses == [303] * limit + [429]


# ---- the console login throttle -------------------------------------------------------------------




def test_login_guesses_from_one_ipv6_64_are_throttled_together(app, owner):
    free = AccountStore.FREE_FAILURES
    codes = [login(app.test_client(), owner, f"guess {i}", f"2001:db8:9:9::{i + 1:x}").status_code
             for i in range(free + 2)]
    assert codes == [401] * free + [429] * 2
    # the owner, from another network, signs in at once
    assert login(app.test_client(), owner, GOOD, "2001:db8:9:a::1").status_code == 303


def test_login_guesses_from_many_addresses_are_throttled_on_the_account(app, db, owner):
    """A phone on a venue's guest network mints IPv6 addresses at will, and there each counts alone (as a botnet's
    would anywhere): past FREE_FAILURES_PER_ACCOUNT failures from all of them, the account itself waits."""
    store = AccountStore(db)
    for i in range(store.FREE_FAILURES_PER_ACCOUNT):
        assert store.verify(owner, f"guess {i}", f"198.51.100.{i + 1}") is None  # 50 addresses, a guess each
    with pytest.raises(Throttled):
        store.verify(owner, "guess again", "192.0.2.77")  # a fresh address: the account waits
    assert login(app.test_client(), owner, GOOD, "192.0.2.78").status_code == 429  # the owner too, for a while


def test_the_account_wide_delay_never_holds_up_an_address_the_owner_signed_in_from(app, db, owner):
    """An attacker sending a guess each time the account's delay runs out would keep it going for ever: an address
    the account signed in from lately is not held up by it (per address and per account there, it still counts)."""
    store = AccountStore(db)
    assert store.verify(owner, GOOD, "203.0.113.44") is not None  # the owner's office
    for i in range(store.FREE_FAILURES_PER_ACCOUNT):
        assert store.verify(owner, f"guess {i}", f"198.51.100.{i + 1}") is None
    with pytest.raises(Throttled):
        store.verify(owner, GOOD, "192.0.2.77")  # from a fresh address: the account's delay
    assert login(app.test_client(), owner, GOOD, "203.0.113.44").status_code == 303  # from the office: at once


def test_login_guesses_from_an_ipv4_mapped_address_count_for_its_ipv4(app, db, owner):
    free = AccountStore.FREE_FAILURES
    for i in range(free):
        ip = "::ffff:203.0.113.70" if i % 2 else "203.0.113.70"
        assert login(app.test_client(), owner, f"guess {i}", ip).status_code == 401
    assert login(app.test_client(), owner, GOOD, "203.0.113.70").status_code == 429


class _SlowHasher:
    """The real hasher, slowed down so that every guess sent at once is in its password check together."""

    def __init__(self, real, started: threading.Barrier) -> None:
        self.real, self.started = real, started

    def verify(self, stored, password):
        with contextlib.suppress(threading.BrokenBarrierError):  # those refused never get here: the rest go on
            self.started.wait(timeout=0.5)
        return self.real.verify(stored, password)

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_guesses_sent_at_once_are_counted_before_their_check(db, owner, monkeypatch):
    """Checked, then counted after the slow password check, every guess sent at once would find the count
    as it was before any of them: all would pass. Counted as they are checked, only the free ones do."""
    store, guesses = AccountStore(db), 12
    monkeypatch.setattr(auth, "_hasher", _SlowHasher(auth._hasher, threading.Barrier(guesses)))
    # One instant for all of them: on a busy machine the threads' checks could spread over more than the first
    # delay (1 s after the 4th failure), and a 5th guess then waits out its delay rightly, not a race.
    monkeypatch.setattr(auth, "time", SimpleNamespace(time=lambda: 1_800_000_000.0))
    outcomes: list[str] = []

    def guess(i: int) -> None:
        try:
            outcomes.append("wrong" if store.verify(owner, f"guess {i}", "203.0.113.80") is None else "in")
        except Throttled:
            outcomes.append("throttled")

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("wrong") == store.FREE_FAILURES
    assert outcomes.count("throttled") == guesses - store.FREE_FAILURES


def test_a_right_password_takes_its_attempt_back(db, owner):
    store = AccountStore(db)
    for i in range(3):
        assert store.verify(owner, f"guess {i}", "203.0.113.90") is None
    pair, by_ip, by_account = store._throttle_keys(owner, "203.0.113.90")
    before, account_before = db.hgetall(by_ip), db.hgetall(by_account)
    assert store.verify(owner, GOOD, "203.0.113.90") is not None
    assert db.hgetall(by_ip) == before  # the address's failures as they were (count and time)
    assert db.hgetall(by_account) == account_before  # and the account's from anywhere
    assert not db.exists(pair)  # the account's from this address: forgiven, as before
    assert store.verify(owner, GOOD, "203.0.113.91") is not None
    assert not db.exists(store._throttle_keys(owner, "203.0.113.91")[1])
