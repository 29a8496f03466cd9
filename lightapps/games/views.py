"""Shopper side: the zone's game with its odds and the shopper's draws left, a draw (a POST answered with
a 303), the prize won (a voucher with its code, also in Me).

The form carries the game id the shopper saw, so a draw is always on the odds the shopper was shown (a game
the owner replaced meanwhile answers 409 with the new odds), and a one-time nonce: the same form sent again (a
double tap, a resend) gets the first answer, the same prize, never a refusal hiding it. Shake and scratch are
the same draw: with JavaScript and the motion permission a shake submits the form; without, the button does.

"Per person": a member's draws are counted on her membership card as well as on her shopper id (the "points"
capability's member key), since each captive sign-in window is a new shopper id; a game with points prizes is
for members only (points go onto a card, and a card is the one "person" signing in again does not renew)."""

from __future__ import annotations

import logging
import time

import redis
from flask import abort, g, redirect, render_template, request
from flask_babel import gettext as _

from lightapps.games import APP
from lightapps.games.rules import Prize, normalize_code, percent, show_code
from lightapps.games.store import DrawResult, Game, GameStore, Voucher
from portal.apps.bilingual import Localized
from portal.apps.budgets import spend_budget
from portal.apps.capabilities import Granted, points
from portal.apps.locale import venue_today
from portal.apps.once import new_nonce, read_nonce
from portal.apps.views import (
    app_store,
    bilingual_from,
    is_zh,
    lang_arg,
    record_event,
    venue_or_404,
    zone_app_blueprint,
    zone_app_config,
)
from portal.payments.money import cny
from portal.shopper import current_shopper_token, shopper_for_venue, shopper_token, shopper_url

# Views of a zone have its venue map, zone and config on g (404 unless the zone runs the games app).
bp = zone_app_blueprint(APP, __name__, url_prefix="/v/<venue>", template_folder="templates",
                        off_message=lambda: _("There is no game in this zone."))


log = logging.getLogger(__name__)
GRANT_NOTE = "Lucky draw prize · 幸运抽奖奖品"  # the line on the member's points history (both languages)


def store() -> GameStore:
    return app_store(APP)


def prize_value(prize, zh: bool) -> str:
    """"200 points" / "¥20.00 coupon" in the shopper's language."""
    if prize.kind == "points":
        return _("%(n)d membership points", n=prize.value)
    return _("%(value)s coupon", value=cny(prize.value)) if prize.value else _("Coupon")


def desk(config: dict | None) -> Localized | str:
    """Where prizes are collected, as the owner wrote it: in the page's language, else the other one, tagged
    (an owner may write it in one language only), else the generic service desk."""
    config = config or APP.default_config()
    return bilingual_from(config, "desk") or _("the service desk")


def members_only(game: Game) -> bool:
    """A game with points prizes is for members (when an app keeps points): its points go onto a card, and its
    limits per person must hold per card (a non-member would draw again in each new sign-in window)."""
    return points() is not None and any(p.kind == "points" for p in game.prizes)


def member_key(venue: str, client: str) -> str | None:
    """The member this shopper is, as the "points" capability names her for the limits; None: not a member."""
    keeper = points()
    return keeper.member_key(venue, client) if keeper is not None else None


def signup_url(venue: str) -> str | None:
    """Where a shopper joins the membership card, when the venue runs it."""
    keeper = points()
    endpoint = keeper.signup_endpoint(venue) if keeper is not None else None
    return shopper_url(endpoint, venue=venue, **lang_arg()) if endpoint else None


def _landing(venue: str, zone: str, error: str | None = None, status: int = 200):
    shopper = shopper_for_venue(venue)
    game = store().current(venue, zone)
    now = time.time()
    playable = game is not None and game.is_open(now)
    member = member_key(venue, shopper.client) if game is not None else None
    for_members = game is not None and members_only(game)
    draws_left = (store().plays_left(venue, game, shopper.client, venue_today().isoformat(), member)
                  if playable else 0)
    outcome = request.args.get("outcome") if request.args.get("outcome") in ("lose", "gone") else None
    gone = game.prize(request.args.get("prize", "")) if game is not None and outcome == "gone" else None
    return render_template(
        "games/landing.html", venue=g.venue_map, zone=g.zone, game=game, playable=playable, draws_left=draws_left,
        outcome=outcome, gone=gone, error=error, zh=is_zh(), percent=percent, prize_value=prize_value,
        shopper_token=shopper_token(shopper), desk=desk(g.app_config), lang=lang_arg(),
        points_to_card=points() is not None, nonce=new_nonce(), member=member is not None,
        members_only=for_members, signup_url=signup_url(venue) if for_members and member is None else None,
        has_points=game is not None and any(p.kind == "points" for p in game.prizes),
    ), status


