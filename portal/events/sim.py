"""A simulated day (or several) in a venue, seeded, with the ground truth the insights must reproduce.

What is simulated and what is real: the shoppers' itineraries (which zones, how long, whether they open
the portal, buy, follow a partner link) are drawn from a seeded generator; their positions enter at the
Locator's keep step (`Locator.keep`, so the footfall and presence listeners and the kept position are the
real ones; the fingerprint positioner itself is not run: the position given is the truth), each landing
is a real `Landing.decide` on that kept position, and each transaction goes through the light apps' one
hook (`portal.apps.views.record_event`) with the zone's app. The event log, the insights and the moments
engine then run unchanged. Staff phones (present all day) are part of the crowd, as in a real mall.

`python -m portal flask insights simulate --days 2` runs it on the demo venue (past days, so "yesterday"
has data); `simulate(...)` returns one `DayTruth` per day for the tests."""

from __future__ import annotations

import heapq
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from portal.apps import registry
from portal.apps.views import record_event
from portal.captive.landing import Landing, Redirect
from portal.ingest.store import RssiKeys
from portal.services import Services
from portal.shopper import Shopper
from portal.tracking.positions import Position

FIX_EVERY_S = 600  # a position every 10 minutes while a phone stays in a zone (the tracker sees more)
# What a shopper who buys does in a zone running each app (any other app: no transaction there).
ACTIONS = {"cinema": "ticket", "coupons": "coupon_claim", "queue": "queue_ticket", "activities": "activity_join",
           "membership": "member_join"}


@dataclass
class Person:
    device: str
    kind: str  # member | returning (a kept shopper token) | anonymous | staff
    member: str | None = None
    shopper: str | None = None  # a returning shopper's kept shopper id
    visit_p: float = 1.0


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
        roll = rng.random()
        if roll < 0.2:
            people.append(Person(f"sim-{rng.getrandbits(48):012x}", "member", member=str(200001 + i), visit_p=0.8))
        elif roll < 0.4:
            people.append(Person(f"sim-{rng.getrandbits(48):012x}", "returning",
                                 shopper=f"s-sim{rng.getrandbits(40):010x}", visit_p=0.8))
        else:
            people.append(Person(f"sim-{rng.getrandbits(48):012x}", "anonymous", visit_p=0.5))
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
    def __init__(self, svc: Services, landing: Landing, venue: str, tz: str = "UTC") -> None:
        self.svc = svc
        self.landing = landing
        self.venue = venue
        self.tz = ZoneInfo(tz)
        venue_map = svc.venues.get_map(venue)
        if venue_map is None:
            raise ValueError(f"unknown venue {venue!r}")
        self.zones = {z.id: z for z in venue_map.zones}
        self._shoppers: dict[str, str] = {}  # phone -> the shopper id its last landing handed out

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
        at(t + 30, "land", person, zone)
        truth.landed[zone].add(person.device)
        if app is None or app.name not in ACTIONS:
            return
        if rng.random() < (0.9 if person.kind in ("member", "returning") else 0.4):
            at(t + 120, "buy", person, zone, app.name, ACTIONS[app.name])
            truth.transacted[zone].add(person.device)
            if person.kind in ("member", "returning"):
                truth.identities.add(f"m:{person.member}" if person.member else f"s:{person.shopper}")
            else:
                truth.one_off_buyers.add(person.device)
        if app.name == "activities" and rng.random() < 0.4:
            at(t + 150, "buy", person, zone, app.name, "referral")
            truth.referred[zone].add(person.device)

    def _do_fix(self, t: float, device: str, zone: str) -> None:
        self._fix(device, zone, t)

    def _do_land(self, t: float, person: Person, zone: str) -> None:
        self._fix(person.device, zone, t)
        decision = self.landing.decide(self.venue, person.device, now=t)
        if not isinstance(decision, Redirect):
            raise RuntimeError(f"simulated landing got {decision!r}")
        self._shoppers[person.device] = person.shopper or decision.client  # a returning browser keeps its own

    def _do_buy(self, t: float, person: Person, zone: str, app_name: str, action: str) -> None:
        shopper = Shopper(self.venue, self._shoppers.get(person.device) or person.shopper or "", phone=person.device)
        record_event(registry.get(app_name), action, self.venue, shopper, zone=zone, at=t,
                     member=person.member if action != "referral" else None)


def simulate(svc: Services, landing: Landing, venue: str, days: list[date], *, seed: int = 7,
             shoppers: int = 150, staff: int = 3, tz: str = "UTC") -> list[DayTruth]:
    """Run the simulation (inside an app context: transactions go through the apps' hook)."""
    return Simulator(svc, landing, venue, tz).run(days, seed=seed, shoppers=shoppers, staff=staff)


def past_days(n: int, tz: str = "UTC") -> list[date]:
    """The n days before today (oldest first): simulated days lie in the past, like real history."""
    today = datetime.now(ZoneInfo(tz)).date()
    return [today - timedelta(days=n - i) for i in range(n)]
