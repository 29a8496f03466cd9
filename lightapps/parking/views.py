"""Shopper pages: free bays per level, and "find my car".

Plain full-page forms (no JavaScript needed; the iOS captive mini-browser keeps no cookies): every link
and form carries the shopper's signed `c` token. The plate is POSTed, never put in a URL: the answer is
kept for 10 minutes under a random id bound to the shopper, and the POST redirects (303) to its page.
Lookups spend the platform's "parking.lookup" budget per shopper and per client IP (portal/apps/budgets.py;
429 beyond), and every lookup is logged (keyed hash of the plate, shopper id, answer, result count) for
the operator; a query refused as malformed (fewer than 4 characters...) is not a lookup: nothing is
searched, counted or logged. What a whole or partial plate shows: see `plates`.

A plate alone is not a secret (it is on the car): a whole-plate answer shows the level and area only, and
the bay, the plan and the walking route once the shopper names the hour the car came in (something the
car's owner knows): the entry of its stay, as the fee page asks it and the fee counts from (the barrier's
entry event, else its first sighting at a bay; a later read of the plate, at the same bay or another, does
not move it). Both pages offer the same hours, the last `CAME_IN_DAYS` days (1 in 169 for a guess), and
guesses spend the "parking.verify" budget per plate and per client IP. No page shows when a car was seen
before that."""

from __future__ import annotations

import re
import secrets
import time
import unicodedata
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from flask import abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from core.settings import yes_or_no
from lightapps.parking import APP, fees, plates, wayfinding
from lightapps.parking.common import (
    level_name,
    parking_store,
    plate_hasher,
)
from lightapps.parking.store import Debt, FindResult, Stay, stay_id
from portal.apps.budgets import OverBudget, Refusal, give_back_budget, never_text, spend_budget
from portal.apps.capabilities import PaymentAgreement, agreements
from portal.apps.locale import hhmm as venue_hhmm
from portal.apps.locale import offsets_where_repeated, spoken_time, venue_now
from portal.apps.location_consent import position_phone
from portal.apps.views import is_zh, lang_arg, zone_app_blueprint
from portal.i18n import chosen_lang
from portal.payments.money import cny
from portal.payments.service import PaymentError
from portal.services import services
from portal.shopper import (
    keep_shopper_in_cookie,
    remember_for_return,
    returning_shopper,
    shopper_for_venue,
    shopper_token,
    shopper_url,
)

# Every view has the zone's venue map, zone and config on g (404 unless the zone runs the parking app).
bp = zone_app_blueprint(APP, __name__, url_prefix="/v/<venue>/parking", template_folder="templates",
                        off_message=lambda: "The parking app is not on in this zone.")

DEBT_ID = re.compile(r"[0-9a-f]{4,20}\.[0-9]{1,16}")
YOU_COLOUR = "#1565c0"
CAR_COLOUR = "#d84315"
CONNECTOR_COLOUR = "#6a1b9a"
CONNECTOR_TEXT = {"escalator": "Take the escalator to level %(name)s", "elevator": "Take the lift to level %(name)s",
                  "stairs": "Take the stairs to level %(name)s"}


def hhmm(ms: int) -> str:
    return venue_hhmm(ms / 1000)


def _landing(venue: str, zone: str, status: int = 200, error: str | None = None, plate: str = "",
             headers: dict | None = None, fee_error: str | None = None, fee_plate: str = "",
             plate_refused: bool = False):
    """`plate_refused`: the error is the typed plate's (its field is marked), not a refusal to look (429, 404)."""
    venue_map, zone_obj, config = g.venue_map, g.zone, g.app_config
    shopper = shopper_for_venue(venue)
    store = parking_store()
    counts = store.level_counts(venue, zone)
    areas: dict[int, list[dict]] = {}
    for row in store.area_counts(venue, zone):
        areas.setdefault(row["level"], []).append(row)
    return render_template("parking/landing.html", venue=venue_map, zone=zone_obj, config=config, counts=counts,
                           areas=areas,
                           level_name=lambda level: level_name(venue_map, level, is_zh()), error=error, plate=plate,
                           fee_error=fee_error, fee_plate=fee_plate, plate_refused=plate_refused,
                           shopper_token=shopper_token(shopper), lang=chosen_lang(),
                           min_query=plates.MIN_QUERY), status, headers or {}


