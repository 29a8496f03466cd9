"""The notification worker: `python -m portal notify`, which `make run` starts beside the web server
and the tracker (its own process, not the tracker's loop: delivery waits on push services and SMS
providers for seconds, and positioning must never wait behind them; it restarts and scales on its own).

Per venue it serves (venue leases, kind "notify", as trackers divide venues): due reminders and retries
move onto the stream; entries a dead worker left unacknowledged are reclaimed; each new message is fanned
out to the shopper's channels and targets and delivered. A failed try is retried with exponential backoff
(NOTIFY_RETRY_BASE_S doubling, at most MAX_BACKOFF_S apart) up to NOTIFY_MAX_ATTEMPTS, then goes to the
venue's dead letters; a refused one goes there at once. A delivery that succeeded is never repeated, and
none is sent by two workers at once: each is claimed in the store before it is sent (Outbox.claim). Two
workers can hold one entry (a slow batch outlives the venue's lease, the next holder reclaims what looks
abandoned); whichever claims a delivery sends it, and an entry with a delivery another worker is sending is
left unacknowledged: that worker acknowledges it, or, should it die, the entry is reclaimed once more.

A store fault between the provider's acceptance and `mark_sent` is retried here (MARK_SENT_RETRY_S, well within
the claim's CLAIM_TTL_S). Should the claim lapse all the same (a longer outage, a worker killed mid-send), the
delivery's "sending" marker says it may have gone out: it is put in the dead letters, never sent again on its
own (an SMS twice is charged twice); the operator replays it if the shopper did not get it."""

from __future__ import annotations

import logging
import random
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from urllib.parse import urlencode

import redis

from core.settings import Settings
from core.store_health import worker_breakers
from fingerprints.store import VenueStore
from portal.captive.config import VenueTimeZones
from portal.consent import ConsentStore
from portal.leases import Breakers, VenueLeases, default_owner, serve_venues
from portal.notify.channels import Channel, Message, Refused, Retry, TargetGone
from portal.notify.contacts import Contact, ContactStore
from portal.notify.outbox import NEEDS_CONSENT, Job, Outbox
from portal.notify.sms import SmsChannel, sms_provider
from portal.notify.webpush import WebPushChannel
from portal.shopper import Shopper, ShopperTokenStore

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 900.0
# The waits before each further try of `mark_sent` after a store fault: 127.5 s in all, within CLAIM_TTL_S less
# the longest send (10 s), so the claim still keeps other workers off while these run.
MARK_SENT_RETRY_S = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
UNSURE = ("may have been sent already: its send began and was never confirmed (a store fault or a stopped "
          "worker); not sent again on its own, replay it if the shopper did not get it")


def backoff_s(base_s: float, attempt: int, jitter: float = 0.1) -> float:
    """Seconds before try `attempt + 1`: base, 2 base, 4 base ... capped, +-10% so retries spread out."""
    delay = min(MAX_BACKOFF_S, base_s * (2 ** attempt))
    return delay * (1 + random.uniform(-jitter, jitter))


def render(job: Job, contact: Contact, link: str) -> Message:
    """The job's texts in the shopper's language (the other when the app gave only one). An SMS template's
    parameters are the job's other fields, each in the shopper's language where the app gave it in both (`time`
    from `time_zh` for a Chinese shopper: `12月8日周二 19:30`; the plain `time`, `2026-12-08 19:30`, stays in the
    stored job and the shopper's data download)."""
    data = job.data
    other = "en" if contact.lang == "zh" else "zh"

    def text(name: str) -> str:
        return data.get(f"{name}_{contact.lang}") or data.get(f"{name}_{other}") or data.get(name) or ""

    params = {k: text(k) for k in data if not k.startswith(("title", "body")) and k not in ("path", NEEDS_CONSENT)}
    return Message(venue=job.venue, event=job.event, lang=contact.lang, title=text("title"), body=text("body"),
                   url=link, params=params)


