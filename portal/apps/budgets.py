"""Abuse budgets: how much of a scarce thing (coupons, seats, queue numbers, SMS codes, plate lookups) one
client IP, one shopper, one device, one phone number, one plate, one offer or one whole venue may take per time
window.

Anonymous shoppers cost one GET, so a per-shopper limit alone stops nobody: every action is also counted
per client address (the address Flask sees; behind a proxy PROXY_HOPS makes it the client's), an IPv6
address by its /64 (`address_key`: one phone or host may take any address of its /64), and per device: the
phone the gateway vouched for on the request's shopper token (`Shopper.own_phone`, its MAC's keyed hash), which
every new shopper id a gateway hands that phone shares. Inside the venue's own guest WiFi an address counts by
itself (every phone there shares the venue's /64), so a phone no gateway vouched for can still come back as
ever new shoppers from ever new addresses: what bounds it there is the action's shared ceilings, per offer and
per venue (core/settings.py). A shared address (`shared_address`: a public IPv4 address inside a network of at
most 256 addresses of the venue's `client_networks`) is the mall's NAT (egress) address, at which a portal hosted
outside the mall sees its whole crowd: a budget per address there was one budget for every shopper of the mall
(the 21st phone of a busy hour could not get online), so no `.ip` budget counts there. An action whose only other
brakes are per shopper (a new one is a page load away) declares an `.egress` budget, a crowd's worth, counted
only there (plate lookups, payment calls, push opt-ins, pre-orders; and the texts, whose venue ceiling one client
could otherwise spend in minutes): one client there can spend it for the
whole crowd, so it is the brake on what it would otherwise take without end, not a fair share. Actions with
ceilings of their own (an offer's, a show's, a restaurant's, an activity's, the venue's) declare none: there the
ceiling is already the crowd's brake, and a second one would only be a second lock one client could close. Beside
it a phone is held back by its device budget (the phone the gateway vouched for) and its shopper budget. A private
or CGNAT address inside `client_networks` (a portal on the premises, where each phone has an address of its own)
keeps its per-address budget. The console login throttle (portal/auth.py) counts no address's failures against an
account that signed in from that shared address lately. The one owner of the rule is here; an app spends with
one line before it changes anything:

    spend_budget("coupons.claim", venue, shopper=shopper.client, offer=coupon_id)
    spend_budget("cinema.seats", venue, shopper=shopper.client, cost=new_seats)  # give_back_budget: undo
    spend_budget("membership.sms", venue, shopper=shopper.client, phone=phone)

Over budget raises `OverBudget`: a 429 with Retry-After (a localized page, JSON for /api/), and nothing is
counted or stored; refused by a budget of the one asking (`CLIENT_SCOPES`) it says "too many from this device",
by a ceiling a crowd shares (offer, show, venue...) that the thing is in great demand. A cost beyond a budget's whole
count (more seats at once than a venue's budget holds, or a budget set to 0) is no 429: waiting would never make
room, so it is a 422 that says how many fit (403 for 0: switched off), with no Retry-After. A store fault is a redis
error like any other: 503 (portal/errors.py).

Limits: `Settings.budgets` ("coupons.claim.ip" -> (count, window s); BUDGETS in the environment), with each
loaded light app's own defaults (`LightApp(budgets=...)`, merged at start by portal/apps/platform.py), replaced
per venue by the operator (`flask budgets set VENUE NAME 5/1h`, kept in the store). Counting is a sliding
window (the current and the previous fixed window, the previous weighted by how much of it still
overlaps): no double burst at a window edge, two integers per counter. One Lua call checks every counter of
an action and spends on all of them only if all have room. The ids in key names (IP, shopper, phone, plate)
are keyed hashes (MAC_HASH_KEY): a store dump shows no address or number. An action with no budget declared
raises `UndeclaredBudget`: a typo, or an app that forgot to declare, must fail its first test, not limit nothing."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import redis
from flask import Flask, current_app, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from core.addresses import client_address, on_premises
from core.settings import parse_budget
from core.storage import LUA_STORE_CLOCK, VenueKeys
from portal.errors import error_response
from portal.shopper import current_shopper

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Ids = str | Collection[str] | None  # what `who` names for a scope: an id, several (one person's), or none

EXTENSION = "budgets"


class BudgetKeys(VenueKeys):
    def config(self) -> str:
        """HASH budget name -> 'count/window' set for this venue (the operator's overrides)."""
        return self.key("budget", "config")

    def counter(self, name: str, who: str) -> str:
        """HASH w (window index), c (spent in it), p (spent in the previous one)."""
        return self.key("budget", name, who)


# KEYS: the venue's config hash, then one counter per budget. ARGV: now ('': the store's clock, so that hosts whose
# clocks differ count in the same window; a host behind once took a counter's newer window for an older one and reset
# it), cost, spend ('1'; '0': only check that there is room for it), then per counter: budget name, default count,
# default window. Returns {} when spent (or there is room); else {index of the refusing budget (1-based), seconds
# until it has room}; or, for a cost beyond a budget's whole count, {index of the budget of the smallest count, 0, that
# count}: no wait makes room, so the counts are checked against the cost before any counter is read, and the smallest
# is named (naming a larger one, a shopper asking for that many would be refused again).
SPEND_LUA = LUA_STORE_CLOCK + """
local now = store_now(ARGV[1])
local cost = tonumber(ARGV[2])
local limits, least = {}, nil
for i = 2, #KEYS do
  local a = 4 + (i - 2) * 3
  local limit, window = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local set = redis.call('HGET', KEYS[1], ARGV[a])
  if set then
    local l, w = string.match(set, '^(%d+)/(%d+)$')
    if l then limit, window = tonumber(l), tonumber(w) end
  end
  if least == nil or limit < limits[least][1] then least = i end
  limits[i] = {limit, window}
end
if least ~= nil and cost > limits[least][1] then return {least - 1, 0, limits[least][1]} end
local plan = {}
for i = 2, #KEYS do
  local limit, window = limits[i][1], limits[i][2]
  local idx = math.floor(now / window)
  local h = redis.call('HMGET', KEYS[i], 'w', 'c', 'p')
  local w, c, p = tonumber(h[1] or '-2'), tonumber(h[2] or '0'), tonumber(h[3] or '0')
  if w == idx - 1 then p, c = c, 0 elseif w ~= idx then p, c = 0, 0 end
  local into = (now - idx * window) / window
  if p * (1 - into) + c + cost > limit then
    local wait
    if c + cost <= limit then
      wait = ((1 - (limit - c - cost) / p) - into) * window
    else
      local next_into = c > 0 and (1 - (limit - cost) / c) or 0
      wait = (1 - into) * window + next_into * window
    end
    return {i - 1, math.max(1, math.ceil(wait))}
  end
  plan[#plan + 1] = {KEYS[i], idx, c + cost, p, window}
end
if ARGV[3] == '0' then return {} end
for _, s in ipairs(plan) do
  redis.call('HSET', s[1], 'w', s[2], 'c', s[3], 'p', s[4])
  redis.call('EXPIRE', s[1], 2 * s[5])
end
return {}
"""


# Give back what a spend took, for an action that then did not happen: KEYS as SPEND_LUA's; ARGV now, cost, then
# per counter: budget name, default window (the venue's own window read as the spend reads it). Only from the
# window the spend was counted in (the current one or the one before), never below zero.
GIVE_BACK_LUA = LUA_STORE_CLOCK + """
local now, cost = store_now(ARGV[1]), tonumber(ARGV[2])
for i = 2, #KEYS do
  local a = 3 + (i - 2) * 2
  local window = tonumber(ARGV[a + 1])
  local set = redis.call('HGET', KEYS[1], ARGV[a])
  if set then
    local w = string.match(set, '^%d+/(%d+)$')
    if w then window = tonumber(w) end
  end
  local idx = math.floor(now / window)
  local h = redis.call('HMGET', KEYS[i], 'w', 'c')
  local w, c = tonumber(h[1] or '-2'), tonumber(h[2] or '0')
  if w == idx or w == idx - 1 then
    redis.call('HSET', KEYS[i], 'c', math.max(0, c - cost))
  end
end
return 1
"""


class UndeclaredBudget(LookupError):
    """A spend of an action no budget is declared for: a programming error, never a silent "no limit"."""

    def __init__(self, action: str) -> None:
        super().__init__(f"no budget is declared for the action {action!r}: declare {action}.<scope> (ip, shopper, "
                         "device, venue...) in its light app's LightApp(budgets=...), or core/settings.py "
                         "DEFAULT_BUDGETS for the platform's own")


# The scopes that name the one asking (an address, a shopper, a phone, a phone number, a plate, a console account, a
# Meraki network posting): over one of them she asked too often. Any other scope (offer, show, zone, activity,
# venue...) is a ceiling a crowd shares: its refusal must not tell her that she did.
CLIENT_SCOPES = frozenset({"ip", "shopper", "device", "phone", "plate", "account", "network"})
# `egress` (a mall's shared NAT address) is the crowd's: its refusal says the thing is in demand.


@dataclass(frozen=True)
class Refusal:
    budget: str  # e.g. "coupons.claim.ip"
    retry_after_s: int  # 0 when `never`
    most: int | None = None  # the budget's whole count, where the cost asked is beyond it (`never`)

    @property
    def never(self) -> bool:
        """The cost asked is more than the budget's whole count: no wait makes room (a 422, or a 403 where the count
        is 0, an action the operator has switched off; never a 429 whose Retry-After would not come true)."""
        return self.most is not None

    @property
    def status(self) -> int:
        """The answer's HTTP status: 429 (wait for room), 422 (`never`: ask for at most `most`), 403 (`never` with a
        count of 0: the operator has switched the action off)."""
        if not self.never:
            return 429
        return 403 if self.most == 0 else 422

    @property
    def scope(self) -> str:
        """The scope of the budget that refused ("ip", "offer", "venue"...)."""
        return self.budget.rpartition(".")[2]

    @property
    def by_client(self) -> bool:
        """Refused by a budget of the one asking (`CLIENT_SCOPES`), not by a ceiling the crowd shares."""
        return self.scope in CLIENT_SCOPES


def _ids(value: Ids) -> list[str]:
    """A scope's ids, each once (one counter each: the spend script must not count a key twice)."""
    if not value:
        return []
    return [value] if isinstance(value, str) else sorted({v for v in value if v})


class BudgetStore:
    """Spend against the budgets of an action; read and set a venue's limits."""

    def __init__(self, db: redis.Redis, defaults: Mapping[str, tuple[int, int]], id_key: str) -> None:
        self.db = db
        self.defaults = dict(defaults)
        self._scopes: dict[str, list[str]] = {}
        for name in self.defaults:
            action, _dot, scope = name.rpartition(".")
            self._scopes.setdefault(action, []).append(scope)
        self._id_key = id_key.encode()
        self._spend = db.register_script(SPEND_LUA)
        self._give_back = db.register_script(GIVE_BACK_LUA)

    def scopes(self, action: str) -> list[str]:
        """The scopes an action is counted per (ip, shopper, phone, plate, venue), from its defaults;
        UndeclaredBudget for an action that has none."""
        if action not in self._scopes:
            raise UndeclaredBudget(action)
        return self._scopes[action]

    def hashed(self, scope: str, value: str) -> str:
        return hmac.new(self._id_key, f"{scope}:{value}".encode(), hashlib.sha256).hexdigest()[:24]

    def _counters(self, venue: str, action: str, who: Mapping[str, Ids]
                  ) -> tuple[list[str], list[str], list[object]]:
        """(budget names, their counter keys, per counter: name, default count, default window) of the
        budgets of `action` whose scope `who` names (the venue scope needs no id), one counter per id."""
        keys = BudgetKeys(venue)
        names, counters, args = [], [], []
        for scope in self.scopes(action):
            name = f"{action}.{scope}"
            count, window = self.defaults[name]
            for value in _ids(venue if scope == "venue" else who.get(scope)):
                names.append(name)
                counters.append(keys.counter(name, self.hashed(scope, value)))
                args += [name, count, window]
        return names, counters, args

    def spend(self, venue: str, action: str, who: Mapping[str, Ids], cost: int = 1,
              now: float | None = None, check_only: bool = False) -> Refusal | None:
        """Spend `cost` on every budget of `action` whose scope `who` names (the venue scope needs no
        id): None when all had room (all spent), else the first refusal (nothing spent): a cost beyond a budget's
        whole count first (`Refusal.never`), whatever the counters hold. A scope may name several ids (one person's
        identities): each is counted, and each must have room. `check_only`: the same answer, nothing spent (room
        for an action whose cost is known only later)."""
        names, counters, args = self._counters(venue, action, who)
        if not counters:
            return None
        now_arg = "" if now is None else repr(now)  # none: the store's clock (SPEND_LUA)
        refused = self._spend(keys=[BudgetKeys(venue).config(), *counters],
                              args=[now_arg, int(cost), "0" if check_only else "1", *args])
        if not refused:
            return None
        most = int(refused[2]) if len(refused) > 2 else None
        return Refusal(names[int(refused[0]) - 1], int(refused[1]), most)

    def give_back(self, venue: str, action: str, who: Mapping[str, Ids], cost: int,
                  now: float | None = None) -> None:
        """Take `cost` back off the budgets a `spend` with the same `who` counted it on, for an action that
        then did not happen (never below zero)."""
        names, counters, args = self._counters(venue, action, who)
        if counters and cost > 0:
            pairs = [x for name, window in zip(names, args[2::3], strict=True) for x in (name, window)]
            self._give_back(keys=[BudgetKeys(venue).config(), *counters],
                            args=["" if now is None else repr(now), int(cost), *pairs])

    def limits(self, venue: str) -> dict[str, tuple[tuple[int, int], bool]]:
        """Every budget's (count, window) for this venue, and whether the venue overrides the default."""
        overrides = {k.decode(): v.decode() for k, v in self.db.hgetall(BudgetKeys(venue).config()).items()}
        out = {}
        for name, default in sorted(self.defaults.items()):
            raw = overrides.get(name)
            out[name] = (parse_budget(raw), True) if raw else (default, False)
        return out

    def set_limit(self, venue: str, name: str, limit: tuple[int, int] | None) -> None:
        """Override a budget for this venue (None: back to the default). KeyError for an unknown name."""
        if name not in self.defaults:
            raise KeyError(name)
        key = BudgetKeys(venue).config()
        if limit is None:
            self.db.hdel(key, name)
        else:
            self.db.hset(key, name, f"{int(limit[0])}/{int(limit[1])}")


    def set_action_limit(self, venue: str, action: str, limit: tuple[int, int] | None) -> None:
        """Every scope of `action` at once (e.g. a load test, or an event where a whole crowd shares one
        address behind a NAT)."""
        for scope in self.scopes(action):
            self.set_limit(venue, f"{action}.{scope}", limit)


class OverBudget(HTTPException):
    """An action over one of its budgets: 429 with Retry-After; a cost no wait makes room for (`Refusal.never`) 422,
    or 403 where the operator set the budget to 0. The handler below words it."""

    code = 429

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.budget)
        self.refusal = refusal
        self.code = refusal.status