FEE_NONE = "none"  # ?fee=none: the fee form's plate found no car (the plate itself never goes into a URL)


def fee_none_message() -> str:
    return _("No car with that plate is in the car park now. Type the whole plate as on the car, or ask at the "
             "car park office.")


@bp.get("/<zone>")
def landing(venue: str, zone: str):
    fee_error = fee_none_message() if request.args.get("fee") == FEE_NONE else None
    return _landing(venue, zone, fee_error=fee_error)


def _typed_plate(venue: str, zone: str, too_short: str, fee: bool = False):
    """(the plate the shopper typed, folded, None) or (None, the landing page answering 422): nothing is
    searched, counted or logged for a malformed plate. The refusal stands by the form it came from (`fee`: the
    fee form's), with what was typed, so the shopper corrects it there instead of typing it again."""
    raw = request.form.get("plate", "")

    def refuse(message: str, typed: str = ""):
        if fee:
            return None, _landing(venue, zone, 422, fee_error=message, fee_plate=typed, plate_refused=True)
        return None, _landing(venue, zone, 422, message, plate=typed, plate_refused=True)

    if len(raw) > 40:
        return refuse(_("Type at most %(n)s letters and digits.", n=plates.MAX_QUERY))
    try:
        return plates.query_from_shopper(raw), None
    except plates.PlateCharacterError as exc:  # "at least 4" would mislead: 粤B•D8888 has 7 with an odd dot
        return refuse(_("A number plate has only letters and digits: remove “%(char)s”.",
                        char=_shown_char(exc.char)), raw)
    except plates.PlateError:
        return refuse(too_short, raw)


def _shown_char(char: str) -> str:
    """A character as a message can name it: itself, or U+XXXX where it would not show (a control character,
    a combining mark)."""
    visible = char.isprintable() and not unicodedata.category(char).startswith(("M", "Z", "C"))
    return char if visible else f"U+{ord(char):04X}"


@bp.post("/<zone>/find")
def find(venue: str, zone: str):
    shopper = shopper_for_venue(venue)
    query, refused = _typed_plate(venue, zone, _("Type at least %(n)s letters or digits of your number plate.",
                                                 n=plates.MIN_QUERY))
    if refused is not None:
        return refused
    store = parking_store()
    digest = plate_hasher().digest(venue, query)
    try:
        spend_budget("parking.lookup", venue, shopper=shopper.client)
    except OverBudget as refused:
        store.log_lookup(venue, zone, shopper.client, digest, "limited", 0)
        if refused.refusal.never:  # the venue set the budget to 0: no wait ends it
            words = never_text(refused.refusal) + " " + _("Please ask at the car park office.")
            return _landing(venue, zone, refused.refusal.status, words)
        wait_s = refused.refusal.retry_after_s
        return _landing(venue, zone, 429, _("Too many lookups. Please try again in %(n)s minutes, or ask at the "
                                            "car park office.", n=max(1, round(wait_s / 60))),
                        headers={"Retry-After": str(wait_s)})
    result = store.find(venue, digest, query)
    store.log_lookup(venue, zone, shopper.client, digest, result.kind, result.count)
    result_id = store.save_result(venue, shopper.client, zone, result, plate_hash=digest)
    values = lang_arg()
    return redirect(shopper_url("parking.car", venue=venue, zone=zone, result_id=result_id, **values), code=303)


def _start(venue: str, phone: str | None, venue_map, zone_obj, config: dict) -> tuple[tuple[int, float, float], bool]:
    """(start point, whether it is the shopper's own position: of the phone the token was verified on)."""
    try:
        position = services().locator.locate(venue, phone) if phone else None
    except Exception:  # noqa: BLE001 - positioning trouble must not hide the car; start at the entrance
        position = None
    if position is not None:
        point = (int(position.floor), float(position.x), float(position.y))
        if wayfinding.on_plan(venue_map, point):
            return point, True
    return wayfinding.entrance(venue_map, zone_obj, config), False


def _my_result(venue: str, result_id: str) -> FindResult | None:
    if not (8 <= len(result_id) <= 40 and result_id.replace("-", "").replace("_", "").isalnum()):
        return None
    loaded = parking_store().load_result(venue, shopper_for_venue(venue).client, result_id)
    return loaded[1] if loaded else None


