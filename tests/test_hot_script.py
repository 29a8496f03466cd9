"""core.storage.HotScript on a real Valkey: a socket the server closed while it sat idle."""

import pytest
import redis

from core.storage import HotScript

SCRIPT = "return redis.call('INCR', KEYS[1])"


def kill_other_connections(db) -> None:
    for info in db.client_list():
        if int(info["id"]) != db.client_id():
            db.client_kill_filter(_id=info["id"])


def thread_connection(script: HotScript):
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
