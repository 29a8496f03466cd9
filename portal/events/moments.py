"""Moments: rules that act on the event log. A rule is a trigger (arrive, enter a zone, dwell >= N min,
leave, return after >= N days, first visit) with conditions (zone, hours of the day in the venue's zone,
member tiers) and one action (an offer shown on the shopper's next page, a notification through the
outbox, a signed webhook to the mall's CRM), limited per phone per day (cap), by a cooldown (default 12 h,
Meridian's) and by a global budget per rule. Across rules: a venue has at most MAX_RULES_PER_VENUE rules and a
zone owner makes at most MAX_RULES_PER_OWNER (`MomentsEngine.add`), and one shopper gets at most the
"moments.notify.shopper" budget's notifications a day from all of them (MESSAGES: the abuse budgets, which an
operator sets per venue with `flask budgets set`), counted against every identity known for her (`message_ids`:
each captive landing mints her a new shopper id, her phone and member number stay).

Consent is not a rule's option: every action reaches or names a known shopper for marketing (the offer and
the notification contact her, the webhook hands her id to the CRM), so every rule needs her marketing
consent, and a rule her whereabouts trigger (arrive, zone entry, dwell, leave) her location consent too
(portal/consent.py: location-based use needs its own consent). `purposes` says which; `may_reach` is the
one check the engine, the preview, a replay, each webhook try and the offers shown all apply. A rule that
acted on nobody known (a pure count) would need neither, but counting is what the k-anonymous insights are for.

- `rule_hits` (pure) says whether an event triggers a rule; `preview` replays a day's events through it
  with the caps and cooldowns kept in memory (how many phones it would have hit yesterday);
- `MomentsEngine.run_once` reads the venue's stream through the consumer group "moments" (each event once;
  a crash re-reads what it did not ack), checks the limits atomically (one Lua script: budget, cap,
  cooldown, then count) and acts; every firing is a delivery in the log the operator searches and replays
  (a replay asks consent again, and an offer or notification replayed is a firing: limits and all);
- erasure (`forget`): every record naming a person is listed in their `refs` set as it is written (caps,
  deliveries, a phone's link to them), so it is found and removed without scanning;
- webhooks: POST of a JSON body signed `X-MallPortal-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
  "<t>.<body>" with the venue's webhook secret>`, retried with exponential backoff (30 s, 1, 2, 4, 8 min)
  up to MAX_ATTEMPTS, then failed (replay re-sends it). Each try asks consent again (`may_reach`: she may
  have withdrawn since it was queued; then it is skipped, never sent), and its outcome is written only onto
  a delivery that still exists (an erasure during the HTTP call stays done). A redirect is not followed (a
  failed try: the POST would go on as a bodiless GET, to a URL nobody checked). The tracker's sweep only
  hands them to the engine's own thread (`WebhookSender`): a receiver that never answers never holds up
  positioning, and costs that thread one timeout per BACKOFF_S (its other webhooks wait, no try counted).

"Dwell >= N" fires during the stay, once per stay, when the shopper has been in the zone N minutes: the
engine keeps the presence script's dwell marks (EventLog.set_dwell_marks) to its active dwell rules' N, and
the script emits a `dwell` event as a sighting shows the stay passed a mark.

"First visit" and "return after >= N days" are about a durable identity, never a phone (a client id is a
MAC's hash, and phones randomise MACs): a member, else the shopper token the shopper keeps (cookie or
link). An identity shows itself by a transaction (as for the insights' new vs repeat: a captive landing
always hands out a fresh token, a partner-link click identifies nobody); a visit of that identity starts
at its phone's arrival (or at the transaction, when no phone is known). `VisitBook` keeps who visited when:
in memory for the preview, in the venue's hashes for the engine (the same `observe` for both), where a
member's latest visit is kept VISIT_KEPT_S and an anonymous shopper's only as long as her shopper token
lives (`StoredVisitBook`)."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import os
import secrets
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import redis

from core.errors import N_, CatalogInputError
from core.storage import VenueKeys
from portal.events.insights import k_safe
from portal.events.log import Event, EventLog
from portal.events.people import (
    MEMBER,
    SHOPPER,
    MemberOf,
    durable_identity_of,
    is_identity,
    member_ref,
    ref_name,
    shopper_ref,
)
from portal.notify.outbox import NEEDS_CONSENT

log = logging.getLogger(__name__)

TRIGGERS = ("arrive", "zone_enter", "dwell", "leave", "return", "first_visit")
ZONE_TRIGGERS = ("zone_enter", "dwell")
LOCATION_TRIGGERS = ("arrive", "zone_enter", "dwell", "leave")  # fired by where the phone is
ACTIONS = ("offer", "notify", "webhook")
TIERS = ("silver", "gold", "platinum")
GROUP = "moments"
COOLDOWN_S = 12 * 3600
MAX_ATTEMPTS = 6
BACKOFF_S = 30.0
LOG_KEPT = 10_000
OFFER_TTL_S = 86400
VISIT_KEPT_S = 400 * 86400  # a member's latest visit: `return` looks back up to 365 days (parse_rule), plus a margin
# An anonymous shopper's ("s:<shopper id>"): her id comes back only through one of her shopper tokens, which
# expire SHOPPER_TOKEN_TTL_S (default 30 days) after their last use (StoredVisitBook)
SHOPPER_VISIT_KEPT_S = 30 * 86400
TIER_KEPT_S = 30 * 86400  # a phone's member tier, from its latest member event: a tier rule's later events
SIGNATURE_HEADER = "X-MallPortal-Signature"
DELIVERY_KEPT_S = 30 * 86400
REF_TTL_S = DELIVERY_KEPT_S + 86400  # outlives everything a reference points at (deliveries: 30 days)
# A phone's field naming a person (`shoppers`, `arrivals`) lives a day, and its reference this much longer: each
# captive probe lands a new shopper, whose reference (a key of its own) must not stay REF_TTL_S for nothing
REF_MARGIN_S = 3600
CLAIM_IDLE_MS = 120_000  # a pending batch this old was left by a dead tracker: another one takes it over
GONE_IDLE_MS = 24 * 3600 * 1000  # a consumer that has not read for a day, with nothing pending: its process is gone
PRUNE_EVERY_S = 600  # how often one engine looks for such consumers, per venue
GENERIC_TITLE = ("News from the mall", "商场消息")  # a notification's title when the venue has no name
DONE_TTL_S = 2 * 86400  # a (rule, event) done-marker: far longer than an event stays pending
# Rules a venue may have (the operator's and its owners' together) and a zone owner may make (paused ones count:
# an owner deletes a rule to make room). Every active rule is checked against every event of the venue.
MAX_RULES_PER_VENUE = 200
MAX_RULES_PER_OWNER = 10
# The abuse budget (portal/apps/budgets.py, core/settings.py "moments.notify.shopper") of notifications one
# shopper gets from the venue's rules together, per day, counted per person (`message_ids`): each rule's cap and
# cooldown count that rule alone.
MESSAGES = "moments.notify"
SENDING_S = 120.0  # a webhook being tried stays listed as due this much later (`_CLAIM`): far over a try's timeouts



class RuleError(CatalogInputError):
    """Bad rule input: `field` names it; `template` is the catalog message (%(label)s stands for the field)
    and `params` its values: the console shows `_(template, label=<the field's label>, **params)`; `str()` is
    the English "<field>: <message>"."""

    template = "{field}: {message}"  # str()'s format (InputError); the instance's `template` is the msgid


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    trigger: str
    action: str
    zone: str | None = None  # zone_enter / dwell: the zone (None: any zone)
    dwell_min: int = 0
    return_days: int = 0
    hours: tuple[int, int] | None = None  # [from, to) local hours; from > to wraps past midnight
    tiers: tuple[str, ...] = ()  # member tiers (empty: anyone)
    message_en: str = ""
    message_zh: str = ""
    webhook_url: str = ""
    cap_per_day: int = 1
    cooldown_s: int = COOLDOWN_S
    budget: int = 0  # fires in all (0: no limit)
    owner: str = ""  # the account that made it (owners: their zones only)
    active: bool = True
    created_at: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> Rule:
        data = json.loads(raw)
        data["hours"] = tuple(data["hours"]) if data.get("hours") else None
        data["tiers"] = tuple(data.get("tiers") or ())
        data.pop("consent", None)  # an option once; now always required (`purposes`)
        return cls(**data)


def purposes(rule: Rule) -> tuple[str, ...]:
    """What a shopper must have agreed to for `rule` to act on her (module docstring)."""
    return ("marketing", "location") if rule.trigger in LOCATION_TRIGGERS else ("marketing",)


def may_reach(rule: Rule, consent: Consent | None, venue: str, device: str | None, shopper: str | None) -> bool:
    """Whether `rule` may act on this shopper: known and agreeing to its `purposes` (no consent store: yes)."""
    return consent is None or (shopper is not None and consent(venue, device, shopper, purposes(rule)))


def _int(form, name: str, low: int, high: int, default: int) -> int:
    raw = str(form.get(name, "") or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise RuleError(name, N_("%(label)s must be a whole number from %(low)d to %(high)d."), low=low, high=high)
    return int(raw)


# Host names that only ever mean this machine or the local network (a metadata service included).
INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


def internal_host(host: str) -> bool:
    """Whether a URL's host names this machine or an internal network: a loopback, private, link-local (the
    cloud metadata address 169.254.169.254, fe80::), shared or reserved address, written in any form the
    resolver takes (127.1, 2130706433, 0x7f.0.0.1, ::ffff:127.0.0.1), or a name that only resolves inside
    (localhost, *.internal, a single label: the resolver's search domain). A public name that resolves to an
    internal address is not caught here: save time cannot know what a name will resolve to when sent."""
    host = host.strip("[]").rstrip(".").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))  # the legacy forms getaddrinfo accepts
        except OSError:
            return host == "localhost" or "." not in host or host.endswith(INTERNAL_SUFFIXES)
    mapped = getattr(address, "ipv4_mapped", None)
    return not (mapped or address).is_global


def check_webhook_url(field: str, url: str, allow_private: bool) -> None:
    """RuleError(field) unless `url` is an http(s) URL a webhook may be POSTed to: not an internal address
    (`internal_host`), which would let a console account make the server call into its own network, unless
    `allow_private` (settings WEBHOOK_ALLOW_PRIVATE: a CRM on the mall's own network, tests' receivers)."""
    parts = urlsplit(url)
    try:
        host = parts.hostname
    except ValueError:  # a malformed bracketed host
        host = None
    if parts.scheme not in ("http", "https") or not host or len(url) > 500:
        raise RuleError(field, N_("%(label)s must be an http(s) URL."))
    if not allow_private and internal_host(host):
        raise RuleError(field, N_("%(label)s names an internal address (%(host)s): webhooks go only to public "
                                  "addresses."), host=host[:100])


def parse_rule(form, *, zones: Iterable[str], owner: str, may_webhook: bool, owner_zones: Iterable[str] | None = None,
               rule_id: str | None = None, now: float | None = None, allow_private: bool = False) -> Rule:
    """A rule from a console form; RuleError(field, message) for the first bad field. `owner_zones`: a zone
    owner's zones (the rule must be about one of them); `may_webhook`: operators only; `allow_private`:
    a webhook may go to an internal address (`check_webhook_url`)."""
    name = str(form.get("name", "")).strip()[:80]
    if not name:
        raise RuleError("name", N_("Give the rule a name."))
    trigger, action = form.get("trigger", ""), form.get("action", "")
    if trigger not in TRIGGERS:
        raise RuleError("trigger", N_("Choose when the rule acts."))
    if action not in ACTIONS or (action == "webhook" and not may_webhook):
        raise RuleError("action", N_("That is not an action you may use."))
    zone = str(form.get("zone", "") or "").strip() or None
    if zone is not None and zone not in set(zones):
        raise RuleError("zone", N_("No such zone."))
    if owner_zones is not None and (trigger not in ZONE_TRIGGERS or zone not in set(owner_zones)):
        raise RuleError("zone", N_("A zone owner's rule must be about entering or staying in one of their zones."))
    if zone is not None and trigger not in ZONE_TRIGGERS:
        raise RuleError("zone", N_("Only zone entry and dwell rules name a zone."))
    hours = None
    if str(form.get("hour_from", "")).strip() or str(form.get("hour_to", "")).strip():
        hours = (_int(form, "hour_from", 0, 23, 0), _int(form, "hour_to", 0, 24, 24))
        if hours[0] == hours[1]:
            raise RuleError("hour_to", N_("The hours must not be an empty window."))
    chosen = form.getlist("tiers") if hasattr(form, "getlist") else form.get("tiers", ())
    tiers = tuple(t for t in TIERS if t in chosen)
    url = str(form.get("webhook_url", "") or "").strip()
    if action == "webhook":
        check_webhook_url("webhook_url", url, allow_private)
    message_en = str(form.get("message_en", "")).strip()[:300]
    if action != "webhook" and not message_en:
        raise RuleError("message_en", N_("Write the message the shopper sees."))
    return Rule(
        id=rule_id or secrets.token_hex(4), name=name, trigger=trigger, action=action, zone=zone,
        dwell_min=_int(form, "dwell_min", 1, 600, 10) if trigger == "dwell" else 0,
        return_days=_int(form, "return_days", 1, 365, 7) if trigger == "return" else 0,
        hours=hours, tiers=tiers,
        message_en=message_en, message_zh=str(form.get("message_zh", "")).strip()[:300],
        webhook_url=url if action == "webhook" else "", cap_per_day=_int(form, "cap_per_day", 0, 100, 1),
        cooldown_s=_int(form, "cooldown_h", 0, 24 * 30, COOLDOWN_S // 3600) * 3600,
        budget=_int(form, "budget", 0, 10_000_000, 0), owner=owner, active=True,
        created_at=time.time() if now is None else now)


def _in_hours(hours: tuple[int, int] | None, hour: int) -> bool:
    if hours is None:
        return True
    start, end = hours
    return start <= hour < end if start < end else (hour >= start or hour < end)


def rule_hits(rule: Rule, event: Event, *, visit: Visit, tier: str | None, tz: ZoneInfo) -> bool:
    """Whether `event` triggers `rule` (its trigger and conditions; not the limits, not consent).
    `visit`: what `observe` said of the event (first visit, return); `tier`: the member tier, if known."""
    kind, t = event.kind, rule.trigger
    if t == "arrive":
        hit = kind == "arrive"
    elif t == "first_visit":
        hit = visit.new and visit.previous is None
    elif t == "return":
        hit = visit.new and visit.previous is not None and event.at - visit.previous >= rule.return_days * 86400
    elif t == "zone_enter":
        hit = kind == "zone_enter" and (rule.zone is None or rule.zone == event.zone)
    elif t == "dwell":
        hit = (kind == "dwell" and (rule.zone is None or rule.zone == event.zone)
               and int(event.data.get("min", -1)) == rule.dwell_min)
    else:
        hit = kind == "leave"
    if not hit or not _in_hours(rule.hours, datetime.fromtimestamp(event.at, tz).hour):
        return False
    return not rule.tiers or tier in rule.tiers


def within_limits(rule: Rule, *, used: int, today: int, last: float | None, now: float) -> str:
    """OK, or why not: BUDGET | CAP | COOLDOWN (the Lua script below decides the same, atomically)."""
    if rule.budget and used >= rule.budget:
        return "BUDGET"
    if rule.cap_per_day and today >= rule.cap_per_day:
        return "CAP"
    if last is not None and now - last < rule.cooldown_s:
        return "COOLDOWN"
    return "OK"


@dataclass
class Preview:
    phones: int = 0
    fires: int = 0
    refused: dict[str, int] = field(default_factory=dict)


def subject_of(rule: Rule, event: Event, visit: Visit) -> str | None:
    """Whom a rule's caps and cooldowns count: the most lasting id known for her. The phone, but a member for
    first visit / return; an anonymous identity ("s:") only without a phone: each captive landing mints a new
    shopper id (the iOS captive mini-browser keeps no cookies), so one phone would have a cap per landing."""
    if rule.trigger in ("first_visit", "return") and visit.identity and visit.identity.startswith(MEMBER):
        return visit.identity
    return event.device or visit.identity


def _with_dwell_marks(rule: Rule, events: Iterable[Event]) -> list[Event]:
    """For a dwell rule's preview: the `dwell` event each stay that reached N minutes would have had (from
    its zone_leave: the rule may be newer than the marks the presence script had then)."""
    if rule.trigger != "dwell":
        return list(events)
    mark, out = rule.dwell_min * 60, []
    for e in events:
        if e.kind == "dwell":
            continue
        if e.kind == "zone_leave" and float(e.data.get("dwell_s", 0)) >= mark - 0.05:
            out.append(Event("dwell", e.at - float(e.data["dwell_s"]) + mark, e.venue, e.device, e.shopper, e.zone,
                             {"min": rule.dwell_min, "dwell_s": float(mark)}))
        out.append(e)
    return out


def message_ids(shopper: str, *known: str | None) -> tuple[str, ...]:
    """The ids a notification to `shopper` counts against in the venue's MESSAGES budget, as `ref_name` spells
    them: her shopper id and the others `known` (her phone, her member number). Each captive landing mints a new
    shopper id, so her phone (or member number) is what keeps one day's count hers; a new phone (a new MAC) with
    her member number is still her."""
    return tuple(sorted({shopper_ref(shopper), *(k for k in known if k)}))


def landing_of(event: Event) -> tuple[str, str] | None:
    """(phone, shopper) when the event is a landing that tells whose phone it is: the engine and the preview
    then reach that shopper through the phone's later events for a day (OFFER_TTL_S)."""
    if event.device is not None and event.kind == "landing" and event.shopper:
        return event.device, event.shopper
    return None