CAME_IN_DAYS = 7  # a car seen again and again stays findable past 24 h; a visit left owed can be days old


def came_in_hours(now: datetime | None = None, days: int = CAME_IN_DAYS) -> list[tuple[int, str]]:
    """The hours offered for "when did your car come in", newest first: (start, label); the same list
    for every plate (a list that started at the car's entry or exit would tell anyone when that was), on
    the car page and the fee page alike. Each is a real hour, 3,600 s back from the one after it (stepped in
    UTC: wall-clock arithmetic on a venue's time would skip the hour its clocks go back and offer the hour they
    go forward over), labelled in the venue's time; a wall-clock hour that happens twice (the night clocks go
    back) says its UTC offset: "01:00 - 01:59 (UTC+01:00)", then "01:00 - 01:59 (UTC+00:00)"."""
    now = now or venue_now()
    zone = now.tzinfo
    top = int(now.replace(minute=0, second=0, microsecond=0).timestamp())
    starts = [datetime.fromtimestamp(top - back * 3600, zone) for back in range(24 * days + 1)]
    today = starts[0].date()
    hours = []
    for start, offset in zip(starts, offsets_where_repeated(starts), strict=True):
        last = datetime.fromtimestamp(start.timestamp() + 3540, zone)
        label = f"{start:%H:%M} - {last:%H:%M}{offset}"
        if start.date() == today - timedelta(days=1):
            label = _("%(hours)s (yesterday)", hours=label)
        elif start.date() != today:
            label = f"{label} ({start:%Y-%m-%d})"
        hours.append((int(start.timestamp()), label))
    return hours


def _step_free_arg() -> bool | None:
    """?accessible= : True for a step-free route (1, true, on, yes), False for the fastest (absent, 0, false,
    off, no), None for anything else (the car page answers 400 and shows the fastest route)."""
    return yes_or_no(request.args.get("accessible"), empty=False)  # the words navigation's route page reads too


def _car_url(venue: str, zone: str, result_id: str, step_free: bool) -> str:
    """The car page (the shopper's token and language kept), with the step-free route or the fastest."""
    return shopper_url("parking.car", venue=venue, zone=zone, result_id=result_id, **lang_arg(),
                       **({"accessible": "1"} if step_free else {}))


@bp.get("/<zone>/car/<result_id>")
def car(venue: str, zone: str, result_id: str, status: int = 200, error: str | None = None):
    """`accessible=1`: the walk to the car lifts only (no stairs, no escalators), for trolleys, prams and
    wheelchairs; the page offers it where the fastest walk has stairs or an escalator."""
    venue_map, zone_obj, config = g.venue_map, g.zone, g.app_config
    shopper = shopper_for_venue(venue)
    result = _my_result(venue, result_id)
    if result is None:
        return _landing(venue, zone, 404, _("That result has expired. Please type your plate again."))
    step_free, choice_error = _step_free_arg(), None
    if step_free is None:
        step_free = False
        choice_error = _("%(label)s must be on or off.", label=_("Step-free (lifts only, no stairs or escalators)"))
        status = 400 if status == 200 else status
    lang = "zh" if is_zh() else "en"  # the plan's labels in the page's language (?lang, else the browser's)
    name_of = lambda level: level_name(venue_map, level, lang == "zh")  # noqa: E731
    context = {"result": result, "plans": [], "steps": [], "route": None, "from_you": False, "error": error,
               "hours": came_in_hours(), "result_id": result_id, "step_free": step_free,
               "choice_error": choice_error, "route_step_free": False,
               "fastest_url": _car_url(venue, zone, result_id, False),
               "step_free_url": _car_url(venue, zone, result_id, True),
               "verify_url": url_for("parking.verify", venue=venue, zone=zone, result_id=result_id, **lang_arg(),
                                     **({"accessible": "1"} if step_free else {}))}
    if result.kind == "exact" and result.verified:
        # the walk starts where she stands only with her consent (else at the car park's entrance)
        context.update(_exact(venue, position_phone(shopper), venue_map, zone_obj, config, result, name_of, lang,
                              step_free))
    zones = {z.id: z for z in venue_map.zones}
    return render_template("parking/car.html", venue=venue_map, zone=zone_obj, config=config, zones=zones,
                           level_name=name_of, hhmm=hhmm, shopper_token=shopper_token(shopper), lang=chosen_lang(),
                           max_matches=plates.MAX_MATCHES, **context), status


