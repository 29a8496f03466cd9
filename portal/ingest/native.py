"""The native JSON report format:

    {"ap": "<bssid>", "observations": [{"client": "<mac>", "rssi": -67, "ts": 1732400000.5}, ...]}
or a batch from several APs: {"reports": [<report>, ...]}
"""

from __future__ import annotations

from typing import Any

from fingerprints.model import normalise_bssid
from portal.ingest.observation import Observation, ReportError, check_rssi, check_ts
from portal.security import MacHasher


def parse_native(
    payload: Any, *, hasher: MacHasher, now: float, max_skew_s: float, window_s: float, max_observations: int
) -> list[Observation]:
    """Validate the whole payload before anything is stored: one bad field rejects the request."""
    if not isinstance(payload, dict):
        raise ReportError("$", "body must be a JSON object")
    if "reports" in payload:
        reports = payload["reports"]
        if not isinstance(reports, list) or not reports:
            raise ReportError("reports", "must be a non-empty list")
        prefixes = [f"reports[{i}]" for i in range(len(reports))]
    else:
        reports, prefixes = [payload], ["$"]
    total = sum(len(r.get("observations", [])) for r in reports if isinstance(r, dict)
                and isinstance(r.get("observations"), list))
    if total > max_observations:
        raise ReportError("observations", f"too many observations in one request ({total} > {max_observations})")
    out: list[Observation] = []
    seen: set[tuple[str, str, float]] = set()
    for report, prefix in zip(reports, prefixes, strict=True):
        for obs in _parse_report(report, prefix, hasher, now, max_skew_s, window_s):
            key = (obs.client, obs.ap, obs.ts)
            if key not in seen:  # the same reading sent twice counts once
                seen.add(key)
                out.append(obs)
    return out


def _parse_report(report, prefix, hasher, now, max_skew_s, window_s):
    if not isinstance(report, dict):
        raise ReportError(prefix, "must be a JSON object")
    if "ap" not in report:
        raise ReportError(f"{prefix}.ap", "is required")
    try:
        ap = normalise_bssid(report["ap"])
    except ValueError as exc:
        raise ReportError(f"{prefix}.ap", str(exc)) from None
    observations = report.get("observations")
    if not isinstance(observations, list):
        raise ReportError(f"{prefix}.observations", "must be a list")
    for i, item in enumerate(observations):
        where = f"{prefix}.observations[{i}]"
        if not isinstance(item, dict):
            raise ReportError(where, "must be a JSON object")
        for name in ("client", "rssi", "ts"):
            if name not in item:
                raise ReportError(f"{where}.{name}", "is required")
        try:
            client = hasher.client_id(item["client"])
        except ValueError:
            raise ReportError(f"{where}.client", "must be a MAC address") from None
        rssi = check_rssi(item["rssi"], f"{where}.rssi")
        ts = check_ts(item["ts"], f"{where}.ts", now, max_skew_s, window_s)
        yield Observation(client=client, ap=ap, rssi=rssi, ts=ts)