@bp.get("/zone/<zone>/games")
def landing(venue: str, zone: str):
    return _landing(venue, zone)


DRAW_REFUSALS = {
    "LIMIT_GAME": (403, lambda: _("You have used all your draws in this game.")),
    "LIMIT_DAY": (403, lambda: _("You have used today's draws. Come back tomorrow!")),
    "NO_GAME": (404, lambda: _("There is no game in this zone.")),
    "ENDED": (410, lambda: _("This game has ended.")),
    "NOT_STARTED": (403, lambda: _("This game has not started yet.")),
    "SOLD_OUT": (410, lambda: _("All prizes of this game have been won.")),
    "MEMBERS_ONLY": (403, lambda: _("This game is for members of the membership card: join the card, then draw.")),
}


def _refusal(game: Game, draws_left: tuple[int, int], now: float | None = None) -> str | None:
    """Why this game cannot be played by this shopper now (a DRAW_REFUSALS key), or None."""
    now = time.time() if now is None else now
    if game.status != "live" or now >= game.ends_at:
        return "ENDED"
    if now < game.starts_at:
        return "NOT_STARTED"
    if game.total_left <= 0:
        return "SOLD_OUT"
    in_game, today = draws_left
    if in_game <= 0:
        return "LIMIT_GAME"
    return "LIMIT_DAY" if today <= 0 else None


@bp.post("/zone/<zone>/games/draw")
def draw(venue: str, zone: str):
    shopper = shopper_for_venue(venue)
    nonce = read_nonce(request.form.get("nonce"))
    replayed = store().replayed_draw(venue, shopper.client, nonce) if nonce else None
    if replayed is not None:  # the same form again: its first answer, before a limit that draw spent refuses it
        return _draw_answer(venue, zone, replayed)
    seen = request.form.get("game", "")[:20]
    game = store().current(venue, zone)
    if game is None:
        return _landing(venue, zone, error=DRAW_REFUSALS["NO_GAME"][1](), status=404)
    if seen != game.id:
        return _landing(venue, zone, error=_("This game has changed: here are its prizes and odds now."), status=409)
    day = venue_today().isoformat()
    member = member_key(venue, shopper.client)
    refused = "MEMBERS_ONLY" if member is None and members_only(game) else _refusal(
        game, store().draws_left(venue, game, shopper.client, day, member))
    if refused is not None:  # said before any budget is spent; the draw script checks all of it again
        status, message = DRAW_REFUSALS[refused]
        return _landing(venue, zone, error=message(), status=status)
    spend_budget("games.draw", venue, shopper=shopper.client)
    result = store().draw(venue, zone, game.id, shopper.client, day, nonce=nonce, member=member)
    if result.played and not result.replayed:
        record_event(APP, "game_draw", venue, shopper, zone=zone, game=game.id, won=result.status == "WON")
        if result.status == "WON":
            _credit_if_points(venue, game, result)
    return _draw_answer(venue, zone, result)


def _credit_if_points(venue: str, game: Game, result: DrawResult) -> None:
    won = game.prize(result.prize_id)
    if won is not None and won.kind == "points":
        try:
            credit_points(venue, store().voucher(venue, result.code), game, won)
        except redis.RedisError as exc:  # the prize is won and in Me; the shopper adds the points later
            log.warning("games: points not credited yet: %s", type(exc).__name__)


def _draw_answer(venue: str, zone: str, result: DrawResult):
    """The page a draw's result leads to (the same for a form sent twice)."""
    if result.status == "WON":
        return redirect(shopper_url("games.prize", venue=venue, code=result.code, new="1", **lang_arg()), code=303)
    if result.status == "NO_PRIZE":
        return redirect(shopper_url("games.landing", venue=venue, zone=zone, outcome="lose", **lang_arg()), code=303)
    if result.status == "GONE":
        return redirect(shopper_url("games.landing", venue=venue, zone=zone, outcome="gone", prize=result.prize_id,
                                    **lang_arg()), code=303)
    status, message = DRAW_REFUSALS[result.status]
    return _landing(venue, zone, error=message(), status=status)


