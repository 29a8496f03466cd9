"""core.storage.HotScript, HotReads and PackedPipeline on a real Valkey: a socket the server closed while it sat idle, a
refused read among several, a script the server lost."""

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.storage import HotReads, HotScript, PackedPipeline, pack_command

SCRIPT = "return redis.call('INCR', KEYS[1])"


def kill_other_connections(db) -> None:
    for info in db.client_list():
        if int(info["id"]) != db.client_id():
            db.client_kill_filter(_id=info["id"])


def thread_connection(script: HotScript | HotReads):
    (conn,) = script._local.pinned[1].values()
    return conn


def test_a_socket_killed_while_idle_is_replaced_before_the_call_goes_out(db):
    key = "mp:{hot-test}:n"
    script = HotScript(db, SCRIPT)
    assert script([key]) == 1
    kill_other_connections(db)
    thread_connection(script).next_health_check = 0  # idle past the health check: it PINGs a dead socket first
    assert script([key]) == 2  # sent once, on a new socket
    assert int(db.get(key)) == 2


def test_a_socket_killed_while_idle_is_found_without_a_health_check(db):
    """No health check due: the write to the dead socket would succeed and only the reply fail (a session's
    app whose pinned sockets a store restart dropped got "Connection closed by server" on its next call)."""
    key = "mp:{hot-test}:m"
    script = HotScript(db, SCRIPT)
    assert script([key]) == 1
    conn = thread_connection(script)
    conn.health_check_interval = 0  # never a health check
    kill_other_connections(db)
    assert script([key]) == 2  # the poll found it closed: sent once, on a new socket
    assert script([key]) == 3 and int(db.get(key)) == 3


def test_a_store_that_is_gone_still_raises(db):
    script = HotScript(db, SCRIPT)
    assert script(["mp:{hot-test}:gone"]) == 1
    conn = thread_connection(script)
    conn.disconnect()
    conn.port = 1  # nothing listens there: a new socket cannot be opened
    with pytest.raises(redis.ConnectionError):
        script(["mp:{hot-test}:gone"])


def test_reads_come_back_in_order_and_a_refused_one_leaves_the_socket_in_step(db):
    db.set("mp:{hot-test}:s", "v")
    db.hset("mp:{hot-test}:h", mapping={"a": "1"})
    reads = HotReads(db)
    good = (("GET", "mp:{hot-test}:s"), ("HGETALL", "mp:{hot-test}:h"), ("GET", "mp:{hot-test}:none"))
    session, fields, missing = reads(good)
    assert session == b"v" and dict(fields) == {b"a": b"1"} and missing is None
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):  # GET of a hash: refused, after every reply read
        reads((("GET", "mp:{hot-test}:h"), ("GET", "mp:{hot-test}:s")))
    assert reads(good)[0] == b"v"  # the next call's replies are its own


def test_reads_on_a_socket_killed_while_idle_go_out_on_a_new_one(db):
    db.set("mp:{hot-test}:r", "1")
    reads = HotReads(db)
    assert reads((("GET", "mp:{hot-test}:r"),)) == [b"1"]
    thread_connection(reads).health_check_interval = 0
    kill_other_connections(db)
    assert reads((("GET", "mp:{hot-test}:r"),)) == [b"1"]


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # no per-example time limit
@given(st.lists(st.one_of(st.text(), st.binary(), st.integers(), st.floats(allow_nan=False)), max_size=6))
def test_hiredis_packing_is_redis_pys_byte_for_byte(args):
    """The hot path packs with hiredis (core.storage.pack_command): the bytes redis-py's own packer sends,
    for every kind of argument the store is given (text, bytes, integers, floats by their repr)."""
    assert pack_command("SET", *args) == b"".join(redis.Connection().pack_command("SET", *args))


def test_reads_and_scripts_go_out_packed_by_hiredis_and_answer_as_before(db):
    reads = HotReads(db, memo_size=0)
    db.set("mp:{hot-test}:f", 1.5)
    db.hset("mp:{hot-test}:h", mapping={"é": "ü"})
    assert reads((("GET", "mp:{hot-test}:f"), ("HGETALL", "mp:{hot-test}:h"),
                  ("ZRANGEBYSCORE", "mp:{hot-test}:z", 1764600000.125, "+inf"))) in (
        [b"1.5", {"é".encode(): "ü".encode()}, []], [b"1.5", ["é".encode(), "ü".encode()], []])
    assert HotScript(db, "return ARGV[1]")(["mp:{hot-test}:k"], ["ünï", 2.5]) == "ünï".encode()


