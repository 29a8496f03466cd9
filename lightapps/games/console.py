"""Owner side: publish the zone's game (prizes, odds, limits, total, last day), fix its texts in place, see plays
and wins (and the earlier games'), stop it, and hand out prizes: a winner's code is redeemed here exactly once.
The hand-out form carries a one-time nonce: pressed twice, it says "hand out the prize now" again, not "already
collected" for the prize it just gave out; so does the publish form: pressed twice, it publishes one game. A
points prize goes onto the winner's membership card: the card of the shopper who won it, or the one whose member
code the desk types with the prize code (a prize won in a phone's sign-in window, whose shopper id the winner no
longer has), that code checked as at a till, on this account's budget of wrong codes.

Under /console/apps/games/<venue>/<zone>, CSRF-checked, for the zone's owners only (and the venue's
operators): the activities team of the atrium runs the atrium's game, nobody else's. Prizes of membership
points only from the venue's operator (403 for an owner: points are the mall's money, as the card is)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from flask import abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from lightapps.games import APP
from lightapps.games.rules import (
    MAX_PRIZES,
    GameInputError,
    normalize_code,
    parse_game,
    parse_texts,
    percent,
    show_code,
)
from lightapps.games.store import Game
from lightapps.games.views import credit_points, is_zh, prize_value, store
from portal.apps.budgets import budget_room, spend_budget, wait_text
from portal.apps.capabilities import Granted, points
from portal.apps.locale import venue_locale, venue_today
from portal.apps.once import new_nonce, read_form_once, read_nonce
from portal.apps.views import format_time, record_event, zone_app_config, zone_console_blueprint
from portal.auth import audit

console_bp = zone_console_blueprint("games_console", __name__, url_prefix="/console/apps/games/<venue>/<zone>",
                                    template_folder="templates")
# Unknown codes typed at the prize desk, counted per console account (core/settings.py DEFAULT_BUDGETS)
REDEEM_MISS = "games.redeem_miss"
FORM_FIELDS = ("title_en", "title_zh", "style", "per_shopper", "per_day", "total", "last_day") + tuple(
    f"p{i}_{name}" for i in range(1, MAX_PRIZES + 1)
    for name in ("kind", "title_en", "title_zh", "value", "odds", "stock"))
TEXT_FIELDS = ("title_en", "title_zh") + tuple(f"p{i}_title_{lang}" for i in range(1, MAX_PRIZES + 1)
                                               for lang in ("en", "zh"))

# The form's fields as its labels say them (the msgids of console.html's labels); a prize row's as "Prize 2 · Odds"
LABELS = {
    "title_en": _l("Title (English)"), "title_zh": _l("Title (Chinese)"), "style": _l("Kind of game"),
    "per_day": _l("Draws per person per day"), "per_shopper": _l("Draws per person in all"),
    "total": _l("Most prizes given out in all (hard limit)"), "last_day": _l("Last day"),
}
PRIZE_COLUMNS = {
    "kind": _l("Kind"), "title_en": _l("Title (English)"), "title_zh": _l("Title (Chinese)"),
    "value": _l("Points, or coupon value in yuan"), "odds": _l("Odds (percent)"), "stock": _l("Stock"),
}
_PRIZE_FIELD = re.compile(r"^p(\d)_(\w+)$")
POINTS_ARE_THE_OPERATORS = _l("Only the venue's operator can publish a game with membership points as prizes; "
                              "give coupons instead.")


def _label(field: str) -> str:
    row = _PRIZE_FIELD.match(field)
    if row and row[2] in PRIZE_COLUMNS:
        return _("Prize %(n)s · %(column)s", n=row[1], column=PRIZE_COLUMNS[row[2]])
    return str(LABELS.get(field, field))


def _error_text(exc: GameInputError) -> str:
    """The refusal in the page's language, naming the field by its label on the form."""
    return _(exc.template, label=_label(exc.field), **exc.params)


class Outcome:
    """What the redeem form shows: ok or not, the message, and the prize when known."""

    def __init__(self, ok: bool, message: str, prize: str = "") -> None:
        self.ok = ok
        self.message = message
        self.prize = prize


def _page(venue: str, zone: str, status: int = 200, *, form=None, form_error=None, redeem=None, headers=None,
          stop_error: str = "", texts=None, texts_error=None):
    game = store().current(venue, zone)
    today = venue_today()
    form = form or {"style": "draw", "per_shopper": "3", "per_day": "1", "total": "100",
                    "last_day": (today + timedelta(days=7)).isoformat()}
    texts = texts or (_texts_of(game) if game else {})
    return render_template(
        "games/console.html", venue=g.venue_map, zone=g.zone, account=g.account, game=game, now=time.time(),
        wins=store().recent_wins(venue, game.id) if game else [], form=form, form_error=form_error,
        redeem=redeem, app_on=zone_app_config(APP, venue, zone) is not None, zh=is_zh(), percent=percent,
        prize_value=prize_value, show_code=show_code, max_prizes=MAX_PRIZES, nonce=new_nonce(), stop_error=stop_error,
        texts=texts, texts_error=texts_error, edited=game is not None and request.args.get("edited") == game.id,
        past=store().past(venue, zone),
    ), status, headers or {}