def budget_store(app: Flask | None = None) -> BudgetStore:
    return (app or current_app).extensions[EXTENSION]


def address_key(address: str | None, own_networks: Sequence[IPNetwork] = ()) -> str:
    """The one id an address is counted under (budgets here, the console login throttle): an IPv6 address
    by its /64, since SLAAC and privacy addresses let one phone take any address of its /64 and a host
    is routed a whole /64, so per address would be no limit; but by itself inside `own_networks` (the
    venue's guest WiFi, its `client_networks`), where every phone shares the venue's /64 and each has its
    own addresses: there the /64 would be one budget for the whole crowd, and what holds back a phone taking
    new addresses is its device budget (where a gateway vouched for it) and the action's shared ceilings (per
    offer, per venue; see the module docstring); an IPv4-mapped IPv6 address (a dual-stack socket) as its IPv4
    address; IPv4 as it is. Anything else (no address, a Unix socket): itself."""
    ip = client_address((address or "").split("%", 1)[0])  # a zone (fe80::1%eth0) is no part of it
    if ip is None:
        return address or "-"
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in network for network in own_networks):
            return str(ip)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


# The widest IPv4 network of a venue's `client_networks` whose addresses count as a mall's shared NAT addresses: a
# mall's egress is a handful of addresses; a wider public network named there (an ISP's block, 0.0.0.0/0) would
# make every internet client of the venue "shared", counted only by the crowd's budgets.
SHARED_PREFIX_MIN = 24
def shared_address(address: str | None, own_networks: Sequence[IPNetwork]) -> bool:
    """Whether `address` is a shared one, counted by the crowd-sized `.egress` budgets instead of the per-address
    ones (see the module docstring): an IPv4 address (or an IPv4-mapped one) inside a network of at most 256
    addresses of `own_networks` (the venue's `client_networks`) that is no address of the premises' own kind
    (`on_premises`: private, CGNAT, link-local, loopback), so the mall's public NAT address, at which a portal
    hosted outside sees every phone of the mall."""
    if not public_ipv4(address):
        return False
    ip = client_address(address)
    return any(ip in network for network in own_networks
               if isinstance(network, ipaddress.IPv4Network) and network.prefixlen >= SHARED_PREFIX_MIN)


