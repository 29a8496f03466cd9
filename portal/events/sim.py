"""A simulated day (or several) in a venue, seeded, with the ground truth the insights must reproduce.

What is simulated and what is real: the shoppers' itineraries (which zones, how long, whether they open
the portal, try to buy, follow a partner link) are drawn from a seeded generator; their positions enter
at the Locator's keep step (`Locator.keep`, so the footfall and presence listeners and the kept position
are the real ones; the fingerprint positioner itself is not run: the position given is the truth), each
landing is a real `Landing.decide` on that kept position, and each transaction is a request to the
zone's app's real form through the Flask test client (coupon claim, queue ticket, cinema seat hold,
activity sign-up, partner link, membership sign-up with the development sender's SMS code), with the
landing's `c` token and, for a regular, the cookie its browser kept (`mp_c_<venue>`: the real re-link to the
kept shopper). A conversion is counted in the ground truth only when the app's answer says the
transaction happened (a coupon already claimed or a seat just taken is no conversion). The event log's
clock is set to the simulated time around each request, so the apps' events fall on the simulated day.
The event log, the insights and the moments engine then run unchanged. Staff phones (present all day)
are part of the crowd, as in a real mall. Regulars are members (signed up on their first landing) or
returning browsers; anonymous shoppers clear their cookies: a new shopper each visit.

`python -m portal flask insights simulate --days 2` runs it on the demo venue (past days, so "yesterday"
has data); `simulate(...)` returns one `DayTruth` per day for the tests."""

from __future__ import annotations

import heapq
import random
import time as wall
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from flask import Flask

from portal.apps import registry
from portal.apps.views import STORES
from portal.captive.landing import Landing, Redirect
from portal.events.people import phone_ref
from portal.ingest.store import RssiKeys
from portal.services import Services
from portal.shopper import cookie_name
from portal.tracking.positions import Position

FIX_EVERY_S = 600  # a position every 10 minutes while a phone stays in a zone (the tracker sees more)
# The apps whose zones a buying shopper transacts in, through their forms (membership: the sign-up).
BUYING_APPS = ("cinema", "coupons", "queue", "activities")
MEMBERSHIP_SENDER = "membership_sender"  # lightapps/membership/sender.py's EXTENSION (no import: the host floor)


@dataclass
class Person:
    device: str
    kind: str  # member | returning (a kept shopper token) | anonymous | staff
    visit_p: float = 1.0
    ip: str = "10.0.0.1"
    kept: str | None = None  # a regular's browser cookie: the token of its first landing
    phone_number: str = ""  # a member's mobile number (signs up with it on the first landing)
    member: str | None = None  # once signed up
    arrival: float = 0.0  # when the current visit began
    done: set[str] = field(default_factory=set)  # coupons claimed, activities joined (never twice)

    @property
    def regular(self) -> bool:
        return self.kind in ("member", "returning")


@dataclass
class DayTruth:
    day: date
    since: float
    until: float
    visitors: set[str] = field(default_factory=set)  # phones with a visit of >= 5 min
    passers_by: set[str] = field(default_factory=set)
    dwell_s: list[float] = field(default_factory=list)  # per completed visit
    zone_dwell_s: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    zone_visitors: dict[str, set] = field(default_factory=lambda: defaultdict(set))
    zone_passers: dict[str, set] = field(default_factory=lambda: defaultdict(set))
    in_zone: dict[str, set] = field(default_factory=lambda: defaultdict(set))
    landed: dict[str, set] = field(default_factory=lambda: defaultdict(set))
    transacted: dict[str, set] = field(default_factory=lambda: defaultdict(set))
    referred: dict[str, set] = field(default_factory=lambda: defaultdict(set))
    identities: set[str] = field(default_factory=set)  # durable identities that transacted
    # identity -> (its visit's arrival, its first transaction in it): what first visit / return act on
    identified: dict[str, tuple[float, float]] = field(default_factory=dict)
    one_off_buyers: set[str] = field(default_factory=set)  # phones of anonymous shoppers who transacted: new
    repeat: set[str] = field(default_factory=set)
    new: set[str] = field(default_factory=set)
    moves: Counter = field(default_factory=Counter)
    arrivals: int = 0
    staff: set[str] = field(default_factory=set)
    # (phone, zone, enter time, stay seconds) of every stay: what the moments tests replay
    stays: list[tuple[str, str, float, float]] = field(default_factory=list)


