"""The one observation type every report format is normalised to, and the pieces the parsers share:
field checks with the error fields every API names (`at`), timestamps, the cached client hasher, and `Batch`
(one request's validated observations, de-duplicated, ready for the store)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime

from core.errors import InputError
from core.security import MacHasher
from fingerprints.model import normalise_bssid
from portal.errors import ROOT


class ReportError(InputError):
    """A report that must be rejected as a whole; `field` names what is wrong, as `at` spells it."""

    template = "{field}: {message}"


def at(where: str, name: str) -> str:
    """The field `name` of the object at `where` (ROOT: the body itself)."""
    return name if where == ROOT else f"{where}.{name}"


@dataclass(frozen=True, slots=True)
class Observation:
    client: str  # keyed hash of the client MAC, never the MAC itself
    ap: str  # normalised BSSID of the hearing AP
    rssi: float  # dBm
    ts: float  # Unix seconds, as the source timed it (ahead of now when its clock runs fast: the store clamps)
    associated: bool | None = None  # True: associated; False: heard by probe requests only; None: not said


RSSI_MIN_DBM, RSSI_MAX_DBM = -120.0, 0.0


def check_rssi(value: object, field: str) -> float:
    # bool is an int subclass: `true` must not pass as RSSI 1.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReportError(field, "must be a number (dBm)")
    if value != value or not RSSI_MIN_DBM <= value <= RSSI_MAX_DBM:
        raise ReportError(field, f"must be between {RSSI_MIN_DBM:g} and {RSSI_MAX_DBM:g} dBm")
    return float(value)


def check_ts(value: object, field: str, now: float, max_skew_s: float, window_s: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ReportError(field, "must be a Unix timestamp in seconds")
    if value > 1e12 or value < -1e12:  # also keeps ints too large for a float out of the arithmetic
        raise ReportError(field, "must be a Unix timestamp in seconds (too far from now)")
    if value > now + max_skew_s:
        raise ReportError(field, f"is {value - now:.0f} s in the future (clock skew limit {max_skew_s:g} s)")
    if value < now - max_skew_s - window_s:
        raise ReportError(field, "is too old to be useful for positioning")
    # A time ahead of ours (a source's clock running fast, within the skew allowed) is kept as the source said:
    # the store stores that reading as heard now, and only once however often it is sent (RssiStore, "ahead"),
    # which it could not tell if the time were already `now` here (a resend would arrive at another now).
    return float(value)


_bssids: dict[str, str] = {}  # raw spelling -> normalised: a venue has a few hundred APs


def check_bssid(value: object, field: str) -> str:
    bssid = _bssids.get(value) if isinstance(value, str) else None  # type: ignore[arg-type]
    if bssid is not None:
        return bssid
    try:
        bssid = normalise_bssid(value)  # type: ignore[arg-type]
    except ValueError:
        raise ReportError(field, "must be a BSSID (MAC address of the AP radio)") from None
    if len(_bssids) >= 50_000:
        _bssids.clear()
    _bssids[value] = bssid  # type: ignore[index]
    return bssid


def require(obj: dict, name: str, where: str) -> object:
    if name not in obj:
        raise ReportError(at(where, name), "is required")
    return obj[name]


def check_object(value: object, field: str) -> dict:
    if not isinstance(value, dict):
        raise ReportError(field, "must be a JSON object")
    return value


def check_list(value: object, field: str, *, non_empty: bool = False) -> list:
    if not isinstance(value, list):
        raise ReportError(field, "must be a list")
    if non_empty and not value:
        raise ReportError(field, "must be a non-empty list")
    return value


def parse_time(value: object, field: str) -> float:
    """Unix seconds from a number (seconds) or an ISO-8601 string ('2019-11-28T14:27:46Z'). Numbers
    above 1e11 are taken as milliseconds (year 5138 in seconds; feeds that send ms are common)."""
    if isinstance(value, bool):
        raise ReportError(field, "must be a timestamp (Unix seconds or ISO-8601)")
    if isinstance(value, int | float):
        if value != value or not -1e15 < value < 1e15:  # NaN, infinities, ints too large for a float
            raise ReportError(field, "must be a timestamp (Unix seconds or ISO-8601)")
        return float(value) / 1000.0 if value > 1e11 else float(value)
    if isinstance(value, str) and 0 < len(value) <= 40:
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                raise ReportError(field, "ISO-8601 time must name its zone (e.g. a trailing Z for UTC)")
            return parsed.timestamp()
    raise ReportError(field, "must be a timestamp (Unix seconds or ISO-8601)")


class ClientIds:
    """The keyed hash of client MACs, memoised per process: a mall's report stream names the same
    ~20,000 phones again and again, and the HMAC is most of the per-observation cost. The memo lives
    in process memory only (bounded, cleared when full); raw MACs still never reach storage or logs."""

    MAX_ENTRIES = 100_000

    def __init__(self, hasher: MacHasher) -> None:
        self.hasher = hasher
        self.memo: dict[str, str] = {}

    def __call__(self, raw: object, field: str) -> str:
        client = self.memo.get(raw) if isinstance(raw, str) else None  # type: ignore[arg-type]
        if client is None:
            client = self.hash(raw, field)
        return client

    def hash(self, raw: object, field: str) -> str:
        try:
            client = self.hasher.client_id(raw)  # type: ignore[arg-type]
        except (ValueError, TypeError, AttributeError):
            raise ReportError(field, "must be a MAC address") from None
        if len(self.memo) >= self.MAX_ENTRIES:
            self.memo.clear()
        self.memo[raw] = client  # type: ignore[index]
        return client


_client_ids: weakref.WeakKeyDictionary[MacHasher, ClientIds] = weakref.WeakKeyDictionary()


def client_ids(hasher: MacHasher) -> ClientIds:
    ids = _client_ids.get(hasher)
    if ids is None:
        ids = _client_ids[hasher] = ClientIds(hasher)
    return ids


class Batch:
    """One request's validated observations as parallel lists (cheaper than one object each on the
    hot path). The same reading (client, AP, time as its source timed it) sent twice counts once."""

    __slots__ = ("clients", "aps", "rssis", "tss", "flags", "_seen", "stale", "ignored", "reporters")

    def __init__(self) -> None:
        self.stale = 0  # readings skipped as too old to position with (a feed's late minute, not an error)
        self.ignored = 0  # events that carry no reading (another notification of the same feed)
        # APs that reported, readings or not: an AP that hears nobody (a quiet car park at night) is alive
        self.reporters: dict[str, None] = {}
        self.clients: list[str] = []
        self.aps: list[str] = []
        self.rssis: list[float] = []
        self.tss: list[float] = []
        self.flags: list[bool | None] = []
        self._seen: set[tuple[str, str, float]] = set()

    def add(self, client: str, ap: str, rssi: float, ts: float, associated: bool | None = None) -> bool:
        key = (client, ap, ts)
        if key in self._seen:
            return False
        self._seen.add(key)
        self.clients.append(client)
        self.aps.append(ap)
        self.rssis.append(rssi)
        self.tss.append(ts)
        self.flags.append(associated)
        return True

    def __len__(self) -> int:
        return len(self.clients)

    def reported(self, ap: str) -> None:
        """`ap` sent a report, whether or not it held a reading (its readings mark it too)."""
        self.reporters[ap] = None

    def drop_older_than(self, cutoff: float) -> int:
        """Drop the readings timed before `cutoff` (they count as stale: too old to position with); how many."""
        if not self.tss or min(self.tss) >= cutoff:
            return 0
        keep = [i for i, ts in enumerate(self.tss) if ts >= cutoff]
        dropped = len(self.tss) - len(keep)
        for name in ("clients", "aps", "rssis", "tss", "flags"):
            values = getattr(self, name)
            setattr(self, name, [values[i] for i in keep])
        self.stale += dropped
        return dropped

    def observations(self) -> list[Observation]:
        return [Observation(c, a, float(r), float(t), f)
                for c, a, r, t, f in zip(self.clients, self.aps, self.rssis, self.tss, self.flags, strict=True)]

    @classmethod
    def of(cls, observations) -> Batch:
        batch = cls()
        for obs in observations:
            batch.add(obs.client, obs.ap, obs.rssi, obs.ts, obs.associated)
        return batch


@dataclass(frozen=True)
class Limits:
    """What every parser checks against (from the settings)."""

    now: float
    max_skew_s: float
    window_s: float
    max_observations: int

    @classmethod
    def of_settings(cls, settings, now: float, max_observations: int | None = None) -> Limits:
        """The limits the settings set, at `now` (`max_observations`: a source's own cap instead)."""
        return cls(now=now, max_skew_s=settings.max_clock_skew_s, window_s=settings.rssi_window_s,
                   max_observations=max_observations or settings.max_observations)

    @property
    def oldest(self) -> float:
        return self.now - self.max_skew_s - self.window_s

    @property
    def newest(self) -> float:
        return self.now + self.max_skew_s

    def ts(self, value: object, field: str) -> float:
        return check_ts(value, field, self.now, self.max_skew_s, self.window_s)

    def fresh_ts(self, value: object, field: str) -> float | None:
        """`ts`, but None for a reading too old to position with: for feeds that deliver late by design
        (Meraki: "typical 1-2 min, not guaranteed"), where one late reading must not cost the request's
        fresh ones. Malformed values and times in the future are still errors."""
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < self.oldest:
            return None
        return self.ts(value, field)

    def count(self, total: int, field: str = "observations") -> None:
        if total > self.max_observations:
            raise ReportError(field, f"too many observations in one request ({total} > {self.max_observations})")
