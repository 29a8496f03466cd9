"""What the platform checks of a light app at start, so that a mistake in an app's declaration (or in LIGHT_APPS)
stops `create_app` with a message naming it, instead of a 500 for every shopper or a limit that counts nothing:
an app's own abuse budgets, its declared endpoints, the apps every page links to; and the demo token that
covers every declared scope (docs/ARCHITECTURE.md, "The light-app contract")."""

from __future__ import annotations

import dataclasses
import re

import pytest

from core.settings import DEFAULT_LIGHT_APPS, Settings
from lightapps import coupons
from portal import create_app
from portal.apps import registry
from portal.apps.budgets import UndeclaredBudget, budget_store, spend_budget
from portal.ingest.tokens import INGEST, declared_scopes
from portal.seed import ensure_demo_mall
from tests.fixtures_apps import hello

BUDGETED = "tests.fixtures_apps.budgeted"
HELLO = "tests.fixtures_apps.hello"
# The README's LIGHT_APPS example (the `LIGHT_APPS` row of its settings table): a portal that runs it must serve
# every shopper page without a 500.
README_EXAMPLE = ("lightapps.directory", "lightapps.navigation", "lightapps.cinema")


@pytest.fixture(autouse=True)
def own_registry(monkeypatch):
    # The registry is process-wide: each test starts it empty, as a new process does (a portal that loads fewer
    # apps than an earlier test's must not see theirs), and gives it back as it was.
    monkeypatch.setattr(registry, "_REGISTRY", {})
    monkeypatch.setattr(registry, "_PARTS", {})


def portal_with(settings, *extra: str, demo_map=None, apps=DEFAULT_LIGHT_APPS):
    app = create_app(settings.with_(light_apps=(*apps, *extra)))
    if demo_map is not None:
        with app.app_context():
            ensure_demo_mall(app.extensions["mallportal"], "demo", demo_map)
    return app


# ---- an app's own budgets --------------------------------------------------------------------------------------


def test_an_apps_declared_budgets_count_with_no_line_in_core_settings(settings, db, demo_map):
    app = portal_with(settings, BUDGETED, demo_map=demo_map)
    assert budget_store(app).defaults["budgeted.take.shopper"] == (2, 3600)
    app.extensions["mallportal"].zone_apps.set("demo", "books", "budgeted", {})
    client = app.test_client()
    codes = [client.post("/v/demo/budgeted/books/take").status_code for _ in range(3)]
    assert codes == [200, 200, 429]  # the shopper's 2 an hour


def test_budgets_and_flask_budgets_set_take_an_apps_budget(settings, db, demo_map):
    env = Settings.from_env({"BUDGETS": "budgeted.take.shopper=7/1h", "DATA_DIR": str(settings.data_dir)})
    app = portal_with(settings.with_(budgets=env.budgets), BUDGETED, demo_map=demo_map)
    assert budget_store(app).defaults["budgeted.take.shopper"] == (7, 3600)  # BUDGETS wins over the declaration
    assert budget_store(app).defaults["budgeted.take.ip"] == (5, 3600)
    result = app.test_cli_runner().invoke(args=["budgets", "set", "demo", "budgeted.take.ip", "9/1h"])
    assert result.exit_code == 0, result.output
    assert budget_store(app).limits("demo")["budgeted.take.ip"] == ((9, 3600), True)


def test_a_budgets_name_nobody_declares_stops_the_start(settings, db):
    env = Settings.from_env({"BUDGETS": "budgeted.takes.ip=7/1h", "DATA_DIR": str(settings.data_dir)})
    with pytest.raises(ValueError, match="unknown budget 'budgeted.takes.ip'"):
        portal_with(settings.with_(budgets=env.budgets), BUDGETED)
    with pytest.raises(ValueError, match="unknown budget 'coupons.clam.ip'"):  # a platform name: at once
        Settings.from_env({"BUDGETS": "coupons.clam.ip=7/1h", "DATA_DIR": str(settings.data_dir)})


def test_spending_an_action_nobody_declared_raises(app, db):
    with app.test_request_context("/"):
        with pytest.raises(UndeclaredBudget, match="coupons.clam"):
            spend_budget("coupons.clam", "demo", shopper="s1")  # a typo
        with pytest.raises(UndeclaredBudget, match="lostfound.report"):
            spend_budget("lostfound.report", "demo", shopper="s1")  # an app that spends without declaring
        with pytest.raises(UndeclaredBudget):
            budget_store(app).set_action_limit("demo", "coupons.clam", (1, 60))
    assert not list(db.scan_iter("*budget*"))  # nothing counted


