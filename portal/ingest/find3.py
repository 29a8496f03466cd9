"""FIND3 passive scanning (schollz/find3, doc/api.md and doc/passive_tracking.md).

Scanners (typically Raspberry Pis sniffing probe requests, `find3-cli-scanner -passive`) POST to
`<server>/passive` the phones they heard, keyed by the phone's MAC:

    {"d": "<scanner name>", "f": "<family>", "t": 1520424248897,
     "s": {"wifi": {"<phone mac>": -73, ...}, "bluetooth": {...}}}

`d` names the scanner, i.e. the hearing "AP": either its BSSID or the name of an AP in the venue map.
`t` is Unix time in milliseconds. Bluetooth readings are ignored; a learning location `l` is ignored
too (fingerprints come from surveys). Passive readings are probe requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from portal.errors import ROOT
from portal.ingest.observation import (
    Batch,
    ClientIds,
    Limits,
    ReportError,
    check_object,
    check_rssi,
    require,
)


def parse_find3(payload: Any, ids: ClientIds, limits: Limits, scanner_ap: Callable[[str], str | None]) -> Batch:
    check_object(payload, ROOT)
    device = require(payload, "d", ROOT)
    if not isinstance(device, str) or not 0 < len(device) <= 64:
        raise ReportError("d", "must be the scanner's name (1-64 characters)")
    ap = scanner_ap(device)
    if ap is None:
        raise ReportError("d", "is neither a BSSID nor the name of an AP in this venue's map")
    family = require(payload, "f", ROOT)
    if not isinstance(family, str) or len(family) > 64:
        raise ReportError("f", "must be the FIND3 family name (at most 64 characters)")
    t = require(payload, "t", ROOT)
    if isinstance(t, bool) or not isinstance(t, int | float) or t != t or not -1e15 < t < 1e15:
        raise ReportError("t", "must be Unix time in milliseconds")
    ts = limits.ts(t / 1000.0, "t")
    sensors = check_object(require(payload, "s", ROOT), "s")
    wifi = sensors.get("wifi", {})
    check_object(wifi, "s.wifi")
    limits.count(len(wifi), "s.wifi")
    batch = Batch()
    batch.reported(ap)  # the scanner reported, even hearing no phone
    for i, (mac, rssi) in enumerate(wifi.items()):
        # The field names the entry by position: the key is a raw MAC, never echoed back or logged.
        where = f"s.wifi[{i}]"
        client = ids(mac, where)
        batch.add(client, ap, check_rssi(rssi, where), ts, False)
    return batch
