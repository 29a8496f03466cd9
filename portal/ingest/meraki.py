"""Cisco Meraki Scanning API receiver: v2 (`DevicesSeen`, one AP per POST) and v3 (`WiFi`, one POST
per network, organised by client with `locations[].rssiRecords[]`).

Handshake (developer.cisco.com/meraki/scanning-api): the dashboard holds a *validator* and a *secret*
per network. Meraki first GETs the receiver URL and expects the validator as the body; then it POSTs
JSON carrying the secret, which the receiver checks. Here each venue configures its networks by name
(`flask --app wsgi meraki-config VENUE NETWORK`); the validator is kept as is (it is returned on every
GET), the secret only as its SHA-256, compared in constant time.

RSSI: v2 samples are positive (e.g. 47); Meraki's v1 documentation says "subtract 95 to get units in
dBm", and v3 samples are already negative dBm. So a value >= 0 is read as Meraki's positive scale
(dBm = value - 95) and a negative value as dBm."""

from __future__ import annotations

import hmac
import itertools
import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from core.security import hash_token
from portal.errors import ROOT
from portal.ingest.named_configs import NamedConfigKeys, NamedConfigs
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

MERAKI_RSSI_OFFSET = 95
# A `"secret": "..."` member in a raw body, its value as JSON text. Possessive and bounded, so a hostile body is
# scanned in linear time: a value ends at its first unescaped quote, which no later `"secret"` can come before.
SECRET_MEMBER = re.compile(rb'"secret"[ \t\r\n]{0,64}:[ \t\r\n]{0,64}'
                           rb'"([^"\\]{0,1536}+(?:\\.[^"\\]{0,1536}+){0,1536}+)"')
SECRET_MAX_LEN = 256
SECRET_TEXT_MAX = 12 * SECRET_MAX_LEN  # a configured secret written all in \uXXXX escapes (surrogate pairs: 12)
SECRET_CANDIDATES = 4  # Meraki's top-level secret comes before `data`, and its data holds no "secret" member
V2_TYPES = {"DevicesSeen": "wifi", "BluetoothDevicesSeen": "ble"}
V3_TYPES = {"WiFi": "wifi", "BLE": "ble"}


class MerakiKeys(NamedConfigKeys):
    """HASH validator, secret_sha256, network_id per network."""

    kind, item = "meraki", "net"


@dataclass(frozen=True)
class MerakiNetwork:
    venue: str
    name: str  # our name for the network (in the receiver URL)
    validator: str
    secret_sha256: str
    network_id: str | None = None  # Meraki's networkId (v3 `data.networkId`); checked when set

    def secret_matches(self, given: object) -> bool:
        if not isinstance(given, str) or not given:
            hmac.compare_digest(self.secret_sha256, self.secret_sha256)  # same work either way
            return False
        return hmac.compare_digest(hash_token(given), self.secret_sha256)

    def secret_in(self, body: bytes) -> bool:
        """Whether a raw body names this network's secret in one of its first `"secret"` members: checked before
        the body is parsed, so a post without it costs no parse. Only a necessary condition: where the member sits
        (top level, not inside `data`) is for the parsed payload to show."""
        for match in itertools.islice(SECRET_MEMBER.finditer(body), SECRET_CANDIDATES):
            if len(match[1]) > SECRET_TEXT_MAX:
                continue
            try:
                given = json.loads(b'"%b"' % match[1])
            except ValueError:  # not UTF-8, or a bad escape: names no secret
                continue
            if self.secret_matches(given):
                return True
        return False


def _check_text(value: str, what: str, max_len: int) -> str:
    if not isinstance(value, str) or not value or len(value) > max_len or not value.isprintable():
        raise ValueError(f"{what}: 1 to {max_len} printable characters")
    return value


class MerakiStore(NamedConfigs):
    keys = MerakiKeys
    what = "network name"

    def configure(self, venue: str, name: str, validator: str, secret: str,
                  network_id: str | None = None) -> MerakiNetwork:
        self.check_name(name)
        _check_text(validator, "validator", 128)
        _check_text(secret, "secret", SECRET_MAX_LEN)
        if network_id is not None:
            _check_text(network_id, "network id", 64)
        mapping = {"validator": validator, "secret_sha256": hash_token(secret), "network_id": network_id or ""}
        self.save(venue, name, lambda pipe, key: pipe.hset(key, mapping=mapping))
        return MerakiNetwork(venue, name, validator, mapping["secret_sha256"], network_id or None)

    def get(self, venue: str, name: str) -> MerakiNetwork | None:
        if not self.valid_name(name):
            return None
        data = self.db.hgetall(MerakiKeys(venue).config(name))
        if not data or b"validator" not in data:
            return None
        return MerakiNetwork(venue, name, data[b"validator"].decode(), data[b"secret_sha256"].decode(),
                             data.get(b"network_id", b"").decode() or None)

    def networks(self, venue: str) -> list[MerakiNetwork]:
        return [n for n in (self.get(venue, name) for name in self.names(venue)) if n is not None]