def test_an_app_whose_budgets_core_settings_holds_declares_none(settings, db, monkeypatch):
    monkeypatch.setattr(coupons, "APP", dataclasses.replace(coupons.APP, budgets={"coupons.claim.ip": (1, 60)}))
    with pytest.raises(ValueError, match="light app coupons: core/settings.py DEFAULT_BUDGETS holds its budgets"):
        portal_with(settings)


@pytest.mark.parametrize(("budgets", "error"), [
    ({"hello.wave.ip": (1, 60), "coupons.claim.ip": (1, 60)}, "a budget is named hello.<action>.<scope>"),
    ({"hello.wave": (1, 60)}, "a budget is named hello.<action>.<scope>"),
    ({"hello.wave.ip": (1, 0)}, "budget 'hello.wave.ip' is \\(count, window seconds"),
    ({"hello.wave.ip": ("1", 60)}, "budget 'hello.wave.ip' is \\(count, window seconds"),
])
def test_a_malformed_budget_declaration_stops_the_start(settings, db, monkeypatch, budgets, error):
    monkeypatch.setattr(hello, "APP", dataclasses.replace(hello.APP, budgets=budgets))
    with pytest.raises(ValueError, match=f"light app hello: {error}"):
        portal_with(settings, HELLO)


# ---- declared endpoints ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "error"), [
    ({"landing_endpoint": "hello.home"}, "landing_endpoint='hello.home' names no endpoint"),
    ({"console_endpoint": "hello_console.index"}, "console_endpoint='hello_console.index' names no endpoint"),
    ({"media_endpoint": "directory.home"}, "media_endpoint='directory.home' has no GET URL taking <venue> and <zone>"),
])
def test_a_declared_endpoint_that_is_no_zone_page_stops_the_start(settings, db, monkeypatch, change, error):
    monkeypatch.setattr(hello, "APP", dataclasses.replace(hello.APP, **change))
    with pytest.raises(RuntimeError, match=re.escape(f"light app hello: {error}")):
        portal_with(settings, HELLO)


# ---- the apps every page links to ------------------------------------------------------------------------------


@pytest.mark.parametrize(("apps", "missing"), [
    (("lightapps.cinema", "lightapps.directory"), "add lightapps.navigation"),
    (("lightapps.cinema", "lightapps.queue"), "add lightapps.directory, lightapps.navigation"),
])
def test_light_apps_without_the_mall_home_and_its_routes_stop_the_start(settings, db, apps, missing):
    with pytest.raises(RuntimeError, match=f"LIGHT_APPS must name the apps directory, navigation .*: {missing}$"):
        portal_with(settings, apps=apps)


def test_the_readme_light_apps_example_serves_every_shopper_page(settings, db, demo_map):
    app = portal_with(settings, apps=README_EXAMPLE, demo_map=demo_map)
    client = app.test_client()
    assert client.get("/v/demo/").status_code == 200
    assert client.get("/v/demo/zone/cinema").status_code in (200, 302)
    values = {"venue": "demo", "zone": "cinema", "shop": "kopi", "level": "0", "floor": "0"}
    failed = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or not rule.rule.startswith("/v/<venue>") or rule.arguments - values.keys():
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([a-z_]+)>", lambda m: values[m.group(1)], rule.rule)
        status = client.get(path).status_code
        if status >= 500:
            failed.append((status, path))
    assert failed == []


# ---- the demo token --------------------------------------------------------------------------------------------


def test_the_demo_token_covers_every_declared_scope_on_every_start(app, svc, db, demo_map):
    with app.app_context():
        ensure_demo_mall(svc, "demo", demo_map)
    token_file = svc.settings.data_dir / "secrets" / "demo_api_token"
    token = token_file.read_text()
    svc.tokens.issue("demo", "demo-simulator", token=token, scopes=[INGEST])  # as a token made before an app's scope
    with app.app_context():
        assert ensure_demo_mall(svc, "demo", demo_map) is False  # a later start: the venue is loaded
    assert token_file.read_text() == token  # the same token, scripts that read it once keep working
    assert svc.tokens.source_for("demo", token).scopes == declared_scopes()
    assert INGEST in declared_scopes() and "parking" in declared_scopes()
