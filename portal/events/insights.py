"""Insights from the event log, for an operator (the whole venue) or a zone owner (their zones only).

Pure: `compute(events, ...)` takes the venue's events (portal/events/log.py) and returns the figures as
counts, each with how many distinct phones (or shoppers) stand behind it (`Insights.phones`); what a
console or an export shows goes through `k_safe`: a figure is shown when it is 0, or when at least k = 5
distinct phones stand behind it (one phone bouncing between two zones six times makes six moves, a heatmap
cell of six, a dwell bar of six, but points at one shopper). The definitions (README "Insights and moments"):

- a visit is arrive .. leave of one phone; a visitor stayed at least `visitor_min_s` (5 min) on some
  visit of the period, a passer-by never did; for zones, the same over the stays in those zones
  (zone_enter .. zone_leave). Capture rate = visitors / (visitors + passers-by). Figures count
  completed visits and stays (a phone still inside has no dwell yet).
- dwell histogram: completed visits (venue) or stays (zones) by length;
- new vs repeat: shoppers with a durable identity only (a member, or a shopper id that transacted on an
  earlier day: a returning token), never a phone's MAC; a shopper is identified by a transaction;
- hour-of-week heatmap: arrivals (venue) or zone entries (zones: `heatmap_counts`), Monday 00h first, in
  the venue's zone;
- flows: zone-to-zone moves (consecutive zone entries in one visit) and the most common paths (the
  venue: a visit's first four zones; zones: the step into each of them and the step out, so an owner
  sees no part of a path that does not pass through their zone);
- funnels per zone: phones in the zone (a stay of theirs overlaps the window: one across midnight counts on both
  days) -> of them, landed on its page -> of them, transacted there (any light-app transaction: a purchase, a coupon
  claimed or redeemed, a draw or its prize collected, a queue ticket, a booking, a sign-up to an activity or to the
  membership: free engagement counts, as a mall's operator counts it; a paid one once paid, counted by the app's own
  event (by its payment before the apps wrote one, `prepare`), and still counted when refunded later; not a
  partner-link referral, which has its own column, a seat hold, a payment or refund, or a member's sign-in:
  NOT_TRANSACTIONS). A zone standing for a group (a food hall for its stalls, positioning/groups.py) is where a phone
  in any of its members lands when the position cannot tell the stalls apart, so its funnel counts the phones,
  landings' purchases and referrals of the group's members too: a phone is never "in" the hall while it stands at a
  stall; and so do its visitors, passers-by, dwell, heatmap and new vs repeat (a stay at a stall is a stay in the
  hall for the hall's owner, and back-to-back stays in the hall and its stalls are one stay in it: `_area_stays`);
- new vs repeat in a zone scope looks back over purchases in that scope only (not other tenants');
- staff phones (present more than `staff_hours` a day on most days, or on the operator's list) are left out
  of everything; an event that names a shopper without location consent (her landings, her purchases) is left
  out; presence events (arrive, zone entries, leave) name no shopper and count as aggregates, shown
  k-anonymously (`PrivacyStore.allowed`; an erasure removes her vouched phone's presence too);
- a period longer than a day shows a figure only when each of its days would show it (`withhold`, by the
  same `k_safe` test): the figures of two periods could otherwise be subtracted to give one day's figure
  below k;
- each funnel step counts a part of the phones of the steps before it (`FUNNEL_PARENT`): two are shown only while
  they differ by 0 or by at least k, else both are withheld (`Shown.safe`), and with them the rate between them:
  in zone 6 beside landed 5 told that one phone in the shop did not open its page;
- a stay whose exit is not in the history (the phone still there, or its exit never written) ends by
  LEAVE_AFTER_S after the phone's last event at the latest, the tracker's rule (`_stays`);
- anonymised events (privacy.py) carry pseudonyms of their venue day only: new vs repeat over a history with
  any, and a period of several days' distinct counts (visitors, passers-by, funnels) with any in it, are not
  figures (`Insights.anonymised`): they would count one person once a day.

`prepare` does once what every window of a history shares (staff and consent filters, identities, the
events by time); `figure` then computes one window from it, so a month and each of its days cost one pass
over the history, not one per day."""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from portal.events.log import Event
from portal.events.people import ANON as ANON  # privacy.py's pseudonyms: it imports the prefix from here
from portal.events.people import identity_of, is_pseudonym

