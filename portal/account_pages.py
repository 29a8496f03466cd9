"""A console account's own password pages.

    /console/password        change your password; an account with an initial or temporary password
                             (must_change) is sent here from every other console page until it does
    /console/welcome?t=...   set your password through an invite or reset link (portal.auth.PasswordLinks);
                             the token travels in the query string, which the access log never writes

Both under the password policy (portal/passwords.py), CSRF-checked like every console form."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from portal.auth import (
    AuditLog,
    PasswordLinks,
    Throttled,
    accounts,
    current_account,
    login_required,
    must_change_password,
    protect_console,
    venue_guest_networks,
)
from portal.passwords import MAX_LENGTH, password_problem
from portal.services import services

bp = protect_console(Blueprint("account", __name__, url_prefix="/console"))
# What an account that must change its password may still open.
_ALLOWED_WHILE_MUST_CHANGE = frozenset({"account.change_password", "account.welcome", "auth.logout", "auth.login",
                                        "static"})
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@bp.before_app_request
def _password_change_first():
    """An initial or temporary password opens nothing but the password page (and sign-out)."""
    if not request.path.startswith("/console/") or "sid" not in session:
        return None
    if request.endpoint in _ALLOWED_WHILE_MUST_CHANGE or not must_change_password():
        return None
    return redirect(url_for("account.change_password"), code=303)


def _new_password(username: str) -> str:
    """The new password from the form (typed twice, under the policy); ValueError saying what is wrong."""
    password = request.form.get("new_password", "")[:MAX_LENGTH + 1]
    if password != request.form.get("confirm_password", "")[:MAX_LENGTH + 1]:
        raise ValueError(_("The two new passwords differ."))
    problem = password_problem(password, username)
    if problem:
        raise ValueError(_("The new password is refused: %(why)s.", why=problem))
    return password


@bp.route("/password", methods=["GET", "POST"])
@login_required()
def change_password():
    account = current_account()
    forced = must_change_password()
    if request.method == "GET":
        return render_template("auth/password.html", account=account, forced=forced)
    store = accounts()
    try:
        verified = store.verify(account.username, request.form.get("current_password", "")[:MAX_LENGTH],
                                request.remote_addr or "-", services().settings.demo,
                                venue_guest_networks(request.remote_addr))
    except Throttled as exc:
        flash(_("Too many failed attempts: please wait %(n)s seconds.", n=exc.wait_s), "error")
        return render_template("auth/password.html", account=account, forced=forced), 429, {
            "Retry-After": str(exc.wait_s)}
    try:
        if verified is None:
            raise ValueError(_("The current password is wrong."))
        store.set_password(account.username, _new_password(account.username))  # ends every session
    except ValueError as exc:
        flash(str(exc), "error")
        return render_template("auth/password.html", account=account, forced=forced), 400
    session.clear()
    session["sid"] = store.start_session(account.username)  # this browser goes on; the others are out
    session.permanent = True
    AuditLog(services().db).record(account.venue, account.username, "password.change")
    flash(_("Password changed; your other sessions were signed out."))
    return redirect(url_for("auth.home"), code=303)


@bp.route("/welcome", methods=["GET", "POST"])
def welcome():
    """Set a password through a one-time link. GET only looks at the link (a mail scanner opening it does
    not use it up); the POST uses it."""
    token = (request.values.get("t") or "")[:200]
    links = PasswordLinks(services().db)
    found = links.peek(token)
    if found is None:
        return render_template("auth/welcome.html", link=None, token=""), 404, _NO_STORE
    username, purpose = found
    if request.method == "GET":
        return render_template("auth/welcome.html", link={"username": username, "purpose": purpose},
                               token=token), 200, _NO_STORE
    store = accounts()
    try:
        password = _new_password(username)
        account, status = store.get_with_status(username)
        if account is None or status["disabled"]:
            raise ValueError(_("This account cannot sign in; ask your operator."))
    except ValueError as exc:
        flash(str(exc), "error")
        return render_template("auth/welcome.html", link={"username": username, "purpose": purpose},
                               token=token), 400, _NO_STORE
    # checks the link again, uses it up and sets the password in one step (a reset, a password change or the
    # same link used elsewhere meanwhile: 404)
    used = links.use(token, password)
    if used is None:
        return render_template("auth/welcome.html", link=None, token=""), 404, _NO_STORE
    username, purpose = used
    account = store.get(username)
    AuditLog(services().db).record(account.venue, username, f"password.{purpose}")
    flash(_("Your password is set; sign in with it."))
    return redirect(url_for("auth.login"), code=303)