def _texts_of(game: Game) -> dict[str, str]:
    """The edit-in-place form's fields as the game has them now."""
    texts = {"title_en": game.title_en, "title_zh": game.title_zh}
    for p in game.prizes:
        texts |= {f"{p.id}_title_en": p.title_en, f"{p.id}_title_zh": p.title_zh}
    return texts


@console_bp.get("/")
def home(venue: str, zone: str):
    return _page(venue, zone)


@console_bp.post("/publish")
def publish(venue: str, zone: str):
    form = {k: request.form.get(k, "")[:200] for k in FORM_FIELDS}
    try:
        spec = parse_game(form, today=venue_today())
    except GameInputError as exc:
        return _page(venue, zone, 400, form=form, form_error=_error_text(exc))
    if any(p.kind == "points" for p in spec.prizes) and g.account.role != "operator":
        # points are the mall's money (as the membership card, LightApp.operator_assigns): an owner's game gives
        # coupons; the venue's operator publishes a game with points prizes, in any zone
        return _page(venue, zone, 403, form=form, form_error=str(POINTS_ARE_THE_OPERATORS))
    # the form's nonce: the same form again (a double tap) publishes no second game and goes where the first went
    game, replayed = store().publish_by_form(venue, zone, spec, read_form_once(request.form),
                                             created_by=g.account.username, tz=venue_locale().time_zone)
    if not replayed:  # audited when the form was first sent
        audit("games.publish", venue, zone=zone, game=game.id, total=game.total,
              odds=game.prizes and ",".join(f"{p.id}={p.odds}" for p in game.prizes))
    return redirect(url_for("games_console.home", venue=venue, zone=zone, published=game.id), code=303)


@console_bp.post("/edit")
def edit(venue: str, zone: str):
    """Fix the running game's titles and its prizes' in place: the same game, its odds, stocks, limits and
    everyone's draws as they are (publishing would make a new game). Also an owner's on a game with points prizes:
    texts change no money. Only the game the form was shown for (its id in the form)."""
    game = store().current(venue, zone)
    if game is None or game.status != "live":
        abort(404, _("No running game in this zone."))
    texts = {k: request.form.get(k, "")[:200] for k in TEXT_FIELDS}
    try:
        titles, prizes = parse_texts(texts, game.prizes)
    except GameInputError as exc:
        return _page(venue, zone, 400, texts=texts, texts_error=_error_text(exc))
    if request.form.get("game") != game.id or not store().edit_texts(venue, zone, game.id, titles, prizes):
        return _page(venue, zone, 409, texts_error=_("The game was changed meanwhile: nothing was saved. Here are "
                                                     "its texts now."))
    audit("games.edit", venue, zone=zone, game=game.id)
    return redirect(url_for("games_console.home", venue=venue, zone=zone, edited=game.id), code=303)


@console_bp.post("/stop")
def stop(venue: str, zone: str):
    """Stop the zone's game for good (nothing restarts it; a new game is published): only with the box beside the
    button ticked."""
    game = store().current(venue, zone)
    if game is None or game.status != "live":
        abort(404, _("No running game in this zone."))
    if request.form.get("confirm") != "yes":  # nothing changed: the page again, saying what stopping does
        return _page(venue, zone, 422, stop_error=_(
            "Tick the box beside Stop the game to confirm it: shoppers can no longer play %(title)s, for good "
            "(publish a new game to start another); prizes already won can still be handed out until their "
            "collect-by day. Nothing was changed.", title=game.title(is_zh())))
    if not store().stop(venue, zone):  # pragma: no cover - stopped by another tap between the two reads
        abort(404, _("No running game in this zone."))
    audit("games.stop", venue, zone=zone)
    return redirect(url_for("games_console.home", venue=venue, zone=zone), code=303)