K_MIN = 5
VISITOR_MIN_S = 300.0
# The presence tracker's default (its `leave_after_s`, the LEAVE_AFTER_S setting): a phone unseen this long has left.
LEAVE_AFTER_S = 1200.0
FUNNEL_STEPS = ("in_zone", "landed", "transacted", "referred")
STAFF_HOURS = 6.0
# Dwell histogram bins, in minutes: [lo, hi); None: open-ended.
DWELL_BINS: tuple[tuple[int, int | None], ...] = ((0, 5), (5, 15), (15, 30), (30, 60), (60, 120), (120, None))
TOP = 10
# In a zone owner's scope, visitors and passers-by add up to the zone's phones of the period, which its funnel
# shows as "in zone" on the same page and export: one of the two shown beside the other "<5" gave the hidden
# one by subtraction (kopi: in zone 17, visitors 14: 3 passers-by). So there each is shown only while the
# other may be. (The venue's figures have no such total beside them.)
COMPLEMENTS = {"visitors": "passers_by", "passers_by": "visitors"}
# The dwell bars add up to the period's completed visits (or stays) and the hour-of-week cells to its arrivals
# (or zone entries), totals the same page shows: one member of such a group hidden alone ("<5") would follow by
# subtraction. So the smallest other member above 0 is hidden with it (a second suppression: two hidden members
# give only their sum).
SUMMED_GROUPS = ("dwell:", "heat:")
# Funnel step -> the step whose phones it counts a part of (landed: of those in the zone; transacted and partner-link
# referrals: of those who landed). Both of a pair shown, their difference is a count of phones of its own (in zone 6,
# landed 5: one phone in the shop did not open its page), so a pair differing by 1..k-1 is withheld whole; so is a
# step with the one before that (in zone 6 beside 5 referrals, while landed is held back, told the same).
FUNNEL_PARENT = {"landed": "in_zone", "transacted": "landed", "referred": "landed"}


def k_safe(n: int | None, k: int = K_MIN, phones: int | None = None) -> int | None:
    """The count when it may be shown: 0, or at least k with at least k distinct phones or shoppers behind
    it (`phones`; None: `n` itself counts distinct phones); None ("fewer than k") otherwise. The one test of
    every figure: a count of moves, entries or stays may be large and still be one shopper's."""
    if n is None or n == 0:
        return n
    return n if n >= k and (n if phones is None else phones) >= k else None


def bin_label(lo: int, hi: int | None) -> str:
    return f"{lo}-{hi} min" if hi is not None else f"{lo}+ min"


def dwell_bin(dwell_s: float) -> str:
    """The label of the dwell histogram bin a stay of `dwell_s` falls in."""
    minutes = dwell_s / 60
    return next(bin_label(lo, hi) for lo, hi in DWELL_BINS if minutes >= lo and (hi is None or minutes < hi))


def flow_key(a: str, b: str) -> str:
    return f"flow:{a}>{b}"


def path_key(path: tuple[str, ...]) -> str:
    return "path:" + ">".join(path)


@dataclass(frozen=True)
class Funnel:
    zone: str
    in_zone: int
    landed: int
    transacted: int
    referred: int

    def rate(self, part: int) -> float | None:
        return part / self.in_zone if self.in_zone else None