DEMO_NETWORK = "demo"


def ensure_demo_meraki(db: redis.Redis, venue: str, data_dir: Path) -> tuple[str, str]:
    """A demo Meraki network for a development venue (idempotent): validator and secret are made
    once and kept in `<data_dir>/secrets/` like the demo API token. Returns (validator, secret)."""
    folder = data_dir / "secrets"
    folder.mkdir(parents=True, exist_ok=True)
    values = []
    for part in ("validator", "secret"):
        path = folder / f"{venue}_meraki_{part}"
        if not path.exists():
            path.write_text(secrets.token_hex(20))
            path.chmod(0o600)
        values.append(path.read_text().strip())
    validator, secret = values
    store = MerakiStore(db)
    current = store.get(venue, DEMO_NETWORK)
    if current is None or current.validator != validator or not current.secret_matches(secret):
        store.configure(venue, DEMO_NETWORK, validator, secret)
    return validator, secret


# ---- parsing ------------------------------------------------------------------------------------


def meraki_rssi_dbm(value: object, field: str) -> float:
    """Meraki RSSI to dBm (see the module docstring for the rule)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ReportError(field, "must be a number (Meraki RSSI: dBm + 95, or negative dBm)")
    if value >= 0:
        if value > MERAKI_RSSI_OFFSET:
            raise ReportError(field, f"must be between 0 and {MERAKI_RSSI_OFFSET} (Meraki scale) "
                                     "or a negative dBm value")
        value = value - MERAKI_RSSI_OFFSET
    return check_rssi(value, field)


def _associated(obs: dict) -> bool | None:
    """Meraki: `ssid` is null when the client is not associated (probe requests only)."""
    if "ssid" not in obs:
        return None
    return obs["ssid"] is not None


def meraki_kind(payload: Any) -> tuple[int, str]:
    """(major version, 'wifi' | 'ble') of a Meraki payload; ReportError if it is not one."""
    check_object(payload, ROOT)
    kind_name = require(payload, "type", ROOT)
    if not isinstance(kind_name, str):
        kind_name = None
    if kind_name in V2_TYPES:
        major, kind = 2, V2_TYPES[kind_name]
    elif kind_name in V3_TYPES:
        major, kind = 3, V3_TYPES[kind_name]
    else:
        raise ReportError("type", "must be one of DevicesSeen, BluetoothDevicesSeen (v2), WiFi, BLE (v3)")
    if "version" in payload:
        version = payload["version"]
        if isinstance(version, bool) or not isinstance(version, str | int | float):
            raise ReportError("version", "must be a version string such as \"2.0\" or \"3.0\"")
        if not str(version).startswith(str(major)):
            raise ReportError("version", f"does not match type {kind_name!r} (a v{major} type)")
    return major, kind


def parse_meraki(payload: Any, ids: ClientIds, limits: Limits, network: MerakiNetwork) -> tuple[Batch, str]:
    """(validated readings, 'wifi' | 'ble'). BLE payloads are valid but carry no Wi-Fi readings: an
    empty batch. Call only after the secret was checked."""
    major, kind = meraki_kind(payload)
    data = check_object(require(payload, "data", ROOT), "data")
    if kind != "wifi":
        return Batch(), kind
    if major == 2:
        return _parse_v2(data, ids, limits), kind
    return _parse_v3(data, ids, limits, network), kind


def _parse_v2(data: dict, ids: ClientIds, limits: Limits) -> Batch:
    ap = check_bssid(require(data, "apMac", "data"), "data.apMac")
    observations = check_list(require(data, "observations", "data"), "data.observations")
    limits.count(len(observations), "data.observations")
    batch = Batch()
    batch.reported(ap)  # v2 is one AP per POST: it reported, even hearing nobody (or only late readings)
    for i, obs in enumerate(observations):
        where = f"data.observations[{i}]"
        check_object(obs, where)
        client = ids(require(obs, "clientMac", where), f"{where}.clientMac")
        rssi = meraki_rssi_dbm(require(obs, "rssi", where), f"{where}.rssi")
        if "seenEpoch" in obs:
            ts = limits.fresh_ts(obs["seenEpoch"], f"{where}.seenEpoch")
        elif "seenTime" in obs:
            ts = limits.fresh_ts(parse_time(obs["seenTime"], f"{where}.seenTime"), f"{where}.seenTime")
        else:
            raise ReportError(f"{where}.seenEpoch", "is required (or seenTime)")
        if ts is None:
            batch.stale += 1
            continue
        batch.add(client, ap, rssi, ts, _associated(obs))
    return batch


def _parse_v3(data: dict, ids: ClientIds, limits: Limits, network: MerakiNetwork) -> Batch:
    # v3 is one POST per network, by client. The APs that reported in the period, hearing clients or not, are in
    # `reportingAps` (a quiet venue's post has no observations, yet its APs are alive); the APs of fresh
    # readings mark themselves.
    if network.network_id is not None and data.get("networkId") != network.network_id:
        raise ReportError("data.networkId", "is not the Meraki network configured for this receiver")
    observations = check_list(require(data, "observations", "data"), "data.observations")
    reporting = data.get("reportingAps")
    reporting = [] if reporting is None else check_list(reporting, "data.reportingAps")
    total = 0
    for obs in observations:
        if isinstance(obs, dict) and isinstance(obs.get("locations"), list):
            total += sum(len(loc["rssiRecords"]) for loc in obs["locations"]
                         if isinstance(loc, dict) and isinstance(loc.get("rssiRecords"), list))
    limits.count(total + len(observations) + len(reporting), "data.observations")
    batch = Batch()
    for i, ap in enumerate(reporting):
        mac = check_object(ap, f"data.reportingAps[{i}]").get("mac")
        if mac is not None:  # an entry naming no AP marks none
            batch.reported(check_bssid(mac, f"data.reportingAps[{i}].mac"))
    for i, obs in enumerate(observations):
        where = f"data.observations[{i}]"
        check_object(obs, where)
        client = ids(require(obs, "clientMac", where), f"{where}.clientMac")
        associated = _associated(obs)
        locations = obs.get("locations")
        if locations is None:
            locations = []
        check_list(locations, f"{where}.locations")
        heard = [_location(loc, f"{where}.locations[{j}]", client, associated, limits, batch)
                 for j, loc in enumerate(locations)]
        latest = obs.get("latestRecord")
        if latest is not None:
            after = max((ts for ts in heard if ts is not None), default=None)
            _latest_record(latest, f"{where}.latestRecord", client, associated, limits, batch, after)
    return batch


def _location(loc: Any, where: str, client: str, associated: bool | None, limits: Limits,
              batch: Batch) -> float | None:
    """Add one v3 location's readings; their time, None where it added none. A location without `rssiRecords`
    (missing or null: Meraki's position without the readings behind it) carries none: counted as ignored, the
    post's others stored."""
    check_object(loc, where)
    ts = limits.fresh_ts(parse_time(require(loc, "time", where), f"{where}.time"), f"{where}.time")
    if loc.get("rssiRecords") is None:
        batch.ignored += 1
        return None
    heard = None
    for k, record in enumerate(check_list(loc["rssiRecords"], f"{where}.rssiRecords")):
        rwhere = f"{where}.rssiRecords[{k}]"
        check_object(record, rwhere)
        ap = check_bssid(require(record, "apMac", rwhere), f"{rwhere}.apMac")
        rssi = meraki_rssi_dbm(require(record, "rssi", rwhere), f"{rwhere}.rssi")
        if ts is None:  # validated all the same; too old to position with
            batch.stale += 1
            continue
        batch.add(client, ap, rssi, ts, associated)
        heard = ts
    return heard


def _latest_record(latest: Any, where: str, client: str, associated: bool | None, limits: Limits,
                   batch: Batch, after: float | None) -> None:
    """v3's `latestRecord`: the last AP to hear the client, and when. Its values are always validated; it is used
    when it is newer than the client's location readings (`after`: the newest, None for none) and still inside
    the window (an older one is skipped, not an error: it is what "no recent locations" means). Newer, not only
    where there are no locations: Meraki posts "typically 1-2 min" late, so locations older than the RSSI window
    are common, and the store drops them as stale; the fresh record must not go with them. A record missing a
    field, or with one null, holds no reading: counted as ignored, not an error."""
    check_object(latest, where)
    raw_time, raw_ap, raw_rssi = (latest.get(name) for name in ("time", "nearestApMac", "nearestApRssi"))
    ts = None if raw_time is None else parse_time(raw_time, f"{where}.time")
    if ts is not None and ts >= limits.oldest:
        ts = limits.ts(ts, f"{where}.time")  # a time in the future is an error (clock skew)
    ap = None if raw_ap is None else check_bssid(raw_ap, f"{where}.nearestApMac")
    rssi = None if raw_rssi is None else _latest_rssi(raw_rssi, f"{where}.nearestApRssi")
    if ts is None or ap is None or rssi is None:
        batch.ignored += 1
    elif ts >= limits.oldest and (after is None or ts > after):
        batch.add(client, ap, rssi, ts, associated)


def _latest_rssi(raw: object, field: str) -> float:
    if isinstance(raw, str):  # a string in the documented schema
        try:
            raw = float(raw.strip())
        except ValueError:
            raise ReportError(field, "must be a number or a numeric string") from None
    return meraki_rssi_dbm(raw, field)
