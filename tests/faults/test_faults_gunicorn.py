"""Store and process faults against the real stack (issue 14): gunicorn (2 gthread workers) and the
tracker on a Valkey of this module's own, so stopping and killing things disturbs no other test.

- Valkey stalled (SIGSTOP) while workers restart (kill -9 of one, then HUP of all): the master stays up,
  the new workers boot, probes fail open, CAPPORT says "captive" with the offline page, JSON APIs answer
  503 + Retry-After, shopper pages a localized 503 page, console sign-in 503; after SIGCONT every answer
  returns (zone redirects, 202 from ingest).
- Valkey killed (kill -9) and restarted on its port and data directory: every reading ingest
  acknowledged (202) before the kill is there again (AOF, appendfsync everysec: the write reaches the
  file before the reply, so a killed process loses nothing; only an OS crash can lose the last second).
- The tracker killed (kill -9) while readings arrive: a new tracker takes the venue's lease over and
  positions every phone whose readings were acknowledged, also those the killed one had taken.

Nothing here is timed: every wait polls a condition with a generous deadline."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis

from core.security import MacHasher
from core.settings import PROJECT_ROOT, Settings
from core.storage import start_embedded_valkey
from portal.ingest.store import RssiStore
from portal.tools.net import free_port, wait_for_port
from portal.tracking.positions import TrackKeys

SECRET = "faults-secret-key-" + "x" * 16
MAC_KEY = "faults-mac-hash-key-" + "y" * 16
DEADLINE_S = 60.0  # generous: conditions are polled until true, never raced against a sleep
BOOT_DEADLINE_S = 180.0  # a worker's boot imports the whole app: ~1 s idle, a minute on a 2-core host at load 20
PHONES = [f"02:00:5e:00:54:{i:02x}" for i in range(12)]
# The stack's RSSI window (60 s by default): a phone's readings drop out of it, and so out of the tracker's and a
# read-back's view, that long after they were posted. At 60 s it was a hidden deadline on every wait here (a
# tracker booting for a minute on a loaded host found the first phones' readings gone); this is longer than
# every deadline of a test here together.
RSSI_WINDOW_S = 900.0


def wait_until(condition, what: str, deadline_s: float = DEADLINE_S):
    """Poll `condition` until it returns something true; that value, or AssertionError naming `what`."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {deadline_s:.0f} s: {what}")
        time.sleep(0.1)


