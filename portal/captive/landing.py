"""Where a phone lands: one decision for the probe lane, the gateway entry views and the CAPPORT API.

`Landing.decide(venue, client, probe=...)` answers, with no Flask or WSGI types:
- Online: the phone's access was granted and this is an OS probe (not a page a browser opens);
- Redirect(endpoint, values, token): the page to send it to (the light app of its zone when the
  positioner is confident, else the mall home) and the shopper token the page gets;
- Offline: the venue's store is unavailable (its breaker is open or a call failed): fail open at once.
Each caller turns the decision into its own answer (a WSGI 302, a Flask redirect, captive+json).
Each caller asks `VenueCheck` first which venue the request is about, and that it exists: `decide` hands out a
token and queues an event for any venue it is given.

The steps are small methods (who, state, where, token) so a new rule (zone groups, a cold start)
slots in as one more step."""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.addresses import on_premises, within
from core.memo import BoundedMemo
from core.storage import slot_in_motion
from core.store_health import STORE_ERRORS, StoreBreaker, StoreUnavailable, VenueBreakers
from fingerprints.store import VenueStore
from portal.captive.probe_state import ProbeState, ProbeStateStore
from portal.captive.probes import Probe
from portal.captive.sessions import Session, SessionStore
from portal.events import EventLog
from portal.shopper import Shopper, ShopperTokenStore, new_shopper
from portal.tracking import Locator, Position
from portal.tracking.positions import landing_zone

log = logging.getLogger(__name__)

HOME = "directory.home"

FAIL_OPEN_LOG_EVERY_S = 10.0  # a venue's "failing open" line at most this often