def preview(rule: Rule, events: Iterable[Event], since: float, until: float, tz: str = "UTC", *,
            venue: str = "", consent: Consent | None = None) -> Preview:
    """How the rule would have fired over [since, until) (yesterday): phones (or identities) hit and fires,
    with its caps and cooldowns (the budget as if untouched), counting only the shoppers the engine could
    have reached (`landing_of`, `may_reach` with today's `consent` answers). `events` may start earlier
    (first visit, return); the last max(cooldown, a day) before `since` is replayed too, its fires only
    setting the cooldowns and caps the day starts with (as the engine's state would have), never counted."""
    zone, out, book = ZoneInfo(tz), Preview(), VisitBook()
    carried_from = since - max(rule.cooldown_s, 86400)
    tiers: dict[str, str] = {}
    landed: dict[str, tuple[str, float]] = {}  # phone -> (shopper, when): the engine's `shoppers` hash
    counts: dict[tuple[str, str], int] = {}
    last: dict[str, float] = {}
    hit: set[str] = set()
    for e in sorted(_with_dwell_marks(rule, events), key=lambda e: e.at):
        if e.device and e.data.get("tier"):
            tiers[e.device] = str(e.data["tier"])
        if e.at >= until:
            continue
        if link := landing_of(e):
            landed[link[0]] = (link[1], e.at)
        visit = observe(book, e)
        subject = subject_of(rule, e, visit)
        if subject is None or e.at < carried_from:
            continue
        if not rule_hits(rule, e, visit=visit, tier=tiers.get(e.device or ""), tz=zone):
            continue
        seen = landed.get(e.device or "")
        shopper = e.shopper or (seen[0] if seen and e.at - seen[1] < OFFER_TTL_S else None)
        counted = e.at >= since  # before: only the state the day starts with
        verdict = "OK" if may_reach(rule, consent, venue, e.device, shopper) else "CONSENT"
        day = datetime.fromtimestamp(e.at, zone).strftime("%Y%m%d")
        if verdict == "OK":
            verdict = within_limits(rule, used=out.fires, today=counts.get((subject, day), 0),
                                    last=last.get(subject), now=e.at)
        if verdict != "OK":
            if counted:
                out.refused[verdict] = out.refused.get(verdict, 0) + 1
            continue
        counts[(subject, day)] = counts.get((subject, day), 0) + 1
        last[subject] = e.at
        if counted:
            out.fires += 1
            hit.add(subject)
    out.phones = len(hit)
    return out


