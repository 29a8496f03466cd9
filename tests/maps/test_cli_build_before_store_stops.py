"""`python -m portal flask <map change>` with no `make run` running: the command starts DATA_DIR's embedded Valkey for
itself, and the model rebuild its change starts must be finished before that store stops (README: the command builds
the model before it exits). Until 2026-12-08 the store stopped first and the build died on a refused connection."""

from __future__ import annotations

import pytest
import redis

from core.storage import start_embedded_valkey
from portal.__main__ import flask_command
from portal.maps.builds import model_state
from tests.maps.test_maps_setup_drafts import VENUE, _files

pytestmark = pytest.mark.slow


@pytest.fixture
def own_data_dir(tmp_path, monkeypatch):
    for name in ("REDIS_URL", "REDIS_CLUSTER", "DEMO", "SECRET_KEY", "MAC_HASH_KEY", "PHONE_KEY", "VAPID_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    return tmp_path


def command(*args: str) -> None:
    with pytest.raises(SystemExit) as done:  # click's standalone mode ends with the command's status
        flask_command(list(args))
    assert done.value.code == 0


def test_the_model_is_built_before_the_commands_own_store_stops(own_data_dir, caplog):
    plan, aps, samples = _files(own_data_dir)
    command("map-import", VENUE, str(plan))
    command("ap-import", VENUE, str(aps))
    command("samples-import", VENUE, str(samples), "--scans", "5")  # the change whose build gives a model
    assert "model rebuild of" not in caplog.text  # no build stopped on a store gone away
    server = start_embedded_valkey(own_data_dir / "valkey")
    try:
        state = model_state(VENUE, redis.Redis.from_url(server.connection_url))
    finally:
        server.stop()
    assert state["state"] == "ready" and state["version"] == 3, state