class FailOpenLog:
    """The "store unavailable for venue ..., failing open" line, at most once per venue every `every_s`: a failure
    the breaker does not stop (a slot being resharded refuses every probe that positions a phone of a busy mall, for
    minutes) logged a line per probe, thousands a minute. A StoreUnavailable is the breaker's own refusal: it logged
    its opening once, so nothing is logged for it. One per app, the Landing's, which the app's VenueCheck and the
    captive pages share (portal/captive/views.py venue_check_of): a test's app logs afresh."""

    def __init__(self, every_s: float = FAIL_OPEN_LOG_EVERY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.every_s = every_s
        self._logged = BoundedMemo(4096, max_age_s=every_s, clock=clock)  # venue -> True: a line within every_s

    def __call__(self, venue: str, exc: Exception, doing: str = "failing open") -> None:
        """`doing`: what the request does instead (a WiFiDog ping answers 503: its gateways ping every minute)."""
        if isinstance(exc, StoreUnavailable) or self._logged.peek((venue, doing)):
            return
        self._logged.put((venue, doing), True)
        log.error("store unavailable for venue %s, %s: %s (the next such line for this venue comes "
                  "%g s from now at the earliest)", venue, doing, exc, self.every_s)

    def warn(self, venue: str, message: str) -> None:
        """A warning about the venue's set-up a caller repeats (a gateway refused on every ping), at most once per
        venue and message every `every_s`."""
        if self._logged.peek((venue, message)):
            return
        self._logged.put((venue, message), True)
        log.warning("venue %s: %s (the next such line comes %g s from now at the earliest)", venue, message,
                    self.every_s)


_warned_forwarded = False


def guest_ip(remote_addr: str | None, forwarded_for: str | None, proxy_hops: int) -> str | None:
    """A request's address as the landing may use it (to place a MAC no gateway vouched for, or to ask the IP
    table): None when a proxy forwarded the request (X-Forwarded-For) but PROXY_HOPS is 0. The address is then the
    proxy's, one private address for every guest: it would pass `on_premises` for anyone on the internet and name
    one phone for all of them. Logged once per process, so the operator sets PROXY_HOPS."""
    global _warned_forwarded
    if forwarded_for and proxy_hops == 0:
        if not _warned_forwarded:
            _warned_forwarded = True
            log.warning("a request came through a proxy (X-Forwarded-For) but PROXY_HOPS=0: its address is not "
                        "used to place phones; set PROXY_HOPS to the proxies in front")
        return None
    return remote_addr or None


@dataclass(frozen=True)
class Online:
    session: Session


@dataclass(frozen=True)
class Redirect:
    endpoint: str
    values: dict[str, str]
    token: str  # the shopper token the landing page carries (`c`)
    session: Session | None = None  # a live session (CAPPORT reports its time left)
    client: str = ""  # the shopper's client id (a random anonymous one when the phone is unknown)
    heard: bool = False  # the venue's APs hear the phone: placed from its readings, not from a redirect alone
    known: bool = False  # the phone is named: by the gateway's MAC, or by the IP table for the asking address


@dataclass(frozen=True)
class Offline:
    venue: str
    reason: str = field(default="store unavailable")


Decision = Online | Redirect | Offline


class Landing:
    """Built once per app (portal/captive/wiring.py) with the stores it reads, on the one store
    connection, behind the store breaker: each call about a venue through `breaker.for_venue(venue)`, the
    app's one breaker on a single store, the venue's own on a cluster (one shard down fails open only the
    venues on it)."""

    def __init__(self, *, probe_state: ProbeStateStore, sessions: SessionStore, locator: Locator,
                 zone_app: Callable[[str, str], str | None], landing_endpoint: Callable[[str], str | None],
                 breaker: StoreBreaker | VenueBreakers, tokens: ShopperTokenStore, events: EventLog | None = None,
                 client_networks: Callable[[str], Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]]
                 | None = None) -> None:
        self.probe_state = probe_state
        self.sessions = sessions
        self.locator = locator
        self.zone_app = zone_app  # (venue, zone) -> the app the zone runs
        self.landing_endpoint = landing_endpoint  # app name -> its landing endpoint (None: no such app)
        self.breaker = breaker
        self.tokens = tokens
        self.events = events  # every landing is a `landing` event (the funnels' middle step)
        # venue -> the networks its shoppers' requests come from (empty: PREMISES_NETWORKS, for a venue that sets
        # none or `on-premises`: PortalConfigStore.client_networks); read through a short memo
        # (portal/captive/wiring.py)
        self.client_networks = client_networks
        self.fail_open_log = FailOpenLog()

    def decide(self, venue: str, client: str | None, *, probe: Probe | None = None, ip: str | None = None,
               verified: bool = False, associated_ap: str | None = None, now: float | None = None,
               counted: bool = True) -> Decision:
        """`client` is the phone's client id when known (from the gateway's MAC parameter), else the
        IP table is asked for `ip`; `probe` is the OS probe being answered, None for a page visit
        (gateway entry, CAPPORT); `associated_ap`: the AP the gateway named (cold start: a phone's first
        probe precedes its reports); `verified`: the gateway vouched that `client` is this browser's phone.
        The token handed out is always a new shopper's: a MAC or an IP only locates a phone. `counted`: the answer
        is a landing (a `landing` event); not for the CAPPORT API, which phones poll at every re-evaluation."""
        now = time.time() if now is None else now
        try:
            breaker = self.breaker.for_venue(venue)  # the one breaker every store call below goes through
            breaker.check()
            by_ip = client is None and bool(ip)
            if by_ip:
                client = breaker.call(self.sessions.named_at, venue, ip)
                verified = client is not None  # the IP table learns only from verified gateways
            elif not verified:
                client = self.placeable(venue, client, ip)
            state = self._state(breaker, venue, client, now, associated_ap)
            if by_ip and SessionStore.held_elsewhere(state.session, ip):
                # the phone the table names was granted at another address since (read from the session this
                # probe reads anyway): whoever has this address now is unknown
                client, verified, state = None, False, self._state(breaker, venue, None, now)
            if state.session is not None and probe is not None and not probe.always_redirect:
                return Online(state.session)
            # A phone whose shopper declined location-based services: the mall home, not positioned now
            position, app_name = (None, None) if state.declined else self._where(breaker, venue, client, state,
                                                                                   associated_ap)
            endpoint, values = self.page_for(venue, position, app_name)
        except STORE_ERRORS as exc:
            self.fail_open_log(venue, exc)
            return Offline(venue)
        shopper, token = self.handout(venue, client, verified)
        if counted and self.events is not None:  # every landing is a `landing` event, off the request's path
            # (naming no phone whose shopper declined location-based services: no event of that phone is kept)
            self.events.emit_later(venue, "landing", at=now, device=None if state.declined else client,
                                   shopper=shopper.client, zone=values.get("zone"),
                                   app=app_name if "zone" in values else None)
        heard = position is not None and position.source != "ap"  # "ap": the associated AP the redirect named
        return Redirect(endpoint, values, token, state.session, shopper.client, heard, known=client is not None)

    def placeable(self, venue: str, client: str | None, ip: str | None) -> str | None:
        """`client`, a phone named by a MAC no gateway vouched for, when a request from `ip` may name it: the
        venue's `client_networks` hold `ip`; or, where the venue names none (unset, or `on-premises`), `ip` is an
        address of the premises' own kind (`on_premises`: loopback, private, CGNAT, IPv6 unique- or link-local: a
        portal on the mall's network sees its guests there); else None (no address: None). A MAC in a query is
        anyone's to type: answered from the internet, the landing (a zone's page, "online", the status page) would
        tell a stranger where that phone is; a portal hosted outside the mall names the mall's public addresses in
        `client_networks`. Raises a store error when the setting cannot be read."""
        if client is None:
            return None
        breaker = self.breaker.for_venue(venue)
        networks = breaker.attempt(self.client_networks, venue) if self.client_networks else ()  # memoised
        return client if (within(ip, networks) if networks else on_premises(ip)) else None

    def handout(self, venue: str, client: str | None, verified: bool = False) -> tuple[Shopper, str]:
        """A new shopper for this phone and its token, sealed: handing it out writes nothing (portal/shopper.py).
        Also for a page that is no landing (a phone the gateway says is online already)."""
        shopper = new_shopper(venue, client, phone_verified=verified)
        return shopper, self.tokens.mint(shopper, handout=True)

    def _state(self, breaker: StoreBreaker, venue: str, client: str | None, now: float,
               associated_ap: str | None = None) -> ProbeState:
        if client is None:
            return ProbeState(session=None, position=None, app=None)
        return breaker.call(self.probe_state.read, venue, client, now, associated_ap)

    def _where(self, breaker: StoreBreaker, venue: str, client: str | None, state: ProbeState,
               associated_ap: str | None = None) -> tuple[Position | None, str | None]:
        """The kept position when it still answers, else position the phone now (while its slot is being
        resharded and that is refused, the kept one however old: `_kept_instead`)."""
        if state.position is not None:
            return state.position, state.app
        if client is None:
            return None, None
        try:
            position = self.locator.locate(venue, client, associated_ap=associated_ap)
        except STORE_ERRORS as exc:
            position = self._kept_instead(breaker, venue, client, exc)
        except Exception:  # noqa: BLE001 - the model failed: the mall home still works
            log.exception("positioning failed for venue %s", venue)
            return None, None
        zone = landing_zone(position)
        if zone is None:
            return position, None
        return position, breaker.call(self.zone_app, venue, zone)

    def _kept_instead(self, breaker: StoreBreaker, venue: str, client: str, refused: Exception) -> Position:
        """The phone's kept position, however old, when positioning it anew was refused because its slot is being
        resharded (`slot_in_motion`: a write naming keys on both sides of the migration is refused until the
        handover), so its probe still lands on its zone's page instead of failing open. `refused` is raised (and
        counted by the breaker) for any other store error, or when nothing is kept."""
        if slot_in_motion(refused):
            position = breaker.call(self.locator.last_kept, venue, client)
            if position is not None:
                return position
        breaker.record_failure(refused)
        raise refused

    def page_for(self, venue: str, position: Position | None, app_name: str | None) -> tuple[str, dict[str, str]]:
        """(endpoint, URL values) of the landing page for a phone at `position` in a zone running `app_name`."""
        zone = landing_zone(position)
        if zone is not None:
            endpoint = self.landing_endpoint(app_name or "")
            if endpoint is not None:
                return endpoint, {"venue": venue, "zone": zone}
        return HOME, {"venue": venue}


