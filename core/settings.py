"""Settings, read once from the environment into one immutable object."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import os
import re
import secrets
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, available_timezones

from core.errors import N_, CatalogInputError
from core.payment_settings import PaymentSettings
from core.security import new_vapid_private_key, vapid_public_key

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TIME_ZONE = "Asia/Shanghai"  # a venue's clock when neither its portal config nor TIME_ZONE names one

# The light apps the portal loads, by module name (each defines `APP = LightApp(...)`): the host never
# imports lightapps/ itself. LIGHT_APPS in the environment (comma separated) replaces the list.
DEFAULT_LIGHT_APPS = tuple(f"lightapps.{name}" for name in (
    "activities", "cinema", "coupons", "directory", "games", "membership", "navigation", "parking", "queue"))


# Abuse budgets (portal/apps/budgets.py): "<app>.<action>.<scope>" -> (how many, per how many seconds): the
# platform's own, and the bundled apps' (their tests read them here); a new light app declares its own defaults on
# its declaration, `LightApp(budgets={"lostfound.report.ip": (5, HOUR)})`, merged at start (`merge_budgets`),
# a sliding window per client IP, shopper, device (the phone a gateway vouched for: its MAC's keyed hash), phone
# number, plate, offer or venue. BUDGETS in the environment ("coupons.claim.ip=5/1h,membership.sms.venue=2000/1d")
# replaces some; an operator sets them per venue (`flask budgets set`). Cinema seats count seats, not requests.
# A device budget holds one phone to what one shopper may take, across the new shopper ids and the new addresses
# it can get (a page load; any address of the guest WiFi's /64). A phone the gateway never vouched for has none, so
# an action also has ceilings the crowd shares (an offer's claims, a show's seats, a restaurant's numbers, an
# activity's places), sized above what a busy mall's real crowd takes, so that one device coming back as ever new
# shoppers from ever new addresses (or new MACs) can only slow-drain the thing; such a device can spend a ceiling
# too: it bounds how much it takes and how fast, not whether it stands in the way. At a mall's shared NAT address no
# `.ip` budget counts; an action whose other brakes are all per shopper declares an `.egress` one there instead, a
# crowd's worth (portal/apps/budgets.py). No
# whole-venue ceiling on claims or draws: one such device could spend it and stop every genuine shopper's (a draw
# that wins nothing costs no stock; the game's own stock and total bound the rest).
HOUR, DAY = 3600, 86400
DEFAULT_BUDGETS: dict[str, tuple[int, int]] = {
    "coupons.claim.ip": (10, HOUR), "coupons.claim.shopper": (10, HOUR), "coupons.claim.device": (10, HOUR),
    # A coupon is claimed on its shop's zone page, once per shopper: 300 claims of one offer in 10 minutes is a
    # promoted offer's rush at a 2,000-phones-an-hour mall (before 2026-12-07, 100: 200 of a 300-stock flash
    # sale's claimers were refused with coupons left); a bigger flash sale raises it for the venue. A claim of a
    # held, sold-out or ended coupon costs none of these.
    "coupons.claim.offer": (300, 600),
    # Seats, counted in seats newly held (a hold lasts 8 minutes by default, then may be taken again). Per show: 600
    # an hour lets a 300-seat premiere sell out in 10 minutes with every seat's hold lapsing once and taken again;
    # one device renewing every seat of a 104-seat show every 8 minutes needs 780 an hour, of a 300-seat one 2250.
    "cinema.seats.ip": (16, HOUR), "cinema.seats.shopper": (8, HOUR), "cinema.seats.device": (8, HOUR),
    "cinema.seats.show": (600, HOUR),
    # Queue numbers per restaurant (zone): a food court's counter gives out ~400 an hour at its peak.
    "queue.take.ip": (6, HOUR), "queue.take.shopper": (3, HOUR), "queue.take.device": (3, HOUR),
    "queue.take.zone": (600, HOUR),
    # Reservations per restaurant a day: every slot of a long day full of small parties stays below it.
    "queue.reserve.ip": (6, DAY), "queue.reserve.shopper": (3, DAY), "queue.reserve.device": (3, DAY),
    "queue.reserve.zone": (500, DAY),
    # A pre-order saved while payments are on opens a payment order (kept a week): changing it a few times is fine
    "queue.preorder.ip": (30, HOUR), "queue.preorder.shopper": (10, HOUR), "queue.preorder.egress": (600, HOUR),
    # Per address (an IPv6 /64 outside the guest WiFi) and per device at most ~120 a day, far below the venue's.
    "membership.sms.phone": (5, HOUR), "membership.sms.shopper": (8, HOUR), "membership.sms.ip": (5, HOUR),
    # At a mall's shared NAT address (a hosted portal): 100 an hour for the crowd, so one client pumping texts from
    # there spends the venue's day in 10 hours, not minutes.
    "membership.sms.egress": (100, HOUR), "notify.sms.egress": (100, HOUR),
    "membership.sms.device": (5, HOUR), "membership.sms.venue": (1000, DAY),
    # Points a till records by hand in the membership console (a purchase without a POS; one point per currency
    # unit): counted in points, not requests, per console account and per zone (each receipt is also capped,
    # lightapps/membership/store.py MANUAL_MAX_AMOUNT). A POS posts over the API, without these brakes.
    "membership.manual.account": (20_000, DAY), "membership.manual.zone": (50_000, DAY),
    # Texts a shopper asks the portal to send ("text me this ticket", the queue's "text me when my table is
    # ready"): the same SMS-pumping brakes as sign-up codes, counted apart so one kind never starves the other.
    "notify.sms.phone": (5, HOUR), "notify.sms.shopper": (8, HOUR), "notify.sms.ip": (5, HOUR),
    "notify.sms.device": (5, HOUR), "notify.sms.venue": (1000, DAY),
    # push opt-ins: portal/notify/views.py
    "notify.push.ip": (10, HOUR), "notify.push.shopper": (5, DAY), "notify.push.egress": (500, HOUR),
    # Notifications the venue's moments rules (the operator's and every owner's together) send one shopper: each
    # rule's own cap and cooldown count that rule only, so a zone entry that several rules match is one message
    # each (portal/events/moments.py MESSAGES).
    "moments.notify.shopper": (3, DAY),
    # Several phones may share one address behind NAT: more per IP than per shopper.
    "parking.lookup.ip": (20, 600), "parking.lookup.shopper": (5, 600), "parking.lookup.egress": (300, 600),
    # Payment orders the parking fee pages open ("Pay" on foot, "Pay" for an exit left owed): each is an order
    # stored a week, and a Pay pressed again for the same fee gives the open order back (not counted). Per venue
    # too: a verified page could otherwise open orders without end under ever new shoppers.
    "parking.pay.ip": (30, HOUR), "parking.pay.shopper": (10, HOUR), "parking.pay.venue": (3000, HOUR),
    # Guesses at the second factor of a whole-plate lookup (the hour the car came in: 1 in 169).
    "parking.verify.ip": (10, HOUR), "parking.verify.plate": (4, DAY), "parking.verify.egress": (200, HOUR),
    # Draws of a game (its own per-shopper and per-day limits are the owner's rules; this is the abuse brake,
    # mostly against new anonymous shoppers minted to dodge those limits).
    "games.draw.ip": (30, HOUR), "games.draw.shopper": (20, HOUR), "games.draw.device": (20, HOUR),
    # Unknown (or forged) codes typed at a shop's till (a coupon) or a prize desk (a game), per console account: a
    # cashier's typos stay far below it, a guesser gets 30 tries in 10 minutes. Past it the form judges no code, a
    # right one included, until the sliding window has room again (a right code never spends it).
    "coupons.redeem_miss.account": (30, 600), "games.redeem_miss.account": (30, 600),
    # Wrong Meraki secrets (portal/api.py): the secret travels in the body, so each guess would cost reading and
    # parsing up to MAX_MERAKI_BYTES. Per client address *per network* (Meraki's cloud posts every network from the
    # same few addresses) and per network; a right secret never spends them.
    "meraki.secret.ip": (10, 600), "meraki.secret.network": (120, 600),
    # Activity sign-ups (an event's places, a sale's stock, a group buy's seats), free or paid: one request
    # takes a place, so an address could otherwise take every place of an event with new anonymous shoppers.
    # Per activity: a popular event's or sale's 500 places taken within its first hour stay below it.
    "activities.join.ip": (10, HOUR), "activities.join.shopper": (6, HOUR), "activities.join.device": (6, HOUR),
    "activities.join.activity": (600, HOUR),
    # A grant through the venue's controller (UniFi, Omada, SmartZone: each a login and an authorisation
    # there) from "Continue to the internet": a controller rate-limits and locks out repeated logins, which
    # would stop every real shopper's grant. Per client address (none at a mall's shared NAT address: the venue's
    # ceiling is the crowd's brake there), per phone granted where its gateway vouched for it (a real phone presses
    # Continue once or twice a visit) and per venue.
    "captive.grant.ip": (20, 600), "captive.grant.device": (10, 600), "captive.grant.venue": (3000, 600),
    # Landings that ask the venue's controller to decrypt the redirect's MAC (Ruckus SmartZone's ENC... values):
    # made-up values would each cost the controller a call. Over it, the phone lands unknown (no call).
    "captive.decrypt.ip": (30, 600), "captive.decrypt.venue": (6000, 600),
    # Landings whose gateway context (unsigned: Meraki, UniFi, Omada, direct links...) is kept an hour for the
    # Continue: each stores ~0.5 kB under a new shopper, so a flood of made-up redirects would fill the store
    # (bounded here at ~80 MB a venue). Per venue only: a mall whose guests reach a hosted portal through one
    # NAT address lands thousands of phones an hour from it; a busy mall lands a few a second at its peak.
    "captive.context.venue": (30000, 600),
    # WiFiDog tokens a Continue stores (~0.2 kB each, 2 minutes) until the gateway's auth call redeems them.
    # Per shopper (one browser: safe behind a NAT), so one client pressing Continue in a loop cannot spend the
    # venue's budget and lock every WiFiDog shopper out.
    "captive.ticket.shopper": (10, 600), "captive.ticket.venue": (6000, 600),
    # WiFiDog auth calls with a token that redeems nothing (guesses, reloads of a used one), per calling address:
    # only a gateway may call (wifidog_gateways), and it calls for all its phones: generous. Per venue too: a
    # gateway calling from the mall's shared NAT address counts under no address (budgets.py shared_address),
    # and a refusal only answers a call that redeems nothing anyway.
    "captive.ticket_miss.ip": (600, 600), "captive.ticket_miss.venue": (3000, 600),
    # Calls to the payment provider a shopper's taps cause: a new provider order per "Pay", an order query per
    # look at a waiting order. The provider throttles them per merchant (the whole mall), and the sweep's
    # queries for late callbacks need what is left.
    "pay.start.ip": (30, HOUR), "pay.start.shopper": (15, HOUR), "pay.start.egress": (1500, HOUR),
    "pay.query.ip": (120, 600), "pay.query.shopper": (60, 600), "pay.query.egress": (3000, 600),
    # Calls to the insights API (portal/insights_api.py) per token label: a call not cached reads up to two months
    # of the venue's event log (a call naming several zones: a unit each). A month's days for six zones (180 calls) fit
    # in an hour. (They are audited as one roll-up per label and hour, AuditLog.record_call; how many run at once is
    # bounded apart: CALLS_AT_ONCE.)
    "insights.api.token": (200, HOUR),
}
_BUDGET_OWNERS = frozenset(name.partition(".")[0] for name in DEFAULT_BUDGETS)  # the platform's parts, bundled apps
_UNITS = {"s": 1, "m": 60, "h": HOUR, "d": DAY}
_BUDGET_RE = re.compile(r"^(\d{1,9})/(\d{0,9})([smhd]?)$")


def parse_budget(raw: str) -> tuple[int, int]:
    """'10/1h', '500/1d', '3/600' -> (count, window seconds). ValueError if malformed."""
    match = _BUDGET_RE.match(raw.strip().replace(" ", ""))
    if not match or not (match.group(2) or match.group(3)):
        raise ValueError(f"a budget is COUNT/WINDOW (e.g. 10/1h, 500/1d, 3/600), got {raw!r}")
    window = int(match.group(2) or 1) * _UNITS[match.group(3) or "s"]
    if window < 1 or window > 30 * DAY:
        raise ValueError(f"a budget's window is 1 s to 30 days, got {raw!r}")
    return int(match.group(1)), window


def _env_budgets(env: dict[str, str]) -> dict[str, tuple[int, int]]:
    """DEFAULT_BUDGETS with BUDGETS' values. A name of an owner DEFAULT_BUDGETS has (coupons, captive...) must be
    one of its names; any other is a light app's, checked against its declaration when the apps load."""
    budgets = dict(DEFAULT_BUDGETS)
    for item in _env_list(env, "BUDGETS", ()):
        name, _eq, value = (part.strip() for part in item.partition("="))
        if name not in DEFAULT_BUDGETS and name.partition(".")[0] in _BUDGET_OWNERS:
            raise ValueError(_unknown_budget(name, DEFAULT_BUDGETS))
        budgets[name] = parse_budget(value)
    return budgets