@console_bp.post("/redeem")
def redeem(venue: str, zone: str):
    games, user = store(), g.account.username

    def refuse(status: int, message: str, prize: str = ""):
        return _page(venue, zone, status, redeem=Outcome(False, message, prize))

    budget_room(REDEEM_MISS, venue, account=user)  # spent: the budgets' 429, no code judged
    code = normalize_code(request.form.get("code", "")[:40])
    if code is None:
        return refuse(400, _("A prize code has 10 letters and digits, like ABCDE-23456."))
    voucher = games.voucher(venue, code)
    if voucher is None:
        spend_budget(REDEEM_MISS, venue, account=user)
        return refuse(404, _("No prize has the code %(code)s.", code=show_code(code)))
    if voucher.zone != zone:
        return refuse(403, _("This prize was won in another zone's game: only that zone can hand it out."))
    game = games.get(venue, voucher.game_id)
    won = game.prize(voucher.prize_id) if game is not None else None
    label = f"{won.title(is_zh())} · {prize_value(won, is_zh())} · {show_code(code)}" if won else show_code(code)
    nonce = read_nonce(request.form.get("nonce"))
    if won is not None and won.kind == "points" and points() is not None and voucher.state == "issued":
        return _credit_for_shopper(venue, zone, voucher, game, won, label, nonce)
    result = games.redeem(venue, zone, code, by=user, nonce=nonce)
    if result.replayed:  # the same form pressed again (a double press, a reload): said as what it is
        again = (_handed_out(result.voucher, won) if won is not None and won.kind == "points"  # "points added"
                 else _("Handed out at %(time)s by this form: if the shopper has not got it yet, hand it over now.",
                        time=format_time(result.at)))
        return _page(venue, zone, 200, redeem=Outcome(True, again, label))
    if result.status == "ALREADY":
        return refuse(409, _("Already collected at %(time)s.", time=format_time(result.at)), label)
    if result.status == "EXPIRED":
        return refuse(410, _("This prize could be collected until %(time)s; not handed out.",
                             time=format_time(result.at)), label)
    if result.status != "OK":  # the voucher went away between the two reads (forgotten): as unknown
        return refuse(404, _("No prize has the code %(code)s.", code=show_code(code)))
    audit("games.redeem", venue, zone=zone, game=game.id, prize=voucher.prize_id, code_end=code[-4:])
    record_event(APP, "game_prize_collected", venue, voucher.client or None, zone=zone, game=game.id)
    return _page(venue, zone, 200, redeem=Outcome(True, _("Hand out the prize now."), label))


def _handed_out(voucher, won) -> str:
    """What the desk is told when a prize is given: points onto the card, or anything else handed out."""
    if voucher is not None and voucher.state == "credited" and won is not None:
        return _("%(n)d points added to the winner's membership card.", n=won.value)
    return _("Hand out the prize now.")


# A points prize not credited: (status, message) per credit_points answer (a member code's refusals worded as the
# till's, lightapps/membership/console.py); any other refusal of the code is WRONG's. SPENT* and LOCKED add
# Retry-After, SPENT* how long to wait.
CREDIT_REFUSALS = {
    "NO_ACCOUNT": (409, lambda: _("The winner has no membership card in the browser that won this prize: type the "
                                  "member code shown on her card with the prize code.")),
    "EXPIRED": (410, lambda: _("This prize could only be collected until its deadline.")),
    "ALREADY": (409, lambda: _("These points are already on the card.")),
    "BAD_CODE": (400, lambda: _("A member code looks like 100001-123456 (or scan the card's QR code).")),
    "NO_MEMBER": (404, lambda: _("No member has the number in this member code.")),
    "STALE": (422, lambda: _("This code has expired: ask the shopper to refresh the card and show the new code.")),
    "WRONG": (422, lambda: _("This code is wrong or has expired: ask the shopper to refresh the card.")),
    "SPENT": (429, lambda: _("Too many wrong member codes from this account.")),
    "SPENT_MEMBER": (429, lambda: _("Too many wrong codes for this member from this account.")),
    "LOCKED": (429, lambda: _("Too many wrong codes for this member; try again in 10 minutes.")),
}


def _credit_for_shopper(venue: str, zone: str, voucher, game, won, label: str, nonce: str | None):
    """A points prize at the desk: onto the winner's membership card (the same idempotent step as the
    shopper's own button), the card of the member code typed with it if any; never handed out as anything
    else."""
    member_code = request.form.get("member_code", "")[:200].strip() or None
    granted = credit_points(venue, voucher, game, won, nonce, member_code=member_code, by=g.account.username)
    if not granted.done:
        return _credit_refused(venue, zone, granted, label)
    by_code = {"member": granted.member} if granted.member else {}
    audit("games.credit", venue, zone=zone, game=game.id, prize=won.id, code_end=voucher.code[-4:], **by_code)
    return _page(venue, zone, 200, redeem=Outcome(True, _("%(n)d points added to the winner's membership card.",
                                                          n=won.value), label))


def _credit_refused(venue: str, zone: str, granted: Granted, label: str):
    status, message = CREDIT_REFUSALS.get(granted.status, CREDIT_REFUSALS["WRONG"])
    text, wait = message(), granted.retry_after_s
    if granted.status.startswith("SPENT"):  # nothing was judged: said with how long to wait, as at the till
        text = f"{text} {wait_text(wait)}"
    headers = {"Retry-After": str(wait)} if wait else None
    return _page(venue, zone, status, redeem=Outcome(False, text, label), headers=headers)
