"""Settings every `gunicorn wsgi:app` started from the project root reads (`make run`, bench/portal.py,
deploy/mallportal.service).

Where it listens and its workers and threads: HOST, PORT, WEB_WORKERS and WEB_THREADS, read by the settings' own
rule (core/settings.py WebServer, which `serve` reads them with too): a blank HOST is 127.0.0.1, not every interface,
and a bad value stops gunicorn with one line naming it. The command line (`serve`'s, the tests') still overrides them.

Request limits: gateways build long redirects. openNDS builds Locations of up to 8 kB (its QUERYMAXLEN is
8192, and the base64 `fas` grows the shopper's original URL by a third), so the request line alone can
pass gunicorn's default and maximum of 8190 bytes: 0 lifts it (gunicorn then caps it at 1 MB itself);
the app refuses a query above 16 kB (portal/errors.py) and the reverse proxy in front (deploy/nginx.conf,
`large_client_header_buffers 4 32k`) bounds what reaches here. A header field (a Referer carrying that
URL) may be 32 kB."""

import os
import signal
import sys

from core import logredact
from core.settings import WebServer

try:
    _web = WebServer.from_env(os.environ)
except ValueError as exc:  # gunicorn would print a traceback for it
    sys.exit(f"gunicorn.conf.py: {exc}")
bind = [_web.bind]
workers = _web.workers
threads = _web.threads

# gunicorn's control socket (gunicornc) is not used here, and its default path is one per user ($HOME/.gunicorn):
# two instances on one machine (the old and new release during an upgrade, two installs) took each other's.
control_socket_disable = True

limit_request_line = 0
limit_request_field_size = 32 * 1024
limit_request_fields = 100

# The access log names the path only: query strings carry client MACs (gateway and probe parameters) and
# shopper tokens (`c`), and the Referer carries the same URLs, so neither is logged. Nor is the path as sent: a
# path holds secrets too (the CAPPORT URI's token, coupon and ticket codes), so the log shows the route the app
# names in X-Logged-Path, those values masked (core/logredact.py `logged_path`; "-" where no app answered).
access_log_format = '%(h)s - - %(t)s "%(m)s %({x-logged-path}o)s %(H)s" %(s)s %(b)s %(L)ss "%(a)s"'
logredact.install()  # and the master's own lines (workers install it again in create_app, with its handlers)


def post_worker_init(worker) -> None:
    """As a worker starts: fit the positioning models, which the first probe of an untracked phone would
    otherwise wait for (a second or more for a large venue), in a background thread. Never in the boot
    path: an exception here is a "worker failed to boot" and gunicorn's master then shuts down, and a
    stalled store would hold the worker back (tests/faults/ restarts workers with the store stopped).

    And a worker ignores SIGINT: a Ctrl-C reaches every process of the terminal's group, the master included,
    whose quit signal then follows; gthread's quit handler (a thread-pool shutdown) entered a second time inside
    the first hung the worker until the master SIGKILLed it (`make run`: 3 of 6 first starts, until 2026-12-06). The
    master's signal alone stops it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # no app when it failed to load: nothing to stop (and no second error beside the boot's own)
    services = getattr(getattr(worker, "wsgi", None), "extensions", {}).get("mallportal")
    if services is None:
        return
    try:
        services.warm_up_in_background()
    except Exception:  # noqa: BLE001 - no thread (resources): the models are fitted on first lookup
        worker.log.exception("model warm-up not started")


WORKER_EXIT_WAIT_S = 2.0  # at most this long for the app's background threads: gunicorn's graceful timeout is 30 s


def worker_exit(server, worker) -> None:
    """As a worker exits (in the worker, before its atexit handlers): stop the app's background threads
    (Services.close), so none is cut off mid-write or pings the store while the interpreter shuts down; the
    events still queued are then written by the exit's flush (portal/events/log.py)."""
    # no app when it failed to load: nothing to stop (and no second error beside the boot's own)
    services = getattr(getattr(worker, "wsgi", None), "extensions", {}).get("mallportal")
    if services is None:
        return
    try:
        services.close(WORKER_EXIT_WAIT_S)
    except Exception:  # noqa: BLE001 - the worker exits all the same
        worker.log.exception("background threads not stopped")