def public_ipv4(address: str | None) -> bool:
    """Whether `address` is an IPv4 (or IPv4-mapped) address of no premises' kind (`on_premises`): a shared
    address wherever a venue's `client_networks` names it (`shared_address`)."""
    ip = client_address(address)
    return isinstance(ip, ipaddress.IPv4Address) and not on_premises(str(ip))


def client_ip(venue: str | None = None) -> str:
    """This request's client address as the venue's budgets count it (`address_key`, the venue's own guest
    networks from its `client_networks` setting)."""
    return address_key(request.remote_addr, guest_networks(venue) if venue else ())


def guest_networks(venue: str) -> Sequence[IPNetwork]:
    """The venue's `client_networks`, through the captive portal's short memo (none where it is not loaded)."""
    captive = current_app.extensions.get("captive")
    return captive.landing.client_networks(venue) if captive is not None else ()


def _requester(action: str, venue: str, shopper: str | None) -> dict[str, str | None]:
    """The scopes every spend of this request names: the client address (`egress` instead at a `shared_address`),
    the shopper, and (for an action with a device budget) her device, when this request's token is hers and the
    gateway vouched for its phone."""
    current = current_shopper() if shopper and "device" in budget_store().scopes(action) else None
    mine = current is not None and current.venue == venue and current.client == shopper
    networks = guest_networks(venue)  # read once: the address's key and whether it is shared both need them
    address = address_key(request.remote_addr, networks)
    shared = shared_address(request.remote_addr, networks)
    return {"ip": None if shared else address, "egress": address if shared else None, "shopper": shopper,
            "device": current.own_phone if mine else None}


