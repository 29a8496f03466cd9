"""What the loopback imitations of outside services (the gateways' controllers: UniFi, UniFi OS, Omada; the SMS
API, webhooks, the payment sandbox) share: a JSON request handler, a server on a free port (over TLS with a
self-signed certificate when asked), and a serving thread that stops as soon as it is told."""

from __future__ import annotations

import json
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

# How often a served loop checks for shutdown(): socketserver's default, 0.5 s, made every server's shutdown wait
# that long (58 teardowns, about 28 s of a run's test time, 2026-12-05); a loop that checks 50 times a second costs
# nothing measurable and its shutdown() returns at once.
SHUTDOWN_POLL_S = 0.02


def serve_in_thread(server: socketserver.BaseServer) -> threading.Thread:
    """Serve `server` from a daemon thread (started, returned) that `server.shutdown()` stops at once."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_S}, daemon=True)
    thread.start()
    return thread


class JsonHandler(BaseHTTPRequestHandler):
    def read_json(self):
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def answer(self, status: int, payload, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    """The server's base URL (https with `tls` = (certificate, key) PEM paths) while the block runs."""
    server = HTTPServer(("127.0.0.1", 0), handler)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    serve_in_thread(server)
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