# ---- the store -------------------------------------------------------------------------------------


class MomentKeys(VenueKeys):
    def rules(self) -> str:
        return self.key("mom", "rules")

    def used(self) -> str:
        """Hash: rule -> fires so far (the budget's count)."""
        return self.key("mom", "used")

    def fired_for(self, rule: str) -> str:
        """HyperLogLog: the people (phones or identities) the rule fired for, counted so that a count of
        firings shown to a zone owner stands on at least k people (one phone can fire a rule many times)."""
        return self.key("mom", "who", rule)

    def today(self, rule: str, day: str) -> str:
        """Hash: phone -> fires of the rule that day."""
        return self.key("mom", "cap", rule, day)

    def last(self, rule: str) -> str:
        """Hash: phone -> when the rule last fired for it (fields expire with the cooldown)."""
        return self.key("mom", "last", rule)

    def visits(self) -> str:
        """Hash: durable identity ("m:<member>" | "s:<shopper id>") -> the start of its latest visit (fields
        expire: StoredVisitBook.kept_s)."""
        return self.key("mom", "visit")

    def arrivals(self) -> str:
        """Hash: phone -> "<arrival>|<the identity that showed itself on this visit>" (VisitBook)."""
        return self.key("mom", "arr")

    def members(self) -> str:
        """Hash: shopper id -> member (from membership's transactions)."""
        return self.key("mom", "member")

    def occupancy_over(self) -> str:
        """Hash: zone -> 1 while its occupancy is at or above the alert threshold (an alert on crossing)."""
        return self.key("mom", "occ", "over")

    def occupancy_quiet(self, zone: str) -> str:
        """String with the alert cooldown as TTL: the zone's last alert."""
        return self.key("mom", "occ", "quiet", zone)

    def alert_url(self) -> str:
        """String: the webhook occupancy alerts are POSTed to (signed like the rules' webhooks)."""
        return self.key("mom", "alert_url")

    def shoppers(self) -> str:
        """Hash: phone -> the shopper id of its latest landing (offers and notifications reach them)."""
        return self.key("mom", "who")

    def tiers(self) -> str:
        """Hash: phone -> its member tier, from the phone's latest member event (fields expire: TIER_KEPT_S)."""
        return self.key("mom", "tier")

    def delivery(self, delivery_id: str) -> str:
        return self.key("mom", "dlv", delivery_id)

    def deliveries(self) -> str:
        """Sorted set: delivery id by creation time (the log; trimmed to LOG_KEPT)."""
        return self.key("mom", "log")

    def due(self) -> str:
        """Sorted set: webhook delivery id by when it is next tried."""
        return self.key("mom", "due")

    def offers(self, subject: str) -> str:
        """List: offers waiting for a phone or a shopper (JSON)."""
        return self.key("mom", "offers", subject)

    def secret(self) -> str:
        return self.key("mom", "secret")

    def refs(self, name: str) -> str:
        """Set: where the engine's records name a person (`ref_name`), for erasure: "c:<cap key>" (a field
        named after them), "d:<delivery id>" (a delivery naming them), "w:<phone>" (the phone's `shoppers` /
        `arrivals` field whose value names them). Lives as long as the longest-lived of them (`refer`): a day
        for a shopper who only landed, REF_TTL_S once a cap or a delivery names her."""
        return self.key("mom", "ref", name)

    def done(self, rule: str, event_id: str) -> str:
        """String (DONE_TTL_S): the rule fired on this event; a second delivery of the event (a crash before
        its XACK, a pending entry claimed by another tracker) is then a DUP, not a second firing."""
        return self.key("mom", "done", rule, event_id)


def firing_id(rule_id: str, event_id: str) -> str:
    """A firing's delivery id (also its outbox message id): derived from the rule and the event, so a repeat
    that got past the done-marker is still one delivery and one message downstream; random for a replay."""
    if not event_id:
        return secrets.token_hex(8)
    return hashlib.sha256(f"{rule_id}|{event_id}".encode()).hexdigest()[:16]


def refer(pipe: redis.client.Pipeline, key: str, entry: str, lasts_s: int) -> None:
    """`entry` added to the `refs` set `key`, which then lives at least `lasts_s` (at least as long as what the
    entry points at) and never less than it had: its other entries may point at longer-lived records."""
    pipe.sadd(key, entry)
    pipe.expire(key, lasts_s, nx=True)  # a new set: GT alone would leave it for good (no TTL counts as endless)
    pipe.expire(key, lasts_s, gt=True)


# KEYS: used, today, last, refs of the subject, the (rule, event) done-marker, the rule's people. ARGV: rule,
# subject, now, cap, cooldown, budget, ttl, reference to the today key, the references' TTL, the marker's TTL
# (0: no marker, a replay: a deliberate new firing). The marker is checked first and written with the counts,
# in one step.
_FIRE = """
local mark = tonumber(ARGV[10])
if mark > 0 and redis.call('EXISTS', KEYS[5]) == 1 then return 'DUP' end
local used = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local budget, cap, cooldown = tonumber(ARGV[6]), tonumber(ARGV[4]), tonumber(ARGV[5])
if budget > 0 and used >= budget then return 'BUDGET' end
local today = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0')
if cap > 0 and today >= cap then return 'CAP' end
local last = redis.call('HGET', KEYS[3], ARGV[2])
local now = tonumber(ARGV[3])
if last and now - tonumber(last) < cooldown then return 'COOLDOWN' end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[7]))
redis.call('PFADD', KEYS[6], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
if cooldown > 0 then redis.call('HEXPIRE', KEYS[3], cooldown, 'FIELDS', 1, ARGV[2]) end
redis.call('SADD', KEYS[4], ARGV[8])
redis.call('EXPIRE', KEYS[4], tonumber(ARGV[9]))
if mark > 0 then redis.call('SET', KEYS[5], '1', 'EX', mark) end
return 'OK'
"""

# A new rule, unless the venue has MAX_RULES_PER_VENUE or its owner (when counted) its most. KEYS: rules.
# ARGV: rule id, its JSON, owner, the owner's most (0: not counted), the venue's most. OK | VENUE | OWNER.
_ADD_RULE = """
local n, mine, most = 0, 0, tonumber(ARGV[4])
for _, raw in ipairs(redis.call('HVALS', KEYS[1])) do
  n = n + 1
  if most > 0 and cjson.decode(raw).owner == ARGV[3] then mine = mine + 1 end
end
if n >= tonumber(ARGV[5]) then return 'VENUE' end
if most > 0 and mine >= most then return 'OWNER' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'OK'
"""

# A rule changed only as it was read (compare and set). KEYS: rules. ARGV: rule id, the JSON read, the new one.
_SET_RULE = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""

# A rule deleted with its counts, only as it was read. KEYS: rules, used, the rule's people, its last firings.
# ARGV: rule id, the JSON read.
_DELETE_RULE = """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3], KEYS[4])
return 1
"""

# KEYS: HyperLogLogs; each one's count (PFCOUNT of several keys would count their union).
_COUNT_PEOPLE = """
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('PFCOUNT', key) end
return out
"""