@bp.post("/<zone>/car/<result_id>/verify")
def verify(venue: str, zone: str, result_id: str):
    """The second factor of a whole-plate lookup: the hour the car came in (its stay's entry, as on the fee
    page; not the plate's latest read, which every camera pass at the bay moves)."""
    result = _my_result(venue, result_id)
    if result is None:
        return _landing(venue, zone, 404, _("That result has expired. Please type your plate again."))
    back = _car_url(venue, zone, result_id, bool(_step_free_arg()))  # a step-free choice kept (an odd one dropped)
    if result.kind != "exact" or result.verified:
        return redirect(back, code=303)
    hours = dict(came_in_hours())
    raw = request.form.get("hour", "")[:12]
    if not (raw.isascii() and raw.isdigit()) or int(raw) not in hours:  # not "²": int() refuses it
        return car(venue, zone, result_id, 400, _("Pick the hour you parked from the list."))
    spend_budget("parking.verify", venue, plate=result.plate_hash or result_id)
    start_ms = int(raw) * 1000
    entry_ms = _came_in_ms(venue, result.plate_hash)
    if entry_ms is None or not start_ms <= entry_ms < start_ms + 3600 * 1000:
        return car(venue, zone, result_id, 403, _("That is not when this car came in. Try again, or ask at "
                                                  "the car park office."))
    parking_store().verify_result(venue, result_id)
    return redirect(back, code=303)


def _came_in_ms(venue: str, h: str) -> int | None:
    """When the plate's car came in, while it is in the car park: its stay's entry (the barrier's entry event,
    else its first sighting at a bay; later reads, here or at another bay, do not move it), what the fee
    counts from. None when no stay of it is open."""
    stay = parking_store().stay(venue, h) if h else None
    return stay.entry_ms if stay is not None and stay.status == "in" else None


def _exact(venue: str, phone: str | None, venue_map, zone_obj, config: dict, result: FindResult, name_of, lang,
           step_free: bool = False):
    match = result.matches[0]
    bays = parking_store().bays(venue, match.zone)
    bay = bays.get(match.bay)
    if bay is None:
        return {}
    car_zone = venue_map.zone(bay.zone) or zone_obj
    start, from_you = _start(venue, phone, venue_map, car_zone, config)
    goal = (bay.level, bay.x, bay.y)
    found = wayfinding.route(venue_map, start, goal, step_free)
    floors = []
    for floor, _x, _y in (found.points if found else [start, goal]):
        if floor not in floors:
            floors.append(floor)
    if bay.level not in floors:
        floors.append(bay.level)
    start_title = _("You are here") if from_you else _("Car park entrance")
    steps = wayfinding.route_steps(found, name_of) if found else []
    steps_by_floor = _steps_by_floor(found, steps)
    plans = []
    for floor in floors:
        markers = []
        if floor == start[0]:
            markers.append(wayfinding.Marker(start[1], start[2], YOU_COLOUR, start_title))
        on_floor = found.on_floor(floor) if found else []
        if floor != bay.level and on_floor:  # where this level's part of the walk ends: the lift, stairs...
            change = steps_by_floor.get(floor, "")
            markers.append(wayfinding.Marker(*on_floor[-1], CONNECTOR_COLOUR, change))
        if floor == bay.level:
            markers.append(wayfinding.Marker(bay.x, bay.y, CAR_COLOUR, _("Your car: %(bay)s", bay=bay.id), bay.id))
        svg = wayfinding.plan_svg(
            venue_map, floor, zone=car_zone if floor == bay.level else None,
            bays=list(bays.values()) if floor == bay.level else [], highlight=bay.id,
            route_points=on_floor, markers=markers, lang=lang,
            svg_id=f"plan-{floor}", label=_("Plan of level %(level)s", level=name_of(floor)))
        plans.append((floor, svg))
    return {"plans": plans, "route": found, "from_you": from_you, "bay": bay,
            "steps": steps, "route_step_free": found is not None and wayfinding.is_step_free(found)}


