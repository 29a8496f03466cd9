"""A busy mall's slot being resharded (legacy: SETSLOT MIGRATING/IMPORTING, then MIGRATE) must not hold the web
hosts' threads: a call the migration refuses (TRYAGAIN: its keys on both sides) is sent at most
CLUSTER_REQUEST_TTL times by redis-py's cluster client (it sent it 16 times, pausing before the last 8); a probe
whose positioning is refused so lands on its kept position rather than failing open; and what still fails open is
logged once per venue per FailOpenLog.every_s, not once per probe. Sends and log lines are counted, nothing timed."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
import redis

from core.storage import CLUSTER_REQUEST_TTL, connect
from portal.tracking import Tracker, TrackKeys
from tests.cluster.test_cluster_resharding import TAG, demo_slot_returns, migrating  # noqa: F401 - a fixture
from tests.test_slice import expected_landing_path, post_phone_at

BOTH = "return redis.call('MGET', KEYS[1], KEYS[2])"  # refused (TRYAGAIN) while one key has moved and one not


@pytest.fixture
def sends(monkeypatch) -> list[int]:
    """The port of each node redis-py's cluster client sends a command to (a connection taken for it)."""
    sent: list[int] = []
    real = redis.cluster.get_connection

    def counted(node, *args, **kwargs):
        sent.append(node.connection_pool.connection_kwargs["port"])
        return real(node, *args, **kwargs)

    monkeypatch.setattr(redis.cluster, "get_connection", counted)
    return sent


def test_a_call_a_migration_refuses_is_sent_only_a_few_times(db, sends):
    here, gone = f"mp:{TAG}:here", f"mp:{TAG}:gone"
    db.set(here, "1")
    db.set(gone, "2")
    with migrating(db, here, moved=[gone]):
        sends.clear()
        with pytest.raises(redis.exceptions.ClusterError, match="TTL exhausted"):
            db.eval(BOTH, 2, here, gone)
        assert len(sends) == CLUSTER_REQUEST_TTL  # was 16
        pipe = db.pipeline(transaction=False)
        pipe.set(here, "3")
        pipe.execute_command("EVAL", BOTH, 2, here, gone)
        sends.clear()
        assert isinstance(pipe.execute(raise_on_error=False)[1], redis.exceptions.ClusterError)
        assert len(sends) == 1 + CLUSTER_REQUEST_TTL  # the pipeline's round trip, then the refused call alone
    assert db.eval(BOTH, 2, here, gone) == [b"3", b"2"]


def test_a_moved_then_asked_call_is_still_followed(db, settings, sends):
    """A client whose slot map is behind: the slot was handed over since, and is being migrated on from there.
    MOVED, then ASK, then the key: three sends, within CLUSTER_REQUEST_TTL."""
    key = f"mp:{TAG}:k"
    db.set(key, "v")
    behind = connect(settings, timeout_s=10)
    try:
        assert behind.get(key) == b"v"  # its slot map read now
        with migrating(db, key):
            pass
        db.nodes_manager.initialize()
        with migrating(db, key):
            sends.clear()
            assert behind.get(key) == b"v"
            assert len(sends) == 3 and len(set(sends)) >= 2
    finally:
        behind.close()


def test_a_probe_whose_positioning_the_migration_refuses_lands_on_its_kept_position(
        app, client, demo, svc, demo_map, demo_slot_returns, caplog):  # noqa: F811 - the fixture imported above
    """The phone was positioned (kept), then heard again: its probe positions it anew, and that write names the
    venue's footfall and presence keys, which the migration has on both sides or nowhere (TRYAGAIN). It lands on
    its kept position's zone page; a phone with nothing kept fails open, logged once for three probes."""
    placed, unkept = "02:00:5e:00:54:01", "02:00:5e:00:54:02"
    post_phone_at(client, demo, demo_map, 1, 20, 30, phone=placed)
    assert Tracker(svc.db, svc.venues, svc.locator).drain("demo") == 1
    assert svc.db.exists(TrackKeys("demo").last_position(svc.hasher.client_id(placed)))
    for phone in (placed, unkept):  # newer readings than any kept position: positioned anew at the probe
        post_phone_at(client, demo, demo_map, 1, 20, 30, phone=phone)
    cinema = expected_landing_path(app, svc, "cinema")
    svc.zone_apps.get("demo", "cinema")  # this process's copy of the zones' apps (see test_cluster_resharding)
    with migrating(svc.db, "{demo}"):
        caplog.clear()
        resp = client.get(f"/generate_204?client_mac={placed}")
        assert resp.status_code == 302 and urlparse(resp.headers["Location"]).path == cinema
        for _ in range(3):
            assert urlparse(client.get(f"/generate_204?client_mac={unkept}").headers["Location"]).path == "/offline"
    assert caplog.text.count("failing open") == 1
