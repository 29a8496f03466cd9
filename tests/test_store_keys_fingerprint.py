"""A store restored onto a new disk without DATA_DIR/secrets (docs/operations.md copies appendonlydir) must not start
on keys generated afresh: every phone lookup, client id and sealed token would silently find nothing. The store
records a digest of the keys it was written with; `serve` and `python -m portal flask` (on the embedded store they
start) stop with one line on other keys, and on keys they would generate for a store that already holds data."""

from __future__ import annotations

import shutil
import socket

import pytest
import redis

from core.settings import Settings, key_fingerprints
from core.storage import start_embedded_valkey
from portal import __main__ as command_line
from portal.__main__ import CommandFailed, InstallKeyNames, main
from portal.tools.net import free_port

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
                           f"{data_dir / 'secrets'} has no SECRET_KEY, MAC_HASH_KEY, PHONE_KEY, VAPID_PRIVATE_KEY but "
                           "ones generated afresh")
    assert f"copy {data_dir / 'secrets'} from the backup" in line
    assert flask_users_list() == 2  # the next start is refused as well, not run on them
    capsys.readouterr()
    with Store(data_dir) as db:
        assert not db.exists(FINGERPRINTS)  # nothing recorded for keys that are not the data's


@pytest.fixture
def no_sigterm_handler(monkeypatch):
    """`serve` and `track` in this process, as `python -m portal` calls them, their SIGTERM handler left out (this
    is the suite's process)."""
    monkeypatch.setattr(command_line, "_stop_on_sigterm", lambda: None)


def serve_with_its_sandbox_port_taken(monkeypatch) -> None:
    for name in ("PAY_SANDBOX_URL", "WECHATPAY_MCHID", "ALIPAY_APPID"):  # no payment provider: the sandbox's port
        monkeypatch.delenv(name, raising=False)
    with socket.create_server(("127.0.0.1", 0)) as other:
        monkeypatch.setenv("PAY_SANDBOX_PORT", str(other.getsockname()[1]))
        with pytest.raises(CommandFailed):
            command_line.serve(None, None, None)
    monkeypatch.delenv("PAY_SANDBOX_PORT")


def serve_with_no_workers(monkeypatch) -> None:
    with pytest.raises(CommandFailed, match="--workers"):
        command_line.serve("0", None, None)


def track_with_no_store(monkeypatch) -> None:
    assert command_line.track(True) == 2  # no REDIS_URL and no `make run` store


def settings_refused_after_the_keys(monkeypatch) -> None:
    monkeypatch.setenv("TIME_ZONE", "Mars/Olympus_Mons")  # read after the keys
    with pytest.raises(ValueError, match="TIME_ZONE"):
        Settings.from_env()
    monkeypatch.delenv("TIME_ZONE")


@pytest.mark.parametrize("early_stop", [serve_with_its_sandbox_port_taken, serve_with_no_workers, track_with_no_store,
                                        settings_refused_after_the_keys], ids=lambda f: f.__name__)
def test_keys_of_a_start_that_stopped_before_its_check_are_still_refused(data_dir, capsys, monkeypatch,
                                                                         no_sigterm_handler, early_stop):
    """A start that generated its keys and stopped before the store check leaves them on disk: the next start must
    still know them for new, or it would record them as the keys of this store's data and run on them."""
    monkeypatch.setenv("PORT", str(free_port()))
    early_stop(monkeypatch)
    assert (data_dir / "secrets" / "mac_hash_key").exists()
    capsys.readouterr()
    assert flask_users_list() == 2
    assert "holds data, but" in refused_line(capsys)
    with Store(data_dir) as db:
        assert not db.exists(FINGERPRINTS)


def test_the_backups_keys_copied_over_generated_ones_start(data_dir, capsys):
    backup = data_dir.parent / f"{data_dir.name}-backup"
    written = Settings.from_env({"DATA_DIR": str(backup)})  # the keys the data was written with
    (backup / "secrets" / ".unchecked").unlink()  # the backup's own install checked them long ago
    assert flask_users_list() == 2  # keys generated here first: refused
    capsys.readouterr()
    shutil.copytree(backup / "secrets", data_dir / "secrets", dirs_exist_ok=True)  # over the generated ones
    assert flask_users_list() == 0
    assert not (data_dir / "secrets" / ".unchecked").exists()  # checked and recorded: none is new any more
    with Store(data_dir) as db:
        assert db.hgetall(FINGERPRINTS) == key_fingerprints(written)


def test_an_upgraded_store_records_its_keys_and_refuses_others(data_dir, capsys, monkeypatch):
    own = Settings.from_env({"DATA_DIR": str(data_dir)})  # the keys it has run on so far (generated here)
    (data_dir / "secrets" / ".unchecked").unlink()  # by the release before this check, which noted none
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
