"""The privacy side of the event log: the operator's list of staff phones (left out of every figure),
which events may count (location consent, once a consent store answers), retention per data kind with
the daily job that applies it, a member's export and erasure, and the audit of who exported what."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import redis

from core.security import MacHasher
from core.storage import VenueKeys
from portal.events.log import Event

AUDIT_KEPT = 1000


class PrivacyKeys(VenueKeys):
    def staff(self) -> str:
        """Set: client ids (keyed hashes of MACs) of the venue's staff phones, kept by the operator."""
        return self.key("priv", "staff")

    def exports(self) -> str:
        """List: who exported what, newest first (JSON)."""
        return self.key("priv", "exports")


class PrivacyStore:
    def __init__(self, db: redis.Redis, hasher: MacHasher | None = None) -> None:
        self.db = db
        self.hasher = hasher
        self.consent: Callable[[str, Event], bool] | None = None  # (venue, event) -> may it count

    # ---- staff phones ----
    def staff(self, venue: str) -> set[str]:
        return {m.decode() for m in self.db.smembers(PrivacyKeys(venue).staff())}

    def add_staff_mac(self, venue: str, mac: str) -> str:
        """A staff phone by its MAC (hashed here, as every MAC is; the MAC is not kept). ValueError if bad."""
        if self.hasher is None:
            raise RuntimeError("no MAC hasher")
        client = self.hasher.client_id(mac)
        self.db.sadd(PrivacyKeys(venue).staff(), client)
        return client

    def remove_staff(self, venue: str, client: str) -> bool:
        return bool(self.db.srem(PrivacyKeys(venue).staff(), client))

    # ---- consent ----
    def allowed(self, venue: str) -> Callable[[Event], bool] | None:
        """The filter the insights apply: None (every event) until a consent store is plugged in."""
        if self.consent is None:
            return None
        check = self.consent
        return lambda event: check(venue, event)

    # ---- export audit ----
    def audit_export(self, venue: str, who: str, what: str, scope: str, at: float | None = None) -> None:
        entry = json.dumps({"at": time.time() if at is None else at, "who": who, "what": what, "scope": scope})
        pipe = self.db.pipeline(transaction=True)
        pipe.lpush(PrivacyKeys(venue).exports(), entry)
        pipe.ltrim(PrivacyKeys(venue).exports(), 0, AUDIT_KEPT - 1)
        pipe.execute()

    def exports(self, venue: str, limit: int = 100) -> list[dict]:
        return [json.loads(raw) for raw in self.db.lrange(PrivacyKeys(venue).exports(), 0, limit - 1)]