@dataclass
class Insights:
    venue: str
    since: float
    until: float
    zones: tuple[str, ...] | None  # None: the whole venue
    visitors: int = 0
    passers_by: int = 0
    dwell_s: list[float] = field(default_factory=list)  # one per completed visit (or stay)
    new: int = 0
    repeat: int = 0
    heatmap: list[list[int]] = field(default_factory=lambda: [[0] * 24 for _ in range(7)])
    transitions: list[tuple[str, str, int]] = field(default_factory=list)
    paths: list[tuple[tuple[str, ...], int]] = field(default_factory=list)
    funnels: list[Funnel] = field(default_factory=list)
    excluded_staff: int = 0
    # `figures` key -> how many distinct phones (shoppers, for new and repeat) stand behind that count:
    phones: dict[str, int] = field(default_factory=dict)
    withheld: list[str] = field(default_factory=list)  # `figures` keys some day of the period would not show
    # Not figures (report.py sets them on what it hands out; the counts above are then 0 or left out):
    hidden_until: float | None = None  # a zone owner's or the API's period not settled yet: none before then
    kept_since: float | None = None  # the event log lost the events written before this time (trimmed)
    managed_since: float | None = None  # a zone owner's: its look-back reaches before it held the zone
    incomplete: list[str] = field(default_factory=list)  # "period": no figure; "new_vs_repeat": those two
    anonymised: list[str] = field(default_factory=list)  # `figures` keys the anonymisation broke (`_anonymised`)
    as_of: float | None = None  # a period not settled yet (report.shown_from): when its figures were made

    def safe(self, key: str, n: int | None) -> int | None:
        """The figure `key` (its count `n`) as it may be shown: k_safe over the phones behind it (none
        recorded: none, so never shown), and None when withheld; in a zone scope, one of a pair that adds up
        to a total shown beside it (`COMPLEMENTS`) only while the other may be shown too; the second
        suppression of `SUMMED_GROUPS`. Decided from the figures as they are at this call; a page or an
        export that shows them all asks `shown` once instead."""
        return self.shown().safe(key, n)

    def shown(self) -> Shown:
        """`safe` for the figures as they are now, each summed group's second suppression found once: asked
        per member, it went over the whole group each time (168 hour-of-week cells, each over all 168).
        A snapshot: counts, phones or withheld keys edited later (`withhold`) need a new one."""
        withheld, phones = frozenset(self.withheld) | frozenset(self.anonymised), dict(self.phones)

        def own(key: str, n: int | None) -> int | None:
            return None if key in withheld else k_safe(n, phones=phones.get(key, 0))

        pairs = {key: own(key, getattr(self, key)) for key in COMPLEMENTS} if self.zones is not None else {}
        beside = {group: _hidden_beside_the_only_one(self.group_figures(group), own) for group in SUMMED_GROUPS}
        return Shown(own, pairs, beside, _differing_by_few(self.funnel_figures(), own))

    def funnel_figures(self) -> dict[str, int]:
        """The `figures` of the funnels, by key (`funnel:<zone>:<step>`)."""
        return {funnel_key(f.zone, step): getattr(f, step) for f in self.funnels for step in FUNNEL_STEPS}

    def group_figures(self, group: str) -> dict[str, int]:
        """The `figures` of one of SUMMED_GROUPS: the dwell bars or the hour-of-week cells, by key."""
        if group == "dwell:":
            return {f"dwell:{label}": n for label, n in self.dwell_histogram()}
        return {f"heat:{d}:{h}": n for d, row in enumerate(self.heatmap) for h, n in enumerate(row)}

    @property
    def capture_rate(self) -> float | None:
        seen = self.visitors + self.passers_by
        return self.visitors / seen if seen else None

    @property
    def mean_dwell_s(self) -> float | None:
        return sum(self.dwell_s) / len(self.dwell_s) if self.dwell_s else None

    def dwell_histogram(self) -> list[tuple[str, int]]:
        counts = Counter(dwell_bin(d) for d in self.dwell_s)
        return [(bin_label(lo, hi), counts[bin_label(lo, hi)]) for lo, hi in DWELL_BINS]

    def note(self, key: str, phones: set) -> None:
        """Record how many distinct phones (or shoppers) stand behind the figure `key`."""
        self.phones[key] = len(phones - {None})


@dataclass(frozen=True)
class Shown:
    """`Insights.safe` decided for one state of an Insights (`Insights.shown`)."""
    own: Callable[[str, int | None], int | None]  # k_safe over the phones behind a figure, None when withheld
    pairs: Mapping[str, int | None]  # COMPLEMENTS in a zone scope: each one's own safe count
    beside: Mapping[str, str | None]  # group of SUMMED_GROUPS -> the member hidden beside its only hidden one
    paired: frozenset[str] = frozenset()  # funnel figures withheld with their FUNNEL_PARENT pair (`_differing_by_few`)

    def safe(self, key: str, n: int | None) -> int | None:
        if key in self.paired:
            return None
        other = COMPLEMENTS.get(key)
        if other in self.pairs and self.pairs[other] is None:
            return None
        group = next((g for g in SUMMED_GROUPS if key.startswith(g)), None)
        if group is not None and key == self.beside[group]:
            return None
        return self.own(key, n)


def _hidden_beside_the_only_one(members: Mapping[str, int], own: Callable[[str, int], int | None]) -> str | None:
    """SUMMED_GROUPS' second suppression: the smallest other member above 0 when `own` (the members' own k
    test) hides exactly one of the group, else None."""
    hidden = [key for key, n in members.items() if own(key, n) is None]
    if len(hidden) != 1:
        return None
    shown = [(n, key) for key, n in members.items() if key != hidden[0] and n > 0]
    return min(shown)[1] if shown else None


def funnel_key(zone: str, step: str) -> str:
    return f"funnel:{zone}:{step}"


def funnel_pairs(funnels: Mapping[str, int]) -> list[tuple[str, str]]:
    """(whole, part): each funnel step of `funnels` (keys as `funnel_key`) with each step it counts a part of (the
    one before it, and the one before that: FUNNEL_PARENT followed)."""
    out = []
    for key in funnels:
        head, step = key.rsplit(":", 1)
        while step in FUNNEL_PARENT:
            step = FUNNEL_PARENT[step]
            if f"{head}:{step}" in funnels:
                out.append((f"{head}:{step}", key))
    return out


