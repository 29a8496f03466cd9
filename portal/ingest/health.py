"""Ingest health per venue, for the operator: reports/s and readings/s per source, the last report
time per AP, and the APs silent for too long.

Rates come from per-second counter hashes (field "<source>|req", "|obs" or "|rej"), each kept two
minutes, summed over the last minute when the page is read: the write side is two commands riding in
the same round trip as the readings, and nothing grows without bound."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import redis

from core.storage import VenueKeys
from fingerprints.model import VenueMap
from portal.ingest.store import Command, RssiKeys, ap_times

RATE_WINDOW_S = 60
# An AP not in the map that has not reported for this long is forgotten (a mistyped BSSID, an AP taken away):
# the health view stops listing it, and its entries leave the last-seen and reach hashes, which would grow
# with every BSSID ever posted otherwise. APs of the map are never forgotten: their silence is the point.
UNKNOWN_AP_FORGET_S = 7 * 86400
RATE_KEEP_S = 120


class HealthKeys(VenueKeys):
    def rate(self, second: int) -> str:
        return self.key("ingest", "rate", str(second))

    def sources(self) -> str:
        return self.key("ingest", "sources")


@dataclass
class SourceHealth:
    source: str
    reports_per_s: float
    observations_per_s: float
    rejected_per_s: float
    last_report: float | None
    last_report_age_s: float | None


@dataclass
class ApHealth:
    bssid: str
    name: str
    floor: int | None
    last_seen: float | None
    age_s: float | None
    silent: bool
    in_map: bool


class IngestHealth:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db

    # -- writing ---------------------------------------------------------------------------------

    @staticmethod
    def accepted_commands(venue: str, source: str, observations: int, now: float) -> list[Command]:
        """Counter updates for an accepted request, to send with the readings (RssiStore `extra`)."""
        keys = HealthKeys(venue)
        rate = keys.rate(int(now))
        return [
            ("HINCRBY", rate, f"{source}|req", 1),
            ("HINCRBY", rate, f"{source}|obs", observations),
            ("EXPIRE", rate, RATE_KEEP_S),
            ("HSET", keys.sources(), source, repr(now)),
        ]

    def record_rejected(self, venue: str, source: str, now: float) -> None:
        keys = HealthKeys(venue)
        rate = keys.rate(int(now))
        pipe = self.db.pipeline(transaction=False)
        pipe.hincrby(rate, f"{source}|rej", 1)
        pipe.expire(rate, RATE_KEEP_S)
        pipe.execute()

    # -- reading ---------------------------------------------------------------------------------

    def sources(self, venue: str, now: float) -> list[SourceHealth]:
        keys = HealthKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        second = int(now)
        for s in range(second - RATE_WINDOW_S + 1, second + 1):
            pipe.hgetall(keys.rate(s))
        pipe.hgetall(keys.sources())
        *per_second, last = pipe.execute()
        totals: dict[str, dict[str, int]] = {}
        for counters in per_second:
            for field, value in counters.items():
                source, _, kind = field.decode().rpartition("|")
                totals.setdefault(source, {}).setdefault(kind, 0)
                totals[source][kind] += int(value)
        last_seen = {k.decode(): float(v) for k, v in last.items()}
        out = []
        for source in sorted(set(totals) | set(last_seen)):
            counts = totals.get(source, {})
            seen = last_seen.get(source)
            out.append(SourceHealth(
                source=source,
                reports_per_s=round(counts.get("req", 0) / RATE_WINDOW_S, 3),
                observations_per_s=round(counts.get("obs", 0) / RATE_WINDOW_S, 3),
                rejected_per_s=round(counts.get("rej", 0) / RATE_WINDOW_S, 3),
                last_report=seen,
                last_report_age_s=None if seen is None else round(max(0.0, now - seen), 1),
            ))
        return out

    def aps(self, venue: str, now: float, venue_map: VenueMap | None, silent_after_s: float) -> list[ApHealth]:
        """Every AP of the venue map (never heard = silent), plus APs that report but are not in the
        map (a misconfigured BSSID, or a new AP to survey). Silent ones first, then by name."""
        keys = RssiKeys(venue)
        last = ap_times(self.db.hgetall(keys.ap_last_seen()))
        out = []
        known = set()
        for ap in venue_map.aps if venue_map else []:
            known.add(ap.bssid)
            out.append(self._ap(ap.bssid, ap.name, ap.floor, last.get(ap.bssid), now, silent_after_s, True))
        forgotten = [bssid for bssid, ts in last.items() if bssid not in known and now - ts > UNKNOWN_AP_FORGET_S]
        if forgotten:  # one slot (the venue's): both hashes at once
            pipe = self.db.pipeline(transaction=False)
            pipe.hdel(keys.ap_last_seen(), *forgotten)
            pipe.hdel(keys.ap_reach(), *forgotten)
            pipe.execute()
        for bssid, ts in last.items():
            if bssid not in known and bssid not in forgotten:
                out.append(self._ap(bssid, "", None, ts, now, silent_after_s, False))
        out.sort(key=lambda a: (not a.silent, not a.in_map, a.name or a.bssid))
        return out

    @staticmethod
    def _ap(bssid, name, floor, seen, now, silent_after_s, in_map) -> ApHealth:
        age = None if seen is None else max(0.0, now - seen)
        return ApHealth(bssid=bssid, name=name, floor=floor, last_seen=seen,
                        age_s=None if age is None else round(age, 1),
                        silent=age is None or age > silent_after_s, in_map=in_map)

    def snapshot(self, venue: str, now: float, venue_map: VenueMap | None, silent_after_s: float) -> dict:
        sources = self.sources(venue, now)
        aps = self.aps(venue, now, venue_map, silent_after_s)
        return {
            "venue": venue,
            "now": now,
            "rate_window_s": RATE_WINDOW_S,
            "silent_after_s": silent_after_s,
            "totals": {
                "reports_per_s": round(math.fsum(s.reports_per_s for s in sources), 3),
                "observations_per_s": round(math.fsum(s.observations_per_s for s in sources), 3),
                "rejected_per_s": round(math.fsum(s.rejected_per_s for s in sources), 3),
                "aps": len(aps),  # every row: the map's APs and the unknown ones heard
                "aps_silent": sum(1 for a in aps if a.silent),
                # the map's APs apart from the unknown ones: "3 of 20" counts no BSSID the map lacks
                "aps_in_map": sum(1 for a in aps if a.in_map),
                "aps_in_map_silent": sum(1 for a in aps if a.in_map and a.silent),
                "aps_unknown": sum(1 for a in aps if not a.in_map),
            },
            "sources": [asdict(s) for s in sources],
            "aps": [asdict(a) for a in aps],
            "silent_aps": [a.bssid for a in aps if a.silent],
            # Heard live but not in the venue map: a misconfigured BSSID, or a new AP to add and survey.
            "unknown_aps": [a.bssid for a in aps if not a.in_map],
        }
