"""The native JSON report format:

    {"ap": "<bssid>", "observations": [{"client": "<mac>", "rssi": -67, "ts": 1732400000.5}, ...]}
or a batch from several APs: {"reports": [<report>, ...]}

An observation may say `"associated": true|false` (false: heard by probe requests only). A report with no
observations is valid: the AP is alive and hears nobody (its last report time moves all the same). Toward
MAX_OBSERVATIONS a report counts as many as its observations, one at least: the APs a request names are bounded too.

This is the hot path of ingestion (a mall posts ~100,000 readings a second at peak): each reading
is checked by a few inline comparisons, and only a reading that fails them goes through the careful
checks, which name the exact field that is wrong."""

from __future__ import annotations

from typing import Any

from portal.errors import ROOT
from portal.ingest.observation import (
    Batch,
    ClientIds,
    Limits,
    ReportError,
    at,
    check_bssid,
    check_rssi,
)


def native_batch(payload: Any, ids: ClientIds, limits: Limits) -> Batch:
    """Validate the whole payload before anything is stored: one bad field rejects the request."""
    if not isinstance(payload, dict):
        raise ReportError(ROOT, "body must be a JSON object")
    if "reports" in payload:
        reports = payload["reports"]
        if not isinstance(reports, list) or not reports:
            raise ReportError("reports", "must be a non-empty list")
        prefixes, field = [f"reports[{i}]" for i in range(len(reports))], "reports"
    else:
        reports, prefixes, field = [payload], [ROOT], "observations"
    limits.count(sum(max(1, len(r["observations"])) if isinstance(r, dict) and isinstance(r.get("observations"), list)
                     else 1 for r in reports), field)
    batch = Batch()
    for report, prefix in zip(reports, prefixes, strict=True):
        _parse_report(report, prefix, ids, limits, batch)
    return batch


def _parse_report(report: Any, prefix: str, ids: ClientIds, limits: Limits, batch: Batch) -> None:
    if not isinstance(report, dict):
        raise ReportError(prefix, "must be a JSON object")
    if "ap" not in report:
        raise ReportError(at(prefix, "ap"), "is required")
    ap = check_bssid(report["ap"], at(prefix, "ap"))
    observations = report.get("observations")
    if not isinstance(observations, list):
        raise ReportError(at(prefix, "observations"), "must be a list")
    batch.reported(ap)  # an AP that hears nobody (empty `observations`) reported all the same: it is alive
    memo = ids.memo
    lo, hi = limits.oldest, limits.newest  # a time ahead of now is kept as sent: the store clamps it, once
    seen = batch._seen
    clients, aps, rssis, tss, flags = batch.clients, batch.aps, batch.rssis, batch.tss, batch.flags
    for i, item in enumerate(observations):
        try:
            client = memo[item["client"]]
            rssi = item["rssi"]
            ts = item["ts"]
            fast = (
                len(item) == 3
                and ((tr := type(rssi)) is int or tr is float) and -120.0 <= rssi <= 0.0
                and ((tt := type(ts)) is int or tt is float) and lo <= ts <= hi
            )
        except (KeyError, TypeError):
            fast = False
        associated = None
        if not fast:
            client, rssi, ts, associated = _careful(item, at(prefix, f"observations[{i}]"), ids, limits)
        key = (client, ap, ts)
        if key in seen:  # the same reading sent twice counts once
            continue
        seen.add(key)
        clients.append(client)
        aps.append(ap)
        rssis.append(rssi)
        tss.append(ts)
        flags.append(associated)


def _careful(item: Any, where: str, ids: ClientIds, limits: Limits) -> tuple[str, float, float, bool | None]:
    if not isinstance(item, dict):
        raise ReportError(where, "must be a JSON object")
    for name in ("client", "rssi", "ts"):
        if name not in item:
            raise ReportError(f"{where}.{name}", "is required")
    client = ids(item["client"], f"{where}.client")
    rssi = check_rssi(item["rssi"], f"{where}.rssi")
    ts = limits.ts(item["ts"], f"{where}.ts")
    associated = item.get("associated")
    if associated is not None and not isinstance(associated, bool):
        raise ReportError(f"{where}.associated", "must be true, false or absent")
    return client, rssi, ts, associated