class Stack:
    def __init__(self, root: Path, demo_map) -> None:
        self.root = root
        self.demo_map = demo_map
        self.valkey = start_embedded_valkey(root / "valkey")
        self.valkey_port = self.valkey.port
        self.url = self.valkey.connection_url + "/0"
        self.data_dir = root / "var"
        self.port = free_port()
        self.env = {**os.environ, "REDIS_URL": self.url, "SECRET_KEY": SECRET, "MAC_HASH_KEY": MAC_KEY,
                    "DATA_DIR": str(self.data_dir), "LOAD_DEMO": "0", "VENUE": "demo", "DEMO": "1",
                    "RSSI_WINDOW_S": f"{RSSI_WINDOW_S:g}",
                    "TRACKER_LEASE_S": "3",  # a killed tracker's venue is taken over 3 s after its last renewal
                    # each stalled call waits this long (3 per worker open its breaker); a healthy call that
                    # takes longer on a loaded host only opens the breaker for a ping: every check polls
                    "STORE_TIMEOUT_S": "1",
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
        self.server: subprocess.Popen | None = None
        self.tracker: subprocess.Popen | None = None
        self.hasher = MacHasher(MAC_KEY)

    # -- processes ------------------------------------------------------------------------------

    def seed(self) -> None:
        from portal import create_app
        from portal.seed import ensure_demo_mall

        settings = Settings(redis_url=self.url, secret_key=SECRET, mac_hash_key=MAC_KEY, data_dir=self.data_dir,
                            load_demo=False, testing=False, demo=True)
        app = create_app(settings)
        with app.app_context():
            ensure_demo_mall(app.extensions["mallportal"], "demo", self.demo_map)
        self.api_token = (self.data_dir / "secrets" / "demo_api_token").read_text()

    def start_server(self) -> None:
        log = open(self.root / "gunicorn.log", "ab")  # noqa: SIM115 - the server's, closed with the stack
        self.server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{self.port}", "--workers", "2",
             "--threads", "8", "--worker-class", "gthread", "--graceful-timeout", "5", "--log-level", "info",
             # a booting worker does not heartbeat: on a loaded test host its import may pass 30 s
             "--timeout", str(int(BOOT_DEADLINE_S))],
            cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, timeout=BOOT_DEADLINE_S)

    def start_tracker(self) -> subprocess.Popen:
        log = open(self.root / "tracker.log", "ab")  # noqa: SIM115 - the tracker's
        self.tracker = subprocess.Popen([sys.executable, "-m", "portal", "track"], cwd=PROJECT_ROOT, env=self.env,
                                        stdout=log, stderr=subprocess.STDOUT)
        return self.tracker

    def workers(self) -> set[int]:
        """The master's live workers: the processes whose parent it is."""
        found = set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                state, ppid = stat.read_text().rsplit(") ", 1)[1].split()[:2]
                if int(ppid) == self.server.pid and state != "Z":
                    found.add(int(stat.parent.name))
        return found

    def master_up(self) -> bool:
        return self.server.poll() is None

    def stall_store(self) -> None:
        os.kill(self.valkey._process.pid, signal.SIGSTOP)

    def resume_store(self) -> None:
        os.kill(self.valkey._process.pid, signal.SIGCONT)

    def kill_store(self) -> None:
        self.valkey.terminate()  # SIGKILL, reaped

    def restart_store(self) -> None:
        """On the same port and data directory, as systemd or a container runtime would."""
        self.valkey = start_embedded_valkey(self.root / "valkey", port=self.valkey_port)

    def db(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=10)

    def close(self) -> None:
        for proc in (self.tracker, self.server):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=20)
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        with contextlib.suppress(ProcessLookupError, AttributeError):
            self.resume_store()
        if self.valkey._process is not None:
            self.valkey.stop()

    # -- HTTP -----------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, dict, bytes]:
        """One request on a new connection, redirects not followed; (status, headers, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=BOOT_DEADLINE_S)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def probe(self) -> str:
        """Where an iPhone's probe is sent (the path of the 302)."""
        status, headers, _ = self.request("GET", "/hotspot-detect.html")
        assert status == 302, status
        return urlparse(headers["location"]).path

    def report(self, phone: str, floor: int = 1, x: float = 20.0, y: float = 30.0) -> int:
        from portal.demo import simulated_reports

        body = json.dumps(simulated_reports(self.demo_map, floor, x, y, phone, time.time())).encode()
        status, _, _ = self.request("POST", "/api/v1/venues/demo/reports", body, {
            "Authorization": f"Bearer {self.api_token}", "Content-Type": "application/json"})
        return status

    def healthy(self) -> bool:
        return self.probe() != "/offline" and self.report(PHONES[0]) == 202


@pytest.fixture(scope="module")
def stack(tmp_path_factory, demo_map):
    stack = Stack(tmp_path_factory.mktemp("faults"), demo_map)
    try:
        stack.seed()
        stack.start_server()
        wait_until(stack.healthy, "the portal answers from the store", BOOT_DEADLINE_S)
        yield stack
    finally:
        stack.close()


