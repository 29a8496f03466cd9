"""The sign-in's refusal is tied to its fields (WCAG 3.3.1): announced (role=alert), both fields marked invalid and
naming it (which one was wrong is not told), the first focused; a flashed message is announced by its kind."""

from __future__ import annotations

import re

from flask import flash, render_template


def field(html: str, name: str) -> str:
    return re.search(rf'<input type="{name}" id="{name}"[^>]*>', html).group(0)


def test_a_wrong_password_is_announced_and_tied_to_both_fields(client, console):
    resp = client.post("/console/login?lang=en",
                       data={"username": "ops", "password": "nope", "csrf_token": console.csrf()})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 401
    assert '<p class="flash error" id="login-error" role="alert">Wrong username or password.</p>' in html
    username = re.search(r'<input type="text" id="username"[^>]*>', html).group(0)
    assert username.endswith(' aria-invalid="true" aria-describedby="login-error" autofocus>')
    assert field(html, "password").endswith(' aria-invalid="true" aria-describedby="login-error">')


def test_the_sign_in_page_marks_nothing_before_a_try(client, demo):
    html = client.get("/console/login").get_data(as_text=True)
    assert "aria-invalid" not in html and 'id="login-error"' not in html


def test_flashed_errors_alert_and_other_messages_are_status(app, demo):
    with app.test_request_context("/console/login?lang=en"):
        flash("Saved.", "ok")
        flash("Refused.", "error")
        html = render_template("auth/login.html")
    assert '<p class="flash ok" role="status">Saved.</p>' in html
    assert '<p class="flash error" role="alert">Refused.</p>' in html