@pytest.mark.single_node
def test_a_packed_pipeline_runs_scripts_and_commands_in_order_as_redis_pys_does(db):
    """The tracker's writes (portal/tracking/locator.py): scripts queued on it as on redis-py's pipeline, sent
    without SCRIPT EXISTS; the same keys written as redis-py's pipeline writes them."""
    incr = db.register_script(SCRIPT)
    stored = {}
    for pipe in (db.pipeline(transaction=False), PackedPipeline(db)):
        db.delete("mp:{hot-test}:p", "mp:{hot-test}:q")
        incr(keys=["mp:{hot-test}:p"], client=pipe)
        pipe.set("mp:{hot-test}:q", "é")
        incr(keys=["mp:{hot-test}:p"], client=pipe)
        assert len(pipe.execute()) == 3 and pipe.execute() == []  # executed, then empty
        stored[type(pipe)] = (db.get("mp:{hot-test}:p"), db.get("mp:{hot-test}:q"))
    assert stored[PackedPipeline] == stored[redis.client.Pipeline] == (b"2", "é".encode())


@pytest.mark.single_node
def test_a_packed_pipeline_loads_a_script_the_server_lost(db):
    incr, echo = db.register_script(SCRIPT), db.register_script("return ARGV[1]")
    db.script_flush()  # a restart, a promoted replica: every script gone
    pipe = PackedPipeline(db)
    incr(keys=["mp:{hot-test}:lost"], client=pipe)
    db_set = pipe.set("mp:{hot-test}:lost-too", 1)
    assert db_set is pipe
    echo(keys=["mp:{hot-test}:lost"], args=["ü"], client=pipe)
    incr(keys=["mp:{hot-test}:lost"], client=pipe)
    assert pipe.execute() == [1, b"OK", "ü".encode(), 2]  # each call ran once, in its place
    assert int(db.get("mp:{hot-test}:lost")) == 2


@pytest.mark.single_node
def test_a_packed_pipeline_raises_a_refused_command_and_a_store_that_is_gone(db):
    db.hset("mp:{hot-test}:wrong", "a", "1")
    pipe = PackedPipeline(db)
    pipe.get("mp:{hot-test}:wrong")
    pipe.set("mp:{hot-test}:after", "1")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):  # after every reply was read
        pipe.execute()
    assert db.get("mp:{hot-test}:after") == b"1"
    pipe.set("mp:{hot-test}:after", "2")
    assert pipe.execute() == [b"OK"]  # the socket stays in step
    conn = next(iter(PackedPipeline(db)._writes._local.pinned[1].values()))
    conn.disconnect()
    conn.port = 1  # nothing listens there
    pipe.set("mp:{hot-test}:after", "3")
    with pytest.raises(redis.ConnectionError):
        pipe.execute()


class _ResetOnRead:
    """A socket that a peer reset: its reads raise the OSError the kernel gives (writes still go out)."""

    def __init__(self, sock) -> None:
        self._sock = sock

    def recv_into(self, *args, **kwargs):
        raise ConnectionResetError(104, "Connection reset by peer")

    recv = recv_into

    def __getattr__(self, name):
        return getattr(self._sock, name)


def test_a_socket_reset_raises_a_store_error_not_an_oserror(db):
    """redis-py raises ConnectionError for a socket's own error; the hot paths read some sockets themselves and must
    raise the same, or a caller that waits out store faults (the tracker) would stop."""
    from core.storage import RawReplies
    from portal.ingest import window_kernel

    db.set("mp:{hot-test}:reset", "1")
    raw = RawReplies(db)
    command = (("GET", "mp:{hot-test}:reset"),)
    assert bytes(raw(command, window_kernel.frame)) == b"$1\r\n1\r\n"
    conn = thread_connection(raw)
    conn._sock = _ResetOnRead(conn._sock)
    with pytest.raises(redis.ConnectionError):
        raw(command, window_kernel.frame)
    assert bytes(raw(command, window_kernel.frame)) == b"$1\r\n1\r\n"  # dropped, and a new socket next time
