"""`python -m portal serve`: what `make run` runs.

Starts an embedded Valkey (AOF on, data under ./var/valkey) unless REDIS_URL is set, loads the demo
mall if the store has none, then serves the app with gunicorn. Ctrl-C stops both cleanly."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys

from portal.settings import Settings


def _stop_on_sigterm() -> None:
    """systemd, docker and `kill` send SIGTERM: stop as cleanly as on Ctrl-C."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def serve(workers: int, threads: int, host: str) -> int:
    _stop_on_sigterm()
    settings = Settings.from_env()
    embedded = None
    if not settings.redis_url:
        from portal.storage import start_embedded_valkey

        embedded = start_embedded_valkey(settings.data_dir / "valkey")
        settings = settings.with_(redis_url=embedded.connection_url)
    env = {**os.environ, "REDIS_URL": settings.redis_url}
    try:
        if settings.load_demo:
            from portal import create_app
            from portal.seed import ensure_demo_mall
            from portal.services import services

            with create_app(settings).app_context():
                ensure_demo_mall(services(), settings.default_venue)
        print(f"MallPortal on http://{host}:{settings.port}/  (demo: http://{host}:{settings.port}/demo)",
              flush=True)
        cmd = [
            sys.executable, "-m", "gunicorn", "wsgi:app",
            "--bind", f"{host}:{settings.port}",
            "--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread",
            "--access-logfile", "-", "--graceful-timeout", "5",
        ]
        server = subprocess.Popen(cmd, env=env)
        try:
            return server.wait()
        except KeyboardInterrupt:
            server.send_signal(signal.SIGTERM)
            return server.wait(timeout=15)
    finally:
        if embedded is not None:
            embedded.stop()
            print("embedded Valkey stopped; data kept in", settings.data_dir / "valkey", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m portal")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="serve the portal (embedded Valkey unless REDIS_URL is set)")
    run.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "2")))
    run.add_argument("--threads", type=int, default=int(os.environ.get("WEB_THREADS", "8")))
    run.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "serve":
        try:
            return serve(args.workers, args.threads, args.host)
        except KeyboardInterrupt:
            return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
