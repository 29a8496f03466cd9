"""OpenWrt hostapd events, as forwarded by a small relay on the AP.

hostapd on OpenWrt publishes ubus notifications on `hostapd.<iface>` (`probe`, `auth`, `assoc`) with
the station's `address`, the `signal` it was heard at (dBm) and the channel `freq` (MHz). A relay
subscribed to them (e.g. `ubus subscribe hostapd.wlan0` piped to curl) adds the BSSID of the
interface and POSTs either one event or a batch:

    {"bssid": "f0:9f:c2:1a:00:01", "type": "probe", "address": "<mac>", "signal": -61, "freq": 2437}
    {"bssid": "f0:9f:c2:1a:00:01", "events": [{"type": "probe", "address": ..., "signal": ...,
                                               "freq": ..., "ts": 1732400000.5}, ...]}

`ts` (Unix seconds, or ms) is optional: hostapd events carry no time, so a reading without one is
taken as heard when it arrives. A `probe` reading is flagged as a probe request; `auth`/`assoc` as a
client associating."""

from __future__ import annotations

from typing import Any

from portal.ingest.observation import (
    Batch,
    ClientIds,
    Limits,
    ReportError,
    check_bssid,
    check_list,
    check_object,
    check_rssi,
    parse_time,
    require,
)

EVENT_TYPES = {"probe": False, "auth": True, "assoc": True}
FREQ_MIN_MHZ, FREQ_MAX_MHZ = 2400, 72000


def parse_openwrt(payload: Any, ids: ClientIds, limits: Limits) -> Batch:
    check_object(payload, "$")
    ap = check_bssid(require(payload, "bssid", "$"), "$.bssid")
    if "events" in payload:
        events = check_list(payload["events"], "$.events")
        prefixes = [f"$.events[{i}]" for i in range(len(events))]
    else:
        events, prefixes = [payload], ["$"]
    limits.count(len(events), "$.events")
    batch = Batch()
    for event, where in zip(events, prefixes, strict=True):
        check_object(event, where)
        kind = event.get("type", "probe")
        if not isinstance(kind, str) or kind not in EVENT_TYPES:
            raise ReportError(_f(where, "type"), "must be one of probe, auth, assoc")
        client = ids(require(event, "address", where), _f(where, "address"))
        rssi = check_rssi(require(event, "signal", where), _f(where, "signal"))
        if "freq" in event:
            freq = event["freq"]
            if isinstance(freq, bool) or not isinstance(freq, int) or not FREQ_MIN_MHZ <= freq <= FREQ_MAX_MHZ:
                raise ReportError(_f(where, "freq"), f"must be a channel frequency in MHz "
                                                     f"({FREQ_MIN_MHZ}-{FREQ_MAX_MHZ})")
        ts = limits.now  # hostapd events carry no time: heard when it arrives
        if "ts" in event:
            ts = limits.ts(parse_time(event["ts"], _f(where, "ts")), _f(where, "ts"))
        batch.add(client, ap, rssi, ts, EVENT_TYPES[kind])
    return batch


def _f(where: str, name: str) -> str:
    return f"{where}.{name}" if where != "$" else f"$.{name}"
