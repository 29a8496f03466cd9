"""A console session cookie re-signed by another web host whose clock runs ahead still opens here (Flask's own
check refused it at 1 s ahead: a console user whose requests met two hosts was signed out), within
MAX_CLOCK_SKEW_S; beyond it, or past the session's lifetime, it is an empty session."""

from __future__ import annotations

import time
from unittest import mock

from flask import request


def _cookie_signed_at(app, at: float) -> str:
    serializer = app.session_interface.get_signing_serializer(app)
    with mock.patch("itsdangerous.timed.time.time", return_value=at):
        return serializer.dumps({"probe": "kept"})


def _opened(app, cookie: str) -> dict:
    name = app.config["SESSION_COOKIE_NAME"]
    with app.test_request_context(headers={"Cookie": f"{name}={cookie}"}):
        return dict(app.session_interface.open_session(app, request) or {})


def test_a_cookie_signed_two_minutes_ahead_opens(app):
    assert _opened(app, _cookie_signed_at(app, time.time() + 120)) == {"probe": "kept"}


def test_a_cookie_signed_far_ahead_or_too_long_ago_is_an_empty_session(app):
    assert _opened(app, _cookie_signed_at(app, time.time() + 3600)) == {}
    lifetime = app.permanent_session_lifetime.total_seconds()
    assert _opened(app, _cookie_signed_at(app, time.time() - lifetime - 60)) == {}
