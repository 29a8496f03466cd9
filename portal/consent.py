"""What a shopper agreed to: the privacy notice (PIPL) and two separate consents.

Location is sensitive personal information under PIPL (art. 28-29): using it for location-based services
needs its own, separate consent, and marketing another; neither may be a condition of the WiFi itself. Each
shopper's answer is kept with the version of the notice it answered and when, one small hash per shopper
(`mp:{venue}:consent:<shopper id>`). A new NOTICE_VERSION asks everyone again. Other host code reads a
shopper's answer with `services().consent.get(venue, shopper_id)`; the shopper changes it from Me."""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from core.storage import VenueKeys
from portal.events.log import EventKeys

NOTICE_VERSION = "2026-11-30"  # bump when the notice text changes: every shopper is asked again
KEEP_S = 400 * 86400  # a consent record outlives the shopper's data (tokens: 30 days after last use)
PURPOSES = ("location", "marketing")


@dataclass(frozen=True)
class Consent:
    """One shopper's answer to the notice of `version`, given at `at` (epoch seconds)."""

    location: bool
    marketing: bool
    version: str
    at: float

    @property
    def current(self) -> bool:
        """Answered the notice in force now (else the notice is shown again)."""
        return self.version == NOTICE_VERSION

    def allows(self, purpose: str) -> bool:
        """Consent for this purpose under the current notice (an answer to an older notice counts as no)."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown purpose {purpose!r}; known: {', '.join(PURPOSES)}")
        return self.current and bool(getattr(self, purpose))


class ConsentKeys(VenueKeys):
    def consent(self, shopper: str) -> str:
        return self.key("consent", shopper)


class ConsentStore:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db

    def get(self, venue: str, shopper: str) -> Consent | None:
        """The shopper's (shopper id, `Shopper.client`) recorded answer; None before they answered."""
        raw = self.db.hgetall(ConsentKeys(venue).consent(shopper))
        if not raw:
            return None
        fields = {k.decode(): v.decode() for k, v in raw.items()}
        return Consent(location=fields.get("location") == "1", marketing=fields.get("marketing") == "1",
                       version=fields.get("version", ""), at=float(fields.get("at", 0)))

    def forget(self, venue: str, shopper: str) -> int:
        """Erasure: the shopper's answer (with nothing left about them, there is nothing it permits)."""
        return int(self.db.delete(ConsentKeys(venue).consent(shopper)))

    def allows(self, venue: str, shopper: str, *purposes: str) -> bool:
        """Has this shopper consented to every one of `purposes` ("location", "marketing") under the current
        notice? One read of her answer however many purposes are asked about."""
        consent = self.get(venue, shopper)
        return consent is not None and all(consent.allows(purpose) for purpose in purposes)

    def record(self, venue: str, shopper: str, *, location: bool, marketing: bool,
               now: float | None = None) -> Consent:
        """Keep the shopper's answer to the current notice (replacing any earlier one), in one MULTI."""
        consent = Consent(location=location, marketing=marketing, version=NOTICE_VERSION,
                          at=time.time() if now is None else now)
        key = ConsentKeys(venue).consent(shopper)
        was = self.db.hget(key, "location")
        pipe = self.db.pipeline(transaction=True)
        pipe.hset(key, mapping={"location": int(location), "marketing": int(marketing),
                                "version": consent.version, "at": f"{consent.at:.0f}"})
        pipe.expire(key, KEEP_S)
        if was is not None and bool(int(was)) != location:
            # The insights count a shopper's identified events only with location consent, and keep past
            # days' figures for minutes: a changed answer starts a new generation of them, so a withdrawal
            # leaves the figures at once (a first answer changes no figure: nothing counted the shopper yet).
            pipe.incr(EventKeys(venue).insights_generation())
        pipe.execute()
        return consent