class _Unanswered(Exception):
    """The store did not say whether the VENUE setting's venue exists (nothing is memoised then)."""


class VenueCheck:
    """Which venue a request is about, and whether it exists, asked before anything is handed out for it: a
    probe, a gateway redirect or a CAPPORT query naming a venue that does not exist must get no token and
    leave no event (neither would ever be cleaned up: the retention run visits registered venues only).

    Asked at the venue's own slot through its breaker (`VenueStore.exists`), and a venue found is remembered by
    this process for KNOWN_FOR_S, so a probe for a known venue stays one round trip; only a venue not found (made
    up) pays that read each time. Never the `{_global}` registry on the probe's path: on a cluster its shard
    hanging must not stall every mall's probes. One per app (portal/captive/views.py venue_check_of), shared by
    the probe lane and the views.

    A venue found is one VenueBreakers keeps a breaker for (`remember`): a made-up name gets none kept, so a flood
    of them cannot push a mall's open breaker out and reset it.

    A venue this process found and the store then no longer has is taken for a store that lost its data (it came
    back empty, or a failover promoted a replica that had not synced), not for a venue deleted: for SEEN_FOR_S
    after it was last found, a request for it fails open (`known` answers None) instead of getting its 404."""

    KNOWN_FOR_S = 300.0  # a venue is deleted only by an operator, and rarely: a probe for it may land 5 min more
    SEEN_FOR_S = 86_400.0  # how long a venue found once fails open while the store lacks it

    def __init__(self, venues: VenueStore, configured: str, breakers: StoreBreaker | VenueBreakers,
                 fail_open_log: FailOpenLog | None = None) -> None:
        self.venues = venues
        self.configured = configured  # the VENUE setting
        self.breakers = breakers
        # The fallback for a VENUE that names no venue, read again as often as the registry copy.
        self._fallback_memo = BoundedMemo(1, max_age_s=venues.REGISTRY_RECHECK_S)
        self._logged: str | None = ""  # the fallback last logged: a line per change, not one per probe
        self._found = BoundedMemo(4096, max_age_s=self.KNOWN_FOR_S)  # venue -> True: found (False: lost since)
        self._seen = BoundedMemo(4096, max_age_s=self.SEEN_FOR_S)  # venues found, kept past _found's expiry
        self.fail_open_log = fail_open_log or FailOpenLog()  # the app's (the Landing's): a line per venue

    def known(self, venue: str) -> bool | None:
        """Whether `venue` has a map; None while its store does not answer, or lacks a venue it had (the caller
        fails open as for any other store fault: an outage must not read as a typo)."""
        breaker = self.breakers.for_venue(venue)
        try:
            breaker.check()  # open: at once, not after a read waits out the store
            return self._exists(breaker, venue)
        except STORE_ERRORS as exc:
            self.fail_open_log(venue, exc)
            return None

    def default(self) -> str | None:
        """The venue of a request that names none (every OS probe): the VENUE setting's when it exists; else
        the store's only venue (a new mall whose VENUE was left at its default still works; logged); else None:
        the portal is not set up (no venue, or several and VENUE names none of them). The setting's own venue
        while the store does not answer (the caller fails open, as it would for that venue)."""
        if self.known(self.configured) is not False:  # it exists, or its store does not answer (fail open)
            return self.configured
        try:
            return self._fallback_memo.get(self.configured, self._fallback)
        except _Unanswered:
            return self.configured

    def lost(self, venue: str) -> bool:
        """Whether `venue`, which this process found, has no map in the store now (a page for it found none): it is
        dropped from the memo, so the next probe asks the store and fails open. False for a venue never found here,
        one the store still has (the page's 404 was another's: a zone), or while the store does not answer."""
        if not self._seen.peek(venue):
            return False
        self._found.put(venue, False)  # asked at its slot again, here and by the next probe
        try:
            return self._exists(self.breakers.for_venue(venue), venue) is None
        except STORE_ERRORS:
            return False

    def _exists(self, breaker: StoreBreaker, venue: str) -> bool | None:
        """Whether `venue` has a map: remembered when it has (no round trip), else asked at its slot; None when the
        store lacks a venue it had (SEEN_FOR_S)."""
        if self._found.peek(venue):
            return True
        found = bool(breaker.call(self.venues.exists, venue))
        if found:
            self._found.put(venue, True)
            self._seen.put(venue, True)
            self.breakers.remember(venue)  # a venue known to exist: its breaker is kept from now on
            return True
        return None if self._seen.peek(venue) else False

    def _fallback(self) -> str | None:
        """`default` when the setting's venue was not found (`known` asked it just before; the registry read
        here: a misconfigured portal only; raises _Unanswered while the store does not answer: nothing is
        memoised then)."""
        try:
            ids = self.venues.venue_ids()
        except STORE_ERRORS as exc:
            self.fail_open_log(self.configured, exc)
            raise _Unanswered from None
        chosen = ids[0] if len(ids) == 1 else None
        if chosen != self._logged:
            self._logged = chosen
            if chosen is not None:
                log.warning("configuration: VENUE=%s names no venue; requests that name none go to %s, the only "
                            "venue in the store. Set VENUE=%s.", self.configured, chosen, chosen)
            else:
                log.error("configuration: VENUE=%s names no venue and the store holds %d: probes and requests that "
                          "name no venue answer 'not set up'. Set VENUE to the mall's venue id.",
                          self.configured, len(ids))
        return chosen