def _population(rng: random.Random, shoppers: int, staff: int) -> list[Person]:
    people = []
    for i in range(shoppers):
        roll, ip = rng.random(), f"10.{i // 250 % 250}.{i % 250}.{rng.randint(1, 250)}"
        if roll < 0.2:
            people.append(Person(f"sim-{rng.getrandbits(48):012x}", "member", visit_p=0.8, ip=ip,
                                 phone_number=f"+86139{rng.getrandbits(26) % 100_000_000:08d}"))
        elif roll < 0.4:
            people.append(Person(f"sim-{rng.getrandbits(48):012x}", "returning", visit_p=0.8, ip=ip))
        else:
            people.append(Person(f"sim-{rng.getrandbits(48):012x}", "anonymous", visit_p=0.5, ip=ip))
    people += [Person(f"sim-staff{i}-{rng.getrandbits(24):06x}", "staff") for i in range(staff)]
    return people


def _itinerary(rng: random.Random, person: Person, zones: list[str], day_start: float) -> list[tuple[str, float]]:
    """[(zone, stay seconds)] and the arrival time, for one visit."""
    if person.kind == "staff":
        return [(zones[int(person.device[-6:], 16) % len(zones)], 10 * 3600.0)]
    if rng.random() < 0.3:  # a passer-by: one zone, a few minutes
        return [(rng.choice(zones), rng.uniform(60, 240))]
    stops, plan, last = rng.randint(1, 4), [], None
    for i in range(stops):
        zone = rng.choice([z for z in zones if z != last])
        plan.append((zone, rng.uniform(300, 1800) if i == 0 else rng.uniform(120, 1500)))
        last = zone
    return plan


