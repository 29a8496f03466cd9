"""Ingest health per venue, for the operator: reports/s and readings/s per source (and the readings it sent too
late to use, the events without one), the last report time per AP, and the APs silent for too long.

Rates come from per-second counter hashes (field "<source>|req", "|obs", "|stale", "|ignored" or "|rej"), each
kept two minutes, summed over the last minute when the page is read: the write side is a few commands riding in
the same round trip as the readings, and nothing grows without bound. The APs are read by the map's BSSIDs, and
the unknown ones from their bounded set (RssiKeys.unknown_aps): a feed naming any number of BSSIDs costs the page
nothing."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import redis

from core.storage import VenueKeys
from fingerprints.model import AccessPoint, VenueMap
from portal.ingest.store import UNKNOWN_AP_FORGET_S, Command, RssiKeys, ap_times_of

RATE_WINDOW_S = 60
RATE_KEEP_S = 120

# KEYS: the venue's per-AP hashes (RssiKeys.ap_last_seen, .ap_reach); ARGV: the map's BSSIDs. Their fields of APs
# not in the map (written before those were kept apart, or of an AP since taken off the map) are dropped, in work
# bounded by the map's size: a hash with more fields than the map has APs is written again with the map's fields
# only (UNLINK frees a big one off the server's main thread), a smaller one has its other fields deleted.
PRUNE_SCRIPT = """
local on_map = {}
for i = 1, #ARGV do on_map[ARGV[i]] = true end
for _, key in ipairs(KEYS) do
  if redis.call('HLEN', key) > #ARGV then
    local kept = {}
    for i = 1, #ARGV do
      local at = redis.call('HGET', key, ARGV[i])
      if at then kept[#kept + 1] = ARGV[i]; kept[#kept + 1] = at end
    end
    redis.call('UNLINK', key)
    for i = 1, #kept, 2 do redis.call('HSET', key, kept[i], kept[i + 1]) end
  else
    for _, ap in ipairs(redis.call('HKEYS', key)) do
      if not on_map[ap] then redis.call('HDEL', key, ap) end
    end
  end
end
"""


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
    stale_per_s: float  # readings that arrived too old to position with (a late feed, a clock behind)
    ignored_per_s: float  # events that carry no reading (another notification of the feed, no signal known)
    last_report: float | None
    last_report_age_s: float | None


@dataclass
class ApHealth:
    bssid: str  # the first of `bssids`
    name: str
    floor: int | None
    last_seen: float | None  # the newest report under any of its BSSIDs
    age_s: float | None
    silent: bool
    in_map: bool
    bssids: list[str]  # every BSSID the map lists the AP under (one radio, several SSIDs), in the map's order


def physical_aps(aps: Sequence[AccessPoint]) -> list[tuple[AccessPoint, list[str]]]:
    """The map's APs one entry per AP: (its first entry, every BSSID it is listed under). Entries of one name at
    one place are one AP (the AP list CSV writes one entry per BSSID of an AP); an entry with no name is its own."""
    groups: dict[object, tuple[AccessPoint, list[str]]] = {}
    for ap in aps:
        key = (ap.name, ap.floor, ap.x, ap.y) if ap.name else ap.bssid
        groups.setdefault(key, (ap, []))[1].append(ap.bssid)
    return list(groups.values())


class IngestHealth:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db

    # -- writing ---------------------------------------------------------------------------------

    @staticmethod
    def accepted_commands(venue: str, source: str, observations: int, now: float, *, stale: int = 0,
                          ignored: int = 0) -> list[Command]:
        """Counter updates for an accepted request, to send with the readings (RssiStore `extra`): its readings
        stored, and those it sent too old to use (`stale`) and its events without a reading (`ignored`), which a
        feed that ignores the reply (Meraki, Mist) would otherwise never show."""
        keys = HealthKeys(venue)
        rate = keys.rate(int(now))
        skipped = [("HINCRBY", rate, f"{source}|{kind}", n) for kind, n in (("stale", stale), ("ignored", ignored))
                   if n]
        return [
            ("HINCRBY", rate, f"{source}|req", 1),
            ("HINCRBY", rate, f"{source}|obs", observations),
            *skipped,
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
            per_s = {kind: round(counts.get(kind, 0) / RATE_WINDOW_S, 3)
                     for kind in ("req", "obs", "rej", "stale", "ignored")}
            out.append(SourceHealth(
                source=source,
                reports_per_s=per_s["req"],
                observations_per_s=per_s["obs"],
                rejected_per_s=per_s["rej"],
                stale_per_s=per_s["stale"],
                ignored_per_s=per_s["ignored"],
                last_report=seen,
                last_report_age_s=None if seen is None else round(max(0.0, now - seen), 1),
            ))
        return out

    def aps(self, venue: str, now: float, venue_map: VenueMap | None, silent_after_s: float) -> list[ApHealth]:
        """Every AP of the venue map, one row however many BSSIDs it is listed under (alive when any of them
        reported; never heard = silent), plus APs that report but are not in the map (a misconfigured BSSID, or a
        new AP to survey). Silent ones first, then by name."""
        placed = physical_aps(venue_map.aps if venue_map else [])
        last, unknown = self._heard(venue, [bssid for _, bssids in placed for bssid in bssids], now)
        out = []
        for ap, bssids in placed:
            seen = max((last[b] for b in bssids if b in last), default=None)
            out.append(self._ap(bssids, ap.name, ap.floor, seen, now, silent_after_s, True))
        out += [self._ap([bssid], "", None, at, now, silent_after_s, False) for bssid, at in unknown.items()]
        out.sort(key=lambda a: (not a.silent, not a.in_map, a.name or a.bssid))
        return out

    def _heard(self, venue: str, map_aps: list[str], now: float) -> tuple[dict[str, float], dict[str, float]]:
        """(the map's APs -> their last report, the APs not in the map -> theirs) in one round trip on the
        venue's slot, which also forgets the unknown ones silent for UNKNOWN_AP_FORGET_S and keeps the per-AP
        hashes to the map's APs (`PRUNE_SCRIPT`). An AP added to the map since it last reported as unknown: that
        report counts."""
        keys = RssiKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        # EVAL, not a registered script: a cluster pipeline queues EVALSHA and cannot load a script it lacks
        pipe.execute_command("EVAL", PRUNE_SCRIPT, 2, keys.ap_last_seen(), keys.ap_reach(), *map_aps)
        pipe.zremrangebyscore(keys.unknown_aps(), "-inf", now - UNKNOWN_AP_FORGET_S)
        pipe.zrange(keys.unknown_aps(), 0, -1, withscores=True)
        if map_aps:
            pipe.hmget(keys.ap_last_seen(), map_aps)
        _, _, heard, *stored = pipe.execute()
        last = ap_times_of(map_aps, stored[0]) if map_aps else {}
        unknown = {ap.decode(): at for ap, at in heard}
        for ap in set(map_aps) & set(unknown):
            last[ap] = max(last.get(ap, -math.inf), unknown.pop(ap))
        return last, unknown

    @staticmethod
    def _ap(bssids: list[str], name: str, floor: int | None, seen: float | None, now: float, silent_after_s: float,
            in_map: bool) -> ApHealth:
        age = None if seen is None else max(0.0, now - seen)
        return ApHealth(bssid=bssids[0], name=name, floor=floor, last_seen=seen,
                        age_s=None if age is None else round(age, 1),
                        silent=age is None or age > silent_after_s, in_map=in_map, bssids=bssids)

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
                "stale_per_s": round(math.fsum(s.stale_per_s for s in sources), 3),
                "ignored_per_s": round(math.fsum(s.ignored_per_s for s in sources), 3),
                "aps": len(aps),  # every row (an AP however many BSSIDs): the map's APs and the unknown ones heard
                "aps_silent": sum(1 for a in aps if a.silent),
                # the map's APs apart from the unknown ones: "3 of 20" counts no BSSID the map lacks
                "aps_in_map": sum(1 for a in aps if a.in_map),
                "aps_in_map_silent": sum(1 for a in aps if a.in_map and a.silent),
                "aps_unknown": sum(1 for a in aps if not a.in_map),
            },
            "sources": [asdict(s) for s in sources],
            "aps": [asdict(a) for a in aps],
            "silent_aps": [bssid for a in aps if a.silent for bssid in a.bssids],
            # Heard live but not in the venue map: a misconfigured BSSID, or a new AP to add and survey.
            "unknown_aps": [a.bssid for a in aps if not a.in_map],
        }
