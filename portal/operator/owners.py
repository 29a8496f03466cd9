"""The venue's zone-owner accounts, run by its operator.

    /console/ops/<venue>/owners                     the owners, their zones and state; create one
    /console/ops/<venue>/owners/<username>/reset    a new password for one of them
    /console/ops/<venue>/owners/<username>/zones    the zones one of them runs: the form; POST zones=... (at least
                                                    one; the map's zones only)
    /console/ops/<venue>/owners/<username>/disabled disable (disabled=1: signed out, cannot sign in) or enable (0)

Two ways to hand an account over: an invite / reset LINK (one-time, expiring, only the hash of its secret
stored: portal.auth.PasswordLinks; the owner sets their own password under the policy) or an initial /
temporary PASSWORD shown once, which must be changed at the first sign-in (portal/account_pages.py). A
reset ends the owner's sessions, and the old password and any earlier link stop working (so does any later
password change: a link never outlives one). An operator reaches only the owners
of its own venue (another venue's account, or an operator, is a 404 here). Every change is audited. Zones taken
from an owner take the owner's moments rules about them with them (paused: the new owner of the zone does not
inherit a stranger's notifications); a zone deleted from the map is taken from its owners (zone_release)."""

from __future__ import annotations

import json

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from fingerprints.model import ID_RE, VenueMap, Zone
from portal.apps.views import is_zh
from portal.auth import Account, AccountExists, AccountStore, PasswordLinks, audit, current_account
from portal.errors import input_error_text
from portal.operator.blueprint import bp, works_without_map
from portal.services import services

METHODS = ("link", "password")
_NO_STORE = {"Cache-Control": "no-store"}


def _venue_owners(venue: str) -> list[dict]:
    store, links = AccountStore(services().db), PasswordLinks(services().db)
    out = []
    for account, status in store.all_with_status():
        if account.role == "owner" and account.venue == venue:
            out.append({"account": account, "status": status, "link": links.live(account.username)})
    return out


def _zones_by_floor(venue_map: VenueMap | None) -> list[tuple[str, list[Zone]]]:
    """The invite form's zones under their floor's name: a mall's zone names rarely say the floor, and a
    hundred checkboxes in one run leave "which Kopi?" to guesswork."""
    if venue_map is None:
        return []
    zh = is_zh()
    return [(f.label(zh), zones) for f in venue_map.floors
            if (zones := [z for z in venue_map.zones if z.floor == f.level])]


def _page(venue: str, issued: dict | None = None, status: int = 200, form: dict | None = None):
    """The page; `form`: what the operator typed into the invite form, shown again after a refusal."""
    venue_map = services().venues.get_map(venue)
    page = render_template("operator/owners.html", venue=venue, floors=_zones_by_floor(venue_map),
                           owners=_venue_owners(venue), issued=issued, methods=METHODS,
                           form=form or {"username": "", "zones": (), "method": "link"})
    return page, status, _NO_STORE


def _method() -> str:
    method = request.form.get("method") or "link"
    if method not in METHODS:
        raise ValueError(_("Choose how to hand the account over: a link or an initial password."))
    return method