def _differing_by_few(funnels: Mapping[str, int], own: Callable[[str, int], int | None]) -> frozenset[str]:
    """The funnel figures to withhold because one of a pair (`funnel_pairs`), each shown by its own test, differs
    from the other by 1..k-1 phones: both of the pair. Every pair is asked, and hiding hides only, so no pair is
    shown that differs so."""
    hidden: set[str] = set()
    for whole, part in funnel_pairs(funnels):
        a, b = own(whole, funnels[whole]), own(part, funnels[part])
        if a is not None and b is not None and 0 < a - b < K_MIN:
            hidden |= {whole, part}
    return frozenset(hidden)


def figures(ins: Insights) -> dict[str, int]:
    """Every count the pages and exports show, by a key naming it ("stays": how many dwell times the mean
    is over)."""
    out = {"visitors": ins.visitors, "passers_by": ins.passers_by, "new": ins.new, "repeat": ins.repeat,
           "stays": len(ins.dwell_s)}
    for group in SUMMED_GROUPS:
        out |= ins.group_figures(group)
    out |= {flow_key(a, b): n for a, b, n in ins.transitions}
    out |= {path_key(p): n for p, n in ins.paths}
    return out | ins.funnel_figures()


def withhold(period: Insights, days: Iterable[Insights]) -> None:
    """Mark the period's figures that some day of it (figured with no top cut) would not show: `Insights.safe`
    of that day (k_safe: 1..k-1 of it, or fewer than k phones behind it; and the day's second suppressions,
    SUMMED_GROUPS and COMPLEMENTS, so a figure a day's page hides by them cannot come back as the week less
    the other days). Every figure but the distinct counts adds up over days, so any two periods' difference
    is a sum of whole days of which each is shown on its own page; the distinct counts get the same rule."""
    per_day = [(day.shown(), figures(day)) for day in days]
    period.withheld = sorted(key for key in figures(period)
                             if any(shown.safe(key, counts.get(key, 0)) is None for shown, counts in per_day))


def staff_devices(events: Iterable[Event], tz: str = "UTC", hours: float = STAFF_HOURS) -> set[str]:
    """Phones present more than `hours` a day (completed visits, by the day they left) on most of the days
    the venue has events for."""
    zone = ZoneInfo(tz)
    days: set[str] = set()
    presence: dict[str, Counter] = defaultdict(Counter)
    for e in events:
        day = datetime.fromtimestamp(e.at, zone).strftime("%Y-%m-%d")
        days.add(day)
        if e.kind == "leave" and e.device:
            presence[e.device][day] += float(e.data.get("dwell_s", 0.0))
    limit = hours * 3600
    return {dev for dev, per_day in presence.items()
            if sum(1 for s in per_day.values() if s > limit) > len(days) / 2}


def _identities(events: list[Event]) -> tuple[dict[str, str], dict[str, str]]:
    """shopper -> member (from membership events) and shopper -> phone (from events that carry both)."""
    member_of, device_of = {}, {}
    for e in events:
        if e.shopper and e.data.get("member"):
            member_of[e.shopper] = str(e.data["member"])
        if e.shopper and e.device:
            device_of[e.shopper] = e.device
    return member_of, device_of


@dataclass(frozen=True)
class Stay:
    """One phone in one zone from `start` to `end` (inf: no exit in the history; then it is over by `gone_by`)."""
    device: str
    zone: str
    start: float
    end: float
    gone_by: float = float("inf")


@dataclass(frozen=True)
class Prepared:
    """A history ready for `figure`: the events that count (staff and no-consent ones left out) by time
    (stable: write order among equal times), with the identities, purchases and stays every window looks
    up."""
    events: list[Event]
    times: list[float]  # each event's `at`, for bisect
    member_of: dict[str, str]
    device_of: dict[str, str]
    buys: list[tuple[float, str | None, str | None]]  # (at, identity, zone) of every purchase, by time
    excluded_staff: int
    stays: list[Stay] = field(default_factory=list)  # ended ones, by start
    stay_starts: list[float] = field(default_factory=list)
    longest_stay_s: float = 0.0  # of those: how far before a window a stay overlapping it may start
    open_stays: list[Stay] = field(default_factory=list)  # with no exit in the history (`_stays`)
    anonymised: list[float] = field(default_factory=list)  # when each event naming a pseudonym happened, by time
    paid_since: float = float("-inf")  # a `payment` that happened before it is a purchase (`prepare`)

    def bought(self, e: Event) -> bool:
        """The event is a purchase of its shopper's (`_bought`)."""
        return _bought(e, self.paid_since)

    def window(self, since: float, until: float) -> list[Event]:
        return self.events[bisect_left(self.times, since):bisect_left(self.times, until)]

    def bought_before(self, since: float, in_scope: Callable[[str | None], bool]) -> set[str | None]:
        """Who bought in the scope before `since`: a zone owner's repeat shopper is one of their own."""
        return {who for at, who, zone in self.buys if at < since and in_scope(zone)}

    def stays_during(self, since: float, until: float) -> list[Stay]:
        """The stays that overlap [since, until): one begun before it (across midnight) counts too."""
        lo = bisect_left(self.stay_starts, since - self.longest_stay_s)
        # A stay ending exactly at `since` (midnight) belongs to the day before; one starting there, to this one.
        ended = [s for s in self.stays[lo:bisect_left(self.stay_starts, until)] if s.end > since or s.start >= since]
        return ended + [s for s in self.open_stays if s.start < until and s.gone_by > since]

    def anonymised_in(self, since: float, until: float) -> bool:
        """Whether an event in [since, until) names a pseudonym."""
        return bisect_left(self.anonymised, since) < bisect_left(self.anonymised, until)


