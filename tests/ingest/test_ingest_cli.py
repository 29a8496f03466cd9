"""`flask --app wsgi meraki-config`: configure a venue's Meraki networks (and the demo one)."""

from __future__ import annotations

import pytest

from portal.ingest.meraki import MerakiStore


def run(app, *args):
    return app.test_cli_runner().invoke(args=["meraki-config", *args])


def test_configure_a_network(app, demo, db, client):
    result = run(app, "demo", "north", "--validator", "abc123", "--secret", "s3cret", "--network-id", "L_1")
    assert result.exit_code == 0, result.output
    assert "/api/v1/venues/demo/meraki/north" in result.output
    config = MerakiStore(db).get("demo", "north")
    assert config.validator == "abc123" and config.network_id == "L_1" and config.secret_matches("s3cret")
    assert client.get("/api/v1/venues/demo/meraki/north").get_data(as_text=True) == "abc123"


def test_secret_is_generated_when_omitted(app, demo, db):
    result = run(app, "demo", "north", "--validator", "abc123")
    assert result.exit_code == 0
    secret = result.output.split("secret:")[1].strip()
    assert len(secret) >= 24 and MerakiStore(db).get("demo", "north").secret_matches(secret)


def test_demo_network_is_stable(app, demo, db, svc):
    first = run(app, "demo", "--demo")
    second = run(app, "demo", "--demo")
    assert first.exit_code == 0 and first.output == second.output
    assert "/api/v1/venues/demo/meraki/demo" in first.output
    secret = (svc.settings.data_dir / "secrets" / "demo_meraki_secret").read_text()
    assert MerakiStore(db).get("demo", "demo").secret_matches(secret)


def test_bad_arguments(app, demo, db):
    assert run(app, "nowhere", "north", "--validator", "x").exit_code != 0
    assert run(app, "demo", "north").exit_code != 0  # no validator
    assert run(app, "demo", "--validator", "x").exit_code != 0  # no network
    assert run(app, "demo", "North Side", "--validator", "x").exit_code != 0
    assert run(app, "demo", "north", "--validator", "x\ny").exit_code != 0
    assert [n.name for n in MerakiStore(db).networks("demo")] == ["demo"]  # only the demo seed's own


def test_remove(app, demo, db):
    run(app, "demo", "north", "--validator", "abc")
    assert run(app, "demo", "north", "--remove").exit_code == 0
    assert MerakiStore(db).get("demo", "north") is None


def test_remove_the_demo_network(app, demo, db):
    """--demo names the network before --remove is read (it had removed NETWORK None: a TypeError)."""
    assert MerakiStore(db).get("demo", "demo") is not None  # the demo seed's own
    result = run(app, "demo", "--demo", "--remove")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "removed" and MerakiStore(db).get("demo", "demo") is None
    again = run(app, "demo", "--demo", "--remove")
    assert again.exit_code == 0 and "no Meraki network 'demo' here" in again.output


@pytest.mark.parametrize(("args", "said"), [
    (["--remove"], "NETWORK is required"),
    (["north", "--demo", "--remove"], "--demo is the network 'demo'"),
    (["north", "--demo"], "--demo is the network 'demo'"),
    (["--demo", "--validator", "x"], "--demo makes its own validator and secret"),
    (["--demo", "--remove", "--secret", "s"], "--remove forgets the network"),
    (["north", "--remove", "--validator", "x"], "--remove forgets the network"),
])
def test_flags_that_contradict_each_other_are_a_usage_error_changing_nothing(app, demo, db, args, said):
    run(app, "demo", "north", "--validator", "abc")
    result = run(app, "demo", *args)
    assert result.exit_code == 2 and said in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    assert {n.name for n in MerakiStore(db).networks("demo")} == {"demo", "north"}
    assert MerakiStore(db).get("demo", "north").validator == "abc"