class Simulator:
    def __init__(self, svc: Services, landing: Landing, venue: str, tz: str = "UTC", app: Flask | None = None) -> None:
        self.svc = svc
        self.landing = landing
        self.venue = venue
        self.tz = ZoneInfo(tz)
        venue_map = svc.venues.get_map(venue)
        if venue_map is None:
            raise ValueError(f"unknown venue {venue!r}")
        self.zones = {z.id: z for z in venue_map.zones}
        self.app = app
        self.http = app.test_client(use_cookies=False) if app is not None else None
        self._tokens: dict[str, str] = {}  # phone -> the `c` token of its current visit's landing
        self._seats: dict[str, list[list[str]]] = {}  # show -> seat groups not tried yet

    def _fix(self, device: str, zone: str, t: float) -> None:
        """A position of the phone at time t, as the locator keeps it (listeners included), with the newest
        reading it came from (so a probe at t finds it fresh)."""
        reading = f"sim|-60|{t:.3f}"
        key = RssiKeys(self.venue).readings(device)
        pipe = self.svc.db.pipeline(transaction=False)
        pipe.zadd(key, {reading: t})
        pipe.expire(key, 3600)
        pipe.execute()
        z = self.zones[zone]
        x = sum(p[0] for p in z.polygon) / len(z.polygon)
        y = sum(p[1] for p in z.polygon) / len(z.polygon)
        position = Position(floor=z.floor, x=float(x), y=float(y), zone=zone, confidence=0.9, zone_confidence=0.9)
        self.svc.locator.keep(self.venue, device, position, None, reading.encode(), t)

    def _app_of(self, zone: str) -> registry.LightApp | None:
        name = self.svc.zone_apps.get(self.venue, zone)[0]
        return registry.get(name) if name else None

    def _store(self, app_name: str):
        return self.app.extensions[STORES][app_name]

    def run(self, days: list[date], *, seed: int = 7, shoppers: int = 150, staff: int = 3) -> list[DayTruth]:
        rng = random.Random(seed)
        people = _population(rng, shoppers, staff)
        zones = sorted(self.zones)
        seen_identities: set[str] = set()
        truths = []
        for day in days:
            truth = self._day(rng, people, zones, day, seen_identities)
            seen_identities |= truth.identities
            truths.append(truth)
        return truths

    def _day(self, rng: random.Random, people: list[Person], zones: list[str], day: date,
             seen: set[str]) -> DayTruth:
        start = datetime.combine(day, time(0), self.tz).timestamp()
        truth = DayTruth(day=day, since=start, until=start + 86400)
        actions: list[tuple[float, int, str, tuple]] = []
        seq = 0

        def at(t: float, what: str, *args) -> None:
            nonlocal seq
            seq += 1
            heapq.heappush(actions, (t, seq, what, args))

        for person in people:
            if rng.random() >= person.visit_p:
                continue
            plan = _itinerary(rng, person, zones, start)
            t = start + (9 * 3600 if person.kind == "staff" else rng.uniform(10 * 3600, 20 * 3600))
            arrive, total = t, sum(s for _, s in plan)
            person.arrival = arrive
            loyal = person.kind in ("member", "returning")  # regulars open the portal and buy more often
            lands = person.kind != "staff" and plan[0][1] >= 300 and rng.random() < (0.9 if loyal else 0.5)
            for i, (zone, stay) in enumerate(plan):
                fixes = [t + k for k in range(0, int(stay), FIX_EVERY_S)]
                for f in fixes:
                    at(f, "fix", person.device, zone)
                if i == len(plan) - 1:
                    at(t + stay, "fix", person.device, zone)
                truth.stays.append((person.device, zone, t, stay))
                if i == 0 and lands:
                    self._plan_landing(rng, person, zone, t, at, truth)
                t += stay
            self._truth_of_visit(truth, person, plan, arrive, total)
        while actions:
            t, _, what, args = heapq.heappop(actions)
            getattr(self, "_do_" + what)(t, *args)
        self.svc.presence.sweep(self.venue, start + 86400 + 2 * self.svc.presence.leave_after_s)
        for identity in truth.identities:
            (truth.repeat if identity in seen else truth.new).add(identity)
        return truth

    # ---- the shoppers' requests ----

    def _request(self, person: Person, t: float, method: str, path: str, data: dict | None = None):
        """One request of the person's browser at simulated time t: the visit's `c` token, a regular's kept
        cookie, the person's own IP (abuse budgets count per IP too)."""
        headers = {"Cookie": f"{cookie_name(self.venue)}={person.kept}"} if person.kept else {}
        self.svc.events.clock = lambda: t
        try:
            # A fresh app context per request: inside the caller's (the CLI's) every request would share
            # its `g`, and so the first shopper.
            with self.app.app_context():
                return self.http.open(path, method=method, query_string={"c": self._tokens[person.device]},
                                      data=data, headers=headers, environ_base={"REMOTE_ADDR": person.ip})
        finally:
            self.svc.events.clock = wall.time

    def _sign_up(self, person: Person, t: float) -> bool:
        """A member's first landing: the membership form, the development sender's code (demo mode: it keeps
        the codes it "sent"; the membership app publishes it as the extension MEMBERSHIP_SENDER), the
        verification. Without a development sender there is no code to read: no sign-up."""
        sender = self.app.extensions.get(MEMBERSHIP_SENDER)
        base = f"/v/{self.venue}/member"
        if not hasattr(sender, "last_code") or self._request(
                person, t, "POST", f"{base}/signup", {"phone": person.phone_number}).status_code != 303:
            return False
        code = sender.last_code(person.phone_number)
        answer = self._request(person, t + 30, "POST", f"{base}/verify", {"code": code or ""})  # member_join
        if answer.status_code != 303:
            return False
        person.member = self._store("membership").for_client(self.venue, self._client(person)).id
        return True

    def _client(self, person: Person) -> str:
        """The shopper id the person's requests act as (a regular: the kept one)."""
        token = person.kept or self._tokens[person.device]
        return self.app.extensions["shopper_tokens"].resolve(token).client

    def _buy(self, person: Person, t: float, zone: str, app_name: str) -> bool:
        """The zone's app's form; True when the app's answer says the transaction happened."""
        v, now = self.venue, wall.time()
        if app_name == "coupons":
            coupon = next((c for c in self._store("coupons").live_for_zone(v, zone, now)
                           if "coupon:" + c.id not in person.done), None)
            if coupon is None:
                return False
            person.done.add("coupon:" + coupon.id)
            answer = self._request(person, t, "POST", f"/v/{v}/zone/{zone}/coupons/{coupon.id}/claim")
            return answer.status_code == 303 and "already" not in parse_qs(urlsplit(answer.location).query)
        if app_name == "queue":
            store, client = self._store("queue"), self._client(person)
            before = (store.my_ticket(v, zone, client) or {}).get("id")
            self._request(person, t, "POST", f"/v/{v}/queue/{zone}/take", {"party": "2"})
            return (store.my_ticket(v, zone, client) or {}).get("id") not in (None, before)
        if app_name == "activities":
            store = self._store("activities")
            item = next((a for a in store.for_zone(v, zone, now) if a.kind == "event"
                         and "act:" + a.id not in person.done and a.state(now) == "open"), None)
            if item is None:
                return False
            person.done.add("act:" + item.id)
            answer = self._request(person, t, "POST", f"/v/{v}/activities/{item.id}/join")
            return answer.status_code == 303 and "joined" in parse_qs(urlsplit(answer.location).query)
        if app_name == "cinema":
            return self._hold_seats(person, t, zone)
        return False

    def _hold_seats(self, person: Person, t: float, zone: str) -> bool:
        """Two seats (three at a run's end: no seat left alone) of the first show still open, by the real
        hold form, then the ticket by its confirm form (the purchase: a hold is none; the simulation has no
        payments, so the cinema books to pay at the counter); another pair if those were just taken."""
        store, now = self._store("cinema"), wall.time()
        for show in store.showtimes(self.venue, zone, start=now + 600):
            groups = self._seats.setdefault(show.id, _seat_groups(show.layout.orphan_runs))
            for _ in range(min(3, len(groups))):
                seats = groups.pop(0)
                answer = self._request(person, t, "POST", f"/v/{self.venue}/cinema/{zone}/show/{show.id}/hold",
                                       {"seat": seats})
                if answer.status_code == 303:
                    hold = urlsplit(answer.location).path.rstrip("/")
                    return self._request(person, t, "POST", f"{hold}/confirm").status_code == 303
        return False

    def _follow_partner_link(self, person: Person, t: float, zone: str) -> bool:
        links = self._store("activities").links_for_zone(self.venue, zone)
        return bool(links) and self._request(person, t, "GET", f"/v/{self.venue}/out/{links[0].id}").status_code == 302

    def _truth_of_visit(self, truth: DayTruth, person: Person, plan, arrive: float, total: float) -> None:
        if person.kind == "staff":
            truth.staff.add(person.device)
            return
        truth.arrivals += 1
        truth.dwell_s.append(total)
        (truth.visitors if total >= 300 else truth.passers_by).add(person.device)
        for zone, stay in plan:
            truth.zone_dwell_s[zone].append(stay)
            truth.in_zone[zone].add(person.device)
        for zone in {z for z, _ in plan}:
            best = max(s for z, s in plan if z == zone)
            (truth.zone_visitors if best >= 300 else truth.zone_passers)[zone].add(person.device)
        for (a, _), (b, _) in zip(plan, plan[1:], strict=False):
            truth.moves[(a, b)] += 1

    def _plan_landing(self, rng: random.Random, person: Person, zone: str, t: float, at, truth: DayTruth) -> None:
        app = self._app_of(zone)
        at(t + 30, "land", person, zone, truth)
        truth.landed[zone].add(person.device)
        if app is None or app.name not in BUYING_APPS:
            return
        if rng.random() < (0.9 if person.regular else 0.4):
            at(t + 120, "buy", person, zone, app.name, truth)
        if app.name == "activities" and rng.random() < 0.4:
            at(t + 150, "refer", person, zone, truth)

    def _do_fix(self, t: float, device: str, zone: str) -> None:
        self._fix(device, zone, t)

    def _do_land(self, t: float, person: Person, zone: str, truth: DayTruth) -> None:
        self._fix(person.device, zone, t)
        decision = self.landing.decide(self.venue, person.device, ip=person.ip, now=t)  # a guest's address
        if not isinstance(decision, Redirect):
            raise RuntimeError(f"simulated landing got {decision!r}")
        self._tokens[person.device] = decision.token
        if person.regular and person.kept is None:
            person.kept = decision.token  # the browser keeps this shopper in its cookie from now on
        # Every simulated shopper who lands accepts the privacy notice (location and marketing): the
        # insights count identified events only with location consent (tests/events covers refusals).
        for consenting in {decision.client, self._client(person)}:
            self.svc.consent.record(self.venue, consenting, location=True, marketing=True, now=t)
        if person.kind == "member" and person.member is None and self._sign_up(person, t + 60):
            self._identified(truth, person, t + 90)  # joining is a transaction (the verification, at t + 90)

    def _do_buy(self, t: float, person: Person, zone: str, app_name: str, truth: DayTruth) -> None:
        if not self._buy(person, t, zone, app_name):
            return
        truth.transacted[zone].add(person.device)
        if person.regular:
            self._identified(truth, person, t)
        else:
            truth.one_off_buyers.add(person.device)

    @staticmethod
    def _identified(truth: DayTruth, person: Person, t: float) -> None:
        identity = phone_ref(person.device)
        truth.identities.add(identity)
        truth.identified.setdefault(identity, (person.arrival, t))

    def _do_refer(self, t: float, person: Person, zone: str, truth: DayTruth) -> None:
        if self._follow_partner_link(person, t, zone):
            truth.referred[zone].add(person.device)


def _seat_groups(runs) -> list[list[str]]:
    """Seats in pairs along each run, the last three together when a pair would leave one alone."""
    groups = []
    for run in runs:
        i = 0
        while len(run) - i >= 2:
            take = 3 if len(run) - i == 3 else 2
            groups.append(list(run[i:i + take]))
            i += take
    return groups


def simulate(svc: Services, landing: Landing, venue: str, days: list[date], *, app: Flask, seed: int = 7,
             shoppers: int = 150, staff: int = 3, tz: str = "UTC") -> list[DayTruth]:
    """Run the simulation: the apps' forms through `app`'s test client."""
    return Simulator(svc, landing, venue, tz, app).run(days, seed=seed, shoppers=shoppers, staff=staff)


def past_days(n: int, tz: str = "UTC") -> list[date]:
    """The n days before today (oldest first): simulated days lie in the past, like real history."""
    today = datetime.now(ZoneInfo(tz)).date()
    return [today - timedelta(days=n - i) for i in range(n)]