def _unknown_budget(name: str, known: Iterable[str]) -> str:
    return f"BUDGETS: unknown budget {name!r} (known: {', '.join(known)})"


def merge_budgets(budgets: Mapping[str, tuple[int, int]],
                  declared: Mapping[str, Mapping[str, tuple[int, int]]]) -> dict[str, tuple[int, int]]:
    """The budgets a process counts: the settings' (DEFAULT_BUDGETS, BUDGETS applied) with each loaded light app's
    declared defaults (app name -> its `LightApp.budgets`), BUDGETS' values winning. ValueError for an app's
    budget not named `<app>.<action>.<scope>`, one DEFAULT_BUDGETS already has, or a malformed limit; and for a
    BUDGETS name nobody declares (a typo there would otherwise limit nothing)."""
    merged = {name: _declared_budget(app, name, limit) for app, own in declared.items() for name, limit in own.items()}
    unknown = [name for name in budgets if name not in DEFAULT_BUDGETS and name not in merged]
    if unknown:
        raise ValueError(_unknown_budget(unknown[0], [*DEFAULT_BUDGETS, *merged]))
    return {**merged, **budgets}


def _declared_budget(app: str, name: str, limit: tuple[int, int]) -> tuple[int, int]:
    """A light app's declared budget, checked: its own name, a (count, window seconds) pair of whole numbers, and
    an app whose budgets DEFAULT_BUDGETS does not hold already (one place for each app's)."""
    action, _dot, scope = name.removeprefix(f"{app}.").rpartition(".")
    if not name.startswith(f"{app}.") or not action or "." in action or not scope:
        raise ValueError(f"light app {app}: a budget is named {app}.<action>.<scope>, got {name!r}")
    if app in _BUDGET_OWNERS:
        raise ValueError(f"light app {app}: core/settings.py DEFAULT_BUDGETS holds its budgets: declare them there "
                         "or on the app, not both")
    pair = isinstance(limit, tuple) and len(limit) == 2 and all(type(n) is int for n in limit)
    try:
        return parse_budget(f"{limit[0]}/{limit[1]}" if pair else "-")
    except ValueError:
        raise ValueError(f"light app {app}: budget {name!r} is (count, window seconds: 1 s to 30 days), "
                         f"got {limit!r}") from None


