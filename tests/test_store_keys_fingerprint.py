"""A store restored onto a new disk without DATA_DIR/secrets (docs/operations.md copies appendonlydir) must not start
on keys generated afresh: every phone lookup, client id and sealed token would silently find nothing. The store
records a digest of the keys it was written with; `serve` and `python -m portal flask` (on the embedded store they
start) stop with one line on other keys, and on keys they would generate for a store that already holds data."""

from __future__ import annotations

import shutil

import pytest
import redis

from core.settings import Settings, key_fingerprints
from core.storage import start_embedded_valkey
from portal.__main__ import InstallKeyNames, main

pytestmark = pytest.mark.slow

FINGERPRINTS = InstallKeyNames("_global").fingerprints()


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A DATA_DIR whose embedded store holds data written before fingerprints were recorded (or restored from such
    a backup), and no keys yet."""
    for name in ("REDIS_URL", "REDIS_CLUSTER", "DEMO", "SECRET_KEY", "MAC_HASH_KEY", "PHONE_KEY", "VAPID_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    with Store(tmp_path) as db:
        db.set("mp:{demo}:members:count", 1)
    return tmp_path


class Store:
    """The data dir's embedded Valkey, started again to look at what the commands left in it."""

    def __init__(self, data_dir) -> None:
        self.server = start_embedded_valkey(data_dir / "valkey")

    def __enter__(self) -> redis.Redis:
        return redis.Redis.from_url(self.server.connection_url, decode_responses=True)

    def __exit__(self, *exc) -> None:
        self.server.stop()


def flask_users_list() -> int:
    try:
        return main(["flask", "users", "list"])
    except SystemExit as done:  # click's standalone mode ends with the command's status
        return done.code


def refused_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err.strip()


def test_a_restored_store_without_its_keys_is_refused(data_dir, capsys):
    assert flask_users_list() == 2
    line = refused_line(capsys)
    assert line.startswith(f"python -m portal flask: the store in {data_dir / 'valkey'} holds data, but "
                           f"{data_dir / 'secrets'} has no SECRET_KEY, MAC_HASH_KEY, PHONE_KEY, VAPID_PRIVATE_KEY")
    assert f"copy {data_dir / 'secrets'} from the backup" in line
    assert not list((data_dir / "secrets").iterdir())  # the keys made for the refused start are gone again
    assert flask_users_list() == 2  # so the next start is refused as well, not run on them


def test_an_upgraded_store_records_its_keys_and_refuses_others(data_dir, capsys, monkeypatch):
    own = Settings.from_env({"DATA_DIR": str(data_dir)})  # the keys it has run on so far (generated here)
    assert flask_users_list() == 0
    with Store(data_dir) as db:
        assert db.hgetall(FINGERPRINTS) == key_fingerprints(own)
    capsys.readouterr()

    kept = shutil.copytree(data_dir / "secrets", data_dir.parent / f"{data_dir.name}-kept")
    shutil.rmtree(data_dir / "secrets")  # a restore that forgot them
    assert flask_users_list() == 2
    assert refused_line(capsys).startswith("python -m portal flask: SECRET_KEY, MAC_HASH_KEY, PHONE_KEY, "
                                           "VAPID_PRIVATE_KEY are not the keys this store's data was written with")

    shutil.copytree(kept, data_dir / "secrets", dirs_exist_ok=True)
    monkeypatch.setenv("SECRET_KEY", "another-install-secret-key-" + "z" * 16)
    assert flask_users_list() == 2
    assert refused_line(capsys).startswith("python -m portal flask: SECRET_KEY is not the key this store's data "
                                           "was written with")
    monkeypatch.delenv("SECRET_KEY")
    assert flask_users_list() == 0  # its own keys back: it runs