def csrf_login(stack: Stack) -> int:
    """Console sign-in as a browser does it: the form (its CSRF token and cookie), then the POST."""
    status, headers, page = stack.request("GET", "/console/login")
    if status != 200:
        return status
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    cookie = headers.get("set-cookie", "").split(";")[0]
    body = f"username=ops&password=mallportal-demo&csrf_token={token}".encode()
    status, _, _ = stack.request("POST", "/console/login", body, {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    return status


def assert_fails_open_and_answers_503(stack: Stack) -> None:
    assert stack.probe() == "/offline"  # the probe lane fails open
    status, headers, body = stack.request("GET", "/capport/api?venue=demo")
    assert status == 503 and int(headers["retry-after"]) > 0 and "captive" not in json.loads(body)
    status, headers, body = stack.request("POST", "/api/v1/venues/demo/reports", b'{"ap": "x"}', {
        "Authorization": f"Bearer {stack.api_token}", "Content-Type": "application/json"})
    assert status == 503 and int(headers["retry-after"]) > 0 and "error" in json.loads(body)
    status, headers, body = stack.request("GET", "/v/demo/", headers={"Accept-Language": "zh-CN"})
    assert status == 503 and int(headers["retry-after"]) > 0
    assert headers["content-type"].startswith("text/html") and "服务暂时繁忙" in body.decode()
    assert csrf_login(stack) == 503


def test_store_stalled_while_workers_restart(stack):
    stack.stall_store()
    try:
        first = stack.workers()
        victim = min(first)
        os.kill(victim, signal.SIGKILL)  # the master forks a new worker, which boots with the store stalled
        wait_until(lambda: victim not in stack.workers() and len(stack.workers()) == 2, "a new worker",
                   BOOT_DEADLINE_S)
        os.kill(stack.server.pid, signal.SIGHUP)  # and every worker again
        wait_until(lambda: not (first & stack.workers()) and len(stack.workers()) == 2, "all workers replaced",
                   BOOT_DEADLINE_S)
        assert stack.master_up()
        assert_fails_open_and_answers_503(stack)
        assert stack.master_up() and len(stack.workers()) == 2
    finally:
        stack.resume_store()
    wait_until(stack.healthy, "zone answers and ingest back after SIGCONT")
    assert stack.master_up()


def acknowledged_readings(stack: Stack, phones: list[str]) -> dict[str, tuple[float, dict]]:
    """Post each phone's readings until ingest acknowledges them (202; a feed retries a 503, as a worker
    whose breaker has not seen the store back yet may answer) -> when each was acknowledged and its readings
    then (AP -> [(ts, rssi), ...]: its window at that time)."""
    acked = {}
    for phone in phones:
        wait_until(lambda phone=phone: stack.report(phone) == 202, f"ingest acknowledges {phone}")
        client, now = stack.hasher.client_id(phone), time.time()
        acked[phone] = now, RssiStore(stack.db(), window_s=RSSI_WINDOW_S).readings("demo", client, now)
    return acked


def aof_caught_up(db: redis.Redis) -> bool:
    """The AOF holds every write acknowledged so far: `appendfsync everysec` writes it at most ~2 s late (a
    slow disk postpones the write while replies go out), which is what a process killed at once may lose."""
    info = db.info("persistence")
    return info.get("aof_buffer_length", 0) == 0 and info.get("aof_pending_bio_fsync", 0) == 0


def test_store_killed_and_restarted_keeps_every_acknowledged_reading(stack):
    acked = acknowledged_readings(stack, PHONES)
    assert len(acked) == len(PHONES) and all(heard for _, heard in acked.values())
    wait_until(lambda: aof_caught_up(stack.db()), "the AOF written (everysec)")
    stack.kill_store()
    assert stack.probe() == "/offline"
    status, headers, _ = stack.request("GET", "/v/demo/", headers={"Accept-Language": "en"})
    assert status == 503 and "retry-after" in headers
    assert stack.report(PHONES[0]) == 503
    assert stack.master_up()
    stack.restart_store()
    wait_until(stack.healthy, "zone answers and ingest back after the restart")
    # Read back as of when each phone's readings were acknowledged: the claim is that nothing acknowledged was
    # lost, not that it is still fresh (however long the restart took).
    for phone, (acked_at, heard) in acked.items():
        kept = RssiStore(stack.db(), window_s=RSSI_WINDOW_S).readings("demo", stack.hasher.client_id(phone), acked_at)
        assert all(set(readings) <= set(kept.get(ap, ())) for ap, readings in heard.items()), phone


def test_tracker_killed_during_ingest_resumes_and_positions_every_phone(stack):
    db = stack.db()
    tracker = stack.start_tracker()
    kept = {TrackKeys("demo").last_position(stack.hasher.client_id(p)): p for p in PHONES}
    db.delete(*kept)
    positioned: set[str] = set()

    def positioned_so_far() -> set[str]:
        """Kept positions live POSITION_CACHE_S (30 s): every one seen is noted, poll after poll."""
        positioned.update(phone for key, phone in kept.items() if db.exists(key))
        return positioned

    half = len(PHONES) // 2
    assert len(acknowledged_readings(stack, PHONES[:half])) == half
    wait_until(positioned_so_far, "the tracker at work", BOOT_DEADLINE_S)
    tracker.kill()  # SIGKILL, mid-stream: more readings keep coming
    tracker.wait()
    assert len(acknowledged_readings(stack, PHONES[half:])) == len(PHONES) - half
    stack.start_tracker()
    # the new tracker boots, waits out the dead one's lease (TRACKER_LEASE_S) and fits the model
    wait_until(lambda: positioned_so_far() >= set(PHONES), "every acknowledged phone positioned", BOOT_DEADLINE_S)
