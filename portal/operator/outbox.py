"""The notification outbox's dead letters, for the venue's operator.

    GET  /console/ops/<venue>/outbox                    counts, and the dead letters (newest first, paged)
    POST /console/ops/<venue>/outbox/replay             one letter (`letter`) or all (`all=1`) sent again
    POST /console/ops/<venue>/outbox/drop               one letter or all forgotten

A letter shows its event, channel, tries, error and time, never the message's texts (they may hold a link
into the shopper's pages) nor the number; the shopper only by a shortened id."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal.auth import audit
from portal.notify.outbox import LETTER_ID, Outbox
from portal.operator.blueprint import bp, works_without_map
from portal.services import services

PAGE = 50


def _outbox() -> Outbox:
    return Outbox(services().db)


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or not 1 <= int(raw) <= 1000:  # not "²" (int refuses it)
        abort(400, _("page must be a whole number from 1."))
    return int(raw)


@bp.get("/<venue>/outbox")
@works_without_map
def outbox(venue: str):
    page = _page_arg()
    box = _outbox()
    stats = box.stats(venue)
    letters = box.dead_letters(venue, limit=PAGE, offset=(page - 1) * PAGE)
    return render_template("operator/outbox.html", venue=venue, stats=stats, letters=letters, page=page,
                           more=stats.get("dead_letters", 0) > page * PAGE)


def _target() -> tuple[str | None, bool]:
    """(letter id, all) from the form; 400 unless exactly one of them is given well-formed."""
    letter, every = request.form.get("letter", "")[:40], request.form.get("all") == "1"
    if every == bool(letter) or (letter and not LETTER_ID.match(letter)):
        abort(400, _("Choose one dead letter, or all of them."))
    return (letter or None), every


@bp.post("/<venue>/outbox/replay")
@works_without_map
def replay_dead(venue: str):
    return _act(venue, "replay")


@bp.post("/<venue>/outbox/drop")
@works_without_map
def drop_dead(venue: str):
    return _act(venue, "drop")


def _act(venue: str, action: str):
    letter, every = _target()
    audited, done = _outbox().act_on_dead(venue, action, letter)
    if not every and not done:
        abort(404, _("No such dead letter (it may have been replayed or dropped already)."))
    audit(audited, venue, **({"count": done} if every else {"letter": letter}))
    if action == "replay":
        flash(_("%(n)s dead letters will be sent again.", n=done) if every else _("The message will be sent again."),
              "ok")
    else:
        flash(_("%(n)s dead letters dropped.", n=done) if every else _("The dead letter was dropped."), "ok")
    return redirect(url_for("operator.outbox", venue=venue), code=303)