def _steps_by_floor(found, steps: list[tuple[str, str]]) -> dict[int, str]:
    """{floor: what to do where the walk on that floor ends} for the floors left by a connector."""
    if not found:
        return {}
    left = []
    for (floor, _x, _y), (next_floor, _nx, _ny) in zip(found.points, found.points[1:], strict=False):
        if next_floor != floor:
            left.append(floor)
    out = {}
    for floor, (kind, level) in zip(left, steps, strict=False):
        out[floor] = _(CONNECTOR_TEXT[kind], name=level) if kind in CONNECTOR_TEXT else _("Go to level %(name)s",
                                                                                            name=level)
    return out


# ---- parking fee: pay on foot, "leave first, pay after" (the rules: fees.py, tariff.py) -------------------

def _fee_session(venue: str, session_id: str) -> dict | None:
    if not (8 <= len(session_id) <= 40 and session_id.replace("-", "").replace("_", "").isalnum()):
        return None
    return parking_store().load_fee_session(venue, shopper_for_venue(venue).client, session_id)


def _fee_url(venue: str, zone: str, session_id: str, **values) -> str:
    lang = lang_arg()
    return shopper_url("parking.fee_page", venue=venue, zone=zone, session_id=session_id, **lang, **values)


@bp.post("/<zone>/fee")
def fee_find(venue: str, zone: str):
    """The whole plate typed to pay its fee: the finder's plate rules and lookup budget."""
    shopper = shopper_for_venue(venue)
    query, refused = _typed_plate(venue, zone, _("Type your whole number plate to pay the parking fee."),
                                   fee=True)
    if refused is not None:
        return refused
    digest = plate_hasher().digest(venue, query)
    spend_budget("parking.lookup", venue, shopper=shopper.client)
    store = parking_store()
    stay = store.stay(venue, digest)
    parked = stay is not None and stay.status == "in"
    debts = [] if parked else _owed(store.plate_debts(venue, digest))  # left without paying: pay it now
    store.log_lookup(venue, zone, shopper.client, digest, "fee" if parked or debts else "fee-none",
                     1 if parked or debts else 0)
    if not parked and not debts:  # back to the form, as /find goes on to its answer: reload asks nothing again
        lang = lang_arg()
        return redirect(shopper_url("parking.landing", venue=venue, zone=zone, fee=FEE_NONE, **lang,
                                    _anchor="fee-form"), code=303)
    session_id = store.save_fee_session(venue, shopper.client, zone, digest,
                                        stay.entry_ms if parked else debts[0].entry_ms)
    return redirect(_fee_url(venue, zone, session_id), code=303)


def _owed(debts: list[Debt]) -> list[Debt]:
    return [d for d in debts if d.status == "owed" and d.due_fen > 0]


def _fee_subject(venue: str, session: dict) -> tuple[Stay | None, Debt | None]:
    """What a fee session is about: the plate's stay in the car park now, or an exit it left owed (the
    session's entry names which); (None, None) when neither is there any more."""
    store = parking_store()
    stay = store.stay(venue, session["h"])
    if stay is not None and stay.entry_ms == session["entry_ms"] and stay.status == "in":
        return stay, None
    return None, store.debt(venue, stay_id(session["h"], session["entry_ms"]))


@bp.get("/<zone>/fee/<session_id>")
def fee_page(venue: str, zone: str, session_id: str, status: int = 200, error: str | None = None):
    shopper = shopper_for_venue(venue)
    session = _fee_session(venue, session_id)
    stay, debt = _fee_subject(venue, session) if session else (None, None)
    if stay is None and debt is None:
        return _landing(venue, zone, 404, _("That page has expired. Please type your plate again."))
    store = parking_store()
    now_ms = int(time.time() * 1000)
    context = {"session_id": session_id, "verified": session["verified"], "stay": stay, "error": error,
               "hours": came_in_hours(), "now_ms": now_ms, "debts": [], "cny": cny, "when": _when}
    if session["verified"]:
        context["debts"] = _owed(store.plate_debts(venue, session["h"]))
    if session["verified"] and stay is not None:
        coupons = fees.parking_coupons(venue, shopper.client)
        wanted = _coupon_code(request.args.get("coupon"))
        coupon = next((v for v in coupons if v.code == wanted), None) if wanted else None
        if (wanted is None or (wanted and coupon is None)) and status == 200:
            status, error = 422, _("That coupon cannot be used for parking (used, expired or not yours).")
            context["error"] = error
        quote = fees.quote_stay(venue, stay, shopper.client, now_ms, coupon_fen=coupon.value_fen if coupon else 0)
        tariff = fees.tariff_for(venue, fees.stay_zone(venue, stay))
        signer = agreements()
        context.update(
            quote=quote, tariff=tariff, minutes=(now_ms - stay.entry_ms) // 60000,
            paid_until=stay.paid_until_ms if stay.paid_until_ms > now_ms else 0,
            points=fees.member_points(venue, shopper.client) if tariff.points_per_yuan else None,
            attempt=secrets.token_urlsafe(9), coupons=coupons, coupon=coupon,
            autopay=store.autopay_client(venue, stay.plate_hash) == shopper.client,
            can_autopay=bool(signer and signer.may_sign(venue, shopper.client)
                             and services().payments.agreement_providers()))
    return render_template("parking/fee.html", venue=g.venue_map, zone=g.zone, config=g.app_config,
                           shopper_token=shopper_token(shopper), lang=chosen_lang(), hhmm=hhmm, **context), status


