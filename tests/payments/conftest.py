"""The payment sandbox (a real HTTP server the real SDKs talk to) and a real HTTP server of the portal (so
the sandbox's callbacks arrive over HTTP as in production), both once per test session."""

from __future__ import annotations

from dataclasses import replace

import pytest
from werkzeug.serving import make_server

from core.payment_settings import PaymentSettings
from portal.paysandbox.app import Sandbox, create_sandbox_app
from tests.fake_http import serve_in_thread


class Served:
    def __init__(self, wsgi_app) -> None:
        self.server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = serve_in_thread(self.server)

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="session")
def sandbox():
    """(Sandbox, its URL): new test keys for the session (four RSA keys: about a second)."""
    box = Sandbox()
    served = Served(create_sandbox_app(box))
    yield box, served.url
    served.stop()


class _Late:
    """The portal app is created after its server's port is known (PORTAL_URL = where callbacks go)."""

    def __init__(self) -> None:
        self.app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture
def refunds_answer(sandbox):
    """Set how the sandbox answers refunds for one test (back to "success" afterwards)."""
    box = sandbox[0]

    def mode(value: str) -> None:
        box.refund_mode = value

    yield mode
    box.refund_mode = "success"


@pytest.fixture(scope="session")
def pay_portal(settings, sandbox):
    """The portal on the session's store, paying through the sandbox, served over HTTP."""
    from portal import create_app

    late = _Late()
    served = Served(late)
    pay_settings = settings.with_(portal_url=served.url, payments=PaymentSettings(sandbox_url=sandbox[1]))
    late.app = create_app(pay_settings)
    late.app.config["SERVER_NAME"] = None
    yield late.app, served.url
    served.stop()


@pytest.fixture
def pay(pay_portal, db):
    """The portal's payment service (on a flushed store) and the sandbox."""
    app, _url = pay_portal
    app.extensions["mallportal"].breaker.record_success()  # the session's app: an earlier store-fault test's count
    return app.extensions["mallportal"].payments


@pytest.fixture
def pay_mall(pay_portal, pay, demo_map):
    """The demo mall's map (without its survey samples: quick) on the paying portal's flushed store:
    (app, venue map)."""
    app, _url = pay_portal
    venue_map = replace(demo_map, samples=[]).copy()  # a deep copy, without copying 1,600 samples first
    app.extensions["mallportal"].venues.put_map(venue_map)
    return app, venue_map


@pytest.fixture
def token_for():
    """token_for(app, venue, client): a shopper's `c` token, as the portal hands it out."""
    from portal.shopper import Shopper, shopper_token

    def token(app, venue: str, client: str) -> str:
        with app.test_request_context():
            return shopper_token(Shopper(venue, client))

    return token