def _env_number(env: dict[str, str], name: str, default, cast, kind: str):
    return _number(env.get(name), f"environment variable {name}", default, cast, kind)


def _number(raw: str | None, label: str, default, cast, kind: str):
    """`raw` read with `cast`; `label` (a variable, a command line flag) names it when it is not `kind`."""
    if raw is None or raw == "":
        return default
    try:
        return cast(raw)
    except ValueError as exc:
        raise ValueError(f"{label} must be {kind}, got {raw!r}") from exc


def _env_int(env: dict[str, str], name: str, default: int) -> int:
    return _env_number(env, name, default, int, "an integer")


def _env_float(env: dict[str, str], name: str, default: float) -> float:
    return _env_number(env, name, default, float, "a number")


def _env_count(env: dict[str, str], name: str, default: int) -> int:
    return _count(env.get(name), f"environment variable {name}", default)


def _count(raw: str | None, label: str, default: int) -> int:
    """A count that must be at least 1 (the web server's workers, its threads)."""
    value = _number(raw, label, default, int, "an integer")
    if value < 1:
        raise ValueError(f"{label} must be a whole number of at least 1, got {raw!r}")
    return value


def _env_seconds(env: dict[str, str], name: str, default: float) -> float:
    """A duration that must be above 0 (0 or less would make every call time out at once)."""
    value = _env_float(env, name, default)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"environment variable {name} must be a number of seconds above 0, got {env.get(name)!r}")
    return value


_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def _host(raw: str, label: str) -> str:
    """HOST: the address `python -m portal serve` (and its payment sandbox) listens on, an IPv4 address (0.0.0.0:
    every interface) or a host name. Not an IPv6 address: the server's `--bind host:port` would misread it."""
    host = raw.strip() or "127.0.0.1"
    numeric = all(c.isdigit() or c == "." for c in host)  # 999.1.1.1 is no host name, but an address gone wrong
    if _is_ipv4(host) if numeric else _HOST_NAME.match(host):
        return host
    raise ValueError(f"{label} must be an IPv4 address or a host name to listen on (e.g. 127.0.0.1, or 0.0.0.0 "
                     f"for every interface), got {raw!r}")