def credit_points(venue: str, voucher: Voucher, game: Game, won: Prize, nonce: str | None = None,
                  member_code: str | None = None, by: str = "") -> Granted:
    """Put a points prize on the winner's membership card through the platform's "points" capability
    (portal/apps/capabilities.py: the membership app keeps points; this app never imports it), then mark the
    voucher credited. Idempotent by the prize code: retried after a fault or from the desk, the points are
    added once. The card is the one of the shopper who won it, or with `member_code` (the desk typed the one on
    the winner's card: a prize won in a sign-in window whose shopper id she no longer has) that member's, the
    code checked on the desk account `by`'s budget of wrong codes. The answer's status: the keeper's (Granted),
    or ALREADY (credited or handed out before), NO_KEEPER (no app keeps points: the desk hands it out) or
    EXPIRED. `nonce`: the desk form's (store.redeem)."""
    if voucher.state != "issued":
        return Granted("ALREADY")
    if time.time() >= game.redeem_until:
        return Granted("EXPIRED")
    keeper = points()
    if keeper is None:
        return Granted("NO_KEEPER")
    reference = f"games:{voucher.code}"
    if member_code is None or keeper.balance(venue, voucher.client) is not None:  # the winner's browser: her card
        granted = keeper.grant(venue, voucher.client, won.value, reference, GRANT_NOTE)
    else:  # only onto the card of the member who won it (kept on the voucher), never a card someone else shows
        granted = keeper.grant_to_code(venue, member_code, won.value, reference, GRANT_NOTE, by, voucher.member)
    if granted.done:
        store().redeem(venue, voucher.zone, voucher.code, by="membership", state="credited", nonce=nonce)
    return granted


def _own_voucher(venue: str, code: str):
    shopper = shopper_for_venue(venue)
    canonical = normalize_code(code)
    voucher = store().voucher(venue, canonical) if canonical else None
    if voucher is None or voucher.client != shopper.client:
        abort(404, _("No such prize in your prizes."))
    game: Game | None = store().get(venue, voucher.game_id)
    prize = game.prize(voucher.prize_id) if game is not None else None
    if prize is None:
        abort(404, _("No such prize in your prizes."))
    return voucher, game, prize


def _prize_page(venue: str, code: str, error: str | None = None, status: int = 200):
    venue_map = venue_or_404(venue)
    voucher, game, won = _own_voucher(venue, code)
    zh = is_zh()
    keeper = points()
    return render_template(
        "games/prize.html", venue=venue_map, zone=venue_map.zone(voucher.zone), voucher=voucher, game=game,
        prize=won, value=prize_value(won, zh), code=show_code(voucher.code), zh=zh, now=time.time(),
        new=request.args.get("new") == "1", desk=desk(zone_app_config(APP, venue, voucher.zone)),
        points_to_card=keeper is not None, shopper_token=current_shopper_token(), error=error,
        member_here=keeper is not None and keeper.balance(venue, voucher.client) is not None,
    ), status


@bp.get("/games/prize/<code>")
def prize(venue: str, code: str):
    return _prize_page(venue, code)


@bp.post("/games/prize/<code>/credit")
def credit(venue: str, code: str):
    """A points prize won before the shopper was a member: onto the card now (once)."""
    voucher, game, won = _own_voucher(venue, code)
    if won.kind != "points":
        abort(404, _("No such prize in your prizes."))
    outcome = credit_points(venue, voucher, game, won).status
    if outcome == "NO_ACCOUNT":
        where = desk(zone_app_config(APP, venue, voucher.zone))
        return _prize_page(venue, code, _("This browser has no membership card yet: join the card here (see Me), or "
                                          "show the prize code and your card at %(desk)s.", desk=where), 409)
    if outcome == "EXPIRED":
        return _prize_page(venue, code, _("This prize could only be collected until its deadline."), 410)
    return redirect(shopper_url("games.prize", venue=venue, code=voucher.code, **lang_arg()), code=303)