def _when(ms: int) -> str:
    """A past moment on a shopper's page: `Tue, Dec 1, 19:30` / `12月1日周二 19:30`, venue time."""
    return spoken_time(ms / 1000)


@bp.post("/<zone>/fee/<session_id>/verify")
def fee_verify(venue: str, zone: str, session_id: str):
    """The second factor, as the car finder asks it: the hour the car came in."""
    session = _fee_session(venue, session_id)
    stay, debt = _fee_subject(venue, session) if session else (None, None)
    if stay is None and debt is None:
        return _landing(venue, zone, 404, _("That page has expired. Please type your plate again."))
    hours = dict(came_in_hours())
    raw = request.form.get("hour", "")[:12]
    if not (raw.isascii() and raw.isdigit()) or int(raw) not in hours:  # not "²": int() refuses it
        return fee_page(venue, zone, session_id, 400, _("Pick the hour you parked from the list."))
    spend_budget("parking.verify", venue, plate=session["h"])
    start_ms = int(raw) * 1000
    if not start_ms <= session["entry_ms"] < start_ms + 3600 * 1000:
        return fee_page(venue, zone, session_id, 403, _("That is not when this car came in. Try again, or ask at "
                                                        "the car park office."))
    store = parking_store()
    store.verify_fee_session(venue, session_id)
    client = shopper_for_venue(venue).client
    if stay is not None:  # a debt this visit leaves is shown to this shopper in Me
        store.note_shopper(venue, stay.plate_hash, stay.entry_ms, client)
    store.claim_debts(venue, client, _owed(store.plate_debts(venue, session["h"])))  # and the plate's debts now
    return redirect(_fee_url(venue, zone, session_id), code=303)


def _coupon_code(raw: str | None) -> str | None:
    """A coupon code as the fee page sends it ("" = none), or None when it is not one (too long, odd)."""
    code = (raw or "").strip().upper()
    if not code:
        return ""
    return code if len(code) <= 16 and code.isalnum() and code.isascii() else None


def _verified_stay(venue: str, zone: str, session_id: str):
    session = _fee_session(venue, session_id)
    stay = parking_store().stay(venue, session["h"]) if session else None
    if session is None or stay is None or stay.entry_ms != session["entry_ms"]:
        abort(404)
    if not session["verified"]:
        abort(403)
    return stay


