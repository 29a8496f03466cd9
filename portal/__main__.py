"""`python -m portal serve`: what `make run` runs.

Starts an embedded Valkey (AOF on, data under ./var/valkey) unless REDIS_URL is set, and refuses to run on it with
keys other than those its data was written with (check_store_keys), loads the demo mall if the store has none, then
serves the app with gunicorn beside the tracker (`python -m portal track`, portal/tracking/tracker.py), the
notification worker (`python -m portal notify`, portal/notify/worker.py), the payments sweeper (`python -m portal
sweep`, portal/payments/worker.py) and, with no payment provider configured, the payment sandbox.
Ctrl-C stops them all cleanly."""

from __future__ import annotations

import argparse
import contextlib
import http.client
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import click
import redis
from flask.cli import FlaskGroup
from werkzeug.serving import make_server, run_simple

from core import logredact
from core.security import new_vapid_private_key, vapid_public_key
from core.settings import Settings, _redacted, key_fingerprints, keys_checked
from core.storage import GLOBAL_TAG, Store, VenueKeys, connect, start_embedded_valkey
from core.store_health import worker_breakers
from portal.bootstrap import build_services, create_app
from portal.health import worker_registries
from portal.maps.builds import finish_builds
from portal.notify.worker import NotifyWorker, default_channels
from portal.payments.worker import PaymentsSweeper
from portal.paysandbox.app import create_sandbox_app
from portal.seed import ensure_demo_venues
from portal.services import services
from portal.tracking import Tracker


def _stop_on_sigterm() -> None:
    """systemd, docker and `kill` send SIGTERM: stop as cleanly as on Ctrl-C."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


PROG = "python -m portal"
FLASK_PROG = f"{PROG} flask"
FLASK_HELP = f"""MallPortal's operator commands (map, AP and draft tools, accounts, tokens, budgets, the outbox), run
on the portal's store: REDIS_URL if set, else the store a running `make run` uses, else its embedded Valkey
started for the command. `{FLASK_PROG} COMMAND --help` tells more about one."""


class CommandFailed(Exception):
    """What stops a command before or while it runs, said by `main` on one line on stderr (no traceback), with
    the exit status `code`."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.message, self.code = message, code


def settings_refused(command: str, problem: Exception) -> CommandFailed:
    """The environment's settings refused (core/settings.py: a shared store without its keys, a malformed
    value): exit status 2."""
    return CommandFailed(f"{PROG} {command}: {problem}", 2)


def store_down(command: str, url: str | None, problem: Exception) -> CommandFailed:
    """The store does not answer (refused, timed out, a cluster no node of which answers): exit status 1."""
    where = f" at {_redacted(url)}" if url else ""
    return CommandFailed(f"{command}: the store{where} does not answer ({problem})", 1)


STORE_DOWN = (redis.ConnectionError, redis.TimeoutError)  # core/storage.py StoreUnavailable is a ConnectionError


def load_settings(command: str) -> Settings:
    """Settings.from_env(), or CommandFailed naming what is wrong with the environment."""
    try:
        return Settings.from_env()
    except ValueError as exc:
        raise settings_refused(command, exc) from None


def start_banner(settings: Settings, host: str) -> str:
    """Where to go first: /demo only where it exists (DEMO=1); a new mall's operator (DEMO=0) signs in instead."""
    base = f"http://{host}:{settings.port}"
    if settings.demo:
        return f"MallPortal on {base}/  (demo: {base}/demo)"
    return f"MallPortal on {base}/  (operator console: {base}/console/login)"


def serve(workers: str | None, threads: str | None, host: str | None) -> int:
    """`make run`; what the command line leaves out, the settings give (WEB_WORKERS, WEB_THREADS, HOST)."""
    _stop_on_sigterm()
    settings = load_settings("serve")
    try:
        settings = settings.with_serve_flags(host=host, workers=workers, threads=threads)
    except ValueError as exc:  # a flag the settings' own rule refuses
        raise settings_refused("serve", exc) from None
    with contextlib.ExitStack() as stack:
        # No payment provider configured: the local payment sandbox stands in for WeChat Pay and Alipay, on a port
        # held from here on, so that nothing else answers there in its place.
        listener = None if settings.payments.enabled else _sandbox_listener("serve", settings)
        if listener is not None:
            stack.callback(listener.close)
        if not settings.redis_url:
            settings = stack.enter_context(_written_down_store(settings))
        env = {**os.environ, "REDIS_URL": settings.redis_url}
        sandbox = None
        if listener is not None:
            env["PAY_SANDBOX_URL"] = _sandbox_url(settings)
            sandbox = stack.enter_context(_sandbox(listener, settings, env))
        _load_demo(settings)
        if sandbox is not None:
            _wait_for_sandbox(sandbox, settings)
            print(f"payment sandbox on {env['PAY_SANDBOX_URL']}/ (test keys, no real money)", flush=True)
        print(start_banner(settings, settings.host), flush=True)
        return _run_servers(settings, env, [sandbox] if sandbox is not None else [])