def prepare(events: Iterable[Event], *, staff: Iterable[str] = (), allowed: Callable[[Event], bool] | None = None,
            leave_after_s: float = LEAVE_AFTER_S, paid_since: float = float("-inf")) -> Prepared:
    """`events`: the venue's events up to the end of the windows to figure, with the history before them
    that new-vs-repeat looks back over. `staff`: phones to leave out; `allowed(event)`: False drops the
    event (no location consent); `leave_after_s`: the tracker's, for stays with no exit (`_stays`); `paid_since`: when
    the apps began writing their own transaction for a paid order (log.paid_transaction, `EventLog.since`): a release
    before logged only the money, so a `payment` that happened before then is the purchase (and one after it is not:
    the app's event is), also once anonymised (its time is kept)."""
    staff = set(staff)
    kept = [e for e in events if e.device not in staff and (allowed is None or allowed(e))]
    member_of, device_of = _identities(kept)  # in write order: the latest written wins
    kept.sort(key=lambda e: e.at)
    buys = [(e.at, identity_of(e, member_of.get), e.zone) for e in kept if _bought(e, paid_since)]
    stays, still_open = _stays(kept, leave_after_s)
    stays.sort(key=lambda s: s.start)
    return Prepared(kept, [e.at for e in kept], member_of, device_of, buys, len(staff), stays,
                    [s.start for s in stays], max([0.0, *(s.end - s.start for s in stays)]), still_open,
                    [e.at for e in kept if is_pseudonym(e.device) or is_pseudonym(e.shopper)],
                    paid_since)


def _stays(events: list[Event], leave_after_s: float) -> tuple[list[Stay], list[Stay]]:
    """Each phone's stays in zones, from its zone_enter .. zone_leave (events by time): those ended, and
    those with no exit in the history. A leave without an enter in the history (entered before it was read)
    starts `dwell_s` before it. An enter with no exit (the phone still there, or its exit never written: a
    stay whose ends were anonymised apart before, a state dropped) is over by `leave_after_s` after the
    phone's last event, the tracker's rule (unseen that long, it left): it ends no later once the phone is
    next seen after that but not in it (an arrive, another zone), and at the history's end, where a window
    inside the history sees it the same (`Prepared.stays_during`). A phone sitting still writes nothing, so
    its own zone's exit, however late, still ends the stay."""
    entered: dict[str, tuple[str, float]] = {}
    last: dict[str, float] = {}
    out, unended = [], []
    for e in events:
        if e.device is None:
            continue
        going = entered.get(e.device)
        if going is not None and e.at > last[e.device] + leave_after_s and not _in_zone(e, going[0]):
            del entered[e.device]
            unended.append(Stay(e.device, *going, float("inf"), last[e.device] + leave_after_s))
        last[e.device] = e.at
        if e.kind not in ("zone_enter", "zone_leave", "leave"):
            continue
        zone, start = entered.pop(e.device, (None, None))  # any event of these ends the stay going on
        if e.kind == "zone_leave" and e.zone and zone != e.zone:
            zone, start = e.zone, e.at - float(e.data.get("dwell_s", 0.0))
        if zone is not None:
            out.append(Stay(e.device, zone, start, e.at))
        if e.kind == "zone_enter" and e.zone:
            entered[e.device] = (e.zone, e.at)
    return out, unended + [Stay(device, zone, start, float("inf"), last[device] + leave_after_s)
                           for device, (zone, start) in entered.items()]


def _in_zone(e: Event, zone: str) -> bool:
    """The event is a sighting of its phone still in `zone` (its exit, a dwell mark, a landing there)."""
    return e.zone == zone and e.kind != "zone_enter"