@bp.post("/<zone>/fee/<session_id>/pay")
def fee_pay(venue: str, zone: str, session_id: str):
    shopper = shopper_for_venue(venue)
    stay = _verified_stay(venue, zone, session_id)
    attempt = request.form.get("attempt", "")
    points_raw = (request.form.get("points") or "0").strip()
    if not (8 <= len(attempt) <= 16 and attempt.replace("-", "").replace("_", "").isalnum()):
        return fee_page(venue, zone, session_id, 400, _("Please open the page again and pay from there."))
    if not (points_raw.isascii() and points_raw.isdigit()) or len(points_raw) > 9:
        return fee_page(venue, zone, session_id, 422, _("Points must be a whole number."))
    coupon = _coupon_code(request.form.get("coupon"))
    if coupon is None:
        return fee_page(venue, zone, session_id, 422, _("That coupon cannot be used for parking (used, expired or "
                                                        "not yours)."))
    if stay.status != "in":
        return fee_page(venue, zone, session_id, 409, _("This car has already left."))
    if not services().payments.enabled:
        return fee_page(venue, zone, session_id, 503, _("Payment is not available right now. Please pay at the "
                                                        "exit or the car park office."))
    back = _fee_url(venue, zone, session_id, _external=True)
    refused = _spend_pay_budget(venue, shopper.client)
    if refused is not None:
        return _pay_refused(partial(fee_page, venue, zone, session_id), refused)
    try:
        order, _quote = fees.pay_on_foot(venue, zone, stay, shopper.client, attempt, int(points_raw), back, coupon)
    except PaymentError as exc:
        give_back_budget("parking.pay", venue, shopper=shopper.client)
        if exc.code == "coupon":
            return fee_page(venue, zone, session_id, 409, _("That coupon cannot be used for parking (used, expired "
                                                            "or not yours)."))
        if exc.code == "points":
            return fee_page(venue, zone, session_id, 409, _("Those points could not be used. Please try again."))
        if exc.code == "state":  # paid meanwhile (another tab, another phone)
            return fee_page(venue, zone, session_id, 409, _("Nothing is owed for this visit any more."))
        return fee_page(venue, zone, session_id, 503, _("Payment is not available right now. Please try again "
                                                        "in a minute."))
    if order is None or order.id == stay.open_order:  # none opened: covered by points and discounts, or the open
        give_back_budget("parking.pay", venue, shopper=shopper.client)  # order for the same payment given back
    if order is None:
        return redirect(_fee_url(venue, zone, session_id), code=303)
    if order.is_paid:
        return redirect(_fee_url(venue, zone, session_id), code=303)
    return redirect(shopper_url("payments.order_page", venue=venue, order_id=order.id), code=303)


def _spend_pay_budget(venue: str, client: str) -> Refusal | None:
    """Count a payment order about to be opened on the "parking.pay" budgets (per client IP, shopper and venue:
    each order is stored a week); the refusal when one is spent (then nothing is counted)."""
    try:
        spend_budget("parking.pay", venue, shopper=client)
    except OverBudget as refused:
        return refused.refusal
    return None


def _pay_refused(page: Callable[[int, str], tuple[str, int]], refusal: Refusal) -> tuple[str, int, dict[str, str]]:
    """The fee or owed page (`page(status, message)`) refused by the "parking.pay" budgets, never cached: its 429 and
    when to come back (Retry-After), or its 403 where the venue set a budget to 0 (no wait ends it)."""
    if refusal.never:
        words = never_text(refusal) + " " + _("Please pay at the car park office.")
        body, status = page(refusal.status, words)
        return body, status, {"Cache-Control": "no-store"}
    wait_s = refusal.retry_after_s
    body, status = page(429, _("Too many payments have been started for now. Please try again in %(n)s minutes, or "
                               "pay at the car park office.", n=max(1, round(wait_s / 60))))
    return body, status, {"Retry-After": str(wait_s), "Cache-Control": "no-store"}


@bp.post("/<zone>/fee/<session_id>/autopay")
def autopay_start(venue: str, zone: str, session_id: str):
    """A member signs a payment agreement with the provider; this plate is then charged after it leaves."""
    shopper = shopper_for_venue(venue)
    _verified_stay(venue, zone, session_id)
    signer = agreements()
    if signer is None or not signer.may_sign(venue, shopper.client):
        return fee_page(venue, zone, session_id, 403, _("Leave first, pay after is for members. Join in Me first."))
    providers = services().payments.agreement_providers()
    if not providers:
        return fee_page(venue, zone, session_id, 503, _("Payment is not available right now. Please try again "
                                                        "in a minute."))
    lang = lang_arg()
    # The provider (a third party) gets no `c`: autopay_back finds the shopper in this browser's cookie.
    back = url_for("parking.autopay_back", venue=venue, zone=zone, session_id=session_id, _external=True, **lang)
    keep_shopper_in_cookie()
    try:
        url = services().payments.agreement_sign_url(providers[0], session_id, back,
                                                     services().settings.portal_url or request.host_url, venue)
    except PaymentError:
        return fee_page(venue, zone, session_id, 503, _("Payment is not available right now. Please try again "
                                                        "in a minute."))
    return remember_for_return(redirect(url, code=303),
                               url_for("parking.autopay_back", venue=venue, zone=zone, session_id=session_id))