def _hand_over(account: Account, method: str, purpose: str) -> dict:
    """The link or the password to give the owner, shown once on the page (never stored in clear)."""
    svc = services()
    if method == "password":
        return {"username": account.username, "zones": account.zones, "purpose": purpose,
                "password": AccountStore(svc.db).set_temporary_password(account.username),
                "login": url_for("auth.login", _external=True)}
    token = PasswordLinks(svc.db).issue(account.username, purpose, by=current_account().username)
    path = url_for("account.welcome", t=token)
    link = svc.settings.portal_url + path if svc.settings.portal_url else url_for("account.welcome", t=token,
                                                                                  _external=True)
    return {"username": account.username, "zones": account.zones, "purpose": purpose, "link": link,
            "hours": PasswordLinks.TTL_S[purpose] // 3600}


@bp.get("/<venue>/owners")
@works_without_map
def owners(venue: str):
    return _page(venue)


@bp.post("/<venue>/owners")
@works_without_map
def create_owner(venue: str):
    venue_map = services().venues.get_map(venue)
    zone_ids = {z.id for z in venue_map.zones} if venue_map else set()
    username = (request.form.get("username") or "").strip().lower()
    zones = tuple(z for z in request.form.getlist("zones") if z in zone_ids)
    # shown again after a refusal, as typed
    typed = {"username": (request.form.get("username") or "").strip()[:48], "zones": zones,
             "method": request.form.get("method") or "link"}
    try:
        method = _method()
        if not ID_RE.match(username):
            raise ValueError(_("Username: lower-case letters, digits, - and _, at most 48."))
        if not zones:
            raise ValueError(_("Choose at least one zone the owner runs."))
        # no password yet: the link sets it; the password method sets a temporary one next
        account = AccountStore(services().db).create(username, None, "owner", venue, zones)
    except AccountExists:  # usernames are every venue's: the page must not confirm another mall's account
        flash(_("This username cannot be used: choose another one."), "error")
        return _page(venue, status=400, form=typed)
    except ValueError as exc:
        flash(input_error_text(exc), "error")
        return _page(venue, status=400, form=typed)
    issued = _hand_over(account, method, "invite")
    audit("owner.create", venue, username=username, zones=json.dumps(zones), method=method)
    return _page(venue, issued, 201)


def _venue_owner(venue: str, username: str) -> Account:
    account = AccountStore(services().db).get(username[:64])
    if account is None or account.role != "owner" or account.venue != venue:
        abort(404, _("This venue has no zone owner %(u)s.", u=username[:64]))
    return account


@bp.route("/<venue>/owners/<username>/zones", methods=["GET", "POST"])
def owner_zones(venue: str, username: str):
    """The zones one of this venue's owners runs (GET: the form): zones of the venue's map only, at least one (to
    stop an account altogether, disable it). The owner's moments rules about a zone taken away are paused."""
    account = _venue_owner(venue, username)
    venue_map = services().venues.get_map(venue)
    if request.method == "GET":
        return _zones_page(venue, venue_map, account, account.zones)
    known = [z.id for z in venue_map.zones]
    sent = set(request.form.getlist("zones"))
    zones = tuple(z for z in known if z in sent)
    if not zones:
        flash(_("Choose at least one zone the owner runs; to stop the account, disable it."), "error")
        return _zones_page(venue, venue_map, account, zones, 400)
    before = AccountStore(services().db).set_zones(account.username, zones)
    if before == zones:
        flash(_("Nothing to save: the owner runs these zones already."))
        return redirect(url_for("operator.owners", venue=venue), code=303)
    paused = services().moments.pause_owner(venue, account.username, [z for z in before if z not in zones])
    audit("owner.zones", venue, username=account.username, zones=json.dumps(zones), before=json.dumps(before),
          paused_rules=",".join(paused))
    flash(_("%(u)s now runs %(zones)s.", u=account.username, zones=", ".join(zones)))
    return redirect(url_for("operator.owners", venue=venue), code=303)


def _zones_page(venue: str, venue_map: VenueMap, account: Account, chosen: tuple[str, ...], status: int = 200):
    page = render_template("operator/owner_zones.html", venue=venue, owner=account, chosen=chosen,
                           floors=_zones_by_floor(venue_map))
    return page, status, _NO_STORE


@bp.post("/<venue>/owners/<username>/disabled")
@works_without_map
def owner_disabled(venue: str, username: str):
    """Disable one of this venue's owners (its sessions end, its invite / reset link too; it cannot sign in), or
    enable it again (`disabled` 1 or 0)."""
    account = _venue_owner(venue, username)
    wanted = request.form.get("disabled")
    if wanted not in ("0", "1"):
        abort(400, _("Say whether to disable (1) or enable (0) the account."))
    store = AccountStore(services().db)
    if store.status(account.username)["disabled"] == (wanted == "1"):
        flash(_("Nothing to save: the account is already so."))
        return redirect(url_for("operator.owners", venue=venue), code=303)
    store.set_disabled(account.username, wanted == "1")
    paused = services().moments.pause_owner(venue, account.username) if wanted == "1" else []
    audit("owner.disable" if wanted == "1" else "owner.enable", venue, username=account.username,
          **({"paused_rules": ",".join(paused)} if paused else {}))
    flash(_("%(u)s is disabled: signed out, and cannot sign in.", u=account.username) if wanted == "1"
          else _("%(u)s is enabled again.", u=account.username))
    return redirect(url_for("operator.owners", venue=venue), code=303)


@bp.post("/<venue>/owners/<username>/reset")
@works_without_map
def reset_owner(venue: str, username: str):
    """A new password for one of this venue's owners: its sessions end, the old password stops working."""
    store = AccountStore(services().db)
    account = _venue_owner(venue, username)
    try:
        method = _method()
    except ValueError as exc:
        flash(input_error_text(exc), "error")
        return _page(venue, status=400)
    if method == "link":
        store.forget_password(account.username)  # until the link is used, nobody can sign in as the owner
    issued = _hand_over(account, method, "reset")
    audit("owner.reset", venue, username=account.username, method=method)
    return _page(venue, issued)