def _anonymised(out: Insights, history: Prepared, zone: ZoneInfo) -> None:
    """The figures the anonymisation broke (`Insights.anonymised`): an anonymised day's phones and shoppers carry
    pseudonyms of that day only, so new vs repeat, which looks back over earlier days, takes a returning shopper
    for a new one once that history holds any; and the distinct counts of several days with any would count one
    phone once a day."""
    broken = ["new", "repeat"] if history.anonymised_in(float("-inf"), out.until) else []
    first, last = (datetime.fromtimestamp(at, zone).date() for at in (out.since, out.until - 1))
    if first != last and history.anonymised_in(out.since, out.until):
        broken += ["visitors", "passers_by", *(f"funnel:{f.zone}:{step}" for f in out.funnels for step in FUNNEL_STEPS)]
    out.anonymised = broken


def compute(events: Iterable[Event], venue: str, since: float, until: float, *, tz: str = "UTC",
            zones: Iterable[str] | None = None, staff: Iterable[str] = (), visitor_min_s: float = VISITOR_MIN_S,
            allowed: Callable[[Event], bool] | None = None, top: int | None = TOP,
            groups: Mapping[str, str] | None = None, leave_after_s: float = LEAVE_AFTER_S) -> Insights:
    """The figures of [since, until) from `events` (`prepare`). `zones`: a zone owner's zones (None: the
    whole venue). `groups`: zone -> the zone standing for its group (positioning.groups.derive_groups)."""
    return figure(prepare(events, staff=staff, allowed=allowed, leave_after_s=leave_after_s), venue, since, until,
                  tz=tz, zones=zones, visitor_min_s=visitor_min_s, top=top, groups=groups)


def figure(history: Prepared, venue: str, since: float, until: float, *, tz: str = "UTC",
           zones: Iterable[str] | None = None, visitor_min_s: float = VISITOR_MIN_S,
           top: int | None = TOP, groups: Mapping[str, str] | None = None) -> Insights:
    """The figures of [since, until) of a prepared history. `top`: how many flows and paths (None: all);
    `groups`: as for `compute`."""
    scope = tuple(sorted(set(zones))) if zones is not None else None
    window = history.window(since, until)
    out = Insights(venue=venue, since=since, until=until, zones=scope, excluded_staff=history.excluded_staff)

    def in_scope(zone: str | None) -> bool:
        return scope is None or zone in scope

    group_of = groups or {}

    def in_area(zone: str | None) -> bool:  # a stall's purchase is the hall's for its owner, as the funnel counts it
        return scope is None or bool(_areas(zone, scope, group_of))

    ended, entered = _visits_or_area_stays(history, window, since, until, scope, group_of)
    _presence(out, ended, visitor_min_s)
    _heatmap(out, entered, ZoneInfo(tz))
    _flows(out, window, in_scope, top)
    _funnels(out, window, history, since, until, scope, groups or {})
    _repeat(out, history, window, since, in_area)
    _anonymised(out, history, ZoneInfo(tz))
    return out


def _visits_or_area_stays(history: Prepared, window: list[Event], since: float, until: float, scope,
                          groups: Mapping[str, str]) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """What the headline figures count: (phone, dwell) of each visit (the venue) or area stay (a zone scope:
    `_area_stays`) that ended in the window, and (phone, when) of each that began in it."""
    if scope is None:
        return ([(e.device, float(e.data.get("dwell_s", 0.0))) for e in window if e.kind == "leave" and e.device],
                [(e.device, e.at) for e in window if e.kind == "arrive"])
    stays = _area_stays(history, since, until, lambda zone: _area(zone, scope, groups))
    return ([(s.device, s.end - s.start) for s in stays if since <= s.end < until],
            [(s.device, s.start) for s in stays if since <= s.start < until])


# Stays this close are back to back: a move from one zone to the next is written as a zone_leave and a zone_enter
# at one time; a stay whose enter the history lacks starts its dwell before its leave, a dwell kept to 0.1 s.
BACK_TO_BACK_S = 1.0


def _area(zone: str | None, scope, groups: Mapping[str, str]) -> str | None:
    """The one area of a zone scope a stay in `zone` is in (None: none): the zone standing for its group when the
    scope has it (a stall's stay is the food hall's), else the zone itself."""
    areas = _areas(zone, scope, groups)
    return areas[-1] if areas else None


def _area_stays(history: Prepared, since: float, until: float, area_of: Callable[[str], str | None]) -> list[Stay]:
    """Each phone's stays in each area (`area_of` a zone) that overlap [since, until), as Stays whose `zone` is the
    area: back-to-back stays in zones of one area (a stall, the next stall, the hall's seating) are one stay in it,
    followed across the window's edges (it may have begun before the window or go on after it)."""
    chains = _back_to_back(history.stays_during(since - BACK_TO_BACK_S, until + BACK_TO_BACK_S), area_of)
    return [_whole(history, chain, area_of, since, until) for chain in chains]