@contextlib.contextmanager
def _written_down_store(settings: Settings) -> Iterator[Settings]:
    """`serve`'s embedded Valkey, its URL written down for the commands run beside it (`_running_store`)."""
    try:
        with embedded_store("serve", settings) as settings:
            _url_file(settings).write_text(settings.redis_url)
            try:
                yield settings
            finally:
                _url_file(settings).unlink(missing_ok=True)
    finally:
        print("embedded Valkey stopped; data kept in", settings.data_dir / "valkey", flush=True)


def _load_demo(settings: Settings) -> None:
    if settings.load_demo:
        started = time.perf_counter()
        with create_app(settings).app_context():
            loaded = ensure_demo_venues(services())
        if loaded:
            print(f"demo venues ready in {time.perf_counter() - started:.1f} s", flush=True)


def _run_servers(settings: Settings, env: dict[str, str], more: list[subprocess.Popen]) -> int:
    """gunicorn beside the tracker, the notification worker and the payments sweeper (and `more`, stopped with
    them), until gunicorn ends or Ctrl-C."""
    cmd = [
        sys.executable, "-m", "gunicorn", "wsgi:app",
        "--bind", f"{settings.host}:{settings.port}",
        "--workers", str(settings.web_workers), "--threads", str(settings.web_threads), "--worker-class", "gthread",
        "--access-logfile", "-", "--graceful-timeout", "5",
    ]
    server = subprocess.Popen(cmd, env=env)
    workers = [subprocess.Popen([sys.executable, "-m", "portal", name], env=env)
               for name in ("track", "notify", "sweep")] + more
    try:
        return server.wait()
    except KeyboardInterrupt:
        for proc in (server, *workers):
            proc.send_signal(signal.SIGTERM)
        for proc in workers:
            proc.wait(timeout=15)
        return server.wait(timeout=15)
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=15)


def _sandbox_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.payments.sandbox_port}"


def _sandbox_listener(command: str, settings: Settings) -> socket.socket:
    """The payment sandbox's listening socket (HOST, PAY_SANDBOX_PORT), bound here and handed to the sandbox's
    process: a port another program holds stops the start with one line, instead of the portal's payments asking
    that program for their keys."""
    address = (settings.host, settings.payments.sandbox_port)
    try:
        return socket.create_server(address)
    except OSError as exc:
        raise CommandFailed(f"{PROG} {command}: the payment sandbox cannot listen on {address[0]}:{address[1]} "
                            f"({os.strerror(exc.errno) if exc.errno else exc}): stop what holds that port, or set "
                            "PAY_SANDBOX_PORT to a "
                            "free one", 1) from None


@contextlib.contextmanager
def _sandbox(listener: socket.socket, settings: Settings, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """`python -m portal paysandbox` serving on `listener`; stopped at the end if it still runs."""
    fd = listener.fileno()
    proc = subprocess.Popen([sys.executable, "-m", "portal", "paysandbox", "--host", settings.host, "--port",
                             str(settings.payments.sandbox_port), "--fd", str(fd)], env=env, pass_fds=(fd,))
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=15)


SANDBOX_START_S = 120.0  # generous: the sandbox imports the payment SDKs' crypto on a busy host


def _wait_for_sandbox(proc: subprocess.Popen, settings: Settings) -> None:
    """Until the sandbox answers an HTTP request on its socket (this process holds the port: only the sandbox can
    answer there); CommandFailed if it exits first, or answers nothing within SANDBOX_START_S."""
    deadline = time.monotonic() + SANDBOX_START_S
    while proc.poll() is None and time.monotonic() < deadline:
        conn = http.client.HTTPConnection(settings.host, settings.payments.sandbox_port, timeout=1)
        try:
            conn.request("HEAD", "/")
            conn.getresponse()
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.05)  # not serving yet: the request waited in the socket's queue, then timed out
        finally:
            conn.close()
    said = f"exited ({proc.returncode})" if proc.poll() is not None else f"did not answer in {SANDBOX_START_S:.0f} s"
    raise CommandFailed(f"{PROG} serve: the payment sandbox on {_sandbox_url(settings)}/ {said}; its output is above",
                        1)