# Erasure. KEYS: shoppers, arrivals, log, due, then the person's refs (n), the cap keys, the delivery keys.
# ARGV[1]: JSON {sizes: the refs' sizes as read (a reference added since: -1, read again), phones: whose
# shoppers / arrivals fields to check, shoppers / identities: the values that name the person (sets),
# fields: the names the cap hashes' fields may have, caps: how many cap keys, deliveries: their ids}.
_FORGET = """
local a = cjson.decode(ARGV[1])
local n = #a.sizes
for i = 1, n do
  if redis.call('SCARD', KEYS[4 + i]) ~= a.sizes[i] then return -1 end
end
local removed = 0
for _, phone in ipairs(a.phones) do
  local who = redis.call('HGET', KEYS[1], phone)
  if who and a.shoppers[who] then removed = removed + redis.call('HDEL', KEYS[1], phone) end
  local arrival = redis.call('HGET', KEYS[2], phone)
  local identity = arrival and string.match(arrival, '|(.+)$')
  if identity and a.identities[identity] then removed = removed + redis.call('HDEL', KEYS[2], phone) end
end
for i = 5 + n, 4 + n + a.caps do
  removed = removed + redis.call('HDEL', KEYS[i], unpack(a.fields))
end
for j, id in ipairs(a.deliveries) do
  removed = removed + redis.call('DEL', KEYS[4 + n + a.caps + j])
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZREM', KEYS[4], id)
end
for i = 1, n do redis.call('DEL', KEYS[4 + i]) end
return removed
"""

# A webhook's outcome (sent, retried, failed, skipped) or a replay's new try, written onto the delivery only
# while it still exists: an erasure that ran during the HTTP call (or the consent check) removed it, and the
# record read before must not bring it back (nor its place on the due list). KEYS: the delivery, due.
# ARGV: id, status, attempts, last_error, next_at, "1" to put it on the due list at next_at, else the score
# its claim (`_CLAIM`) listed it at ("": none): it leaves the due list only while still there (a replay
# queued during the try keeps its place).
_SETTLE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'attempts', ARGV[3], 'last_error', ARGV[4], 'next_at', ARGV[5])
if ARGV[6] == '1' then
  redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
elseif ARGV[7] ~= '' and tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '-1') == tonumber(ARGV[7]) then
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
"""

# A due webhook taken for a try (or put off), in one step: only while it is on the due list and due by `now`
# (no other sender took it), and then it stays listed at `until`: a sender that dies during the POST (its
# tracker stopped) leaves it to be tried again then, never lost. KEYS: due. ARGV: id, now, until.
_CLAIM = """
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not at or tonumber(at) > tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""

NO_CONSENT = "no consent"  # a skipped webhook's last_error: the shopper no longer agrees (or her rule is gone)


@dataclass(frozen=True)
class Delivery:
    id: str
    rule: str
    action: str
    status: str  # queued | delivered | retrying | failed | offered | notified | skipped | alerted
    body: str
    created: float
    attempts: int = 0
    next_at: float = 0.0
    last_error: str = ""
    url: str = ""
    subject: str = ""  # whom the rule's caps counted (a phone or an identity; a replay counts there too)

    @classmethod
    def from_hash(cls, raw: dict[bytes, bytes]) -> Delivery:
        s = {k.decode(): v.decode() for k, v in raw.items()}
        return cls(id=s["id"], rule=s["rule"], action=s["action"], status=s["status"], body=s["body"],
                   created=float(s["created"]), attempts=int(s.get("attempts", 0)), next_at=float(s.get("next_at", 0)),
                   last_error=s.get("last_error", ""), url=s.get("url", ""), subject=s.get("subject", ""))

    def names(self) -> set[str]:
        """The people it names (as `ref_name` does): the shopper and member in its body, its subject."""
        named = body_names(json.loads(self.body))
        if self.subject:
            named.add(ref_name(self.subject))
        return named


def body_names(body: dict) -> set[str]:
    """The people a delivery's body names: "s:<shopper>", "m:<member>" (as `ref_name` spells them)."""
    return {ref(body[field]) for ref, field in ((shopper_ref, "shopper"), (member_ref, "member")) if body.get(field)}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for a body sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance_s: float = 300) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    return abs(now - timestamp) <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), header)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Follows no redirect: urllib would re-send a POST answered 301/302/303 as a GET without its body (then
    logged delivered though the CRM never got the moment), and to a host the rule's URL check never saw."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: ANN001, ANN201 - urllib's signature
        return None  # urllib then raises the 3xx as an HTTPError: a failed try


_OPENER = urllib.request.build_opener(_NoRedirect)


def http_post(url: str, body: bytes, headers: dict[str, str], timeout_s: float = 5.0) -> tuple[bool, str]:
    """(delivered, error). A 2xx is delivered; anything else (an error status, a redirect, no answer) is
    retried. The error starts "HTTP " when the receiver answered (`answered`)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - http(s) only
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            return 200 <= response.status < 300, f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            location = str(exc.headers.get("Location", "")) if exc.headers else ""
            return False, f"HTTP {exc.code} (redirect not followed: {location[:200]})"
        return False, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        # HTTPException: an answer that is not HTTP (an http:// URL on a TLS port, a broken proxy): a counted,
        # failed try like any other, never an exception out of the sender (the claimed webhook would come back
        # for ever, no try counted)
        return False, exc.__class__.__name__


def answered(error: str) -> bool:
    """Whether a failed try's error (`http_post`'s) is the receiver's answer, not its silence (no connection,
    no reply in time): a silent receiver's other webhooks wait for the next pass (`deliver_due`)."""
    return error.startswith("HTTP ")


# ---- who is visiting: durable identities (first visit, return) --------------------------------------

IDENTIFYING = ("txn",)


def visit_identity(event: Event, member_of: MemberOf) -> str | None:
    """The durable identity an identifying event shows (`people.durable_identity_of`: a member or a shopper id,
    never a pseudonym); None for none. A partner-link click identifies nobody."""
    if event.kind not in IDENTIFYING or event.data.get("action") == "referral":
        return None
    return durable_identity_of(event, member_of)


class VisitBook:
    """Three tables: arrivals (phone -> "<arrival>|<identity that showed itself on this visit>"), visits
    (identity -> start of its latest visit), members (shopper id -> member). In memory; the engine's
    subclass keeps them in the venue's hashes."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, str]] = {"arrivals": {}, "visits": {}, "members": {}}

    def get(self, table: str, name: str) -> str | None:
        return self.tables[table].get(name)

    def put(self, table: str, name: str, value: str) -> None:
        self.tables[table][name] = value


@dataclass(frozen=True)
class Visit:
    identity: str | None = None
    new: bool = False  # the event is the first of a new visit of the identity
    previous: float | None = None  # the start of the identity's visit before (None: never seen)


def observe(book: VisitBook, event: Event) -> Visit:
    """Book the event (an arrival, a member's shopper id, an identity's visit) and say whether it starts a new
    visit of a durable identity (what first visit and return act on; once per phone visit)."""
    if event.kind == "arrive" and event.device:
        book.put("arrivals", event.device, f"{event.at!r}|")
        return Visit()
    if event.shopper and event.data.get("member"):
        book.put("members", event.shopper, str(event.data["member"]))
    identity = visit_identity(event, lambda shopper: book.get("members", shopper))
    if identity is None:
        return Visit()
    arrival, shown = None, ""
    if event.device and (raw := book.get("arrivals", event.device)):
        at, shown = raw.split("|", 1)
        arrival = float(at)
    start = arrival if arrival is not None else event.at
    raw_previous = book.get("visits", identity)
    previous = float(raw_previous) if raw_previous else None
    if previous is not None and start <= previous + 0.001:
        return Visit(identity)  # this visit was booked already
    book.put("visits", identity, repr(start))
    if arrival is not None:
        book.put("arrivals", event.device, f"{arrival!r}|{identity}")
    return Visit(identity, new=not shown, previous=previous)


# (venue, shopper, event, data, message id): the notification outbox's enqueue (portal/notify/outbox.py)
Notifier = Callable[[str, str, str, dict, str], object]
# (venue, device, shopper, purposes) -> the shopper agreed to every one of them (PrivacyStore.may_contact)
Consent = Callable[[str, str | None, str | None, tuple[str, ...]], bool]


class StoredVisitBook(VisitBook):
    """The engine's VisitBook: the venue's hashes, whose fields expire (`kept_s`): an arrival after a day; a
    member's visit ("m:") and a shopper's member after VISIT_KEPT_S (a member comes back whenever she likes,
    and `return` looks back up to 365 days); an anonymous shopper's visit ("s:") after `shopper_kept_s`, the
    shopper token lifetime. Her shopper id comes back only through one of her tokens, each gone that long
    after its last use, and most such ids never come back (a new phone, a fresh token per landing): kept
    400 days they filled the venue's one hash (about 3.8 million fields at 10,000 phones a day). The price:
    a shopper who kept her token alive by opening pages without a transaction for longer is new again (a
    first visit, never a return)."""

    TTL = {"arrivals": 86400, "visits": VISIT_KEPT_S, "members": VISIT_KEPT_S}

    def __init__(self, db: redis.Redis, venue: str, shopper_kept_s: int = SHOPPER_VISIT_KEPT_S) -> None:
        keys = MomentKeys(venue)
        self.db = db
        self.venue = venue
        self.keys = {"arrivals": keys.arrivals(), "visits": keys.visits(), "members": keys.members()}
        self.shopper_kept_s = min(int(shopper_kept_s), VISIT_KEPT_S)

    def kept_s(self, table: str, name: str) -> int:
        """How long a field of `table` named `name` is kept (the class docstring says why)."""
        if table == "visits" and name.startswith(SHOPPER):
            return self.shopper_kept_s
        return self.TTL[table]

    def get(self, table: str, name: str) -> str | None:
        raw = self.db.hget(self.keys[table], name)
        return raw.decode() if raw else None

    def put(self, table: str, name: str, value: str) -> None:
        pipe = self.db.pipeline(transaction=True)
        pipe.hset(self.keys[table], name, value)
        pipe.hexpire(self.keys[table], self.kept_s(table, name), name)
        identity = value.partition("|")[2] if table == "arrivals" else ""
        if identity:  # the phone's arrival names the identity: erasure must find it
            refer(pipe, MomentKeys(self.venue).refs(identity), "w:" + name, self.kept_s(table, name) + REF_MARGIN_S)
        pipe.execute()


class WebhookSender:
    """The webhooks' own daemon thread, started on the first request: the tracker's sweep (`tick`) names the
    venues with webhooks due and goes back to positioning phones, and this thread POSTs them (a receiver
    that never answers holds it for the 5 s timeout of a try, never the tracker), one pass per venue in
    turn (`deliver`: True when more are due, then the venue goes to the back of the line). A sender
    stopped mid-try (a daemon thread dies with its process) leaves the webhook claimed: tried again
    SENDING_S later (`_CLAIM`)."""

    def __init__(self, deliver: Callable[[str], bool]) -> None:
        self.deliver = deliver
        self._cond = threading.Condition()
        self._line: list[str] = []  # venues to deliver, each once, in the order asked
        self._busy = False
        self._thread: threading.Thread | None = None
        self._stopped = False  # stop(): the thread ends and none starts again

    def request(self, venue: str) -> None:
        with self._cond:
            if self._stopped:
                return  # closed: the webhooks stay due in the store, for a live process's sender
            if venue not in self._line:
                self._line.append(venue)
            if self._thread is None or not self._thread.is_alive():  # not started, or a forked child's
                self._thread = threading.Thread(target=self._run, name="moments-webhooks", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def wait_idle(self, timeout_s: float) -> bool:
        """Until nothing is asked or being sent; False when `timeout_s` passed first (tests)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._line and not self._busy, timeout_s)

    def stop(self, timeout_s: float) -> None:
        """End the thread (its app is closing) and wait up to `timeout_s` for a try in flight; none starts again.
        The venues still in line are dropped: their webhooks stay due in the store (another process delivers
        them), and one stopped mid-try stays claimed for SENDING_S, as when a process dies."""
        with self._cond:
            self._stopped = True
            self._line.clear()
            thread = self._thread
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._line or self._stopped)
                if self._stopped:
                    return
                venue, self._busy = self._line.pop(0), True
            more = self._pass(venue)
            with self._cond:
                if more and venue not in self._line and not self._stopped:
                    self._line.append(venue)
                self._busy = False
                self._cond.notify_all()

    def _pass(self, venue: str) -> bool:
        try:
            return self.deliver(venue)
        except Exception:  # the thread must outlive a store outage (the next tick asks again) or a bug
            log.exception("moments: webhook deliveries of %s failed", venue)
            return False