class WebServer(NamedTuple):
    """Where the portal's web server listens and how many gthread workers of how many threads it runs: HOST, PORT,
    WEB_WORKERS and WEB_THREADS, for `serve` (Settings) and for every gunicorn started from the project root
    (gunicorn.conf.py: deploy/mallportal.service's), one rule for both."""

    host: str
    port: int
    workers: int
    threads: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WebServer:
        return cls(_host(env.get("HOST", ""), "environment variable HOST"), _env_int(env, "PORT", 8000),
                   _env_count(env, "WEB_WORKERS", 2), _env_count(env, "WEB_THREADS", 8))

    @property
    def bind(self) -> str:
        return f"{self.host}:{self.port}"


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _portal_url(raw: str) -> str:
    """PORTAL_URL as scheme://host[:port], no path or trailing slash."""
    raw = raw.strip().rstrip("/")
    if not raw:
        return ""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query or "@" in raw:
        raise ValueError(f"PORTAL_URL must be scheme://host[:port] (e.g. https://portal.mall.example), got {raw!r}")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _choice(env: dict[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name) or choices[0]
    if raw not in choices:
        raise ValueError(f"environment variable {name} must be one of {', '.join(choices)}, got {raw!r}")
    return raw


# The words a yes/no setting, query argument or form field is read from: one set for the environment, the shopper
# pages' ?accessible= and the consoles' checkboxes (a browser posts a ticked box as "on").
YES_WORDS = frozenset({"1", "true", "yes", "on"})
NO_WORDS = frozenset({"0", "false", "no", "off"})


def yes_or_no(raw: str | None, empty: bool | None = None) -> bool | None:
    """True or False for a yes/no word (any case, spaces around ignored); `empty` for an absent or blank value;
    None for anything else (the caller says what was wrong)."""
    value = (raw or "").strip().lower()
    if not value:
        return empty
    return True if value in YES_WORDS else False if value in NO_WORDS else None


def _env_flag(env: dict[str, str], name: str, default: bool) -> bool:
    flag = yes_or_no(env.get(name), empty=default)
    if flag is None:
        raise ValueError(f"environment variable {name} must be 1 or 0, got {env.get(name)!r}")
    return flag


# Files of the zone database that name no place (lower case): a venue's clock set to one would follow the host it
# runs on, or no rule at all.
NOT_A_PLACE = {
    "localtime": N_("%(label)s: `localtime` is the server's own zone, not a place: the venue's times would follow "
                    "whichever host runs the portal. Name the venue's zone, such as Europe/Madrid"),
    "posixrules": N_("%(label)s: `posixrules` is the zone database's default rules, not a place. Name the venue's "
                     "zone, such as Europe/Madrid"),
    "factory": N_("%(label)s: `Factory` is a placeholder zone with no local time, not a place. Name the venue's "
                  "zone, such as Europe/Madrid"),
}


def time_zone_name(raw: str) -> str:
    """An IANA time zone name of a place the system knows (`Asia/Shanghai`); a CatalogInputError (a ValueError)
    otherwise, saying why (NOT_A_PLACE, an empty or unknown name)."""
    name = raw.strip()
    if name.lower() in NOT_A_PLACE:
        raise CatalogInputError("time zone", NOT_A_PLACE[name.lower()])
    if not name:
        raise CatalogInputError("time zone", N_("%(label)s: name one, such as Asia/Shanghai or Europe/Madrid"))
    if name not in known_time_zones():  # asked first: ZoneInfo raises OSError on a name too long for a file
        raise CatalogInputError("time zone", N_("%(label)s must be an IANA name such as Asia/Shanghai or "
                                                "Europe/Madrid, got %(name)s"), name=repr(name[:60]))
    return name


def _env_time_zone(raw: str) -> str:
    """TIME_ZONE as `time_zone_name` takes it. What the zone database opened before 2026-12-07 still starts an
    upgraded host, with a warning: `posix/X` is `X` (`right/X` too: the same zone counting leap seconds, ~27 s off,
    which the portal does not want), and a name that is no place (`localtime`, `posixrules`, `Factory`) is kept;
    a venue's own `time_zone` refuses all of them."""
    name = raw.strip()
    try:
        return time_zone_name(name)
    except CatalogInputError:
        warn = logging.getLogger(__name__).warning
        for copy in ("posix/", "right/"):
            if name.startswith(copy) and name.removeprefix(copy) in known_time_zones():
                warn("TIME_ZONE=%s: read as %s", name, name.removeprefix(copy))
                return name.removeprefix(copy)
        try:
            if name.lower() not in NOT_A_PLACE:
                raise ValueError(name)
            ZoneInfo(name)
        except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
            raise ValueError(f"TIME_ZONE must be an IANA name such as Asia/Shanghai, got {raw!r}") from None
        warn("TIME_ZONE=%s is no place: set the mall's own zone, such as Europe/Madrid", name)
        return name


@cache
def known_time_zones() -> frozenset[str]:
    """The zone names `time_zone_name` takes: zoneinfo's (not the posix/ and right/ copies), less NOT_A_PLACE.
    Read once: zoneinfo opens every file of the database to list them."""
    return frozenset(n for n in available_timezones() if n.lower() not in NOT_A_PLACE)


def phone_region_code(raw: str) -> str:
    """A two-letter region code (ISO 3166-1, `CN`): how a number typed without its country code is read."""
    code = raw.strip().upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise ValueError(f"phone region must be a two-letter country code such as CN, got {raw!r}")
    return code


def _env_list(env: dict[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _phone_buckets(env: dict[str, str]) -> tuple[tuple[str, int], ...]:
    """PHONE_BUCKETS: "16" (every venue), "bigmall=16" or "8,bigmall=32" -> (("*", 8), ("bigmall", 32))."""
    out = []
    for item in _env_list(env, "PHONE_BUCKETS", ()):
        venue, _, count = item.rpartition("=")
        try:
            buckets = int(count)
        except ValueError:
            buckets = 0
        if buckets < 1 or buckets > 1024:
            raise ValueError(f"PHONE_BUCKETS entries are N or venue=N (1 <= N <= 1024), got {item!r}")
        out.append((venue.strip() or "*", buckets))
    return tuple(out)


def _persistent_secret(env: dict[str, str], data_dir: Path, name: str, make=lambda: secrets.token_hex(32)) -> str:
    """A development secret generated once and kept under ./var, so sessions and MAC hashes
    stay valid across restarts without anyone having to set them. Processes that start together (gunicorn's
    workers, the tracker) agree on one value: it is written to a private file and linked into place, so the
    first writer wins and nobody reads a half-written file. Noted as unchecked (`_unchecked_path`) where the start
    checks it against DATA_DIR's own store (no REDIS_URL); a REDIS_URL store, which nothing checks, is written with
    it from the first start on."""
    path = _secret_path(data_dir, name)
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.")
    try:
        with os.fdopen(fd, "w") as out:
            value = make()
            out.write(value)  # mkstemp made it 0600
        if not env.get("REDIS_URL"):
            _note_unchecked(data_dir, name, value)  # before it is in place: no start may find it unnoted
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process won: use its value
    finally:
        os.unlink(tmp)
    return path.read_text().strip()


def _secret_path(data_dir: Path, name: str) -> Path:
    """Where `_persistent_secret` keeps the key `name` (SECRET_KEY: DATA_DIR/secrets/secret_key)."""
    return data_dir / "secrets" / name.lower()


def _unchecked_path(data_dir: Path) -> Path:
    """`name digest` lines (`_fingerprint`) of the keys generated into DATA_DIR/secrets that no start has checked
    against its store yet (portal/__main__.py check_store_keys): a start that stops before its check (a port taken,
    a bad setting, no store) leaves its new keys on disk, and the next start must still know they are new."""
    return data_dir / "secrets" / ".unchecked"


def _note_unchecked(data_dir: Path, name: str, value: str) -> None:
    # one short append: processes generating keys at once each add their line whole
    fd = os.open(_unchecked_path(data_dir), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as out:
        out.write(f"{name} {_fingerprint(value)}\n")


def _unchecked_keys(data_dir: Path) -> set[tuple[str, str]]:
    try:
        text = _unchecked_path(data_dir).read_text()
    except FileNotFoundError:
        return set()
    return {(name, digest) for name, _sp, digest in (line.partition(" ") for line in text.splitlines())}


def keys_checked(data_dir: Path) -> None:
    """A start has checked DATA_DIR/secrets' keys against its store and recorded them there: none is new any more."""
    _unchecked_path(data_dir).unlink(missing_ok=True)


_REDIS_URL_FORM = "redis[s]://[user:password@]host:port[,host:port...][/0][?options]"
_NODE_RE = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9._-]+))(?::(?P<port>\d{1,5}))?$")


def _redacted(url: str) -> str:
    """`url` for an error message: never the password."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, hosts = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.partition(':')[0]}:***@{hosts}"


def redis_nodes(url: str) -> tuple[str, tuple[tuple[str, int], ...]]:
    """A cluster's REDIS_URL -> (the URL of its first node, every node as (host, port)).

    Several nodes of one cluster may be listed, comma separated, in the one URL (as libpq and MongoDB
    URLs list hosts): `rediss://user:pw@10.0.0.5:6379,10.0.0.6:6379,10.0.0.7:6379/0?ssl_cert_reqs=none`.
    The scheme, user, password, database and options are the whole URL's, for every node; the first
    node's URL carries them unchanged to redis-py. A single URL is one node, exactly as before.
    ValueError (the password masked) when malformed."""
    def bad(reason: str) -> ValueError:
        return ValueError(f"REDIS_URL must be {_REDIS_URL_FORM} (several nodes of one cluster, comma "
                          f"separated), got {_redacted(url)!r}: {reason}")

    if "://" in url.partition("://")[2]:
        raise bad("the further nodes are host:port, not URLs (they share the first one's scheme and options)")
    try:
        parts = urlsplit(url.strip())
    except ValueError as exc:
        raise bad(str(exc)) from None
    if parts.scheme not in ("redis", "rediss"):
        raise bad("a cluster is reached over redis:// or rediss://")
    userinfo, at, hostlist = parts.netloc.rpartition("@")
    if not hostlist:
        raise bad("no host")
    if parts.path not in ("", "/", "/0") or parse_qs(parts.query).get("db", ["0"]) != ["0"]:
        raise bad("a cluster has only database 0")
    nodes: list[tuple[str, int]] = []
    for item in hostlist.split(","):
        match = _NODE_RE.match(item.strip())
        if not match:
            raise bad(f"{item.strip()!r} is not host:port" if item.strip() else "an empty node in the list")
        port = int(match.group("port") or 6379)
        if not 1 <= port <= 65535:
            raise bad(f"port {port} is out of range")
        node = (match.group("v6") or match.group("host"), port)
        if node in nodes:
            raise bad(f"{item.strip()!r} is listed twice")
        nodes.append(node)
    if len(nodes) == 1:
        return url.strip(), tuple(nodes)
    first = hostlist.split(",")[0].strip()
    if ":" not in first.rpartition("]")[2]:
        first = f"{first}:{nodes[0][1]}"
    return urlunsplit((parts.scheme, f"{userinfo}{at}{first}", parts.path, parts.query, "")), tuple(nodes)


def shares_store(redis_url: str | None, cluster: bool) -> bool:
    """A store other hosts may use too (a cluster, or any host but this one): every host must then
    sign sessions and hash MACs with the same keys, which only the environment can give them all."""
    if not redis_url:
        return False
    host = urlsplit(redis_url).hostname or ""
    return cluster or host not in ("127.0.0.1", "localhost", "::1", "")


# Why every host of a shared store needs the same value of each secret (what a host with its own would break).
SHARED_SECRETS = {
    "SECRET_KEY": "it signs the console's sign-ins and the shoppers' tokens and seals the gateways' contexts: a "
                  "sign-in, token or gateway hand-off made by one host would be refused by the next",
    "MAC_HASH_KEY": "it turns a phone's MAC into its client id: one phone would count as two (its access, position "
                    "and footfall split between hosts)",
    "PHONE_KEY": "it hashes and seals the shoppers' phone numbers (membership, SMS contacts): a number stored by one "
                 "host could not be found or read on the next (a member unknown there, an SMS not sent)",
}


# The keys the store's data is written with (the three above, and the Web Push key browsers' subscriptions are bound
# to): in the environment, else generated once into DATA_DIR/secrets.
INSTALL_KEYS = (*SHARED_SECRETS, "VAPID_PRIVATE_KEY")
PLACEHOLDER = "change-me"  # what deploy/mallportal.env ships in place of each key
VAPID_KEY_RULE = ("VAPID_PRIVATE_KEY must be a P-256 private key, 32 bytes base64url (`python -m portal notify "
                  "--vapid-key` makes one)")


def _refuse_weak_keys(env: dict[str, str], shared: bool) -> None:
    """Every key the environment sets as a placeholder (deploy/mallportal.env's), and a VAPID key that is none, named
    in one line, so an operator who fixes one is not left running on the others, which anyone could read. A shared
    store's key that is not set at all is said first, with why every host needs it (`_shared_secret`). A real key
    shorter than 32 bytes starts, with a warning (`_warn_short_keys`)."""
    if shared and not all((env.get(name) or "").strip() for name in INSTALL_KEYS):
        return
    given = {name: value for name in INSTALL_KEYS if (value := (env.get(name) or "").strip())}
    weak = [name for name, value in given.items() if _unusable_key(name, value)]
    if not weak:
        _warn_short_keys(given)
        return
    rules = []
    if secret := [name for name in weak if name in SHARED_SECRETS]:
        rules.append(f"set {', '.join(secret)} to 32+ random bytes{' each' if len(secret) > 1 else ''} (`python -c "
                     "\"import secrets; print(secrets.token_hex(32))\"` prints one)")
    if "VAPID_PRIVATE_KEY" in weak:
        rules.append(VAPID_KEY_RULE)
    said = "is a placeholder or no valid key" if len(weak) == 1 else "are placeholders or no valid keys"
    raise ValueError(f"{', '.join(weak)} {said}: {'; '.join(rules)}")


def _unusable_key(name: str, value: str) -> bool:
    if PLACEHOLDER in value.lower():
        return True
    if name != "VAPID_PRIVATE_KEY":
        return False
    try:
        vapid_public_key(value)
    except ValueError:
        return True
    return False


def _warn_short_keys(given: dict[str, str]) -> None:
    """A key shorter than 32 bytes is easier to guess, but refusing it would lead its operator to replace it, and
    the store's data is keyed by it: an install upgraded from a release that took any length keeps it, warned."""
    for name, value in given.items():
        if name in SHARED_SECRETS and len(value.encode()) < 32:
            logging.getLogger(__name__).warning(
                "%s is shorter than 32 bytes: kept, as the store's data is written with it; a new key would lose "
                "every client id, phone lookup or token written with the old one (docs/operations.md, \"The keys "
                "with the data\")", name)


def _generated_keys(env: dict[str, str], data_dir: Path, shared: bool) -> tuple[str, ...]:
    """The keys no store has been checked with yet (a new install, or a store restored without its keys: portal/
    __main__.py check_store_keys tells them apart): neither the environment nor DATA_DIR/secrets holds them, so
    `from_env` is about to generate them, or DATA_DIR/secrets holds them as generated by a start that never got to
    its check (`_unchecked_path`; a key copied there from a backup since is another key, not one of them)."""
    if shared:
        return ()  # every key comes from the environment
    unchecked = _unchecked_keys(data_dir)
    return tuple(name for name in INSTALL_KEYS
                 if not (env.get(name) or "").strip() and _new_key(data_dir, name, unchecked))


def _new_key(data_dir: Path, name: str, unchecked: set[tuple[str, str]]) -> bool:
    path = _secret_path(data_dir, name)
    return not path.exists() or (name, _fingerprint(path.read_text().strip())) in unchecked


def _fingerprint(value: str) -> str:
    """64 bits of an HMAC under the key, which tell nothing of it."""
    return hmac.new(value.encode(), b"mallportal key fingerprint", hashlib.sha256).hexdigest()[:16]


def key_fingerprints(settings: Settings) -> dict[str, str]:
    """A short digest (`_fingerprint`) of each key the store's data is written with (INSTALL_KEYS), for the store to
    record and a later start to compare (check_store_keys)."""
    keys = {"SECRET_KEY": settings.secret_key, "MAC_HASH_KEY": settings.mac_hash_key,
            "PHONE_KEY": settings.phone_key, "VAPID_PRIVATE_KEY": settings.notify.vapid_private_key}
    return {name: _fingerprint(value) for name, value in keys.items() if value}


def _shared_secret(env: dict[str, str], name: str, data_dir: Path, shared: bool) -> str:
    value = env.get(name)
    if (value or "").strip():  # blank is unset, as `_generated_keys` and `_refuse_weak_keys` read it
        return value
    if shared:
        raise ValueError(
            f"{name} is not set: with a shared store (REDIS_URL on another host, or REDIS_CLUSTER=1) every "
            f"host must use the same {name}, as {SHARED_SECRETS[name]}. Set SECRET_KEY, MAC_HASH_KEY, PHONE_KEY "
            f"(32+ random bytes each) and VAPID_PRIVATE_KEY (`python -m portal notify --vapid-key`), the same on "
            "every host.")
    return _persistent_secret(env, data_dir, name)


def _vapid_key(env: dict[str, str], data_dir: Path, shared: bool) -> str:
    """The Web Push (VAPID) signing key: generated once into ./var like the other development secrets;
    with a shared store every host must sign with the same key (browsers bound their subscriptions to
    its public half), so it must come from the environment."""
    value = (env.get("VAPID_PRIVATE_KEY") or "").strip()
    if not value and shared:
        raise ValueError(
            "VAPID_PRIVATE_KEY is not set: with a shared store (REDIS_URL on another host, or REDIS_CLUSTER=1) "
            "every host must sign Web Push messages with the same key, as each browser's push subscription is "
            "bound to its public half: a notification sent by a host with its own key is refused by the push "
            "service. Generate one with `python -m portal notify --vapid-key` and set it, the same on every host.")
    value = value or _persistent_secret(env, data_dir, "VAPID_PRIVATE_KEY", new_vapid_private_key)
    try:
        vapid_public_key(value)
    except ValueError as exc:
        raise ValueError(VAPID_KEY_RULE) from exc
    return value


# Web Push services a subscription may point at (host suffixes): the worker POSTs to the endpoint a
# browser handed in, so only the browsers' own push services are accepted (no request to any other host).
DEFAULT_PUSH_HOSTS = ("fcm.googleapis.com", "push.services.mozilla.com", "notify.windows.com", "push.apple.com")


def _pairs(env: dict[str, str], name: str) -> dict[str, str]:
    """`a=1,b=2` -> {"a": "1", "b": "2"}."""
    out = {}
    for item in _env_list(env, name, ()):
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise ValueError(f"environment variable {name} must be a comma list of name=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class NotifySettings:
    """Notifications (portal/notify): the Web Push key, the SMS provider and the outbox's retry policy."""

    vapid_private_key: str = field(default="", repr=False)  # P-256, 32 bytes base64url
    vapid_subject: str = "mailto:notify@mallportal.invalid"  # who push services contact about our messages
    push_hosts: tuple[str, ...] = DEFAULT_PUSH_HOSTS
    sms_provider: str = "log"  # log (development: the log and a short dev outbox) | tencent
    tencent_secret_id: str = field(default="", repr=False)
    tencent_secret_key: str = field(default="", repr=False)
    tencent_app_id: str = ""  # SmsSdkAppId
    tencent_sign_name: str = ""  # the approved signature (签名)
    tencent_region: str = "ap-guangzhou"
    tencent_endpoint: str = ""  # another API host (an internal proxy; the tests' loopback service)
    sms_templates: dict = field(default_factory=dict)  # event -> the provider's approved template id
    max_attempts: int = 5  # tries per message and channel before it goes to the dead letters
    retry_base_s: float = 5.0  # first retry after this, doubling each time (capped at 15 min)
    sms_per_shopper_day: int = 10  # SMS budget per shopper and day (each one costs the mall money)

    @classmethod
    def from_env(cls, env: dict[str, str], data_dir: Path, shared: bool, portal_url: str) -> NotifySettings:
        provider = _choice(env, "SMS_PROVIDER", ("log", "tencent"))
        settings = cls(
            vapid_private_key=_vapid_key(env, data_dir, shared),
            vapid_subject=env.get("VAPID_SUBJECT") or (portal_url or cls.vapid_subject),
            push_hosts=tuple(h.lower() for h in _env_list(env, "PUSH_SERVICE_HOSTS", DEFAULT_PUSH_HOSTS)),
            sms_provider=provider,
            tencent_secret_id=env.get("TENCENTCLOUD_SECRET_ID", ""),
            tencent_secret_key=env.get("TENCENTCLOUD_SECRET_KEY", ""),
            tencent_app_id=env.get("TENCENT_SMS_APP_ID", ""),
            tencent_sign_name=env.get("TENCENT_SMS_SIGN_NAME", ""),
            tencent_region=env.get("TENCENT_SMS_REGION") or "ap-guangzhou",
            tencent_endpoint=env.get("TENCENT_SMS_ENDPOINT", ""),
            sms_templates=_pairs(env, "SMS_TEMPLATES"),
            max_attempts=max(1, _env_int(env, "NOTIFY_MAX_ATTEMPTS", 5)),
            retry_base_s=max(0.0, _env_float(env, "NOTIFY_RETRY_BASE_S", 5.0)),
            sms_per_shopper_day=max(0, _env_int(env, "SMS_PER_SHOPPER_DAY", 10)),
        )
        if provider == "tencent":
            missing = [name for name, value in (
                ("TENCENTCLOUD_SECRET_ID", settings.tencent_secret_id),
                ("TENCENTCLOUD_SECRET_KEY", settings.tencent_secret_key),
                ("TENCENT_SMS_APP_ID", settings.tencent_app_id),
                ("TENCENT_SMS_SIGN_NAME", settings.tencent_sign_name),
                ("SMS_TEMPLATES", settings.sms_templates)) if not value]
            if missing:
                raise ValueError(f"SMS_PROVIDER=tencent needs {', '.join(missing)}")
        return settings


@dataclass(frozen=True)
class Settings:
    redis_url: str | None = None
    # REDIS_CLUSTER=1: REDIS_URL names a node of a Valkey/Redis Cluster, or several (`redis_nodes`)
    redis_cluster: bool = False
    secret_key: str = field(default="", repr=False)
    mac_hash_key: str = field(default="", repr=False)
    # Phone numbers: keyed hashes in key names, AES-GCM where the number must come back (core/security.py).
    phone_key: str = field(default="", repr=False)
    # The keys (INSTALL_KEYS names) generated into DATA_DIR/secrets that no store was checked with yet (this start's
    # or an earlier one's that stopped first): a store that already holds data was written with others
    # (portal/__main__.py check_store_keys).
    generated_keys: tuple[str, ...] = ()
    port: int = 8000
    host: str = "127.0.0.1"  # the address `python -m portal serve` listens on (HOST)
    web_workers: int = 2  # `serve`'s gunicorn gthread workers (WEB_WORKERS), each with web_threads threads
    web_threads: int = 8
    default_venue: str = "demo"
    data_dir: Path = PROJECT_ROOT / "var"
    rssi_window_s: float = 60.0
    position_cache_s: float = 30.0  # a computed position is reused this long while no new reading arrives
    max_report_bytes: int = 1_048_576
    max_observations: int = 20_000
    max_clock_skew_s: float = 300.0
    # Meraki v3 sends one POST per network per minute with every client in it: larger limits. A client in
    # the documented v3 shape (3 locations of 3-4 rssiRecords) is ~1.6 kB: 64 MiB holds ~41,000 clients.
    max_meraki_bytes: int = 64 * 1_048_576
    max_meraki_observations: int = 500_000
    max_mist_bytes: int = 32 * 1_048_576  # a site's aggregated raw-RSSI message: one event per client and AP
    max_mist_observations: int = 500_000
    ap_silent_after_s: float = 300.0  # the health view lists APs not heard from for longer
    load_demo: bool = True
    # With LOAD_DEMO: also the realistic demo mall, the Galleria (portal/seed.py; a few seconds at first start).
    load_demo_galleria: bool = True
    map_versions_kept: int = 20  # stored map versions per venue (the live one always kept)
    ingest_wait_replicas: int = 1  # cluster: replicas that must hold a batch before it is acknowledged
    footfall_hourly_days: int = 35  # hourly visitor counts, dwell and heatmaps
    footfall_daily_days: int = 400  # the per-day roll-up of unique visitors
    events_maxlen: int = 1_000_000  # entries kept per venue's event stream (portal/events)
    leave_after_s: float = 1200.0  # a phone unseen this long has left the venue (a leave event)
    warm_venues: tuple[str, ...] = ("*",)  # venues whose model a worker fits as it starts ("*": all)
    # A tracker's venue leases (portal/leases.py) lapse this long after it stops renewing them: how long
    # a killed tracker's venues wait before another tracker (or its restarted self) takes them over.
    tracker_lease_s: float = 10.0
    # Hash-tag buckets each venue's per-phone state is spread over (core/storage.py; "*": the rest; 1 when
    # unset): more than one lets a mall use several cluster primaries. The same on every host.
    phone_buckets: tuple[tuple[str, int], ...] = ()
    # The store connection's one timeout (connect and each call). Generous: "is the store down" is the
    # store breaker's question (core/store_health.py), not a per-call deadline a busy host can miss.
    store_timeout_s: float = 2.0
    # How long one request may wait on the store, all its calls together (core/storage.py StoreBudget): a store
    # that is slow but answers must not hold a worker thread for a page's every call in turn. The probes and the
    # captive portal's pages get half of it (portal/bootstrap.py): a phone's OS gives up on a probe in seconds.
    store_request_budget_s: float = 3.0
    # How long the quality page waits for the live estimate (portal/operator/live_jobs.py: 80-100 s on a
    # large mall) before showing how far it has got and refreshing itself.
    quality_wait_s: float = 5.0
    # Scheme + host every absolute URL the portal hands out is built on (CAPPORT, grants, probe
    # redirects); unset: the request's own host (development only).
    portal_url: str = ""
    portal_hosts: tuple[str, ...] = ()  # more host names served as the portal itself (an internal name)
    # No supported gateway: "honest" (Continue grants nothing the network would honour, the page says
    # so) or "gateway" (the portal host is the network's gateway: a grant binds the client's IP).
    direct_mode: str = "honest"
    proxy_hops: int = 0  # reverse proxies in front (deploy/nginx.conf: 1): X-Forwarded-For/-Proto trusted
    # DEMO=1 (`make run`): /demo and the radio simulator, on venues marked as demo venues only.
    demo: bool = False
    shopper_token_ttl_s: int = 30 * 86400  # a shopper token lives this long after its last use
    # A console sign-in ends after this long without a request (each one slides it), and this long after it
    # began whatever its use (portal/auth.py AccountStore). Idle: a night away signs the phone out, while no
    # pause of a 12-hour trading day does; the cap: a 09:30 sign-in lasts a whole 10:00-22:00 day.
    console_idle_s: int = 8 * 3600
    console_session_max_s: int = 24 * 3600
    # Cookies only over HTTPS (Secure): on by default when PREFERRED_URL_SCHEME=https.
    secure_cookies: bool = False
    preferred_url_scheme: str = "http"
    testing: bool = False
    light_apps: tuple[str, ...] = DEFAULT_LIGHT_APPS
    payments: PaymentSettings = field(default_factory=PaymentSettings)  # core/payment_settings.py
    notify: NotifySettings = field(default_factory=NotifySettings)  # Web Push, SMS, the outbox (portal/notify)
    # A venue's own time zone and phone region are its portal config (`time_zone`, `phone_region`); these
    # are the defaults for a venue that sets none.
    time_zone: str = DEFAULT_TIME_ZONE
    phone_region: str = "CN"
    budgets: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(DEFAULT_BUDGETS))
    # Owners' images (portal/media): the largest upload, and the bytes of stored renditions per venue.
    media_max_upload_bytes: int = 8 * 1_048_576
    media_budget_bytes: int = 200 * 1_048_576
    # Webhooks (moments rules, occupancy alerts) to internal addresses (loopback, private, link-local, the
    # metadata address): refused when saved unless set (a CRM on the mall's own network; tests' receivers).
    webhook_allow_private: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("DATA_DIR") or PROJECT_ROOT / "var")
        redis_url = env.get("REDIS_URL") or None
        cluster = _env_flag(env, "REDIS_CLUSTER", False)
        if cluster and not redis_url:
            raise ValueError("REDIS_CLUSTER=1 needs REDIS_URL (any node of the cluster, or several)")
        if cluster:
            redis_nodes(redis_url)  # a malformed node list stops the start here, not at the first request
        elif redis_url and "," in urlsplit(redis_url).netloc:
            raise ValueError("REDIS_URL names several nodes: only a cluster (REDIS_CLUSTER=1) is reached that way")
        shared = shares_store(redis_url, cluster)
        _refuse_weak_keys(env, shared)
        generated = _generated_keys(env, data_dir, shared)  # before the keys are read (reading generates them)
        # The portal's own scheme: PREFERRED_URL_SCHEME, else PORTAL_URL's (a portal at https:// gets Secure
        # cookies and HSTS without a second setting: the open guest WiFi must never carry its cookies in clear)
        scheme = (env.get("PREFERRED_URL_SCHEME") or urlsplit(env.get("PORTAL_URL", "")).scheme or "http").lower()
        web = WebServer.from_env(env)
        return cls(
            redis_url=redis_url,
            redis_cluster=cluster,
            secret_key=_shared_secret(env, "SECRET_KEY", data_dir, shared),
            mac_hash_key=_shared_secret(env, "MAC_HASH_KEY", data_dir, shared),
            phone_key=_shared_secret(env, "PHONE_KEY", data_dir, shared),
            generated_keys=generated,
            port=web.port,
            host=web.host,
            web_workers=web.workers,
            web_threads=web.threads,
            default_venue=env.get("VENUE") or "demo",
            data_dir=data_dir,
            rssi_window_s=_env_float(env, "RSSI_WINDOW_S", 60.0),
            position_cache_s=_env_float(env, "POSITION_CACHE_S", 30.0),
            max_report_bytes=_env_int(env, "MAX_REPORT_BYTES", 1_048_576),
            max_observations=_env_int(env, "MAX_OBSERVATIONS", 20_000),
            max_clock_skew_s=_env_float(env, "MAX_CLOCK_SKEW_S", 300.0),
            max_meraki_bytes=_env_int(env, "MAX_MERAKI_BYTES", 64 * 1_048_576),
            max_meraki_observations=_env_int(env, "MAX_MERAKI_OBSERVATIONS", 500_000),
            max_mist_bytes=_env_int(env, "MAX_MIST_BYTES", 32 * 1_048_576),
            max_mist_observations=_env_int(env, "MAX_MIST_OBSERVATIONS", 500_000),
            ap_silent_after_s=_env_float(env, "AP_SILENT_AFTER_S", 300.0),
            load_demo=_env_flag(env, "LOAD_DEMO", True),
            load_demo_galleria=_env_flag(env, "LOAD_DEMO_GALLERIA", True),
            map_versions_kept=max(1, _env_int(env, "MAP_VERSIONS_KEPT", 20)),
            ingest_wait_replicas=max(0, _env_int(env, "INGEST_WAIT_REPLICAS", 1)),
            footfall_hourly_days=max(1, _env_int(env, "FOOTFALL_HOURLY_DAYS", 35)),
            footfall_daily_days=max(1, _env_int(env, "FOOTFALL_DAILY_DAYS", 400)),
            events_maxlen=max(1000, _env_int(env, "EVENTS_MAXLEN", 1_000_000)),
            leave_after_s=max(60.0, _env_float(env, "LEAVE_AFTER_S", 1200.0)),
            warm_venues=_env_list(env, "WARM_VENUES", ("*",)),
            phone_buckets=_phone_buckets(env),
            tracker_lease_s=max(1.0, _env_float(env, "TRACKER_LEASE_S", 10.0)),
            store_timeout_s=_env_seconds(env, "STORE_TIMEOUT_S", 2.0),
            store_request_budget_s=max(0.1, _env_float(env, "STORE_REQUEST_BUDGET_S", 3.0)),
            quality_wait_s=max(0.0, _env_float(env, "QUALITY_WAIT_S", 5.0)),
            portal_url=_portal_url(env.get("PORTAL_URL", "")),
            portal_hosts=tuple(h.lower() for h in _env_list(env, "PORTAL_HOSTS", ())),
            direct_mode=_choice(env, "DIRECT_MODE", ("honest", "gateway")),
            proxy_hops=_env_int(env, "PROXY_HOPS", 0),
            demo=_env_flag(env, "DEMO", False),
            shopper_token_ttl_s=_env_int(env, "SHOPPER_TOKEN_TTL_S", 30 * 86400),
            console_idle_s=max(60, _env_int(env, "CONSOLE_IDLE_S", 8 * 3600)),
            console_session_max_s=max(60, _env_int(env, "CONSOLE_SESSION_MAX_S", 24 * 3600)),
            secure_cookies=_env_flag(env, "SECURE_COOKIES", scheme == "https"),
            preferred_url_scheme=scheme,
            light_apps=_env_list(env, "LIGHT_APPS", DEFAULT_LIGHT_APPS),
            payments=PaymentSettings.from_env(env, data_dir),
            notify=NotifySettings.from_env(env, data_dir, shared, _portal_url(env.get("PORTAL_URL", ""))),
            time_zone=_env_time_zone(env.get("TIME_ZONE") or DEFAULT_TIME_ZONE),
            phone_region=phone_region_code(env.get("PHONE_REGION") or "CN"),
            budgets=_env_budgets(env),
            media_max_upload_bytes=max(1, _env_int(env, "MEDIA_MAX_UPLOAD_MB", 8)) * 1_048_576,
            media_budget_bytes=max(1, _env_int(env, "MEDIA_BUDGET_MB", 200)) * 1_048_576,
            webhook_allow_private=_env_flag(env, "WEBHOOK_ALLOW_PRIVATE", False),
        )

    def __post_init__(self) -> None:
        if not self.phone_key and self.mac_hash_key:
            # Settings built in code (tests, benches) without one: a key of its own, derived from the MAC
            # key. from_env always sets PHONE_KEY itself (generated, or required with a shared store).
            derived = hmac.new(self.mac_hash_key.encode(), b"mallportal phone key", hashlib.sha256).hexdigest()
            object.__setattr__(self, "phone_key", derived)

    def with_(self, **changes) -> Settings:
        return replace(self, **changes)

    def with_serve_flags(self, host: str | None = None, workers: str | None = None,
                         threads: str | None = None) -> Settings:
        """`serve`'s --host, --workers and --threads (as typed; None: not given) in place of HOST, WEB_WORKERS and
        WEB_THREADS, held to the same rules; ValueError naming the flag."""
        return self.with_(host=self.host if host is None else _host(host, "--host"),
                          web_workers=_count(workers, "--workers", self.web_workers),
                          web_threads=_count(threads, "--threads", self.web_threads))