def spend_budget(action: str, venue: str, *, shopper: str | None = None, cost: int = 1, **scopes: str | None) -> None:
    """Count one `action` (or `cost` units of it) for this request's client IP (or its shared address), the
    shopper, her device and any other scope given (phone=, plate=, offer=); raise OverBudget if any budget has no
    room (then nothing is counted)."""
    refusal = budget_store().spend(venue, action, {**_requester(action, venue, shopper), **scopes}, cost)
    if refusal is not None:
        raise OverBudget(refusal)


def budget_room(action: str, venue: str, *, shopper: str | None = None, cost: int = 1, **scopes: str | None) -> None:
    """Raise OverBudget where `spend_budget` with the same arguments would; spend nothing."""
    refusal = budget_store().spend(venue, action, {**_requester(action, venue, shopper), **scopes}, cost,
                                   check_only=True)
    if refusal is not None:
        raise OverBudget(refusal)


def give_back_budget(action: str, venue: str, *, shopper: str | None = None, cost: int = 1,
                     **scopes: str | None) -> None:
    """Give back what `spend_budget` with the same arguments counted, for an action that then did not happen
    (e.g. seats spent for a hold someone else's hold beat in the instant between)."""
    budget_store().give_back(venue, action, {**_requester(action, venue, shopper), **scopes}, cost)