def _back_to_back(stays: Iterable[Stay], area_of: Callable[[str], str | None]) -> list[Stay]:
    """The stays merged per phone and area wherever one begins as (or before) the last one ended; nothing is back
    to back with a stay with no exit in the history (its phone was next seen elsewhere, if at all)."""
    by_area: dict[tuple[str, str], list[Stay]] = defaultdict(list)
    for stay in stays:
        area = area_of(stay.zone)
        if area is not None:
            by_area[(stay.device, area)].append(stay)
    out = []
    for (device, area), own in by_area.items():
        own.sort(key=lambda s: s.start)
        start, end = own[0].start, own[0].end
        for stay in own[1:]:
            if stay.start > end + BACK_TO_BACK_S or end == float("inf"):
                out.append(Stay(device, area, start, end))
                start, end = stay.start, stay.end
            else:
                end = max(end, stay.end)
        out.append(Stay(device, area, start, end))
    return out


def _whole(history: Prepared, chain: Stay, area_of: Callable[[str], str | None], since: float, until: float) -> Stay:
    """An area stay with the stays in its area it goes on in beyond the window's edges, before `since` and from
    `until` on (the window's own are in it already). One stay a step: an area stay is a few moves."""
    start, end = chain.start, chain.end
    back, ahead = start <= since, until <= end < float("inf")

    def mine(stay: Stay) -> bool:
        return stay.device == chain.device and area_of(stay.zone) == chain.zone

    while back or ahead:
        before = [s.start for s in history.stays_during(start - BACK_TO_BACK_S, start)
                  if mine(s) and s.start < start <= s.end + BACK_TO_BACK_S < float("inf")] if back else []
        after = [s.end for s in history.stays_during(end, end + BACK_TO_BACK_S)
                 if mine(s) and s.end > end >= s.start - BACK_TO_BACK_S] if ahead else []
        start, end = min([start, *before]), max([end, *after])
        back, ahead = bool(before), bool(after) and end < float("inf")
    return Stay(chain.device, chain.zone, start, end)


def _presence(out: Insights, ended: list[tuple[str, float]], visitor_min_s: float) -> None:
    """`ended`: (phone, dwell) of each completed visit or area stay."""
    best: dict[str, float] = {}
    in_bin: dict[str, set] = defaultdict(set)
    for device, dwell in ended:
        out.dwell_s.append(dwell)
        in_bin[dwell_bin(dwell)].add(device)
        best[device] = max(best.get(device, 0.0), dwell)
    visitors = {d for d, dwell in best.items() if dwell >= visitor_min_s}
    out.visitors, out.passers_by = len(visitors), len(best) - len(visitors)
    out.note("visitors", visitors)
    out.note("passers_by", set(best) - visitors)
    out.note("stays", set(best))  # the mean dwell: shown only over k phones' stays
    for label, phones in in_bin.items():
        out.note(f"dwell:{label}", phones)


def heatmap_counts(zones: tuple[str, ...] | None) -> str:
    """What the hour-of-week heatmap counts: the venue's arrivals, or entries into a zone owner's zones."""
    return "arrivals" if zones is None else "zone_entries"


def _heatmap(out: Insights, entered: list[tuple[str, float]], zone: ZoneInfo) -> None:
    """`entered`: (phone, when) of each arrival or entry into an area (`_visits_or_area_stays`)."""
    phones: dict[str, set] = defaultdict(set)
    for device, at in entered:
        local = datetime.fromtimestamp(at, zone)
        out.heatmap[local.weekday()][local.hour] += 1
        phones[f"heat:{local.weekday()}:{local.hour}"].add(device)
    for key, who in phones.items():
        out.note(key, who)


def _flows(out: Insights, window: list[Event], in_scope, top: int | None) -> None:
    visits: dict[str, list[list[str]]] = defaultdict(list)
    for e in window:
        if e.device is None:
            continue
        if e.kind == "arrive" or not visits[e.device]:
            visits[e.device].append([])
        if e.kind == "zone_enter" and e.zone:
            path = visits[e.device][-1]
            if not path or path[-1] != e.zone:
                path.append(e.zone)
    moves: Counter = Counter()
    paths: Counter = Counter()
    phones: dict[str, set] = defaultdict(set)
    for device, per_device in visits.items():
        for path in per_device:
            for a, b in zip(path, path[1:], strict=False):
                if in_scope(a) or in_scope(b):
                    moves[(a, b)] += 1
                    phones[flow_key(a, b)].add(device)
            for part in _path_parts(path, in_scope, whole=out.zones is None):
                paths[part] += 1
                phones[path_key(part)].add(device)
    out.transitions = [(a, b, n) for (a, b), n in moves.most_common(top)]
    out.paths = paths.most_common(top)
    for key in [flow_key(a, b) for a, b, _ in out.transitions] + [path_key(p) for p, _ in out.paths]:
        out.note(key, phones[key])


