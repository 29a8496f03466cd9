"""A phone's position and the kept copy of it in the store.

The tracker keeps each phone's last computed position in one hash (TrackKeys.last_position), with the
newest reading it was computed from; every reader (the locator, the probe's one-round-trip reads)
reads and writes its fields by name through KeptPosition, the one place that knows them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
        """Hash: the kept position, field by field (KeptPosition)."""
        return self.phone_key(client, "pos", client)

    def tracks(self, clients: Sequence[str]) -> list[str]:
        """`track` of each client (a batch's)."""
        return self.phone_keys("track", clients)

    def last_positions(self, clients: Sequence[str]) -> list[str]:
        """`last_position` of each client (a batch's)."""
        return self.phone_keys("pos", clients)


@dataclass(frozen=True)
class KeptPosition:
    """A position as kept in the store, with the newest reading it used and when it was computed."""

    position: Position
    newest: bytes
    at: float

    def to_fields(self) -> dict[str, str | bytes]:
        p = self.position
        return {"newest": self.newest, "at": repr(self.at), "floor": str(p.floor), "x": repr(p.x), "y": repr(p.y),
                "zone": p.zone or "", "conf": repr(p.confidence), "zconf": repr(p.zone_confidence),
                "group": p.group or "", "gconf": repr(p.group_confidence), "source": p.source}

    @classmethod
    def from_fields(cls, raw: dict[bytes, bytes]) -> KeptPosition | None:
        """From HGETALL's answer (or the probe script's name/value list); None when nothing usable is kept."""
        try:
            position = Position(
                floor=int(raw[b"floor"]), x=float(raw[b"x"]), y=float(raw[b"y"]), zone=raw[b"zone"].decode() or None,
                confidence=float(raw[b"conf"]), zone_confidence=float(raw[b"zconf"]),
                group=raw.get(b"group", b"").decode() or None, group_confidence=float(raw.get(b"gconf", b"0")),
                source=raw.get(b"source", b"readings").decode())
            return cls(position=position, newest=raw[b"newest"], at=float(raw[b"at"]))
        except (KeyError, ValueError):
            return None  # an older or partial hash: position anew

    def is_fresh(self, newest: bytes | None, now: float, max_age_s: float) -> bool:
        """Still answers for the client: no newer reading since, and not older than max_age_s."""
        return newest is not None and self.newest == newest and 0 <= now - self.at < max_age_s


def pairs_to_fields(reply: list[bytes] | dict[bytes, bytes]) -> dict[bytes, bytes]:
    """HGETALL's raw reply -> {name: value}: a flat list (name, value, name, value, ...) from a Lua script
    or RESP2, a map already from RESP3."""
    if isinstance(reply, dict):
        return reply
    return dict(zip(reply[::2], reply[1::2], strict=True))

