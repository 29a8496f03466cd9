"""A phone's position and the kept copy of it in the store.

The tracker keeps each phone's last computed position in one string (TrackKeys.last_position), with the newest
reading it was computed from, written with its TTL in one SET (a hash took HSET and EXPIRE: two commands, and a
failover between them left a hash without a TTL); every reader (the locator, the probe's one-round-trip reads)
reads and writes it through KeptPosition, the one place that knows its fields."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from core.storage import VenueKeys


@dataclass(frozen=True)
class Position:
    floor: int
    x: float
    y: float
    zone: str | None
    confidence: float
    zone_confidence: float
    # Where the estimate cannot tell small neighbouring zones apart: their group and its probability.
    group: str | None = None
    group_confidence: float = 0.0
    source: str = "readings"  # "readings": fingerprinting; "partial": from a phone heard under 8 s; "ap": the AP only

    def landing_zone(self, min_zone: float = 0.5, min_group: float = 0.5) -> str | None:
        """The zone whose page the phone lands on: its zone when sure enough of it, else the zone that
        stands for its group (the food hall for its stalls) when sure enough of that, else None (home)."""
        if self.zone and self.zone_confidence >= min_zone:
            return self.zone
        if self.group and self.group_confidence >= min_group:
            return self.group
        return None


MIN_ZONE_CONFIDENCE = 0.5  # a zone (or group) decision below this sends the shopper to the mall home instead


def landing_zone(position: Position | None) -> str | None:
    """The zone a phone lands in: its zone, or its group's zone when the position cannot tell small
    neighbouring zones apart, or None (the mall home). The one rule the probe lane, the gateway entry,
    CAPPORT, the quality report and the landing bench share."""
    return position.landing_zone(MIN_ZONE_CONFIDENCE, MIN_ZONE_CONFIDENCE) if position is not None else None


class TrackKeys(VenueKeys):
    def track(self, client: str) -> str:
        """String: the motion filter's state for the client (JSON)."""
        return self.phone_key(client, "track", client)

    def last_position(self, client: str) -> str:
        """String: the kept position (KeptPosition.encode). Named "kept", not "pos" as the hash that held it
        before 2026-12-05 (a reader of this version never meets one of those: they expire within POSITION_CACHE_S)."""
        return self.phone_key(client, "kept", client)

    def former_last_position(self, client: str) -> str:
        """Hash: the kept position as versions before 2026-12-05 kept it, never read now; erasure deletes it too
        while a host of such a version may still write it (a rolling deploy) or a failover left one without a TTL."""
        return self.phone_key(client, "pos", client)

    def of_phone(self, client: str) -> list[str]:
        """Every key of the client's tracking state (`track`, `last_position`, `former_last_position`): what
        forgetting the phone deletes (portal/tracking/locator.py `forget_phone_state`)."""
        return [self.track(client), self.last_position(client), self.former_last_position(client)]

    def tracks(self, clients: Sequence[str]) -> list[str]:
        """`track` of each client (a batch's)."""
        return self.phone_keys("track", clients)

    def last_positions(self, clients: Sequence[str]) -> list[str]:
        """`last_position` of each client (a batch's)."""
        return self.phone_keys("kept", clients)


@dataclass(frozen=True)
class KeptPosition:
    """A position as kept in the store, with the newest reading it used and when it was computed."""

    position: Position
    newest: bytes
    at: float

    def encode(self) -> bytes:
        """The stored form: JSON by orjson, every float as its shortest exact repr (read back to the same double; a
        NaN or an infinity, which JSON has not, as null, read back as NaN); numpy scalars as their values."""
        p = self.position
        return orjson.dumps({"newest": self.newest.decode("latin-1"), "at": self.at, "floor": p.floor, "x": p.x,
                             "y": p.y, "zone": p.zone or None, "conf": p.confidence, "zconf": p.zone_confidence,
                             "group": p.group or None, "gconf": p.group_confidence, "source": p.source},
                            option=orjson.OPT_SERIALIZE_NUMPY)

    @classmethod
    def decode(cls, raw: bytes | None) -> KeptPosition | None:
        """From GET's answer; None when nothing usable is kept (none, or not of this form: position anew)."""
        if not raw:
            return None
        try:
            kept = orjson.loads(raw)
            position = Position(floor=_whole(kept["floor"]), x=_number(kept["x"]), y=_number(kept["y"]),
                                zone=_name(kept["zone"]), confidence=_number(kept["conf"]),
                                zone_confidence=_number(kept["zconf"]), group=_name(kept["group"]),
                                group_confidence=_number(kept["gconf"]), source=_text(kept["source"]))
            return cls(position=position, newest=_text(kept["newest"]).encode("latin-1"), at=_number(kept["at"]))
        except (KeyError, TypeError, ValueError, UnicodeEncodeError):  # orjson's JSONDecodeError is a ValueError
            return None

    def is_fresh(self, newest: bytes | None, now: float, max_age_s: float) -> bool:
        """Still answers for the client: no newer reading since, and not older than max_age_s."""
        return newest is not None and self.newest == newest and 0 <= now - self.at < max_age_s


def _number(value: object) -> float:
    """A kept float: a JSON number, or null for a NaN or an infinity (`KeptPosition.encode`); TypeError else."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("a kept number must be a number")
    return float(value)


def _whole(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("a kept floor must be a whole number")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("a kept reading or source must be a string")
    return value


def _name(value: object) -> str | None:
    """A kept zone or group: a name or none (ValueError for anything else: the kept position is not used)."""
    if value is None or (isinstance(value, str) and value):
        return value
    raise ValueError("a kept zone or group must be a name or null")