def _path_parts(path: list[str], in_scope, whole: bool) -> set[tuple[str, ...]]:
    """What one visit's path adds to the top paths: its first four zones (the venue), or for each scoped
    zone on it the zone before, the zone and the zone after (once per visit each)."""
    if len(path) < 2:
        return set()
    if whole:
        return {tuple(path[:4])}
    return {tuple(path[max(0, i - 1):i + 2]) for i, zone in enumerate(path) if in_scope(zone)}


def _funnels(out: Insights, window: list[Event], history: Prepared, since: float, until: float, scope,
             groups: Mapping[str, str]) -> None:
    """Phones whose stay overlaps [since, until), by zone; landings and purchases in the window. A member of a
    group (a food-hall stall) counts for its group's zone too: a phone there lands on the group's page."""
    in_zone: dict[str, set] = defaultdict(set)
    landed: dict[str, set] = defaultdict(set)
    bought: dict[str, set] = defaultdict(set)
    referred: dict[str, set] = defaultdict(set)
    for stay in history.stays_during(since, until):
        for area in _areas(stay.zone, scope, groups):
            in_zone[area].add(stay.device)
    for e in window:
        device = e.device or history.device_of.get(e.shopper or "")
        if not e.zone or device is None:
            continue
        if e.kind == "landing" and (scope is None or e.zone in scope):  # on that zone's own page
            landed[e.zone].add(device)
        elif e.kind == "txn" and e.data.get("action") == "referral":
            for area in _areas(e.zone, scope, groups):
                referred[area].add(device)
        elif history.bought(e):
            for area in _areas(e.zone, scope, groups):
                bought[area].add(device)
    for zone in sorted(scope if scope is not None else in_zone):
        seen = in_zone[zone]
        came = landed[zone] & seen
        out.funnels.append(Funnel(zone, len(seen), len(came), len(bought[zone] & came), len(referred[zone] & came)))
        out.note(f"funnel:{zone}:in_zone", seen)
        out.note(f"funnel:{zone}:landed", came)
        out.note(f"funnel:{zone}:transacted", bought[zone] & came)
        out.note(f"funnel:{zone}:referred", referred[zone] & came)


def _areas(zone: str | None, scope, groups: Mapping[str, str]) -> list[str]:
    """The areas in `scope` (None: all) a phone in `zone` counts in: the zone, and the zone standing for its group
    (a food-hall stall counts for the hall: a phone there lands on the hall's page)."""
    return [a for a in (zone, groups.get(zone)) if a is not None and (scope is None or a in scope)]


# Light-app events that are no transaction of the shopper's: a partner-link click (its own column; it identifies
# nobody), money given back (a refund of an earlier purchase would count its shopper as buying again that day), a
# member signing in again, a sign-up given back, seats held (most holds are never paid; the paid ones' ticket is
# the transaction), and money paid: a paid order's transaction is the app's own event (log.paid_transaction: the
# ticket, the sale's unit), which links to the shopper's phone; the payment beside it would count her twice (an
# anonymised payment carries a pseudonym of its own, privacy.py). Before the apps wrote that event, the payment was
# the purchase's only one: it counts then (`prepare`'s paid_since).
NOT_TRANSACTIONS = frozenset({"referral", "refund", "member_login", "activity_leave", "seat_hold", "payment"})


def _bought(e: Event, paid_since: float = float("-inf")) -> bool:
    """A purchase (NOT_TRANSACTIONS aside): a `payment` only when it happened before `paid_since`."""
    action = e.data.get("action")
    return e.kind == "txn" and (action not in NOT_TRANSACTIONS or action == "payment" and e.at < paid_since)


def _repeat(out: Insights, history: Prepared, window: list[Event], since: float, in_area) -> None:
    """Shoppers who bought in the scope's areas (a stall's purchase is its hall's, as the funnel counts it)."""
    earlier = history.bought_before(since, in_area)
    now = {identity_of(e, history.member_of.get) for e in window if history.bought(e) and in_area(e.zone)} - {None}
    out.repeat, out.new = len(now & earlier), len(now - earlier)
    out.note("repeat", now & earlier)
    out.note("new", now - earlier)