OCCUPANCY_COOLDOWN_S = 1800  # at most one alert per zone per half hour (crossing back and forth)
# venue -> (phones per zone now, staff left out; the zones' alert thresholds): portal/events/presence.py
Occupancy = Callable[[str, float], tuple[dict[str, int], dict[str, int]]]


class MessageBudget(Protocol):
    """What the engine needs of the abuse budgets (portal/apps/budgets.py BudgetStore)."""

    def spend(self, venue: str, action: str, who: Mapping[str, str | Collection[str] | None], cost: int = 1,
              now: float | None = None) -> object | None: ...

    def give_back(self, venue: str, action: str, who: Mapping[str, str | Collection[str] | None], cost: int,
                  now: float | None = None) -> None: ...


class MomentsEngine:
    def __init__(self, db: redis.Redis, events: EventLog, *, notifier: Notifier | None = None,
                 consent: Consent | None = None, send: Callable = http_post,
                 staff: Callable[[str], set[str]] | None = None, tz_of: Callable[[str], str] | None = None,
                 occupancy: Occupancy | None = None,
                 venue_names: Callable[[str], tuple[str, str] | None] | None = None,
                 shopper_kept_s: int = SHOPPER_VISIT_KEPT_S, messages: MessageBudget | None = None) -> None:
        self.db = db
        self.messages = messages  # notifications per shopper from all the venue's rules (MESSAGES); None: no limit
        self.shopper_kept_s = shopper_kept_s  # the shopper token lifetime: how long an "s:" visit is kept
        self.events = events
        self.notifier = notifier
        self.consent = consent
        self.occupancy = occupancy
        self.venue_names = venue_names  # venue -> (name, Chinese name): notifications' titles; None: generic
        self.staff = staff  # venue -> its staff phones (listed or detected: presence.StaffPhones): no moments
        self.tz_of = tz_of  # venue -> its time zone's name (hours of the day, caps per day): `time_zone`
        self.send = send
        self._fire = db.register_script(_FIRE)
        self._count_people = db.register_script(_COUNT_PEOPLE)
        self._forget = db.register_script(_FORGET)
        self._settle_script = db.register_script(_SETTLE)
        self._claim = db.register_script(_CLAIM)
        self._add_rule = db.register_script(_ADD_RULE)
        self._set_rule = db.register_script(_SET_RULE)
        self._delete_rule = db.register_script(_DELETE_RULE)
        self.sender = WebhookSender(self._deliver_pass)
        self._silent: dict[str, float] = {}  # receiver host -> until when its webhooks wait (no answer)
        self._consumer: tuple[int, str] = (0, "")
        self._pruned_at: dict[str, float] = {}  # venue -> when this engine last pruned its group's consumers

    # ---- rules ----
    def save(self, venue: str, rule: Rule) -> None:
        self.db.hset(MomentKeys(venue).rules(), rule.id, rule.to_json())
        self._sync_dwell_marks(venue)

    def _sync_dwell_marks(self, venue: str) -> None:
        """The presence script marks stays at the active dwell rules' N minutes (and only those)."""
        marks = {r.dwell_min for r in self.rules(venue) if r.active and r.trigger == "dwell"}
        self.events.set_dwell_marks(venue, marks)

    def rules(self, venue: str) -> list[Rule]:
        return sorted((Rule.from_json(v) for v in self.db.hvals(MomentKeys(venue).rules())),
                      key=lambda r: r.created_at)

    def rule(self, venue: str, rule_id: str) -> Rule | None:
        raw = self.db.hget(MomentKeys(venue).rules(), rule_id)
        return Rule.from_json(raw) if raw else None

    def add(self, venue: str, rule: Rule, *, owner_most: int = 0, venue_most: int | None = None) -> str:
        """A new rule, in one step with the count of the venue's rules and (`owner_most` > 0: a zone owner's)
        of its owner's: OK, or VENUE / OWNER when that many are there already (nothing stored)."""
        verdict = self._add_rule(keys=[MomentKeys(venue).rules()],
                                 args=[rule.id, rule.to_json(), rule.owner, owner_most,
                                       MAX_RULES_PER_VENUE if venue_most is None else venue_most])
        verdict = verdict.decode() if isinstance(verdict, bytes) else str(verdict)
        if verdict == "OK":
            self._sync_dwell_marks(venue)
        return verdict

    def _changed(self, venue: str, rule_id: str, owner: str | None, change: Callable[[bytes, Rule], bool],
                 zones: Collection[str] | None = None) -> str:
        """Read the rule, check it is `owner`'s (None: anyone's) and about one of `zones` (None: any zone), then
        `change(raw, rule)`, which applies only while the rule is as read (True) or answers False to read it
        again. OK | NONE | NOT_YOURS | ZONE (`owner`'s, about a zone not in `zones`)."""
        for _attempt in range(10):
            raw = self.db.hget(MomentKeys(venue).rules(), rule_id)
            if raw is None:
                return "NONE"
            rule = Rule.from_json(raw)
            if owner is not None and rule.owner != owner:
                return "NOT_YOURS"
            if zones is not None and rule.zone not in zones:
                return "ZONE"
            if change(raw, rule):
                self._sync_dwell_marks(venue)
                return "OK"
        raise RuntimeError("the rule kept changing")

    def set_active(self, venue: str, rule_id: str, active: bool, owner: str | None = None,
                   zones: Collection[str] | None = None) -> str:
        """Pause or resume a rule (only `owner`'s, when given; resumed only about one of `zones`, when given: a
        rule about a zone taken from its owner stays paused: ZONE): OK | NONE | NOT_YOURS | ZONE."""
        rules = MomentKeys(venue).rules()
        return self._changed(venue, rule_id, owner, lambda raw, rule: bool(self._set_rule(
            keys=[rules], args=[rule_id, raw, replace(rule, active=active).to_json()])),
            zones=zones if active else None)

    def delete(self, venue: str, rule_id: str, owner: str | None = None) -> str:
        """Delete a rule (only `owner`'s, when given) with its counts: OK | NONE | NOT_YOURS. Its deliveries stay
        in the log (a replay answers RULE); its daily caps expire on their own."""
        keys = MomentKeys(venue)
        return self._changed(venue, rule_id, owner, lambda raw, rule: bool(self._delete_rule(
            keys=[keys.rules(), keys.used(), keys.fired_for(rule_id), keys.last(rule_id)], args=[rule_id, raw])))

    def pause_owner(self, venue: str, owner: str, zones: Collection[str] | None = None) -> list[str]:
        """Pause `owner`'s active rules about these zones (None: all of them), the ids paused: a zone taken from its
        owner, or an account disabled, must not keep messaging shoppers; the owner resumes them (only about a zone
        it still runs: `set_active`)."""
        return [r.id for r in self.rules(venue) if r.owner == owner and r.active
                and (zones is None or r.zone in zones) and self.set_active(venue, r.id, False) == "OK"]

    def delete_for_zone(self, venue: str, zone: str) -> list[str]:
        """Delete every rule about `zone` (a zone deleted from the map: its rules must not act in a new zone
        given the same id); the ids deleted."""
        return [rule.id for rule in self.rules(venue)
                if rule.zone == zone and self.delete(venue, rule.id) == "OK"]

    def fired(self, venue: str) -> dict[str, int]:
        """Rule -> how many times it fired (its budget's count)."""
        return {k.decode(): int(v) for k, v in self.db.hgetall(MomentKeys(venue).used()).items()}

    def fired_people(self, venue: str, rule_ids: Sequence[str]) -> dict[str, int]:
        """Rule -> about how many people it fired for (a HyperLogLog's count: within about 1%, exact for
        small counts); 0 for a rule that never fired."""
        if not rule_ids:
            return {}
        keys = MomentKeys(venue)  # one script, each key counted alone (a cluster pipeline refuses PFCOUNT)
        counts = self._count_people(keys=[keys.fired_for(rule_id) for rule_id in rule_ids])
        return dict(zip(rule_ids, (int(n) for n in counts), strict=True))

    def webhook_secret(self, venue: str) -> str:
        """The venue's webhook signing secret (made once)."""
        key = MomentKeys(venue).secret()
        self.db.set(key, secrets.token_urlsafe(32), nx=True)
        return self.db.get(key).decode()

    # ---- the consumer ----
    def consumer(self) -> str:
        """This engine's consumer name in the group: its own per process (made again after a fork), so a
        second tracker never re-reads this one's in-flight batch; a dead one's is claimed after CLAIM_IDLE_MS."""
        pid = os.getpid()
        if self._consumer[0] != pid:
            self._consumer = (pid, f"engine-{socket.gethostname()}-{pid}-{secrets.token_hex(3)}")
        return self._consumer[1]

    def time_zone(self, venue: str) -> ZoneInfo:
        """The venue's zone, as every other part reads it: `tz_of` is the composition root's Services.time_zones
        (portal/captive/config.py VenueTimeZones, the one rule); an engine built without it (store-only tests)
        counts in UTC."""
        return ZoneInfo(self.tz_of(venue) if self.tz_of is not None else "UTC")

    def ensure(self, venue: str, start: str = "$") -> None:
        self.events.ensure_group(venue, GROUP, start)

    def run_once(self, venue: str, now: float | None = None, tz: str | None = None, batch: int = 500) -> int:
        """Process the events the group has not seen (up to `batch`), then deliver due webhooks here and now
        (the CLI, tests; the tracker's `tick` leaves them to the sender thread); returns how many events
        were processed."""
        n = self._consume(venue, tz, batch)
        self.deliver_due(venue, time.time() if now is None else now)
        return n

    def _consume(self, venue: str, tz: str | None, batch: int) -> int:
        """Process the events the group has not seen (up to `batch`); returns how many."""
        self.ensure(venue)
        rules = [r for r in self.rules(venue) if r.active]
        events = self.events.read_group(venue, GROUP, self.consumer(), count=batch, claim_idle_ms=CLAIM_IDLE_MS)
        self._prune_gone_consumers(venue)
        zone = ZoneInfo(tz) if tz else self.time_zone(venue)
        staff = self.staff(venue) if self.staff is not None else set()
        for event in events:
            if event.device not in staff:
                self._process(venue, event, rules, zone)
        self.events.ack(venue, GROUP, [e.id for e in events])
        return len(events)

    def _prune_gone_consumers(self, venue: str) -> None:
        if time.monotonic() - self._pruned_at.get(venue, -PRUNE_EVERY_S) < PRUNE_EVERY_S:
            return
        self._pruned_at[venue] = time.monotonic()
        self.events.prune_consumers(venue, GROUP, GONE_IDLE_MS, keep=self.consumer())

    def tick(self, venue: str, now: float | None = None, rounds: int = 20, batch: int = 500) -> int:
        """The tracker's sweep: the occupancy alerts, what arrived since the last tick (up to rounds x batch
        events); returns how many events. The webhooks due go to the sender thread (`WebhookSender`), never
        POSTed here: a receiver that never answers must not hold up the tracker's positioning."""
        now = time.time() if now is None else now
        if self.occupancy is not None:
            self.check_occupancy(venue, now)
        total = 0
        for _ in range(rounds):
            n = self._consume(venue, None, batch)
            total += n
            if n < batch:
                break
        if self.db.zcount(MomentKeys(venue).due(), "-inf", time.time()):
            self.sender.request(venue)
        return total

    def drain(self, venue: str, tz: str | None = None) -> int:
        total = 0
        while n := self.run_once(venue, tz=tz):
            total += n
        return total

    def _process(self, venue: str, event: Event, rules: list[Rule], tz: ZoneInfo) -> None:
        keys = MomentKeys(venue)
        device = event.device
        if link := landing_of(event):
            self._remember_shopper(venue, *link)
        if device is not None and event.data.get("tier"):
            pipe = self.db.pipeline(transaction=True)
            pipe.hset(keys.tiers(), device, str(event.data["tier"]))
            pipe.hexpire(keys.tiers(), TIER_KEPT_S, device)  # phones randomise MACs: the hash must not grow for good
            pipe.execute()
        visit = observe(StoredVisitBook(self.db, venue, self.shopper_kept_s), event)
        if not rules:
            return
        raw_tier = self.db.hget(keys.tiers(), device) if device is not None else None
        tier = raw_tier.decode() if raw_tier else None
        for rule in rules:
            subject = subject_of(rule, event, visit)
            if subject is None or not rule_hits(rule, event, visit=visit, tier=tier, tz=tz):
                continue
            shopper = self._shopper(venue, device, event)
            if not may_reach(rule, self.consent, venue, device, shopper):
                continue
            people = self._message_ids(venue, rule, shopper, ref_name(subject), device and ref_name(device),
                                       event.data.get("member") and member_ref(event.data["member"]))
            if people and not self._spend_message(venue, people):
                continue  # the shopper had the venue's notifications for the day
            if self._count(venue, rule, subject, event.at, tz, event.id) == "OK":
                self._act(venue, rule, event, device, shopper, subject)
            elif people:
                self._give_back_message(venue, people)

    def _message_ids(self, venue: str, rule: Rule, shopper: str | None, *known: str | None) -> tuple[str, ...]:
        """What a firing of `rule` for `shopper` counts against in the venue's MESSAGES budget (`message_ids`:
        `known` and the member her shopper id belongs to); () when it is no notification reaching anyone, or
        no budget is kept."""
        if rule.action != "notify" or not shopper or self.notifier is None or self.messages is None:
            return ()
        member = self.db.hget(MomentKeys(venue).members(), shopper)
        return message_ids(shopper, *known, member and member_ref(member.decode()))

    def _spend_message(self, venue: str, people: tuple[str, ...]) -> bool:
        """One notification counted for each of `people` (one person's ids): False (nothing counted) when one
        had none left today."""
        return self.messages.spend(venue, MESSAGES, {"shopper": people}) is None

    def _give_back_message(self, venue: str, people: tuple[str, ...]) -> None:
        """The rule's own limits refused it after all: what `_spend_message` counted is given back."""
        self.messages.give_back(venue, MESSAGES, {"shopper": people}, 1)

    def _remember_shopper(self, venue: str, device: str, shopper: str) -> None:
        """The phone's latest landing: its later events reach this shopper (for a day)."""
        keys = MomentKeys(venue)
        pipe = self.db.pipeline(transaction=True)
        pipe.hset(keys.shoppers(), device, shopper)
        pipe.hexpire(keys.shoppers(), OFFER_TTL_S, device)
        refer(pipe, keys.refs(shopper_ref(shopper)), "w:" + device, OFFER_TTL_S + REF_MARGIN_S)
        pipe.execute()

    def _count(self, venue: str, rule: Rule, subject: str, at: float, tz: ZoneInfo, event_id: str = "") -> str:
        """The limits, checked and counted in one step: OK | BUDGET | CAP | COOLDOWN, or DUP when the rule
        already fired on this event (`event_id`, the log entry; "" for a replay: always a new firing)."""
        keys = MomentKeys(venue)
        today = keys.today(rule.id, datetime.fromtimestamp(at, tz).strftime("%Y%m%d"))
        verdict = self._fire(keys=[keys.used(), today, keys.last(rule.id), keys.refs(ref_name(subject)),
                                   keys.done(rule.id, event_id or "-"), keys.fired_for(rule.id)],
                             args=[rule.id, subject, repr(at), rule.cap_per_day, rule.cooldown_s, rule.budget,
                                   2 * 86400, "c:" + today, REF_TTL_S, DONE_TTL_S if event_id else 0])
        return verdict.decode() if isinstance(verdict, bytes) else str(verdict)

    def _shopper(self, venue: str, device: str | None, event: Event) -> str | None:
        if event.shopper:
            return event.shopper
        raw = self.db.hget(MomentKeys(venue).shoppers(), device) if device else None
        return raw.decode() if raw else None

    # ---- actions and the delivery log ----
    def _act(self, venue: str, rule: Rule, event: Event, device: str | None, shopper: str | None,
             subject: str = "") -> None:
        payload = {"venue": venue, "rule": rule.id, "rule_name": rule.name, "trigger": rule.trigger,
                   "at": event.at, "zone": event.zone, "shopper": shopper, "member": event.data.get("member")}
        delivery_id = firing_id(rule.id, event.id)
        payload["id"] = delivery_id
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True)
        status, url = "queued", ""
        if rule.action == "offer":
            self._offer(venue, rule, event.at, [s for s in (device, shopper) if s])
            status = "offered"
        elif rule.action == "notify":
            if self.notifier is not None and shopper:
                self._notify(venue, shopper, rule, delivery_id)
                status = "notified"
            else:
                status = "skipped"  # no shopper to reach (never landed) or no outbox
        else:
            url = rule.webhook_url
        self._log(venue, Delivery(delivery_id, rule.id, rule.action, status, body, time.time(), url=url,
                                  subject=subject))  # due now

    def _offer(self, venue: str, rule: Rule, at: float, subjects: list[str]) -> None:
        """The offer waits for the phone and the shopper (the newest five, a day): `offers_for` shows it."""
        offer = json.dumps({"rule": rule.id, "en": rule.message_en, "zh": rule.message_zh or rule.message_en,
                            "at": at, "needs": list(purposes(rule))})
        for subject in subjects:
            key = MomentKeys(venue).offers(subject)
            pipe = self.db.pipeline(transaction=True)
            pipe.lpush(key, offer)
            pipe.ltrim(key, 0, 4)
            pipe.expire(key, OFFER_TTL_S)
            pipe.execute()

    def _log(self, venue: str, d: Delivery) -> None:
        keys = MomentKeys(venue)
        pipe = self.db.pipeline(transaction=True)
        pipe.hset(keys.delivery(d.id), mapping={k: str(v) for k, v in asdict(d).items()})
        pipe.expire(keys.delivery(d.id), DELIVERY_KEPT_S)
        pipe.zadd(keys.deliveries(), {d.id: d.created})
        pipe.zremrangebyrank(keys.deliveries(), 0, -LOG_KEPT - 1)
        if d.action == "webhook" and d.status in ("queued", "retrying"):
            pipe.zadd(keys.due(), {d.id: d.next_at})
        for name in d.names():  # erasure finds the deliveries naming a person
            refer(pipe, keys.refs(name), "d:" + d.id, REF_TTL_S)
        pipe.execute()

    def delivery(self, venue: str, delivery_id: str) -> Delivery | None:
        raw = self.db.hgetall(MomentKeys(venue).delivery(delivery_id))
        return Delivery.from_hash(raw) if raw else None

    def deliveries(self, venue: str, *, rule: str = "", status: str = "", text: str = "",
                   limit: int = 100) -> list[Delivery]:
        """The log, newest first, filtered by rule, status and a text the body contains."""
        out = []
        for raw_id in self.db.zrevrange(MomentKeys(venue).deliveries(), 0, LOG_KEPT - 1):
            d = self.delivery(venue, raw_id.decode())
            if d is None or (rule and d.rule != rule) or (status and d.status != status):
                continue
            if text and text not in d.body:
                continue
            out.append(d)
            if len(out) >= limit:
                break
        return out

    def replay(self, venue: str, delivery_id: str, now: float | None = None) -> str | None:
        """Send a delivery again. None: no such delivery (erasure removes those naming the shopper); else
        SENT, or why not: NONE (an alert: nothing to send), RULE (its rule is gone), NOBODY (no shopper in
        it), CONSENT (the shopper does not, or no longer, agree: `may_reach`), BUDGET | CAP | COOLDOWN (an
        offer or a notification contacts her again: a firing, counted against the rule's limits on the
        same subject, then acted on and logged as the engine does), DAILY (a notification: she had the
        venue's notifications for the day, MESSAGES). A webhook is queued again as it was
        (attempts start over): the same record to the CRM, not a new contact, so only consent is asked."""
        d = self.delivery(venue, delivery_id)
        if d is None:
            return None
        body, rule = json.loads(d.body), self.rule(venue, d.rule)
        if d.action == "alert" or (d.action == "webhook" and d.rule == "occupancy"):
            if d.action == "webhook":  # an occupancy alert names nobody
                self._settle(venue, d.id, "queued", attempts=0, due_at=0.0)
            return "SENT" if d.action == "webhook" else "NONE"
        if rule is None:
            return "RULE"
        shopper = body.get("shopper")
        if not shopper and (self.consent is not None or d.action != "webhook"):
            return "NOBODY"
        if not may_reach(rule, self.consent, venue, None, shopper):
            return "CONSENT"
        if d.action == "webhook":
            self._settle(venue, d.id, "queued", attempts=0, due_at=0.0)
            return "SENT"
        now = time.time() if now is None else now
        subject = d.subject or shopper_ref(shopper)
        people = self._message_ids(venue, rule, shopper, ref_name(subject),
                                   body.get("member") and member_ref(body["member"]))
        if people and not self._spend_message(venue, people):
            return "DAILY"
        verdict = self._count(venue, rule, subject, now, self.time_zone(venue))
        if verdict != "OK":
            if people:
                self._give_back_message(venue, people)
            return verdict
        member = {"member": body["member"]} if body.get("member") else {}
        self._act(venue, rule, Event(rule.trigger, now, venue, None, shopper, body.get("zone"), member), None,
                  shopper, subject)
        return "SENT"

    def _notify(self, venue: str, shopper: str, rule: Rule, message_id: str) -> None:
        """Through the outbox (the notify worker delivers: push or SMS, in the shopper's language)."""
        self.notifier(venue, shopper, f"moments.{rule.trigger}", {
            **self._title(venue), "body_en": rule.message_en,
            "body_zh": rule.message_zh or rule.message_en, "path": f"/v/{venue}/", "rule": rule.id,
            NEEDS_CONSENT: ",".join(purposes(rule))},  # asked again when sent: she may withdraw meanwhile
            f"moments:{message_id}")

    def _title(self, venue: str) -> dict[str, str]:
        """A notification's title: the venue's name (its Chinese one on zh), never the rule's name (internal,
        one language); without a name, a generic title. Both languages as the outbox keeps them: the engine
        runs in the tracker, outside any request, so no gettext here (as LightApp titles)."""
        en, zh = (self.venue_names(venue) if self.venue_names is not None else None) or ("", "")
        return {"title_en": en or zh or GENERIC_TITLE[0], "title_zh": zh or en or GENERIC_TITLE[1]}

    def deliver_due(self, venue: str, now: float, limit: int = 50) -> int:
        """POST the webhooks whose time has come; returns how many were tried. Consent is asked again before
        every try (the first and each retry): one the shopper no longer agrees to is skipped, never sent.
        Each is claimed first (`_CLAIM`). Once a receiver (its host) gave no answer, its webhooks are put off
        until BACKOFF_S later, no try counted (`_silent`): a dead receiver costs the sender one timeout per
        BACKOFF_S, not one per webhook."""
        keys = MomentKeys(venue)
        tried = 0
        for raw_id in self.db.zrangebyscore(keys.due(), "-inf", now, start=0, num=limit):
            d = self.delivery(venue, raw_id.decode())
            if d is None:
                self.db.zrem(keys.due(), raw_id)  # its record expired
                continue
            host = urlsplit(d.url).netloc.lower()
            if (quiet_until := self._silent.get(host, 0.0)) > now:
                self._claim(keys=[keys.due()], args=[d.id, repr(now), repr(quiet_until)])
                continue
            claimed = now + SENDING_S
            if not self._claim(keys=[keys.due()], args=[d.id, repr(now), repr(claimed)]):
                continue  # another sender took it
            if not self._may_send(venue, d):
                self._settle(venue, d.id, "skipped", attempts=d.attempts, error=NO_CONSENT, claimed=claimed)
                continue
            tried += 1
            if not self._send(venue, d, now, claimed):
                self._silent = {h: t for h, t in self._silent.items() if t > now} | {host: now + BACKOFF_S}
        return tried

    def _deliver_pass(self, venue: str) -> bool:
        """The sender thread's pass over a venue (`WebhookSender`): True when more are due already."""
        now = time.time()
        self.deliver_due(venue, now)
        return self.db.zcount(MomentKeys(venue).due(), "-inf", now) > 0

    def _may_send(self, venue: str, d: Delivery) -> bool:
        """Whether the shopper a rule's webhook names still agrees to the rule's purposes (`may_reach`); an
        occupancy alert names nobody. A delivery whose rule is gone has no purposes to ask: not sent."""
        if d.rule == "occupancy":
            return True
        rule = self.rule(venue, d.rule)
        return rule is not None and may_reach(rule, self.consent, venue, None, json.loads(d.body).get("shopper"))

    def _send(self, venue: str, d: Delivery, now: float, claimed: float) -> bool:
        """One signed POST, its outcome written by `_settle` (delivered, retried with backoff, or failed);
        False when the receiver did not answer (`answered`)."""
        body = d.body.encode()
        ok, error = self.send(d.url, body, {"Content-Type": "application/json",
                                            SIGNATURE_HEADER: sign(self.webhook_secret(venue), int(now), body),
                                            "X-MallPortal-Delivery": d.id})
        attempts = d.attempts + 1
        if ok:
            self._settle(venue, d.id, "delivered", attempts=attempts, claimed=claimed)
        elif attempts >= MAX_ATTEMPTS:
            self._settle(venue, d.id, "failed", attempts=attempts, error=error, claimed=claimed)
        else:
            self._settle(venue, d.id, "retrying", attempts=attempts, error=error,
                         due_at=now + BACKOFF_S * 2 ** (attempts - 1))
        return ok or answered(error)

    def _settle(self, venue: str, delivery_id: str, status: str, *, attempts: int, error: str = "",
                due_at: float | None = None, claimed: float | None = None) -> bool:
        """Write a webhook's new state onto the stored delivery, only while it still exists (`_SETTLE`: an
        erasure meanwhile stays done); `due_at`: put it on the due list then, else off it if still listed
        where its claim put it (`claimed`). False: it was erased."""
        keys = MomentKeys(venue)
        queue = due_at is not None
        return bool(self._settle_script(keys=[keys.delivery(delivery_id), keys.due()], args=[
            delivery_id, status, str(attempts), error, str(due_at if queue else 0.0), "1" if queue else "0",
            "" if claimed is None else repr(claimed)]))

    def forget(self, venue: str, subjects: list[str], members: Iterable[str] = ()) -> int:
        """Erasure: what the engine keeps about these phones / shoppers / members: state, identities, waiting
        offers, caps and cooldowns, the phones' links to them and the deliveries naming them (found through
        their `refs`; removed in one script that starts over if a reference was added meanwhile)."""
        keys = MomentKeys(venue)
        members = set(members)
        for subject in subjects:
            raw = self.db.hget(keys.members(), subject)
            if raw:
                members.add(raw.decode())
        identities = [*map(shopper_ref, subjects), *map(member_ref, members)]
        names = [*subjects, *identities]
        rule_ids = [r.id for r in self.rules(venue)]
        pipe = self.db.pipeline(transaction=False)
        for key in (keys.visits(), keys.arrivals(), keys.members(), keys.shoppers(), keys.tiers(),
                    *(keys.last(r) for r in rule_ids)):
            pipe.hdel(key, *names)
        for subject in subjects:
            pipe.delete(keys.offers(subject))
        removed = sum(int(n) for n in pipe.execute())
        people = sorted({*map(ref_name, subjects), *identities})
        # Read once: deliveries logged from now on are listed in `refs`, which each attempt reads afresh.
        logged = self._logged_naming(keys, names)
        for _attempt in range(10):
            done = self._forget_referenced(keys, people, subjects, names, logged)
            if done >= 0:
                return removed + done
        raise RuntimeError("erasure kept racing the moments engine")  # 10 firings for one person meanwhile

    def _logged_naming(self, keys: MomentKeys, names: list[str]) -> set[str]:
        """The deliveries in the log whose body names one of `names` ("s:<shopper>", "m:<member>"), read
        from their bodies: those logged before `refs` listed them (at most LOG_KEPT, once per erasure)."""
        found, ids, wanted = set(), [raw.decode() for raw in self.db.zrange(keys.deliveries(), 0, -1)], set(names)
        for start in range(0, len(ids), 500):
            pipe = self.db.pipeline(transaction=False)
            for delivery_id in ids[start:start + 500]:
                pipe.hget(keys.delivery(delivery_id), "body")
            for delivery_id, body in zip(ids[start:start + 500], pipe.execute(), strict=True):
                if body and body_names(json.loads(body)) & wanted:
                    found.add(delivery_id)
        return found

    def _forget_referenced(self, keys: MomentKeys, people: list[str], subjects: list[str], names: list[str],
                           logged: set[str]) -> int:
        pipe = self.db.pipeline(transaction=False)
        for person in people:
            pipe.smembers(keys.refs(person))
        entries = [{m.decode() for m in found} for found in pipe.execute()]
        every = set().union(*entries)
        phones = sorted({*subjects, *(e[2:] for e in every if e.startswith("w:"))})
        caps = sorted(e[2:] for e in every if e.startswith("c:"))
        deliveries = sorted({*(e[2:] for e in every if e.startswith("d:")), *logged})
        identities = [n for n in names if is_identity(n)]
        args = {"sizes": [len(e) for e in entries], "phones": phones, "caps": len(caps), "deliveries": deliveries,
                "fields": names, "shoppers": dict.fromkeys(subjects, True),
                "identities": dict.fromkeys(identities, True)}
        return int(self._forget(keys=[keys.shoppers(), keys.arrivals(), keys.deliveries(), keys.due(),
                                      *(keys.refs(p) for p in people), *caps,
                                      *(keys.delivery(d) for d in deliveries)],
                                args=[json.dumps(args)]))

    # ---- live occupancy alerts ----
    def set_alert_url(self, venue: str, url: str, allow_private: bool = False) -> None:
        """The webhook occupancy alerts go to ("" : none). RuleError for a URL that is not http(s), or that
        names an internal address unless `allow_private` (`check_webhook_url`)."""
        url = url.strip()
        if not url:
            self.db.delete(MomentKeys(venue).alert_url())
            return
        check_webhook_url("alert_url", url, allow_private)
        self.db.set(MomentKeys(venue).alert_url(), url)

    def alert_url(self, venue: str) -> str:
        raw = self.db.get(MomentKeys(venue).alert_url())
        return raw.decode() if raw else ""

    def check_occupancy(self, venue: str, now: float, cooldown_s: int = OCCUPANCY_COOLDOWN_S) -> list[str]:
        """Zones whose occupancy crossed their threshold since the last check (below -> at or above): each an
        alert (a delivery in the log, action `alert`; a signed webhook to the venue's alert URL when one is
        set), at most one per zone per `cooldown_s`. Returns the zones alerted."""
        if self.occupancy is None:
            return []
        counts, limits = self.occupancy(venue, now)
        keys, alerted = MomentKeys(venue), []
        over = {k.decode() for k in self.db.hkeys(keys.occupancy_over())}
        for zone, limit in limits.items():
            count = counts.get(zone, 0)
            if count < limit:
                if zone in over:
                    self.db.hdel(keys.occupancy_over(), zone)
                continue
            if zone in over:
                continue  # still over: alerted on the crossing
            self.db.hset(keys.occupancy_over(), zone, 1)
            if not self.db.set(keys.occupancy_quiet(zone), repr(now), nx=True, ex=max(1, cooldown_s)):
                continue
            alerted.append(zone)
            self._alert(venue, zone, count, limit, now)
        return alerted

    def _alert(self, venue: str, zone: str, count: int, limit: int, now: float) -> None:
        """The alert's delivery. Its body goes to the venue's CRM and into the log, so its count goes through
        k_safe as every figure does (null for 1-4): presence keeps limits at k or more, and this holds whatever
        the `occupancy` source's limits are."""
        delivery_id = secrets.token_hex(8)
        url = self.alert_url(venue)
        body = json.dumps({"id": delivery_id, "venue": venue, "rule": "occupancy", "trigger": "occupancy",
                           "zone": zone, "occupancy": k_safe(count), "limit": limit, "at": now},
                          separators=(",", ":"), sort_keys=True)
        self._log(venue, Delivery(delivery_id, "occupancy", "webhook" if url else "alert",
                                  "queued" if url else "alerted", body, now, url=url))

    # ---- offers for the shopper's pages ----
    def offers(self, venue: str, subjects: Iterable[str]) -> list[dict]:
        out, seen = [], set()
        for subject in subjects:
            for raw in self.db.lrange(MomentKeys(venue).offers(subject), 0, 4):
                offer = json.loads(raw)
                if offer["rule"] not in seen:
                    seen.add(offer["rule"])
                    out.append(offer)
        return out

    def offers_for(self, venue: str, shopper: str, phone: str | None = None) -> list[dict]:
        """The offers to show the shopper now (hers and her phone's), each only while she agrees to what its
        rule needed (`purposes`; an offer from before they were kept: both); once she withdrew marketing
        consent, the waiting offers are dropped."""
        subjects = [s for s in (shopper, phone) if s]
        offers = self.offers(venue, subjects)
        if self.consent is None or not offers:
            return offers
        if not self.consent(venue, phone, shopper, ("marketing",)):
            self.db.delete(*(MomentKeys(venue).offers(s) for s in subjects))
            return []
        answers: dict[tuple[str, ...], bool] = {}
        shown = []
        for offer in offers:
            needs = tuple(offer.get("needs") or ("marketing", "location"))
            if needs not in answers:
                answers[needs] = self.consent(venue, phone, shopper, needs)
            if answers[needs]:
                shown.append(offer)
        return shown

    def deliveries_naming(self, venue: str, people: Iterable[str]) -> list[Delivery]:
        """The deliveries that name these people (`ref_name`s: "s:<shopper>", "p:<phone>", "m:<member>"),
        newest first: what the shopper's own data shows."""
        keys = MomentKeys(venue)
        ids = {m.decode()[2:] for person in people for m in self.db.smembers(keys.refs(person))
               if m.startswith(b"d:")}
        found = (self.delivery(venue, d) for d in sorted(ids))
        return sorted((d for d in found if d is not None), key=lambda d: d.created, reverse=True)
