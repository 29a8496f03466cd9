"""A portal hosted outside the mall sees every shopper at the mall's one public NAT (egress) address, which the
venue names in `client_networks`: a shared address (portal/apps/budgets.py `shared_address`). Its per-address
("ip") budgets would be one budget for the whole mall, so they do not count there; a phone is held back by its
device budget, its shopper budget, the action's shared ceilings and, for an action with no ceiling of its own, a
crowd's budget for that address (`.egress`). A private address in `client_networks` (a
portal on the premises: each phone its own address) keeps its per-address budget. The console login throttle
follows the same rule for an account that signed in from the shared address lately. Through the deployment's
proxy (PROXY_HOPS=1, X-Forwarded-For), on the demo mall (demo mode: a redirect's MAC counts as vouched for)."""

from __future__ import annotations

import re
import time
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest

from core.settings import DEFAULT_BUDGETS
from lightapps.coupons.store import CouponStore
from portal import auth, create_app
from portal.apps.budgets import OverBudget, budget_store, shared_address, spend_budget
from portal.auth import AccountStore
from portal.captive.config import PortalConfigStore, address_networks
from tests.captive.test_captive_gateways import FakeUniFi, configure
from tests.captive.test_gateway_state import token_of
from tests.fake_http import serving
from tests.security.conftest import GOOD
from tests.security.test_accounts import login

EGRESS, ON_PREMISES = "203.0.113.7", "10.20.0.7"
GREAT_DEMAND, FROM_THIS_DEVICE = "This is in great demand just now.", "Too many requests from this device"


@pytest.fixture
def hosted(settings, db, demo):
    """The app behind the deployment's proxy (PROXY_HOPS=1: the client address is X-Forwarded-For's)."""
    app = create_app(settings.with_(proxy_hops=1))
    yield app
    app.extensions["mallportal"].close(timeout_s=10)


@pytest.fixture
def unifi(hosted):
    FakeUniFi.calls = []
    with serving(FakeUniFi) as url:
        configure(hosted.test_client(), unifi_url=url, unifi_username="portal", unifi_password="ctrlpw")
        yield hosted


def phone_mac(i: int) -> str:
    return f"02:50:00:00:{i // 256:02x}:{i % 256:02x}"


def grant(app, mac: str, address: str):
    """A phone's UniFi redirect landed and its Continue pressed, in a fresh browser (a new shopper)."""
    browser, via = app.test_client(), {"X-Forwarded-For": address}
    url = "/guest/s/default/?" + urlencode({"ap": "44:d9:e7:0a:80:43", "id": mac, "t": int(time.time()),
                                            "url": "http://example.org/", "ssid": "Mall Guest"})
    token = token_of(browser.get(url, headers=via))
    return browser.post("/portal/continue", data={"c": token}, headers=via)


def test_the_shared_address_rule():
    networks = address_networks(f"{EGRESS}, 198.51.100.0/29, 10.20.0.0/16, 100.64.0.0/10, 2001:db8:7:7::/64")
    assert shared_address(EGRESS, networks) and shared_address(f"::ffff:{EGRESS}", networks)
    assert shared_address("198.51.100.3", networks)
    assert not shared_address(ON_PREMISES, networks)  # a portal on the premises: each phone its own address
    assert not shared_address("100.64.0.9", networks)  # CGNAT: the premises' own kind too
    assert not shared_address("2001:db8:7:7::5", networks)  # IPv6 inside: counted by itself (address_key)
    assert not shared_address("203.0.113.8", networks) and not shared_address(EGRESS, ())  # not named


def test_forty_phones_behind_the_malls_egress_all_get_online(unifi):
    configure(unifi.test_client(), client_networks=EGRESS)
    answers = [grant(unifi, phone_mac(i), EGRESS).status_code for i in range(40)]
    assert answers == [303] * 40
    assert [path for path, *_ in FakeUniFi.calls].count("/api/s/default/cmd/stamgr") == 40


def test_phones_at_a_private_address_in_client_networks_keep_the_per_address_limit(unifi):
    configure(unifi.test_client(), client_networks="10.20.0.0/16")
    limit = DEFAULT_BUDGETS["captive.grant.ip"][0]
    answers = [grant(unifi, phone_mac(i), ON_PREMISES) for i in range(limit + 1)]
    assert [a.status_code for a in answers] == [303] * limit + [429]
    assert FROM_THIS_DEVICE in answers[-1].get_data(as_text=True)


def test_one_phone_repeating_the_grant_is_held_back_by_its_device_budget(unifi):
    configure(unifi.test_client(), client_networks=EGRESS)
    limit = DEFAULT_BUDGETS["captive.grant.device"][0]
    answers = [grant(unifi, phone_mac(7), EGRESS) for _ in range(limit + 1)]
    assert [a.status_code for a in answers] == [303] * limit + [429]
    assert FROM_THIS_DEVICE in answers[-1].get_data(as_text=True) and "Retry-After" in answers[-1].headers
    assert grant(unifi, phone_mac(8), EGRESS).status_code == 303  # the next phone behind the NAT


