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
client associating. An event of a batch may carry its own `bssid` (a relay batching the events of
`hostapd.wlan0` and `hostapd.wlan1`): its reading is that AP's; without one, the batch's `bssid` applies.

An event may also come as `ubus subscribe` prints it, the notification's name as its one key:
`{"probe": {"address": ..., "signal": -61, "freq": 2437}}` (openwrt/ubus cli.c `print_event`). Events that
carry no reading are skipped and counted (`ignored`), not errors: hostapd's other notifications on the same
object (`disassoc`, `beacon-report`, `vlan_add`, ...) and a probe/auth/assoc without `signal` (hostapd adds
it only when the driver knows it; an assoc from a driver that associates by itself has none), or with `signal` 0
(what hostapd holds when the driver gave none: `get_clients` lists it so). Every AP a valid
request names has reported, readings or not (the store marks it alive: a quiet AP is not a silent one).

A relay may also post what `ubus call hostapd.<iface> get_clients` answers, the interface's associated stations
and the `signal` each was last heard at: `{"bssid": ..., "freq": 2437, "clients": {"<mac>": {"assoc": true,
"signal": -52, ...}, ...}}`, polled every few seconds. Associated phones seldom probe, so this is how the AP
reports them between their probes; each station with a `signal` is a reading of an associated client (one
whose `assoc` is false, an authenticated station not yet associated, is not), heard at `ts` or on arrival."""

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
    check_list,
    check_object,
    check_rssi,
    parse_time,
    require,
)

EVENT_TYPES = {"probe": False, "auth": True, "assoc": True}
FREQ_MIN_MHZ, FREQ_MAX_MHZ = 2400, 72000


def parse_openwrt(payload: Any, ids: ClientIds, limits: Limits) -> Batch:
    check_object(payload, ROOT)
    ap = check_bssid(require(payload, "bssid", ROOT), "bssid")
    if "clients" in payload:
        return _parse_clients(payload, ap, ids, limits)
    if "events" in payload:
        events = check_list(payload["events"], "events")
        prefixes = [f"events[{i}]" for i in range(len(events))]
    else:
        events, prefixes = [payload], [ROOT]
    limits.count(len(events), "events")
    batch = Batch()
    batch.reported(ap)
    for event, where in zip(events, prefixes, strict=True):
        check_object(event, where)
        event_ap = ap
        if event is not payload and "bssid" in event:  # its own AP (a relay batching several interfaces)
            event_ap = check_bssid(event["bssid"], at(where, "bssid"))
            batch.reported(event_ap)
        kind, event, where = _unwrapped(event, where)
        if not isinstance(kind, str):
            raise ReportError(at(where, "type"), "must be a hostapd notification name (probe, auth, assoc, ...)")
        if kind not in EVENT_TYPES:
            batch.ignored += 1  # another notification of the same ubus object: no reading
            continue
        client = ids(require(event, "address", where), at(where, "address"))
        rssi = _signal(event, where)
        if rssi is None:
            batch.ignored += 1
            continue
        if "freq" in event:
            freq = event["freq"]
            if isinstance(freq, bool) or not isinstance(freq, int) or not FREQ_MIN_MHZ <= freq <= FREQ_MAX_MHZ:
                raise ReportError(at(where, "freq"), f"must be a channel frequency in MHz "
                                                     f"({FREQ_MIN_MHZ}-{FREQ_MAX_MHZ})")
        ts = limits.now  # hostapd events carry no time: heard when it arrives
        if "ts" in event:
            ts = limits.ts(parse_time(event["ts"], at(where, "ts")), at(where, "ts"))
        batch.add(client, event_ap, rssi, ts, EVENT_TYPES[kind])
    return batch


def _parse_clients(payload: dict, ap: str, ids: ClientIds, limits: Limits) -> Batch:
    """`get_clients`' answer (the module's doc): a reading per associated station that has a `signal`."""
    clients = payload["clients"]
    check_object(clients, "clients")
    limits.count(len(clients), "clients")
    ts = limits.ts(parse_time(payload["ts"], "ts"), "ts") if "ts" in payload else limits.now
    batch = Batch()
    batch.reported(ap)
    for i, (mac, station) in enumerate(clients.items()):
        # The field names the station by position, as find3 does: the key is a raw MAC, never echoed or logged.
        where = f"clients[{i}]"
        check_object(station, where)
        client = ids(mac, where)
        rssi = None if station.get("assoc") is False else _signal(station, where)
        if rssi is None:
            batch.ignored += 1  # not associated yet, or no reading
            continue
        batch.add(client, ap, rssi, ts, True)
    return batch


def _signal(station: dict, where: str) -> float | None:
    """A station's or an event's `signal` (dBm); None when it holds no reading: absent (hostapd adds it only when
    the driver knows it) or 0 (hostapd's value when the driver gave none; no phone is heard at 0 dBm)."""
    if "signal" not in station:
        return None
    rssi = check_rssi(station["signal"], at(where, "signal"))
    return None if rssi == 0 else rssi


RELAY_FIELDS = ("bssid", "ts")  # what a relay may add beside a `ubus subscribe` line


def _unwrapped(event: dict, where: str) -> tuple[object, dict, str]:
    """(notification name, its fields, their JSON path): a flat event (`type`, default probe), or
    `ubus subscribe`'s `{"<name>": {...}}` with at most `bssid` and `ts` beside it (a `ts` there applies; the
    `bssid` is read by the caller, as a flat event's)."""
    if "type" not in event and "address" not in event:
        names = [k for k in event if k not in RELAY_FIELDS]
        if len(names) == 1 and isinstance(event[names[0]], dict):
            name = names[0]
            inner = event[name]
            if "ts" in event and "ts" not in inner:
                inner = {**inner, "ts": event["ts"]}
            return name, inner, at(where, name)
    return event.get("type", "probe"), event, where
