"""A failover behind a fixed endpoint (managed Valkey/Redis: the old primary becomes a replica at the same address)
is recovered from without a restart: a connection that got READONLY is dropped, so the next call goes through the
endpoint to the new primary (core/storage.py `_drops_on_read_only`); READONLY counts toward the store breaker; and
the breaker's recovery check asks for a primary (ROLE), which a demoted node answering PING is not. Two real Valkeys
behind a small TCP forwarder standing for the endpoint; outcomes and counts only, nothing timed."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from urllib.parse import urlparse

import pytest
import redis

from core.storage import connect, start_embedded_valkey
from core.store_health import StoreBreaker, is_store_fault


class Endpoint:
    """A fixed address forwarding each new connection to the node `target` names then (as a managed endpoint's
    DNS or proxy does after a failover); connections made before keep going where they went."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


def port_of(server) -> int:
    return urlparse(server.connection_url).port


def wait_synced(replica: redis.Redis) -> None:
    for _ in range(10_000):  # a bound, not a clock: the link comes up in a few hundred polls
        if replica.info("replication").get("master_link_status") == "up":
            return
        threading.Event().wait(0.01)
    raise AssertionError("the replica never synced")


@contextlib.contextmanager
def failed_over(settings, tmp_path, before: Callable[[redis.Redis], object]):
    """(store client through the endpoint, endpoint, old primary, new primary): `before(client)` ran on the old
    primary; then the new one was promoted, the old one made its replica, and the endpoint flipped."""
    first, second = start_embedded_valkey(tmp_path / "a"), start_embedded_valkey(tmp_path / "b")
    endpoint = Endpoint(port_of(first))
    try:
        old, new = redis.Redis(port=port_of(first)), redis.Redis(port=port_of(second))
        new.replicaof("127.0.0.1", port_of(first))
        wait_synced(new)
        db = connect(settings.with_(redis_url=f"redis://127.0.0.1:{endpoint.port}/0", redis_cluster=False))
        before(db)
        new.replicaof("NO", "ONE")
        old.replicaof("127.0.0.1", port_of(second))
        endpoint.target = port_of(second)
        yield db, endpoint, old, new
    finally:
        endpoint.close()
        first.stop()
        second.stop()


@pytest.fixture
def failover(settings, tmp_path):
    """failed_over, the client having used one pooled connection on the old primary."""
    with failed_over(settings, tmp_path, lambda db: db.set("k", "before")) as parts:
        yield parts


@pytest.mark.single_node
def test_a_write_refused_by_the_demoted_primary_drops_its_connection(failover):
    db, _endpoint, _old, new = failover
    with pytest.raises(redis.ReadOnlyError):
        db.set("k", "after")  # the pooled connection still on the old primary: READONLY
    assert db.set("k", "after")  # a new connection, through the endpoint, to the new primary
    assert new.get("k") == b"after"


@pytest.mark.single_node
def test_readonly_counts_as_a_store_fault():
    assert is_store_fault(redis.ReadOnlyError("READONLY You can't write against a read only replica."))
    assert not is_store_fault(redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind"))


@pytest.mark.single_node
def test_the_breaker_closes_only_on_a_primary(failover):
    db, _endpoint, _old, new = failover
    breaker = StoreBreaker.for_client(db, failures_to_open=1, background=False)
    breaker.record_failure(redis.ReadOnlyError("READONLY"))
    assert breaker.is_open
    # The pooled connection answers PING from the demoted primary: ROLE says replica, so it stays open (and
    # that connection is dropped); the next check goes through the endpoint and finds the primary.
    assert breaker.probe_once() is False and breaker.is_open
    assert breaker.probe_once() is True and not breaker.is_open
    assert db.set("k", "after") and new.get("k") == b"after"


@pytest.mark.single_node
def test_a_store_that_refuses_role_is_asked_ping(db, settings):
    """An ACL user without ROLE (as some managed services give): the breaker's check answers by the node
    answering at all, as a PING did, instead of never closing."""
    db.execute_command("ACL", "SETUSER", "no-role", "on", ">pw-no-role", "~*", "+@all", "-role")
    try:
        url = urlparse(settings.redis_url)
        user = redis.Redis(host=url.hostname, port=url.port, username="no-role", password="pw-no-role")
        with pytest.raises(redis.ResponseError):
            user.execute_command("ROLE")
        breaker = StoreBreaker.for_client(user, failures_to_open=1, background=False)
        breaker.record_failure(redis.ConnectionError("down"))
        assert breaker.is_open and breaker.probe_once() is True and not breaker.is_open
    finally:
        db.execute_command("ACL", "DELUSER", "no-role")


@pytest.mark.single_node
def test_every_connection_made_before_the_failover_reconnects_after_the_first_readonly(settings, tmp_path):
    """The first READONLY counts a failover of the endpoint's address: the pool's other connections, made before it,
    reconnect before their next send instead of each meeting READONLY once (and each opening the breaker again)."""
    def three_connections(db: redis.Redis) -> None:  # three pooled connections on the old primary
        held = [db.connection_pool.get_connection() for _ in range(3)]
        for conn in held:
            conn.send_command("PING")
            assert conn.read_response() in (b"PONG", "PONG")
        for conn in held:
            db.connection_pool.release(conn)

    with failed_over(settings, tmp_path, three_connections) as (db, _endpoint, _old, new):
        with pytest.raises(redis.ReadOnlyError):
            db.set("k", "first")  # one of them meets it
        pool = db.connection_pool
        others = [pool.get_connection() for _ in range(3)]
        try:
            for conn in others:  # each reconnects through the endpoint before it sends
                conn.send_command("SET", "k", "after")
                assert conn.read_response() in (b"OK", "OK")
        finally:
            for conn in others:
                pool.release(conn)
        assert new.get("k") == b"after"
