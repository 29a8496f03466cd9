"""`client_networks=on-premises`: the operator says the portal is on the mall's own network. It places phones exactly
as a venue that sets nothing does (a MAC no gateway vouched for, only from the premises' own kind of address), and
only the set-up checklist tells the two apart (tests/operator/test_checklist_on_premises.py). A value that mixes it
with networks, or is neither, is refused with words that say what to write."""

from __future__ import annotations

import pytest

from portal.captive.config import PortalConfigStore
from portal.captive.views import captive_services
from tests.captive.test_captive_gateways import configure
from tests.captive.test_client_networks import PREMISES, PUBLIC, at, landed_path
from tests.captive.test_probe_lane import PHONE, tracked  # noqa: F401 - the fixture
from tests.captive.test_session_review_fixes import production  # noqa: F401 - the fixture


def test_on_premises_places_phones_as_the_unset_default_does(production, tracked):  # noqa: F811
    configure(production, client_networks="on-premises")
    for ip in PREMISES:
        assert landed_path(production.get(f"/generate_204?client_mac={PHONE}", **at(ip))) == tracked, ip
    for ip in PUBLIC:
        assert landed_path(production.get(f"/generate_204?client_mac={PHONE}", **at(ip))) == "/v/demo/", ip
    with production.application.app_context():  # no guest networks for the budgets and the login throttle either
        assert captive_services().landing.client_networks("demo") == ()


@pytest.mark.parametrize("value", ["on-premises", " On-Premises "])
def test_the_store_keeps_the_word_and_names_no_networks(db, value):
    store = PortalConfigStore(db)
    store.set("demo", {"client_networks": value})
    assert store.client_networks_setting("demo") == "on-premises"  # as the checklist reads it
    assert store.client_networks("demo") == ""  # as the landing reads it: the premises' own addresses


@pytest.mark.parametrize(("value", "words"), [
    ("on-premises, 10.0.0.0/8", "on-premises stands alone"),
    ("onpremises", "'onpremises' is not an IP address or network (or on-premises, for a portal on the mall's own"),
])
def test_a_value_that_is_neither_is_refused_clearly(app, db, demo, value, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(")):
        PortalConfigStore(db).set("demo", {"client_networks": value})
    result = app.test_cli_runner().invoke(args=["portal-config", "demo", f"client_networks={value}"])
    assert result.exit_code != 0 and words in result.output
    assert PortalConfigStore(db).client_networks_setting("demo") == ""  # nothing written


def test_the_cli_sets_it(app, db, demo):
    result = app.test_cli_runner().invoke(args=["portal-config", "demo", "client_networks=on-premises"])
    assert result.exit_code == 0, result.output
    assert PortalConfigStore(db).client_networks_setting("demo") == "on-premises"