class InstallKeyNames(VenueKeys):
    def fingerprints(self) -> str:
        """HASH: key name -> the digest (core/settings.py key_fingerprints) of the key this store's data was first
        written with."""
        return self.key("keys", "fingerprints")


# KEYS[1] the fingerprints; ARGV: name, digest pairs. A name not recorded yet gets this start's digest (the store's
# first start, or its first since fingerprints were recorded); every recorded one is returned, for the start to
# compare with its own. One step: of two starts at once, both compare with the digests the first one wrote.
_RECORD_KEYS = """
for i = 1, #ARGV, 2 do redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
return redis.call('HGETALL', KEYS[1])
"""


class KeyFingerprints:
    """The store's record of the keys its data was written with (InstallKeyNames.fingerprints)."""

    def __init__(self, db: Store) -> None:
        self.db = db
        self.key = InstallKeyNames(GLOBAL_TAG).fingerprints()
        self._record = db.register_script(_RECORD_KEYS)

    def restored_without_them(self) -> bool:
        """The store holds data but no record of its keys: written before this record was kept (an upgrade takes
        its keys as they are), or restored from a backup (a start that just generated its keys must not)."""
        return not self.db.exists(self.key) and bool(self.db.dbsize())

    def record(self, prints: dict[str, str]) -> dict[str, str]:
        """Record the digests of keys not recorded yet; every recorded digest, by key name."""
        flat = self._record(keys=[self.key], args=[item for pair in prints.items() for item in pair])
        return {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}


def check_store_keys(command: str, settings: Settings) -> None:
    """Stop a start (CommandFailed, exit status 2) whose keys would not read the store's data: keys other than
    those the store recorded at its first start, or keys generated for a store that already holds data (a store
    restored without DATA_DIR/secrets). Either would lose every phone lookup, client id and token without a word.
    Keys generated stay marked new until a start gets past this check (core/settings.py keys_checked), so every
    later start is refused too, however the one that generated them ended."""
    db = connect(settings)
    try:
        problem = _keys_problem(settings, KeyFingerprints(db))
    finally:
        db.close()
    if problem:
        raise CommandFailed(f"{PROG} {command}: {problem}", 2)
    keys_checked(settings.data_dir)


def _keys_problem(settings: Settings, prints: KeyFingerprints) -> str | None:
    secrets = settings.data_dir / "secrets"
    backup = (f"copy {secrets} from the backup the store came from (or set the keys it was written with); other "
              "keys would find none of its members, clients or tokens")
    if settings.generated_keys and prints.restored_without_them():
        return (f"the store in {settings.data_dir / 'valkey'} holds data, but {secrets} has no "
                f"{', '.join(settings.generated_keys)} but {'one' if len(settings.generated_keys) == 1 else 'ones'} "
                f"generated afresh: {backup}")
    ours = key_fingerprints(settings)
    recorded = prints.record(ours)
    if differ := [name for name, digest in ours.items() if recorded[name] != digest]:
        said = "is not the key" if len(differ) == 1 else "are not the keys"
        return f"{', '.join(differ)} {said} this store's data was written with: {backup}"
    return None


@contextlib.contextmanager
def embedded_store(command: str, settings: Settings) -> Iterator[Settings]:
    """DATA_DIR's embedded Valkey for `command`: the settings on it, once its keys are checked
    (check_store_keys). Stopped at the end, after this process's model builds, which write to it."""
    embedded = start_embedded_valkey(settings.data_dir / "valkey")
    try:
        settings = settings.with_(redis_url=embedded.connection_url)
        check_store_keys(command, settings)
        yield settings
    finally:
        finish_builds()
        embedded.stop()


def _url_file(settings: Settings):
    return settings.data_dir / "valkey" / "running.url"