@bp.get("/<zone>/autopay-back/<session_id>")
def autopay_back(venue: str, zone: str, session_id: str):
    """The provider sends the shopper back with the agreement number; the provider itself confirms it. The
    signer is the shopper autopay_start kept for this return (the browser's mp_c_<venue> may name another)."""
    shopper = returning_shopper(venue) or shopper_for_venue(venue)
    stay = _verified_stay(venue, zone, session_id)
    agreement_no = (request.args.get("agreement_no") or "")[:64]
    providers = services().payments.agreement_providers()
    if not agreement_no.isalnum() or not providers:
        return fee_page(venue, zone, session_id, 400, _("The agreement was not signed."))
    try:
        active = services().payments.agreement_active(providers[0], agreement_no, session_id)
    except PaymentError:
        return fee_page(venue, zone, session_id, 503, _("Payment is not available right now. Please try again "
                                                        "in a minute."))
    signer = agreements()
    if not active or signer is None or not signer.save_agreement(
            venue, shopper.client, PaymentAgreement(providers[0], agreement_no, time.time())):
        return fee_page(venue, zone, session_id, 400, _("The agreement was not signed."))
    parking_store().set_autopay(venue, stay.plate_hash, shopper.client)
    return redirect(_fee_url(venue, zone, session_id), code=303)


# ---- an exit left owed, paid later (Me lists it; the fee page links it) -------------------------------

def _my_debt(venue: str, debt_id: str) -> Debt:
    """One of the debts shown to this shopper (their agreement's, or of a plate they proved theirs), or 404."""
    if not DEBT_ID.fullmatch(debt_id):
        abort(404)
    store = parking_store()
    mine = {d.id: d for d in store.debts_of(venue, shopper_for_venue(venue).client)}
    if debt_id not in mine:
        abort(404, _("No such parking fee for you."))
    return mine[debt_id]


@bp.get("/<zone>/owed/<debt_id>")
def owed_page(venue: str, zone: str, debt_id: str, status: int = 200, error: str | None = None):
    debt = _my_debt(venue, debt_id)
    return render_template("parking/owed.html", venue=g.venue_map, zone=g.zone, config=g.app_config, debt=debt,
                           cny=cny, when=_when, error=error, attempt=secrets.token_urlsafe(9),
                           shopper_token=shopper_token(shopper_for_venue(venue)), lang=chosen_lang()), status


@bp.post("/<zone>/owed/<debt_id>/pay")
def owed_pay(venue: str, zone: str, debt_id: str):
    debt = _my_debt(venue, debt_id)
    attempt = request.form.get("attempt", "")
    if not (8 <= len(attempt) <= 16 and attempt.replace("-", "").replace("_", "").isalnum()):
        return owed_page(venue, zone, debt_id, 400, _("Please open the page again and pay from there."))
    if debt.status != "owed" or debt.due_fen <= 0:
        return owed_page(venue, zone, debt_id, 409, _("Nothing is owed for this visit any more."))
    if not services().payments.enabled:
        return owed_page(venue, zone, debt_id, 503, _("Payment is not available right now. Please pay at the car "
                                                      "park office."))
    lang = lang_arg()
    back = shopper_url("parking.owed_page", venue=venue, zone=zone, debt_id=debt_id, _external=True, **lang)
    client = shopper_for_venue(venue).client
    refused = _spend_pay_budget(venue, client)
    if refused is not None:
        return _pay_refused(partial(owed_page, venue, zone, debt_id), refused)
    pressed_ms = services().payments.now_ms()
    try:
        order = fees.pay_owed(venue, debt, client, attempt, back)
    except PaymentError:
        give_back_budget("parking.pay", venue, shopper=client)
        return owed_page(venue, zone, debt_id, 503, _("Payment is not available right now. Please try again "
                                                      "in a minute."))
    if order.created_ms < pressed_ms:  # the same press again (its attempt's order, opened before): no new order
        give_back_budget("parking.pay", venue, shopper=client)
    return redirect(shopper_url("payments.order_page", venue=venue, order_id=order.id), code=303)
