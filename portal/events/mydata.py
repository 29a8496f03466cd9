"""The shopper's own data (the privacy centre's shopper side): see, export (JSON) and erase what the mall
holds about them. Only with the shopper token (`c`, or the cookie): a MAC or an IP never opens it; a
phone's location history only for the phone the gateway vouched for (Shopper.own_phone).

    GET  /v/<venue>/my-data                the page: what is held, readable on the page (`readable`: the
                                           captive sheet cannot download), the export link, the erase button
    GET  /v/<venue>/my-data/export.json    everything held about this shopper, as JSON (audited)
    POST /v/<venue>/my-data/erase          erase it from every store: the event log, presence, moments,
                                           every light app's store (its `forget_shopper` hook), the tokens;
                                           only with `confirm` (the "I understand" box) ticked, else 400;
                                           409 while she holds a paid thing she may still cancel for a refund

An erasure never takes money silently (portal/apps/paid.py: her live paid things, which the page lists before she
erases). A ticket or pre-order she may still cancel for a full refund is cancelled only by her, on its page (its app's
one cancel path, whose page shows the refund's outcome): the erasure is refused until she has, or until its refund
deadline has passed. One that can no longer be refunded (a ticket after the cut-off, a sale's unit, a group deposit)
is kept for her, the minimum it needs (its record and its code, under a new shopper id that names nothing else: the
keeper, whose link the erased page and this browser's cookie hold), until it has been used or has expired: the
contract she made when she paid is what it is kept for. The payments sweep then erases the keeper
(`erase_kept_due`).

Each captive landing hands out a new shopper id, so one person on one phone is a new shopper at each WiFi sign-in:
the phone the gateway vouched for links them (ShopperKeys.shoppers_on). The erasure reaches every shopper of her
vouched phones (and of their phones in turn: `her_shoppers`); the export shows the other sign-ins of the phone this
token was vouched for (as it shows that phone's trail), and only those.

A browser that kept another shopper before this one (a keep link opened in it) still holds that shopper's token, and
Me lists her things as hers (hub.views.earlier_shoppers): the export shows them (`earlier`) and the erasure reaches
them as it reaches hers, then drops the browser's earlier list."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import redis
from flask import Blueprint, Flask, abort, jsonify, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import pgettext

from core.settings import yes_or_no
from fingerprints.model import VenueMap, name_in
from portal.apps import capabilities, registry
from portal.apps.bilingual import Localized, pick
from portal.apps.locale import spoken_time
from portal.apps.paid import PaidThing, collect_paid, hand_over
from portal.apps.views import erase_shopper, is_zh, lang_arg, shopper_data, venue_or_404
from portal.consent import Consent
from portal.errors import store_fault_page
from portal.events.log import Event
from portal.events.mywords import PLACES, WORDED, ref_names, value_words
from portal.events.people import member_ref, phone_ref, shopper_ref
from portal.hub.keep import KeepStore
from portal.hub.views import earlier_shoppers, forget_earlier
from portal.notify.contacts import ContactStore
from portal.notify.erasure import forget_shopper as forget_notifications
from portal.notify.outbox import Job, NotifyKeys, Outbox
from portal.notify.sms import dev_sms, mask_phone
from portal.payments.money import cny
from portal.payments.service import PaymentService
from portal.services import Services, services
from portal.shopper import (
    Shopper,
    cookie_name,
    current_shopper,
    her_phones,
    new_shopper,
    set_shopper_cookie,
    shopper_token,
    shopper_url,
    token_store,
)
from portal.tracking.footfall import FootfallKeys
from portal.tracking.locator import forget_phone_state

bp = Blueprint("mydata", __name__, url_prefix="/v/<venue>/my-data")


def _shopper(venue: str) -> Shopper:
    venue_or_404(venue)
    shopper = current_shopper()
    if shopper is None or shopper.venue != venue:
        abort(403, _("Open this page from the portal's link: it needs your shopper token."))
    return shopper


@dataclass(frozen=True)
class Hers:
    """Whom a privacy-centre request names in the event log and the moments: shopper ids (hers first), phones, and
    the members those ids are (`member_of`: her other devices' events carry her member number). The export and the
    erasure each choose the ids and phones they reach (`held`, `her_shoppers`); which events are hers is decided
    here alone, so her export lists every event an erasure of the same reach deletes."""

    clients: tuple[str, ...]
    phones: frozenset[str]
    members: frozenset[str]

    @classmethod
    def of(cls, venue: str, clients: Iterable[str], phones: Iterable[str]) -> Hers:
        clients = tuple(clients)
        return cls(clients, frozenset(phones), frozenset(str(m) for c in clients if (m := member_of(venue, c))))

    def names(self, event: Event) -> bool:
        """The event is hers: it names one of her ids, phones or member numbers."""
        return (event.shopper in self.clients or (event.device is not None and event.device in self.phones)
                or (bool(self.members) and str(event.data.get("member")) in self.members))


def her_shoppers(shopper: Shopper, *earlier: Shopper) -> tuple[list[str], list[str]]:
    """Whom the erasure reaches: (shopper ids, phones). Her id and her phones (`her_phones`), and those of the
    shoppers her browser kept `earlier`, then every shopper the gateway vouched for on one of those phones (each WiFi
    sign-in is a new shopper: hers, on her phone) and their vouched phones, until nothing new turns up. Only vouched
    phones link (ShopperKeys.shoppers_on): a phone a token merely claims reaches no one else. Her own id first."""
    store, venue = token_store(), shopper.venue
    clients = list(dict.fromkeys(who.client for who in (shopper, *earlier)))
    phones = set().union(*(her_phones(who) for who in (shopper, *earlier)))
    new_phones = set(phones)
    while new_phones:
        found = sorted(store.shoppers_on(venue, new_phones) - set(clients))
        clients += found
        new_phones = set().union(*(store.verified_phones(venue, c) for c in found)) - phones
        phones |= new_phones
    return clients, sorted(phones)


def other_sign_ins(shopper: Shopper) -> list[str]:
    """The other shopper ids of the phone this token was vouched for (its other WiFi sign-ins): what the export
    shows besides hers, as it shows that phone's trail. None for a token vouched for no phone."""
    if not shopper.own_phone:
        return []
    return sorted(token_store().shoppers_on(shopper.venue, [shopper.own_phone]) - {shopper.client})


def held(svc: Services, shopper: Shopper, earlier: Iterable[Shopper] = (), others: list[str] | None = None) -> dict:
    """What the export shows. A phone's location history only for the phone this token was vouched for (the
    WiFi sign-in page's, and the phone browser's its keep link opened): a token that names no phone (a texted
    link she may have forwarded) holds her shopper id, not proof of her phone, so it shows her orders and apps'
    data but no phone's trail. For the same reason the phone's other WiFi sign-ins (`other_sign_ins`: each was a
    new shopper id) are shown, under `linked`, to a token vouched for that phone only. The shoppers her browser kept
    `earlier` (hub.views.earlier_shoppers: tokens it holds) are shown under `earlier`, each as its own token would
    show it. The events are those `Hers` finds for these ids and phones, her other devices' under their member
    numbers among them. `others`: `other_sign_ins`, when the request read them already."""
    venue, phones = shopper.venue, _own_phones(shopper)
    others = other_sign_ins(shopper) if others is None else others
    earlier = [who for who in earlier if who.client not in (shopper.client, *others)]
    own = _held_by(svc, venue, shopper.client, phones)
    linked = [{"shopper": other, **_held_by(svc, venue, other, [])} for other in others]
    kept = [{"shopper": who.client, **_held_by(svc, venue, who.client, _own_phones(who))} for who in earlier]
    hers = Hers.of(venue, [shopper.client, *others, *(who.client for who in earlier)],
                   [*phones, *(phone for who in earlier for phone in _own_phones(who))])
    events = [{"kind": e.kind, "at": e.at, "zone": e.zone, **e.data} for e in svc.events.read(venue) if hers.names(e)]
    consent = own.pop("consent")
    off = svc.consent.location_off_since(venue, shopper.own_phone) if shopper.own_phone else None
    if off is not None:  # since when location-based services are off on the phone this token was vouched for
        consent = {**(consent or {}), "phone_location_off_at": off}
    return {"venue": venue, "shopper": shopper.client, "exported_at": time.time(), "events": events, **own,
            "consent": consent, "linked": linked, "earlier": kept}


def _own_phones(shopper: Shopper) -> list[str]:
    return [shopper.own_phone] if shopper.own_phone else []


def _held_by(svc: Services, venue: str, client: str, phones: list[str]) -> dict:
    """What one shopper id holds (with `phones`' offers and deliveries): her apps' data and orders, the offers
    waiting, the rules' deliveries naming her, her notifications and her consent answer."""
    apps = shopper_data(venue, client)
    if orders := svc.payments.store.export_shopper(venue, client):
        apps["payments"] = orders
    member = member_of(venue, client)
    people = [shopper_ref(client), *map(phone_ref, phones), *([member_ref(member)] if member else [])]
    deliveries = [{"at": d.created, "rule": d.rule, "action": d.action, "status": d.status, **json.loads(d.body)}
                  for d in svc.moments.deliveries_naming(venue, people)]
    return {"offers": svc.moments.offers(venue, [client, *phones]), "moments": deliveries,
            "notifications": notifications(svc, venue, client), "consent": _answer(svc.consent.get(venue, client)),
            "apps": apps}


def _answer(record: Consent | None) -> dict | None:
    """Her consent answer: what she agreed to, to which notice, when. Not the venue's dates of the notices the record
    carries to judge it by (`notices`): no data of hers, and a notice never shown there starts at infinity, which
    JSON cannot hold."""
    return None if record is None else {k: v for k, v in asdict(record).items() if k != "notices"}


def member_of(venue: str, client: str) -> str | None:
    """The member this shopper id is (the "members" capability: the host names no app), as the events and the
    rules' deliveries of her other devices name her too; None when she is none, or no loaded app keeps members."""
    keeper = capabilities.members()
    return None if keeper is None else keeper.member_of(venue, client)


def notifications(svc: Services, venue: str, shopper: str) -> dict:
    """What the notifications hold for the shopper: the number for texts and the browsers for push (the
    contact), the messages not delivered yet (queued, scheduled, given up on) and the development sender's
    copies. The export holds the number in full; pages show `masked`."""
    contact = ContactStore(svc.db, svc.settings.phone_key).get(venue, shopper)
    outbox, keys = Outbox(svc.db), NotifyKeys(venue)
    queued = [job for _id, fields in svc.db.xrange(keys.stream()) if (job := _job(fields.get(b"job")))
              and job.shopper == shopper]
    queued += [job for raw in svc.db.hvals(keys.jobs()) if (job := _job(raw)) and job.shopper == shopper]
    queued += [letter.job for letter in outbox.dead_letters(venue, limit=10_000) if letter.job.shopper == shopper]
    return {"phone": contact.phone, "masked": mask_phone(contact.phone) if contact.phone else None,
            "push": [{"id": sid, **sub} for sid, sub in contact.push.items()],
            "lang": contact.lang if contact.phone or contact.push else None,
            "messages": [{"id": job.id, "event": job.event, "created": job.created, "channel": job.channel,
                          "data": job.data} for job in queued],
            "texts_sent": dev_sms(svc.db, venue, shopper)}


def _job(raw: bytes | None) -> Job | None:
    try:
        return Job.from_json(raw) if raw else None
    except (TypeError, ValueError, KeyError):
        return None


# Items of a list the page shows (the events newest first; an app's lists in its store's order, newest first):
# a regular's years of events or a member's 1,000 ledger lines would make a page no captive sheet loads.
MAX_ROWS_SHOWN = 100


@dataclass(frozen=True)
class Shown:
    """A part of the export as the page shows it, one of: `text` (words or a value put in words: a label, a
    time, an amount, a state, a zone's, an app's or a record's name), `data` (a stored value as it is, shown in
    <code>: a code she shows, an order's number, a value no words exist for, a field name no label exists for),
    `fields` ((label, value) pairs of an object), `rows` (the items of a list)."""

    text: str | Localized = ""
    data: str = ""
    fields: tuple[tuple[Shown, Shown], ...] = ()
    rows: tuple[Shown, ...] = ()


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    shown: Shown


def readable(data: Mapping[str, Any], venue_map: VenueMap) -> list[Section]:
    """The export (`held`) as the page shows it, for the captive sheet, where a download fails: each app's
    data under the app's title, then the events (newest first), the waiting offers, the rules' deliveries
    and the consent. Generic from the data's structure (an app's new field needs only its label in
    `field_labels`, or in `app_field_labels` where the word is the app's own); labels and values in the page's
    language where there are words for them; at most MAX_ROWS_SHOWN items of a list. The notifications stay the
    page's summary: the number masked, the browsers' keys unshown. Then the phone's other WiFi sign-ins (`linked`)
    and the shoppers this browser kept earlier (`earlier`), each part titled as one of them (their events are among
    the events above)."""
    words = _Words(venue_map, ref_names(venue_map.id, data))
    sections = [Section(f"held-app-{name}", app_title(name), words.shown(value, app=name))
                for name, value in data["apps"].items()]
    parts = (("held-events", _("Where you were and what you did"), data["events"][::-1]),
             ("held-offers", _("Offers waiting for you"), data["offers"]),
             ("held-deliveries", _("What the mall’s rules sent you"), data["moments"]),
             ("held-consent", _("What you agreed to"), data["consent"]))
    sections += [Section(id_, title, words.shown(value)) for id_, title, value in parts if value]
    for i, other in enumerate(data.get("linked", ()), start=1):
        sections += [Section(f"held-linked-{i}-{id_}", _("%(part)s, from an earlier WiFi sign-in on this phone",
                                                          part=title), shown)
                     for id_, title, shown in _parts(words, other)]
    for i, other in enumerate(data.get("earlier", ()), start=1):
        sections += [Section(f"held-earlier-{i}-{id_}", _("%(part)s, kept earlier in this browser", part=title), shown)
                     for id_, title, shown in _parts(words, other)]
    return sections


def _parts(words: _Words, other: Mapping[str, Any]) -> list[tuple[str, str, Shown]]:
    """Another shopper id's parts of the export (`linked`, `earlier`) that hold anything: (id, title, shown)."""
    notes = other["notifications"]
    parts = (*((f"app-{name}", app_title(name), value, name) for name, value in other["apps"].items()),
             ("offers", _("Offers waiting for you"), other["offers"], ""),
             ("deliveries", _("What the mall’s rules sent you"), other["moments"], ""),
             ("notifications", _("Notifications"), {"phone": notes["phone"], "messages": notes["messages"]}, ""),
             ("consent", _("What you agreed to"), other["consent"], ""))
    return [(id_, title, words.shown(value, app=app)) for id_, title, value, app in parts
            if value and any(_held(v) for v in _values(value))]


def _values(value: Any) -> list[Any]:
    return list(value.values()) if isinstance(value, Mapping) else [value]


def app_title(name: str) -> str:
    """An app's title in the page's language; the payments (a host service, not a light app) have their own."""
    if name == "payments":
        return pgettext("my data", "Payments")
    app = registry.get(name)
    return name if app is None else (app.title_zh if is_zh() else app.title_en)


class _Words:
    """Puts the export's values in words, in the page's language (read once per page): stored codes through the
    vocabularies of portal/events/mywords.py, places by their names, the ids of an app's records by the names the
    app gives them (`names`: mywords.ref_names)."""

    def __init__(self, venue_map: VenueMap, names: Mapping[tuple[str, str], Mapping[str, tuple[str, str]]]) -> None:
        self.zh = is_zh()
        self.places = {**{s.id: name_in(s.name, s.name_zh, self.zh) for s in venue_map.shops},
                       **{z.id: z.label(self.zh) for z in venue_map.zones}}
        self.labels, self.kinds, self.values, self.names = field_labels(), event_kinds(), value_words(), names
        self.app_labels = app_field_labels()

    def shown(self, value: Any, key: str = "", app: str = "") -> Shown:
        """`app`: whose data this is (an app's part of the export; an event names its own)."""
        if isinstance(value, Mapping):
            value = self.one_language(value)
            app = str(value.get("app") or app)
            return Shown(fields=tuple((self.label(k, app), self.shown(v, k, app))
                                      for k, v in value.items() if _held(v)))
        if isinstance(value, list | tuple):
            return self.rows(key, [v for v in value if _held(v)], app)
        return self.scalar(key, value, app)

    def rows(self, key: str, values: list[Any], app: str) -> Shown:
        rows = tuple(self.shown(v, key, app) for v in values[:MAX_ROWS_SHOWN])
        if rows and len(values) <= MAX_ROWS_SHOWN and all(row.data for row in rows):  # seats, plates: one line
            return Shown(data=", ".join(row.data for row in rows))
        if len(values) > MAX_ROWS_SHOWN:
            rows += (Shown(text=_("… and %(n)d more: the download holds them all.", n=len(values) - MAX_ROWS_SHOWN)),)
        return Shown(rows=rows)

    def one_language(self, value: Mapping[str, Any]) -> dict[str, Any]:
        """A text kept in both languages (`x_en`/`x_zh`, or `en`/`zh`) once, as `x` (or `text`), in the page's
        language (the other where it is empty), and one kept in a single language (a message's `title_en`) as `x`
        too, so it is labelled as `x` is: the download holds them as they are."""
        out = dict(value)
        for key in [k for k in value if k in ("en", "zh") or k.endswith(("_en", "_zh"))]:
            if key not in out:  # taken with its pair
                continue
            other = key[:-2] + ("zh" if key.endswith("en") else "en")
            mine, theirs = (out.pop(key), out.pop(other, None))
            first, second = (theirs, mine) if self.zh == key.endswith("en") else (mine, theirs)
            out[key[:-3] or "text"] = first or second
        return out

    def label(self, key: str, app: str = "") -> Shown:
        """`app`'s own label for the field (app_field_labels), else the one every export shares."""
        text = self.app_labels.get((app, key)) or self.labels.get(key)
        return Shown(text=text) if text else Shown(data=key)

    def scalar(self, key: str, value: Any, app: str = "") -> Shown:
        if isinstance(value, bool) or (key == "paid" and value in ("0", "1")):  # an event's "paid online": "1"
            return Shown(text=pgettext("my data", "yes") if value in (True, "1") else pgettext("my data", "no"))
        if key == "phone" or key.endswith("_phone"):  # as the notifications' summary: in full only in the download
            return Shown(data=mask_phone(str(value)))
        named = self.named(key, str(value), app)
        if named:
            return Shown(text=named)
        return Shown(text=_number(key, value)) if isinstance(value, int | float) else Shown(data=str(value))

    def named(self, key: str, value: str, app: str) -> str | Localized | None:
        """The value in words: a place's name, a code's words, an app's title, a record's name; None: shown as
        it is stored (a code she shows, an order's number, a value no words exist for)."""
        if key in PLACES:
            return self.places.get(value)
        if key == "kind":
            return self.kinds.get(value) or self.app_named(value)
        if key == "app":
            return self.app_named(value) or self.values["purpose"].get(value)
        if key in WORDED:
            return self.values[WORDED[key]].get(value.lower()) or (self.app_named(value) if key == "purpose" else None)
        pair = self.names.get((app, key), {}).get(value)
        return pick(pair[0], pair[1], self.zh) if pair else None

    @staticmethod
    def app_named(value: str) -> str | None:
        return app_title(value) if value == "payments" or registry.get(value) is not None else None


def _held(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _number(key: str, value: float) -> str:
    """Times (`at`, `ts`, `created`, `called`, `ended`, `*_at`: epoch seconds; `*_ms`: epoch ms) in venue time, in
    words as every shopper page says them (`Tue, Dec 8, 19:30`), amounts in fen as yuan."""
    # `created`: a queue ticket's, a message's; `called`, `ended`: a queue ticket's
    epoch_s = key in ("at", "ts", "created", "called", "ended") or key.endswith("_at")
    seconds = value if epoch_s else value / 1000 if key.endswith("_ms") else None
    if seconds is not None:
        try:
            return spoken_time(seconds)
        except (OverflowError, OSError, ValueError):  # no time after all: the number as it is
            pass
    # fen are whole: anything else is shown as it is (`amount`, `refunded`: money is kept in fen, docs/CONVENTIONS.md)
    if (key.endswith("_fen") or key in ("amount", "refunded", "price", "total")) and float(value).is_integer():
        return cny(int(value))
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def event_kinds() -> dict[str, str]:
    """The event log's kinds (portal/events/log.py KINDS) in words."""
    return {"arrive": pgettext("event", "Arrived at the mall"), "zone_enter": pgettext("event", "Went in"),
            "dwell": pgettext("event", "Stayed a while"), "zone_leave": pgettext("event", "Went out"),
            "leave": pgettext("event", "Left the mall"), "landing": pgettext("event", "Opened the portal"),
            "txn": pgettext("event", "Used a service")}


def field_labels() -> dict[str, str]:
    """Labels of the field names the exports hold, the apps' own fields among them: a field with none would show
    under its stored name, which tests/events/test_mydata_labels.py refuses for every app's export. A field any app
    may name (`id`, `number`, `items`) gets words true of every app; what it means in one app is in
    app_field_labels. Each a literal pgettext call: the catalog's extractor reads only those."""
    return {
        "at": pgettext("my data field", "When"),
        "ts": pgettext("my data field", "When"),
        "kind": pgettext("my data field", "What"),
        "type": pgettext("my data field", "What"),
        "zone": pgettext("my data field", "Where"),
        "app": pgettext("my data field", "Service"),
        "action": pgettext("my data field", "Action"),
        "code": pgettext("my data field", "Code"),
        "state": pgettext("my data field", "State"),
        "status": pgettext("my data field", "State"),
        "created": pgettext("my data field", "Created"),
        "created_at": pgettext("my data field", "Created"),
        "created_ms": pgettext("my data field", "Created"),
        "issued_at": pgettext("my data field", "Claimed"),
        "redeemed_at": pgettext("my data field", "Used"),
        "expires_ms": pgettext("my data field", "Expires"),
        "cancelled_ms": pgettext("my data field", "Cancelled"),
        "won_at": pgettext("my data field", "Won"),
        "coupon": pgettext("my data field", "Coupon"),
        "show": pgettext("my data field", "Showing"),
        "seats": pgettext("my data field", "Seats"),
        "booking": pgettext("my data field", "Booking"),
        "activity": pgettext("my data field", "Activity"),
        "game": pgettext("my data field", "Game"),
        "prize": pgettext("my data field", "Prize"),
        "member": pgettext("my data field", "Member number"),
        "phone": pgettext("my data field", "Phone"),
        "messages": pgettext("my data field", "Messages not sent yet"),
        "points": pgettext("my data field", "Points"),
        "balance": pgettext("my data field", "Balance"),
        "lifetime": pgettext("my data field", "Points in all"),
        "amount": pgettext("my data field", "Amount"),
        "amount_fen": pgettext("my data field", "Amount"),
        "currency": pgettext("my data field", "Currency"),
        "due_fen": pgettext("my data field", "Amount due"),
        "order": pgettext("my data field", "Order"),
        "purpose": pgettext("my data field", "For"),
        "merchant": pgettext("my data field", "Merchant"),
        "refunded": pgettext("my data field", "Refunded"),
        "rule": pgettext("my data field", "Rule"),
        "rule_name": pgettext("my data field", "Rule"),
        "text": pgettext("my data field", "Text"),
        "body": pgettext("my data field", "Text"),
        "message": pgettext("my data field", "Text"),
        "title": pgettext("my data field", "Title"),
        "location": pgettext("my data field", "Location"),
        "phone_location_off_at": pgettext("my data field", "Location-based services off on this phone since"),
        "marketing": pgettext("my data field", "Offers"),
        "version": pgettext("my data field", "Version of the notice"),
        "store": pgettext("my data field", "Shop"),
        "codes": pgettext("my data field", "Your codes"),
        "bookings": pgettext("my data field", "Bookings"),
        "holds": pgettext("my data field", "Seats held"),
        "tickets": pgettext("my data field", "Tickets and table bookings"),
        "joined": pgettext("my data field", "Activities joined"),
        "prizes": pgettext("my data field", "Prizes won"),
        "orders": pgettext("my data field", "Orders"),
        "ledger": pgettext("my data field", "Points history"),
        "lookups": pgettext("my data field", "Plate look-ups"),
        "parking_fees_owed": pgettext("my data field", "Parking fees owed"),
        "last_result": pgettext("my data field", "Last search"),
        "receipt": pgettext("my data field", "Receipt"),
        "item": pgettext("my data field", "Activity"),
        "tier": pgettext("my data field", "Membership level"),
        "paid": pgettext("my data field", "Paid online"),
        "party": pgettext("my data field", "Party size"),
        "note": pgettext("my data field", "Note"),
        "won": pgettext("my data field", "Won"),
        "link": pgettext("my data field", "Link"),
        "campaign": pgettext("my data field", "Campaign"),
        "id": pgettext("my data field", "Reference"),
        "number": pgettext("my data field", "Number"),
        "slot": pgettext("my data field", "Time booked"),
        "name": pgettext("my data field", "Name"),
        "called": pgettext("my data field", "Called"),
        "ended": pgettext("my data field", "Finished"),
        "preorder": pgettext("my data field", "Pre-order"),
        "items": pgettext("my data field", "Items"),
        "qty": pgettext("my data field", "Quantity"),
        "price": pgettext("my data field", "Price"),
        "total": pgettext("my data field", "Total"),
        "plate": pgettext("my data field", "Number plate (coded)"),
        "results": pgettext("my data field", "Results"),
        "bays": pgettext("my data field", "Parking bays"),
        "visit": pgettext("my data field", "Parking visit"),
        "left_ms": pgettext("my data field", "Left the car park"),
        "leave_first_pay_after_plates": pgettext("my data field", "Number plates paying after leaving (coded)"),
        "dwell_s": pgettext("my data field", "Time there (seconds)"),
        "trigger": pgettext("my data field", "Sent because"),
        "needs": pgettext("my data field", "Needs your agreement to"),
        "needs_consent": pgettext("my data field", "Needs your agreement to"),
        "shopper": pgettext("my data field", "Shopper number"),
        "venue": pgettext("my data field", "Mall"),
        "event": pgettext("my data field", "Message"),
        "data": pgettext("my data field", "Content"),
        "channel": pgettext("my data field", "Sent by"),
        "path": pgettext("my data field", "Page"),
    }


def app_field_labels() -> dict[tuple[str, str], str]:
    """Labels of fields by (app, field) where the field means something of that app's own, ahead of field_labels in
    that app's data and its events: another app's `number` is no place in the food court's line. Each a literal
    pgettext call, as in field_labels."""
    return {
        # a queue number: its table class (A, B: by party size), the number (A004), its place in the day's line and
        # the dishes pre-ordered with it
        ("queue", "cls"): pgettext("my data field", "Table type"),
        ("queue", "id"): pgettext("my data field", "Number"),
        ("queue", "number"): pgettext("my data field", "Place in the day’s line"),
        ("queue", "items"): pgettext("my data field", "Dishes"),
        ("parking", "results"): pgettext("my data field", "Cars found"),
    }


def erase(svc: Services, shopper: Shopper, earlier: Iterable[Shopper] = (),
          reach: tuple[list[str], list[str]] | None = None) -> dict[str, int]:
    """Remove the shopper from every store (and so from every future export): the event log (their events,
    their verified phones', their members'), presence, moments, and per shopper id (`erase_id`) every light app's
    store, payments (orders unlinked), notifications (contact, queued messages), consent, tokens, keep links; for
    her id, the shoppers her browser kept `earlier`, and every other shopper id of their vouched phones
    (`her_shoppers`: the other WiFi sign-ins; `reach`, when the request read it already). (Abuse counters are keyed
    hashes that expire with their window: they name nobody.)"""
    venue = shopper.venue
    # read before the tokens (and with them the links) are revoked
    clients, phones = her_shoppers(shopper, *earlier) if reach is None else reach
    hers = Hers.of(venue, clients, phones)
    removed = Counter({"events": svc.events.delete_where(venue, hers.names), "phone": 0})
    for phone in phones:
        svc.presence.forget(venue, phone)
        removed["phone"] += forget_phone(svc.db, venue, phone)
    removed["moments"] = svc.moments.forget(venue, [*clients, *phones], members=hers.members)
    # Her phones' location-declined markers stay: an erasure must not turn back on what she asked to stop (they name
    # a phone's keyed hash and nothing else, and end with their TTL or her "yes").
    removed["kept_declined"] = sum(svc.consent.location_off_since(venue, phone) is not None for phone in phones)
    for client in clients:
        removed.update(erase_id(svc, venue, client))
    return dict(removed)


def erase_id(svc: Services, venue: str, client: str) -> dict[str, int]:
    """What one shopper id holds under its own name: every light app's store, payments (orders unlinked),
    notifications, her consent answer, her tokens (and her links to her phones), keep links."""
    removed = erase_shopper(venue, client)
    removed["payments"] = svc.payments.store.forget_shopper(venue, client)
    removed["notify"] = forget_notifications(svc.db, svc.settings.phone_key, venue, client)
    removed["consent"] = svc.consent.forget(venue, client)
    removed["tokens"] = token_store().revoke(venue, client)
    # After the tokens: a keep link issued before erasure would otherwise open the erased id again.
    removed["keep"] = KeepStore(svc.db).forget_shopper(venue, client)
    return removed


# A keeper whose due time came while it holds a paid thing she may still cancel (bought with its link since) is looked
# at again this much later.
KEPT_RECHECK_S = 3600


def keep_paid(svc: Services, venue: str, things: list[PaidThing]) -> str | None:
    """Hand her paid things that can no longer be refunded to a new keeper id (portal/apps/paid.py `hand_over`),
    erased once the last of them has ended (`erase_kept_due`); the keeper, or None when there is nothing to keep."""
    if not things:
        return None
    keeper = new_shopper(venue).client
    # Its end first: a keeper whose hand-over a fault cut short is still erased in time.
    svc.privacy.keep_until(venue, keeper, max(thing.until or 0 for thing in things))
    hand_over(venue, things, keeper)
    return keeper


def erase_kept_due(svc: Services, venue: str, now: float) -> int:
    """The payments sweep's privacy duty: each keeper whose things have ended is erased as a shopper is (`erase`);
    one that holds a live paid thing still (bought with its link since) waits for it. Returns how many it erased."""
    erased = 0
    for keeper in svc.privacy.kept_due(venue, now):
        live = [thing for thing in collect_paid(venue, [keeper]) if thing.refundable or (thing.until or 0) > now]
        if live:
            later = max(thing.until or 0 for thing in live)
            svc.privacy.keep_until(venue, keeper, later if later > now else now + KEPT_RECHECK_S)
            continue
        removed = erase(svc, Shopper(venue, keeper))
        removed.pop("kept_declined", None)
        svc.privacy.audit_export(venue, "privacy sweep", "erasure", f"{sum(removed.values())} records kept till used")
        svc.privacy.kept_done(venue, keeper)
        erased += 1
    return erased


def forget_phone(db: redis.Redis, venue: str, phone: str) -> int:
    """The phone's hot state (`forget_phone_state`: readings, motion state, kept positions) and its open footfall
    visit (the footfall's counts are HyperLogLogs and sums: they hold no client id)."""
    footfall = FootfallKeys(venue)
    pipe = db.pipeline(transaction=True)
    pipe.hdel(footfall.open_visits(), phone)
    pipe.zrem(footfall.open_by_time(), phone)
    return forget_phone_state(db, venue, phone) + sum(int(n) for n in pipe.execute())


def moment_offers() -> list[dict]:
    """For every page's template (a Jinja global): the offers waiting for the current shopper or their phone
    (the phone only when the gateway vouched for it), only while she agrees to them (`offers_for`). Fails
    closed: no offers (also on the 503 page of a store fault, which must not wait for the store again)."""
    if store_fault_page():
        return []
    shopper = current_shopper()
    if shopper is None:
        return []
    try:
        return services().moments.offers_for(shopper.venue, shopper.client, shopper.own_phone)
    except redis.RedisError:
        return []


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["moment_offers"] = moment_offers
    payments = app.extensions["mallportal"].payments
    payments.add_sweeper(lambda venue: _sweep_kept(app, payments, venue))


def _sweep_kept(app: Flask, payments: PaymentService, venue: str) -> int:
    """`erase_kept_due` at the payment service's time, in a request for the venue's privacy page (the apps' hooks
    run as in a view)."""
    clock_ms = payments.clock()
    now = time.time() if clock_ms is None else clock_ms / 1000
    with app.test_request_context(f"/v/{venue}/my-data"):
        return erase_kept_due(services(), venue, now)


@bp.get("")
def page(venue: str):
    return _page(_shopper(venue))


@dataclass(frozen=True)
class Circle:
    """Whom one request of the privacy page shows and erases, read once and passed along: the shoppers this browser kept
    earlier with their tokens (hub.views.earlier_shoppers), whom the erasure reaches (`her_shoppers`: shopper ids,
    phones) and their paid things (`collect_paid`)."""

    kept: list[tuple[Shopper, str]]
    reach: tuple[list[str], list[str]]
    things: list[PaidThing]

    @classmethod
    def of(cls, shopper: Shopper) -> Circle:
        kept = earlier_shoppers(shopper.venue, shopper.client)
        reach = her_shoppers(shopper, *(who for who, _token in kept))
        return cls(kept, reach, collect_paid(shopper.venue, reach[0]))

    @property
    def earlier(self) -> list[Shopper]:
        return [who for who, _token in self.kept]


def _page(shopper: Shopper, refused: str | None = None, blocked: str | None = None, circle: Circle | None = None):
    """The page; `refused`: the "I understand" box was not ticked; `blocked`: a paid thing she may still cancel for a
    refund holds the erasure back (the list of her paid things says which); `circle`: when the request read it."""
    circle = Circle.of(shopper) if circle is None else circle
    others = other_sign_ins(shopper)
    data = held(services(), shopper, circle.earlier, others)
    venue_map = venue_or_404(shopper.venue)
    paid = paid_rows(shopper, circle, others)
    return render_template("insights/mydata.html", venue=venue_map, data=data, sections=readable(data, venue_map),
                           apps=[(name, app_title(name)) for name in data["apps"]], refused=refused, paid=paid,
                           blocked=blocked)


@dataclass(frozen=True)
class PaidRow:
    """One of her paid things as the page shows it: in words, with the link to its page (None: a thing of a shopper
    id this page does not show, reached only by the erasure)."""

    title: Any
    kind: str
    amount: str
    fate: str
    url: str | None
    refundable: bool


def paid_rows(shopper: Shopper, circle: Circle, others: list[str]) -> list[PaidRow]:
    """Her paid things (`circle.things`) in words, each linked with the token of the shopper id holding it: hers, the
    token this browser kept for an earlier one, a new one for another WiFi sign-in of the phone this token was
    vouched for (`others`: `other_sign_ins`; the export shows theirs too)."""
    tokens: dict[str, str | None] = {who.client: token for who, token in circle.kept}
    tokens |= {other: None for other in others}
    rows = []
    for thing in circle.things:
        if thing.client == shopper.client:
            url: str | None = shopper_url(thing.endpoint, **thing.values)
        elif thing.client in tokens:
            token = tokens[thing.client] or shopper_token(Shopper(shopper.venue, thing.client))
            url = url_for(thing.endpoint, **thing.values, c=token, **lang_arg())
        else:
            url = None
        title = thing.title if url else _("Paid for on another sign-in of yours")
        rows.append(PaidRow(title, paid_kind(thing.kind), cny(thing.amount_fen), paid_fate(thing), url,
                            thing.refundable))
    return rows


def paid_kind(kind: str) -> str:
    return {"ticket": pgettext("paid thing", "Ticket"), "order": pgettext("paid thing", "Paid order"),
            "deposit": pgettext("paid thing", "Deposit")}.get(kind, kind)


def paid_fate(thing: PaidThing) -> str:
    """What an erasure now does with the thing, in words."""
    amount = cny(thing.amount_fen)
    if thing.refundable and thing.until:
        return _("Refundable until %(time)s: cancel it on its page for a full refund of %(amount)s. Erasing waits "
                 "until you have; after that time it is kept for you instead, until it has been used.",
                 time=spoken_time(thing.until), amount=amount)
    if thing.refundable:
        return _("Refundable: give it up on its page for a full refund of %(amount)s. Erasing waits until you have.",
                 amount=amount)
    return _("No longer refundable: erasing keeps it for you, with its code, until %(time)s, then erases it. It is "
             "kept because you need it to use what you paid for (the contract you made when you paid).",
             time=spoken_time(thing.until or 0))


@bp.get("/export.json")
def export(venue: str):
    shopper = _shopper(venue)
    services().privacy.audit_export(venue, "shopper (self)", "my-data.json", "own data")
    response = jsonify(held(services(), shopper, _kept_earlier(shopper)))
    response.headers["Content-Disposition"] = 'attachment; filename="my-data.json"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/erase")
def erase_view(venue: str):
    """Erases only with the form's "I understand" ticked (WCAG 3.3.4: one stray tap must not undo everything):
    without it, the page again, 400, the box marked and nothing erased."""
    shopper = _shopper(venue)
    if not yes_or_no(request.form.get("confirm")):
        return _page(shopper, _("Nothing was erased: tick “I understand” to erase your data.")), 400
    svc, circle = services(), Circle.of(shopper)
    things = circle.things
    if any(thing.refundable for thing in things):  # money she may still get back is hers to ask for, on its page
        return _page(shopper, blocked=_("Nothing was erased: you hold paid things you may still cancel for a full "
                                        "refund (listed above). Cancel them on their pages first, or erase after "
                                        "their refund deadline, when they are kept for you instead."),
                     circle=circle), 409
    keeper = keep_paid(svc, venue, things)
    removed = erase(svc, shopper, circle.earlier, circle.reach)
    kept_declined = removed.pop("kept_declined", 0)
    svc.privacy.audit_export(venue, "shopper (self)", "erasure", f"{sum(removed.values())} records")
    token = token_store().mint(Shopper(venue, keeper)) if keeper else None
    kept = [PaidRow(thing.title, paid_kind(thing.kind), cny(thing.amount_fen),
                    _("Kept until %(time)s, then erased.", time=spoken_time(thing.until or 0)),
                    url_for(thing.endpoint, **thing.values, c=token, **lang_arg()), False) for thing in things]
    response = make_response(render_template("insights/erased.html", venue=venue_or_404(venue),
                                             kept_declined=kept_declined, kept=kept))
    forget_earlier(response, venue)
    if token:  # this browser opens what was kept from now on (a link of the page does in the sign-in sheet)
        set_shopper_cookie(response, cookie_name(venue), token, token_store().ttl_s)
    return response


def _kept_earlier(shopper: Shopper) -> list[Shopper]:
    """The shoppers this browser kept before this one: Me lists their things as hers."""
    return [who for who, _token in earlier_shoppers(shopper.venue, shopper.client)]
