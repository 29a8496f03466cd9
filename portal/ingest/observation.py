"""The one observation type every report format is normalised to."""

from __future__ import annotations

from dataclasses import dataclass


class ReportError(ValueError):
    """A report that must be rejected as a whole; `field` names what is wrong (JSON-path-like)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Observation:
    client: str  # keyed hash of the client MAC, never the MAC itself
    ap: str  # normalised BSSID of the hearing AP
    rssi: float  # dBm
    ts: float  # Unix seconds


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
    if value > now + max_skew_s:
        raise ReportError(field, f"is {value - now:.0f} s in the future (clock skew limit {max_skew_s:g} s)")
    if value < now - max_skew_s - window_s:
        raise ReportError(field, "is too old to be useful for positioning")
    return float(value)