def wait_text(seconds: int) -> str:
    if seconds < 120:
        return _("Please try again in %(n)d seconds.", n=seconds)
    if seconds < 7200:
        return _("Please try again in %(n)d minutes.", n=-(-seconds // 60))
    return _("Please try again in %(n)d hours.", n=-(-seconds // 3600))


def refusal_text(refusal: Refusal) -> str:
    """What a 429 of the budgets says before the wait: a budget of the one asking, that she asked too often; a
    ceiling the crowd shares, only that it is in demand."""
    if refusal.by_client:
        return _("Too many requests from this device, number or place for now.")
    return _("This is in great demand just now.")


def never_text(refusal: Refusal) -> str:
    """What a refusal no wait ends says (`Refusal.never`): how many fit, or that the action is switched off."""
    if not refusal.most:
        return _("This is switched off here for now.")
    return _("That is more than can be taken here at once: at most %(n)d.", n=refusal.most)


def over_budget_words(refusal: Refusal) -> str:
    """What the refusal's page says (`OverBudget`'s handler), for a page that shows it by its own form instead."""
    if refusal.never:
        return never_text(refusal)
    return f"{refusal_text(refusal)} {wait_text(refusal.retry_after_s)}"


def too_many(message: str, wait: int):
    """The one 429 page: `message`, how long to wait, Retry-After, never cached."""
    return error_response(429, message + " " + wait_text(wait),
                          headers={"Retry-After": str(wait), "Cache-Control": "no-store"})


def init_budgets(flask_app: Flask, db: redis.Redis, defaults: Mapping[str, tuple[int, int]], id_key: str) -> None:
    """The process's budget store and the 429 answer (the `flask budgets` commands: portal/cli.py, which may
    write the audit log: portal.auth imports this module)."""
    flask_app.extensions[EXTENSION] = BudgetStore(db, defaults, id_key)

    @flask_app.errorhandler(OverBudget)
    def _over_budget(exc: OverBudget):
        if exc.refusal.never:
            return error_response(exc.code, never_text(exc.refusal), headers={"Cache-Control": "no-store"})
        return too_many(refusal_text(exc.refusal), exc.refusal.retry_after_s)
