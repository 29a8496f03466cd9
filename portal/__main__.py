"""`python -m portal serve`: what `make run` runs.

Starts an embedded Valkey (AOF on, data under ./var/valkey) unless REDIS_URL is set, loads the demo
mall if the store has none, then serves the app with gunicorn beside the tracker (`python -m portal
track`, portal/tracking/tracker.py), the notification worker (`python -m portal notify`,
portal/notify/worker.py) and the payments sweeper (`python -m portal sweep`, portal/payments/worker.py).
Ctrl-C stops them all cleanly."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import click
import redis
from flask.cli import FlaskGroup
from werkzeug.serving import run_simple

from core import logredact
from core.security import new_vapid_private_key, vapid_public_key
from core.settings import Settings, _redacted
from core.storage import connect, start_embedded_valkey
from portal.bootstrap import build_services, create_app
from portal.health import worker_registries
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


def serve(workers: int | None, threads: int | None, host: str | None) -> int:
    """`make run`; what the command line leaves out, the settings give (WEB_WORKERS, WEB_THREADS, HOST)."""
    _stop_on_sigterm()
    settings = load_settings("serve")
    workers = settings.web_workers if workers is None else workers
    threads = settings.web_threads if threads is None else threads
    host = settings.host if host is None else host
    embedded = None
    if not settings.redis_url:
        embedded = start_embedded_valkey(settings.data_dir / "valkey")
        settings = settings.with_(redis_url=embedded.connection_url)
        _url_file(settings).write_text(settings.redis_url)  # so `python -m portal flask ...` finds it
    env = {**os.environ, "REDIS_URL": settings.redis_url}
    sandbox = None
    if not settings.payments.enabled:
        # No payment provider configured: the local payment sandbox stands in for WeChat Pay and Alipay.
        sandbox_port = settings.payments.sandbox_port
        env["PAY_SANDBOX_URL"] = f"http://{host}:{sandbox_port}"
        sandbox = subprocess.Popen([sys.executable, "-m", "portal", "paysandbox", "--host", host,
                                    "--port", str(sandbox_port)], env=env)
        print(f"payment sandbox on {env['PAY_SANDBOX_URL']}/ (test keys, no real money)", flush=True)
    try:
        if settings.load_demo:
            started = time.perf_counter()
            with create_app(settings).app_context():
                loaded = ensure_demo_venues(services())
            if loaded:
                print(f"demo venues ready in {time.perf_counter() - started:.1f} s", flush=True)
        print(start_banner(settings, host), flush=True)
        cmd = [
            sys.executable, "-m", "gunicorn", "wsgi:app",
            "--bind", f"{host}:{settings.port}",
            "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
            "--access-logfile", "-", "--graceful-timeout", "5",
        ]
        server = subprocess.Popen(cmd, env=env)
        workers = [subprocess.Popen([sys.executable, "-m", "portal", name], env=env)
                   for name in ("track", "notify", "sweep")]
        workers += [sandbox] if sandbox is not None else []  # stopped with the others
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
    finally:
        if embedded is not None:
            _url_file(settings).unlink(missing_ok=True)
            embedded.stop()
            print("embedded Valkey stopped; data kept in", settings.data_dir / "valkey", flush=True)


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
    embedded = None
    url = _running_store(settings)
    if not url:
        embedded = start_embedded_valkey(settings.data_dir / "valkey")
        url = embedded.connection_url
        if cli_loads_demo(settings):
            with create_app(settings.with_(redis_url=url)).app_context():
                ensure_demo_venues(services())
    try:
        return flask_cli(args, settings.with_(redis_url=url))
    finally:
        if embedded is not None:
            embedded.stop()


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
                      sweeps=core.tracker_sweeps())
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


def paysandbox(host: str, port: int) -> int:
    """The local payment sandbox (portal/paysandbox/): WeChat Pay's and Alipay's APIs with fresh test keys."""
    _stop_on_sigterm()
    app = create_sandbox_app()
    with contextlib.suppress(KeyboardInterrupt):
        run_simple(host, port, app, threaded=True, use_reloader=False)


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
    sweeper = PaymentsSweeper(core.payments, core.venues, leases=leases)
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
                          leases=None if once else worker_registries(db, settings)["notify"])
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
    run.add_argument("--workers", type=int, default=None, help="default: WEB_WORKERS (2)")
    run.add_argument("--threads", type=int, default=None, help="threads per worker; default: WEB_THREADS (8)")
    run.add_argument("--host", default=None, help="address to listen on; default: HOST (127.0.0.1)")
    tracking = sub.add_parser("track", help="position phones as their readings arrive (`serve` starts it)")
    tracking.add_argument("--once", action="store_true", help="position the phones waiting now, then exit")
    sandbox = sub.add_parser("paysandbox", help="the local payment sandbox (`serve` starts it when no payment "
                             "provider is configured)")
    sandbox.add_argument("--host", default=None, help="default: HOST (127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=None, help="default: PAY_SANDBOX_PORT, else PORT + 10 (8010)")
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
        return paysandbox(args.host or settings.host, args.port or settings.payments.sandbox_port)
    if args.command == "serve":
        try:
            return serve(args.workers, args.threads, args.host)
        except KeyboardInterrupt:
            return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