class NotifyWorker:
    def __init__(self, db: redis.Redis, settings: Settings, channels: Iterable[Channel],
                 venues: VenueStore | None = None, leases: VenueLeases | None = None,
                 consumer: str | None = None, reclaim_idle_s: float = 60.0, breakers: Breakers | None = None) -> None:
        self.db = db
        self.breakers = breakers if breakers is not None else worker_breakers(db)  # open: its venue skipped
        self._stop = threading.Event()  # `run`'s: a retry's wait ends when the worker is asked to stop
        self.settings = settings
        self.policy = settings.notify
        self.outbox = Outbox(db)
        self.contacts = ContactStore(db, settings.phone_key)
        self.consent = ConsentStore(db)
        self.tokens = ShopperTokenStore(db, settings.shopper_token_ttl_s, settings.secret_key)
        self.channels = {channel.name: channel for channel in channels}
        self.venues = venues
        self.leases = leases
        self.consumer = consumer or default_owner()
        self.claim_token = f"{self.consumer}/{secrets.token_hex(4)}"  # this worker's claims, even under one name
        self.reclaim_idle_s = reclaim_idle_s  # an entry unacknowledged this long: its worker died (or is slow)
        self.base_url = settings.portal_url or f"http://127.0.0.1:{settings.port}"

    # ---- one venue ------------------------------------------------------------------------------------

    def step(self, venue: str, now: float | None = None) -> int:
        """Deliver what is due in the venue now; returns how many stream entries were handled (not counting
        those left to another worker, so `drain` ends while one is still sending)."""
        now = time.time() if now is None else now
        self.outbox.promote_due(venue, now)
        entries = self.outbox.read(venue, self.consumer, reclaim_idle_s=self.reclaim_idle_s)
        handled = 0
        for entry in entries:
            if entry.job is None:
                self.outbox.count(venue, "lost")  # trimmed from a full stream before anyone read it
            elif not self._handle(entry.job, now, entry.stream_id):
                continue  # another worker is sending part of it: it acknowledges the entry (module docstring)
            self.outbox.ack(venue, entry.stream_id)
            handled += 1
            if self.leases is not None and venue in self.leases.held and not self.leases.renew(venue):
                break  # a slow batch outlived the lease and another worker serves the venue: it reclaims the rest
        return handled

    def drain(self, venue: str, now: float | None = None) -> int:
        total = 0
        while handled := self.step(venue, now):
            total += handled
        return total

    def _handle(self, job: Job, now: float, stream_id: bytes | None = None) -> bool:
        """Deliver the job (a retry: its one target; else each of the shopper's); False when another
        worker is sending one of its deliveries right now (the entry is then not this worker's to finish)."""
        if not self._still_agreed(job):
            self.outbox.count(job.venue, "no_consent")  # withdrawn since it was queued: never sent
            return True
        contact = self.contacts.get(job.venue, job.shopper)
        if job.to and contact.phone:  # queued for the number the shopper had then (Job.to), while they keep one
            contact = replace(contact, phone=self.contacts.open_phone(job.to))
        if job.target:  # a retry: one channel, one target
            return self._deliver(job, contact, now, stream_id)
        channels = {job.channel: self.channels.get(job.channel)} if job.channel else self.channels
        targets = [(name, target) for name, channel in channels.items() if channel is not None
                   for target in channel.targets(contact)]
        if not targets:
            self.outbox.count(job.venue, "no_channel")  # the shopper opted into nothing: nothing to do
        settled = [self._deliver(job.for_target(name, target), contact, now, stream_id) for name, target in targets]
        return all(settled)

    def _still_agreed(self, job: Job) -> bool:
        """The shopper still gives the consents the job needs (NEEDS_CONSENT; none named: a service message)."""
        needs = [p for p in job.data.get(NEEDS_CONSENT, "").split(",") if p]
        return not needs or self.consent.allows(job.venue, job.shopper, *needs)

    def _deliver(self, job: Job, contact: Contact, now: float, stream_id: bytes | None = None) -> bool:
        """Send one fanned-out job unless it was sent or another worker is sending it (then False)."""
        channel = self.channels.get(job.channel)
        if channel is None:
            self.outbox.bury(job, f"no channel {job.channel!r} on this worker", now)
            return True
        claim = self.outbox.claim(job, self.claim_token, stream_id)
        if claim == "unsure":
            self.outbox.bury(job, UNSURE, now)
            return True
        if claim != "claimed":
            self.outbox.count(job.venue, {"sent": "duplicate", "done": "handled_elsewhere"}.get(claim, "busy"))
            return claim != "busy"
        try:
            channel.send(job.shopper, job.target, contact, render(job, contact, self._link(job)))
        except Exception as exc:
            self.outbox.release(job, self.claim_token)  # not delivered: its retry (or another worker) may send it
            self._failed(job, exc, now)
        else:
            self._mark_sent(job)
        return True

    def _mark_sent(self, job: Job) -> None:
        """`Outbox.mark_sent`, tried again through a store fault (MARK_SENT_RETRY_S): the delivery happened,
        and until this is stored a lapsed claim would leave it "unsure" (a dead letter, not a delivery)."""
        for wait_s in (*MARK_SENT_RETRY_S, None):
            try:
                self.outbox.mark_sent(job)
                return
            except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError) as exc:
                # (READONLY: a failover behind one endpoint; the connection is dropped and the next try reconnects)
                if wait_s is None:
                    raise
                log.warning("notify: %s sent, but not recorded yet (%s): again in %s s", job.delivery,
                            exc.__class__.__name__, wait_s)
                if self._stop.wait(wait_s):  # stopping (SIGTERM): left pending, a reclaim dead-letters it as unsure
                    raise

    def _failed(self, job: Job, exc: Exception, now: float) -> None:
        """What a try that raised means: forget the target, bury the job, or try again later."""
        if isinstance(exc, TargetGone):
            self.contacts.remove_push(job.venue, job.shopper, job.target)
            self.outbox.count(job.venue, "target_gone")
        elif isinstance(exc, Refused):
            self.outbox.bury(job, f"refused: {exc.reason}", now)
        elif isinstance(exc, Retry):
            self._retry(job, exc.reason, now)
        else:  # a channel's bug must not stop the venue's other messages
            log.error("notify: %s delivery of %s failed", job.channel, job.event, exc_info=exc)
            self._retry(job, f"error: {exc.__class__.__name__}", now)

    def _retry(self, job: Job, reason: str, now: float) -> None:
        if job.attempt + 1 >= self.policy.max_attempts:
            self.outbox.bury(job, f"gave up after {job.attempt + 1} tries: {reason}", now)
            return
        self.outbox.schedule(job.next_try(), now + backoff_s(self.policy.retry_base_s, job.attempt))

    def _link(self, job: Job) -> str:
        """The page the message is about, absolute, with a new token for the shopper (the texts in the
        store carry no token; a link works outside the captive sign-in sheet, in any browser)."""
        path = job.data.get("path", "")
        if not path.startswith("/"):
            return ""
        token = self.tokens.mint(Shopper(venue=job.venue, client=job.shopper))
        return f"{self.base_url}{path}{'&' if '?' in path else '?'}{urlencode({'c': token})}"

    # ---- the loop -------------------------------------------------------------------------------------

    def round(self, now: float | None = None) -> tuple[int, int]:
        venues = self.venues.venue_ids() if self.venues is not None else []
        return serve_venues(venues, self.leases, lambda venue: self.step(venue, now), "notify", breakers=self.breakers)

    def run(self, stop: threading.Event, idle_s: float = 0.5) -> None:
        self._stop = stop
        log.info("notify: delivering notifications (channels: %s)", ", ".join(self.channels))
        try:
            while not stop.is_set():
                try:
                    handled, failed = self.round()
                except redis.RedisError as exc:
                    log.error("notify: store unavailable, retrying in 1 s: %s", exc.__class__.__name__)
                    stop.wait(1.0)
                    continue
                if not handled:
                    stop.wait(1.0 if failed else idle_s)
        finally:
            if self.leases is not None:
                self.leases.release_all()


def default_channels(settings: Settings, db: redis.Redis) -> list[Channel]:
    """Web Push (when a VAPID key is set) and SMS through the configured provider (SMS_PROVIDER)."""
    channels: list[Channel] = []
    if settings.notify.vapid_private_key:
        channels.append(WebPushChannel(settings.notify))
    channels.append(SmsChannel(sms_provider(settings.notify, db, demo=settings.demo), db,
                               settings.notify.sms_per_shopper_day,
                               time_zone_of=VenueTimeZones(db, settings.time_zone)))
    return channels
