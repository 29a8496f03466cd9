"""How a moments webhook is tried: a redirect is a failed try, never followed (urllib would re-send the POST as a
bodiless GET, to a URL nobody checked, and log it delivered); a receiver that gives no answer costs one try
per BACKOFF_S, its other webhooks wait with no try counted; a try is claimed, so a sender that dies during
the POST leaves the webhook due again SENDING_S later, and a replay queued during a try keeps its place.
That the tracker never waits for a webhook: tests/tracking/test_tracker_webhooks.py."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from werkzeug.datastructures import MultiDict

from portal.events.log import EventLog
from portal.events.moments import BACKOFF_S, SENDING_S, MomentKeys, MomentsEngine, parse_rule
from tests.fake_http import serve_in_thread


def hook(engine: MomentsEngine, url: str) -> None:
    engine.save("v1", parse_rule(MultiDict({"name": "crm", "trigger": "arrive", "action": "webhook",
                                            "webhook_url": url}), zones=[], owner="ops", may_webhook=True,
                                 allow_private=True))  # the receivers listen on loopback


def arrivals(engine: MomentsEngine, phones: list[str]) -> None:
    """Each phone arrives: one delivery per phone and webhook rule, logged (nothing sent yet)."""
    engine.ensure("v1", start="0")
    for phone in phones:
        engine.events.emit("v1", "arrive", at=time.time(), device=phone)
    engine._consume("v1", None, 500)


class Redirecting(BaseHTTPRequestHandler):
    seen: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        Redirecting.seen.append(("POST", self.path, self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(301)
        self.send_header("Location", "/hook/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):  # noqa: N802
        Redirecting.seen.append(("GET", self.path, b""))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def redirecting():
    Redirecting.seen = []
    server = HTTPServer(("127.0.0.1", 0), Redirecting)
    serve_in_thread(server)
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def test_a_redirect_is_a_failed_try_never_followed(db, redirecting):
    engine = MomentsEngine(db, EventLog(db))  # the real sender: http_post
    hook(engine, redirecting)
    engine.ensure("v1", start="0")
    engine.events.emit("v1", "arrive", at=time.time(), device="d1")
    engine.run_once("v1")
    [d] = engine.deliveries("v1")
    assert (d.status, d.attempts) == ("retrying", 1)
    assert d.last_error == "HTTP 301 (redirect not followed: /hook/)"
    assert [(method, path) for method, path, _ in Redirecting.seen] == [("POST", "/hook")]  # no GET after it
    assert db.zscore(MomentKeys("v1").due(), d.id) == pytest.approx(d.next_at)  # retried as any failure


def test_a_silent_receiver_costs_one_try_per_backoff(db):
    tried: list[str] = []

    def send(url, body, headers):
        tried.append(url)
        return (False, "TimeoutError") if "silent" in url else (True, "HTTP 200")
    engine = MomentsEngine(db, EventLog(db), send=send)
    hook(engine, "https://silent.example/hook")
    hook(engine, "https://crm.example/hook")
    arrivals(engine, ["d1", "d2", "d3"])
    now = time.time()
    assert engine.deliver_due("v1", now) == 4  # the silent host once, the other host three times
    assert sorted(tried) == ["https://crm.example/hook"] * 3 + ["https://silent.example/hook"]
    by_status = sorted((d.url, d.status, d.attempts) for d in engine.deliveries("v1"))
    assert by_status == [("https://crm.example/hook", "delivered", 1)] * 3 + [
        ("https://silent.example/hook", "queued", 0)] * 2 + [("https://silent.example/hook", "retrying", 1)]
    put_off = [d.id for d in engine.deliveries("v1", status="queued")]
    assert {db.zscore(MomentKeys("v1").due(), i) for i in put_off} == {now + BACKOFF_S}
    arrivals(engine, ["d4"])  # a pass within BACKOFF_S: the silent host gets no try at all
    later = time.time()  # after d4's deliveries became due (a pass at now + 1 missed them when arrivals took 1 s)
    assert later < now + BACKOFF_S, "the machine took BACKOFF_S (30 s) over one arrival"
    assert engine.deliver_due("v1", later) == 1 and tried[4:] == ["https://crm.example/hook"]
    assert engine.deliver_due("v1", now + BACKOFF_S) == 1  # then one try again, the others put off again
    assert tried[5:] == ["https://silent.example/hook"]


def test_a_sender_stopped_during_the_post_leaves_the_webhook_due_again(db):
    class Killed(BaseException):
        pass

    def killed(url, body, headers):
        raise Killed  # the tracker stopped while the POST was in flight (its daemon thread dies with it)
    engine = MomentsEngine(db, EventLog(db), send=killed)
    hook(engine, "https://crm.example/hook")
    arrivals(engine, ["d1"])
    now = time.time()
    with pytest.raises(Killed):
        engine.deliver_due("v1", now)
    [d] = engine.deliveries("v1")
    assert db.zscore(MomentKeys("v1").due(), d.id) == now + SENDING_S  # claimed, not lost
    engine.send = lambda url, body, headers: (True, "HTTP 200")
    assert engine.deliver_due("v1", now + 1) == 0  # no second sender meanwhile
    assert engine.deliver_due("v1", now + SENDING_S) == 1
    assert engine.delivery("v1", d.id).status == "delivered"
    assert db.zcard(MomentKeys("v1").due()) == 0


def test_a_replay_queued_during_a_try_keeps_its_place(db):
    engine = MomentsEngine(db, EventLog(db))
    hook(engine, "https://crm.example/hook")
    arrivals(engine, ["d1"])
    [d] = engine.deliveries("v1")
    engine.send = lambda url, body, headers: (engine.replay("v1", d.id), (True, "HTTP 200"))[1]
    assert engine.deliver_due("v1", time.time()) == 1
    assert db.zscore(MomentKeys("v1").due(), d.id) == 0.0  # the replay: sent again on the next pass


def test_an_answer_that_is_not_http_is_a_counted_failed_try(db):
    """An http:// URL on a TLS port (or a broken proxy) answers bytes urllib cannot read as HTTP: a failed try,
    counted, never an exception out of the sender (the claimed webhook came back for ever, no try counted)."""
    server = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def answer_garbage():
        while True:
            conn, _ = server.accept()
            with conn:
                if done.is_set():
                    return
                conn.recv(65536)
                conn.sendall(b"\x15\x03\x01\x00\x02\x02\x46garbage\r\n\r\n")

    answering = threading.Thread(target=answer_garbage, daemon=True)
    answering.start()
    try:
        engine = MomentsEngine(db, EventLog(db))
        hook(engine, f"http://127.0.0.1:{server.getsockname()[1]}/hook")
        arrivals(engine, ["d1", "d2"])
        engine.deliver_due("v1", time.time())
        # one counted try; the other waits out the receiver's backoff (an answer that is no HTTP is no answer)
        tried = sorted((d.status, d.attempts, d.last_error) for d in engine.deliveries("v1"))
        assert tried == [("queued", 0, ""), ("retrying", 1, "BadStatusLine")]
    finally:  # one more connection wakes the accept, and the thread ends with the test (it waited on for ever)
        done.set()
        socket.create_connection(server.getsockname(), timeout=60).close()
        answering.join(60)
        server.close()