def test_an_action_with_only_per_shopper_brakes_has_a_crowd_budget_at_the_egress(app, db, demo):
    """Plate lookups have no ceiling of their own: at the mall's NAT address they count under
    `parking.lookup.egress`, a crowd's worth (set low here), whose refusal accuses nobody; an address of its own
    keeps its per-address budget. Actions with ceilings of their own declare none (a second lock one client could
    close for the whole mall)."""
    PortalConfigStore(db).set("demo", {"client_networks": EGRESS})
    budget_store(app).set_limit("demo", "parking.lookup.egress", (3, 600))

    def lookup(address: str, i: int) -> None:
        with app.test_request_context(environ_base={"REMOTE_ADDR": address}):
            spend_budget("parking.lookup", "demo", shopper=f"s-egress-{i}")

    for i in range(3):
        lookup(EGRESS, i)
    with pytest.raises(OverBudget) as refused:
        lookup(EGRESS, 3)
    assert refused.value.refusal.budget == "parking.lookup.egress" and not refused.value.refusal.by_client
    lookup("198.51.100.9", 4)  # not the egress: its own address's budget
    assert not any(name.startswith(("coupons.claim.", "cinema.seats.", "queue.take.", "activities.join."))
                   and name.endswith(".egress") for name in budget_store(app).defaults)


def test_a_wide_public_network_in_client_networks_shares_no_address():
    """Only a mall-sized egress (at most 256 addresses) counts as shared: `0.0.0.0/0` or an ISP's block named
    there would otherwise make every internet client of the venue counted by the crowd's budgets only."""
    assert shared_address(EGRESS, address_networks("203.0.113.0/24"))
    assert not shared_address(EGRESS, address_networks("203.0.0.0/16"))
    assert not shared_address(EGRESS, address_networks("0.0.0.0/0"))


def test_a_shared_ceiling_refusal_accuses_no_device(unifi):
    configure(unifi.test_client(), client_networks=EGRESS)
    budget_store(unifi).set_limit("demo", "captive.grant.venue", (2, 600))
    answers = [grant(unifi, phone_mac(i), EGRESS) for i in range(3)]
    assert [a.status_code for a in answers] == [303, 303, 429]
    page = answers[2].get_data(as_text=True)
    assert GREAT_DEMAND in page and FROM_THIS_DEVICE not in page and "Retry-After" in answers[2].headers


def _claim_as_new_shopper(app, coupon_id: int, address: str) -> int:
    browser, via = app.test_client(), {"X-Forwarded-For": address}
    page = browser.get("/v/demo/zone/kopi/coupons", headers=via).get_data(as_text=True)
    token = re.search(r'name="c" value="([^"]+)"', page).group(1)
    return browser.post(f"/v/demo/zone/kopi/coupons/{coupon_id}/claim", data={"c": token}, headers=via).status_code


@pytest.mark.parametrize(("networks", "address", "shared"), [(EGRESS, EGRESS, True),
                                                             ("10.20.0.0/16", ON_PREMISES, False)])
def test_any_actions_per_address_budget_follows_the_rule(hosted, db, networks, address, shared):
    """Not only the grant: every spend counts the address as `_requester` does (a coupon claim here)."""
    PortalConfigStore(db).set("demo", {"client_networks": networks})
    coupon = CouponStore(db).create("demo", "kopi", {"title_en": "Rush", "stock": 40, "valid_from": time.time() - 60,
                                                     "valid_until": time.time() + 3600})
    limit = DEFAULT_BUDGETS["coupons.claim.ip"][0]
    statuses = [_claim_as_new_shopper(hosted, coupon.id, address) for _ in range(limit + 1)]
    assert statuses == [303] * (limit + 1) if shared else [303] * limit + [429]


# ---- the console login throttle -------------------------------------------------------------------------------


@pytest.fixture
def frozen(monkeypatch):
    """One instant for the whole test: a guess's delay cannot run out while a busy machine runs the next."""
    monkeypatch.setattr(auth, "time", SimpleNamespace(time=lambda: 1_800_000_000.0))


def test_guesses_from_the_egress_do_not_lock_out_staff_who_signed_in_from_it(app, db, owner, frozen):
    PortalConfigStore(db).set("demo", {"client_networks": EGRESS})
    assert login(app.test_client(), owner, GOOD, EGRESS).status_code == 303  # the owner, from the mall WiFi
    AccountStore(db).create("new-tenant", GOOD, "owner", "demo", ("kopi",))
    codes = [login(app.test_client(), f"nobody{i}", "wrong-password-x", EGRESS).status_code for i in range(30)]
    assert 429 in codes  # the address's own throttle holds the guesser back
    assert login(app.test_client(), owner, GOOD, EGRESS).status_code == 303  # the owner signs in at once
    assert login(app.test_client(), "new-tenant", GOOD, EGRESS).status_code == 429  # never signed in from there


def test_guesses_at_a_known_account_from_the_egress_are_still_bounded_per_account(app, db, owner, frozen):
    PortalConfigStore(db).set("demo", {"client_networks": EGRESS})
    assert login(app.test_client(), owner, GOOD, EGRESS).status_code == 303
    free = AccountStore.FREE_FAILURES
    codes = [login(app.test_client(), owner, f"guess {i}", EGRESS).status_code for i in range(free + 2)]
    assert codes == [401] * free + [429] * 2


def test_staff_at_a_private_address_in_client_networks_keep_the_per_address_throttle(app, db, owner, frozen):
    PortalConfigStore(db).set("demo", {"client_networks": "10.20.0.0/16"})
    assert login(app.test_client(), owner, GOOD, ON_PREMISES).status_code == 303
    for i in range(AccountStore.FREE_FAILURES_PER_IP):
        assert login(app.test_client(), f"nobody{i}", "wrong-password-x", ON_PREMISES).status_code == 401
    assert login(app.test_client(), owner, GOOD, ON_PREMISES).status_code == 429