def _reachable(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _running_store(settings: Settings) -> str | None:
    """REDIS_URL, else the URL of the embedded Valkey a running `make run` (`serve`) wrote down, if it answers."""
    if settings.redis_url:
        return settings.redis_url
    url_file = _url_file(settings)
    if url_file.exists() and _reachable(url := url_file.read_text().strip()):
        return url
    return None


def cli_loads_demo(settings: Settings) -> bool:
    """Whether `python -m portal flask ...` loads the demo malls into a store that has none: only when the
    demo was asked for (DEMO=1, the demo mode `make run` serves in). The CLI is how a new mall gets its
    first operator; LOAD_DEMO alone (on by default, for `make run`) would give that store the demo venues,
    their API tokens and accounts whose password is in the README."""
    return settings.demo and settings.load_demo


def flask_command(args: list[str]) -> int:
    """Run a `flask --app wsgi` command against the store `make run` uses: REDIS_URL if set, else the
    running embedded Valkey, else an embedded Valkey started just for this command (same data; the demo
    malls loaded first only with DEMO=1, see cli_loads_demo). `flask_cli` runs in this process, its app built
    from these settings with that store's URL (a process of its own until 2026-12-07: a second interpreter
    start, 1-2 s of every command); the environment is left as it was."""
    settings = load_settings("flask")
    if url := _running_store(settings):
        return flask_cli(args, settings.with_(redis_url=url))
    with embedded_store("flask", settings) as settings:
        if cli_loads_demo(settings):
            with create_app(settings).app_context():
                ensure_demo_venues(services())
        return flask_cli(args, settings)


def flask_cli(args: list[str], settings: Settings) -> int:
    """Flask's command line on the portal's app (`create_app(settings)`, wsgi.py's app on the settings' store),
    as `flask --app wsgi` runs it but with its usage and hint lines naming `python -m portal flask` and help of
    its own; a store that does not answer is said in one line (exit status 1), not as a traceback."""
    group = FlaskGroup(name="flask", help=FLASK_HELP, create_app=lambda: create_app(settings))
    for param in group.params:
        if param.name == "app" and isinstance(param, click.Option):
            param.hidden = True  # the app is the portal's: --app would be ignored
    try:
        return group.main(args=args, prog_name=FLASK_PROG)
    except STORE_DOWN as exc:
        print(store_down(FLASK_PROG, settings.redis_url, exc).message, file=sys.stderr)
        return 1


def track(once: bool) -> int:
    """The tracker (portal/tracking/tracker.py) on the store `make run` uses (REDIS_URL, else the running
    embedded Valkey)."""
    _stop_on_sigterm()
    if not (settings := _shared_store_settings("track", "the tracker")):
        return 2
    core = build_services(settings, connect(settings, timeout_s=max(5.0, settings.store_timeout_s)))
    # Several trackers on one store divide the venues between them (portal/leases.py).
    tracker = Tracker(core.db, core.venues, core.locator, leases=worker_registries(core.db, settings)["tracker"],
                      sweeps=core.tracker_sweeps(), breakers=worker_breakers(core.db, core.breaker))
    if once:
        try:
            for venue in core.venues.venue_ids():
                pending = tracker.pending(venue)
                print(f"{venue}: positioning {pending} phones with new readings ...", flush=True)
                print(f"{venue}: {tracker.drain(venue)} positioned", flush=True)
        finally:
            tracker.close()
        return 0
    with contextlib.suppress(KeyboardInterrupt):
        tracker.run(threading.Event())
    return 0


def paysandbox(host: str, port: int, fd: int | None = None) -> int:
    """The local payment sandbox (portal/paysandbox/): WeChat Pay's and Alipay's APIs with fresh test keys; on the
    listening socket `fd` when given (`serve` binds it)."""
    _stop_on_sigterm()
    app = create_sandbox_app()
    with contextlib.suppress(KeyboardInterrupt):
        if fd is None:
            run_simple(host, port, app, threaded=True, use_reloader=False)
        else:
            make_server(host, port, app, threaded=True, fd=fd).serve_forever()
    return 0


def _shared_store_settings(command: str, what: str) -> Settings | None:
    """The settings of a worker `make run` starts with REDIS_URL pointing at its store, on the store
    `_running_store` finds (REDIS_URL, else the running `make run` store, as `python -m portal flask` finds
    it); None (said on stderr) when there is none."""
    settings = load_settings(command)
    if not (url := _running_store(settings)):
        print(f"{command}: REDIS_URL is not set and no `make run` store is running (`make run` starts {what} "
              "with its store)", file=sys.stderr)
        return None
    return settings.with_(redis_url=url)


def sweep(once: bool) -> int:
    """The payments sweeper (portal/payments/worker.py) on the store `make run` uses (REDIS_URL, else the running
    `make run` store): expired
    orders closed, stuck refunds asked again, the light apps' payment duties (a lapsed number's pre-order
    refunded), every minute; its own process, as it waits on the payment providers."""
    _stop_on_sigterm()
    if not (settings := _shared_store_settings("sweep", "the sweeper")):
        return 2
    app = create_app(settings)  # the light apps register their payment purposes and sweepers with the app
    core = app.extensions["mallportal"]
    leases = None if once else worker_registries(core.db, settings)["payments"]
    sweeper = PaymentsSweeper(core.payments, core.venues, leases=leases,
                              breakers=worker_breakers(core.db, core.breaker))
    with app.app_context():
        if once:
            handled, failed = sweeper.round()
            print(f"{handled} expired orders handled, {failed} venues failed", flush=True)
            return 1 if failed else 0
        with contextlib.suppress(KeyboardInterrupt):
            sweeper.run(threading.Event())
    return 0


def notify(once: bool) -> int:
    """The notification worker (portal/notify/worker.py) on the store `make run` uses (REDIS_URL, else the
    running `make run` store): its own
    process, so a slow push service or SMS provider never delays the tracker's positioning."""
    _stop_on_sigterm()
    if not (settings := _shared_store_settings("notify", "the worker")):
        return 2
    db = connect(settings, timeout_s=max(5.0, settings.store_timeout_s))
    core = build_services(settings, db)
    worker = NotifyWorker(db, settings, default_channels(settings, db), venues=core.venues,
                          leases=None if once else worker_registries(db, settings)["notify"],
                          breakers=worker_breakers(db, core.breaker))
    if once:
        for venue in core.venues.venue_ids():
            print(f"{venue}: {worker.drain(venue)} notifications handled", flush=True)
        return 0
    with contextlib.suppress(KeyboardInterrupt):
        worker.run(threading.Event())
    return 0


def vapid_key() -> int:
    """Print a new VAPID key pair for production (VAPID_PRIVATE_KEY, the same on every host)."""
    private = new_vapid_private_key()
    print(f"VAPID_PRIVATE_KEY={private}\n# public key (applicationServerKey): {vapid_public_key(private)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line; a refused setting or a store that does not answer ends it with one line on stderr."""
    try:
        return _main(argv)
    except CommandFailed as exc:
        print(exc.message, file=sys.stderr)
        return exc.code


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="serve the portal (embedded Valkey unless REDIS_URL is set)")
    run.add_argument("--workers", default=None, help="default: WEB_WORKERS (2)")
    run.add_argument("--threads", default=None, help="threads per worker; default: WEB_THREADS (8)")
    run.add_argument("--host", default=None, help="address to listen on; default: HOST (127.0.0.1)")
    tracking = sub.add_parser("track", help="position phones as their readings arrive (`serve` starts it)")
    tracking.add_argument("--once", action="store_true", help="position the phones waiting now, then exit")
    sandbox = sub.add_parser("paysandbox", help="the local payment sandbox (`serve` starts it when no payment "
                             "provider is configured)")
    sandbox.add_argument("--host", default=None, help="default: HOST (127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=None, help="default: PAY_SANDBOX_PORT, else PORT + 10 (8010)")
    sandbox.add_argument("--fd", type=int, default=None, help=argparse.SUPPRESS)  # `serve`'s socket
    sweeping = sub.add_parser("sweep", help="payment duties every minute: expired orders, stuck refunds, the apps' "
                              "sweepers (`serve` starts it)")
    sweeping.add_argument("--once", action="store_true", help="sweep every venue once, then exit")
    notifying = sub.add_parser("notify", help="deliver notifications: push, SMS (`serve` starts it)")
    notifying.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    notifying.add_argument("--vapid-key", action="store_true", help="print a new VAPID key pair and exit")
    flask = sub.add_parser("flask", help="run an operator command (map, AP and draft tools, accounts; what `flask "
                           "--app wsgi` runs) on the portal's store; `python -m portal flask --help` lists them",
                           add_help=False)
    flask.add_argument("rest", nargs=argparse.REMAINDER)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["flask"]:  # everything after `flask` is Flask's, --help included (argparse would take it)
        return flask_command(argv[1:])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logredact.install()  # the tracker's and the CLI's log lines: no raw MAC, phone number or token
    if args.command == "flask":
        return flask_command(args.rest)
    if args.command == "notify" and args.vapid_key:
        return vapid_key()
    workers = {"track": track, "sweep": sweep, "notify": notify}
    if args.command in workers:
        try:
            return workers[args.command](args.once)
        except STORE_DOWN as exc:
            raise store_down(f"{PROG} {args.command}", os.environ.get("REDIS_URL"), exc) from None
    if args.command == "paysandbox":
        settings = load_settings("paysandbox")
        return paysandbox(args.host or settings.host, args.port or settings.payments.sandbox_port, args.fd)
    if args.command == "serve":
        try:
            return serve(args.workers, args.threads, args.host)
        except KeyboardInterrupt:
            return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
