"""Juniper Mist webhooks: the raw RSSI topics.

Mist posts every topic a webhook subscribes to as `{"topic": "<topic>", "events": [...]}` (tmunzer/mistapi-go,
doc/models/webhook-wifi-conn-raw.md and -unconn-raw.md). Two topics carry what the positioner needs, the RSSI
at which an AP heard a client:
- `wifi-conn-raw`: clients associated to the site, `wifi-unconn-raw`: clients only heard probing; each event
  `{"ap_id": "<AP MAC>", "client_id": "<client MAC>", "packets": [{"band": "5GHz", "rssi": -92}, ...],
  "ap_loc", "map_id", "site_id", "org_id", "connected_site"}` (MACs as "ac-23-16-ec-a7-0b" or bare hex).
  Mist gathers the events of a few seconds into one message, so one client and AP may come several times:
  each pair is one reading, the median RSSI of all its packets, timed on arrival (the raw topics carry no
  time). `ap_id` names the AP by its device MAC (not a BSSID): list that MAC among the AP's BSSIDs in the map.
Events of the other topics (location, zone, client-join, ...) are accepted and counted as ignored, and so is a raw
event without `client_id`, `ap_id` or a packet with an `rssi` (all optional in Mist's schema). Mist allows
one raw topic per webhook: two site webhooks, one per topic, with the same URL and secret.

Signature: with a secret configured, Mist sends `X-Mist-Signature-v2` = hex HMAC-SHA256(secret, raw body)
and `X-Mist-Signature` = hex HMAC-SHA1(secret, body); v2 is checked when the header is there, else v1. The
secret is kept sealed (AES-GCM under a sub-key of SECRET_KEY): the HMAC needs the secret itself, not a hash."""

from __future__ import annotations

import hashlib
import hmac
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from core.security import Sealer
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
    require,
)

RSSI_TOPICS = {"wifi-conn-raw": True, "wifi-unconn-raw": False}  # topic -> the client is associated


class MistKeys(NamedConfigKeys):
    """STRING per webhook: its secret, sealed."""

    kind, item = "mist", "hook"


@dataclass(frozen=True)
class MistWebhook:
    venue: str
    name: str  # our name for the webhook (in the receiver URL)
    secret: bytes = field(repr=False)

    def signed(self, body: bytes, v2: str | None, v1: str | None) -> bool:
        """Whether the body carries this webhook's signature (v2 when its header is there, else v1)."""
        given, digest = (v2, hashlib.sha256) if v2 is not None else (v1 or "", hashlib.sha1)
        expected = hmac.new(self.secret, body, digest).hexdigest()
        return hmac.compare_digest(expected.encode(), given.strip().lower().encode(errors="replace"))


class MistStore(NamedConfigs):
    keys = MistKeys
    what = "webhook name"

    def __init__(self, db: redis.Redis, secret_key: str) -> None:
        super().__init__(db)
        self._sealer = Sealer(secret_key, b"mallportal mist webhook secret")

    def configure(self, venue: str, name: str, secret: str) -> MistWebhook:
        self.check_name(name)
        if not isinstance(secret, str) or not 8 <= len(secret) <= 256 or not secret.isprintable():
            raise ValueError("secret: 8 to 256 printable characters")
        sealed = self._sealer.seal(secret.encode(), _bound_to(venue, name))
        self.save(venue, name, lambda pipe, key: pipe.set(key, sealed))
        return MistWebhook(venue, name, secret.encode())

    def get(self, venue: str, name: str) -> MistWebhook | None:
        if not self.valid_name(name):
            return None
        sealed = self.db.get(MistKeys(venue).config(name))
        if sealed is None:
            return None
        try:
            secret = self._sealer.open(sealed, _bound_to(venue, name))
        except ValueError:  # sealed under another SECRET_KEY: configure it again
            return None
        return MistWebhook(venue, name, secret)


def _bound_to(venue: str, name: str) -> bytes:
    """The sealed secret's associated data: it opens only as this venue's webhook of this name."""
    return f"{venue}/{name}".encode()


def parse_mist(payload: Any, ids: ClientIds, limits: Limits) -> Batch:
    """The readings of a raw RSSI topic; other topics: an empty batch counting its events as ignored."""
    check_object(payload, ROOT)
    topic = require(payload, "topic", ROOT)
    if not isinstance(topic, str):
        raise ReportError("topic", "must be the webhook topic's name")
    events = check_list(require(payload, "events", ROOT), "events")
    batch = Batch()
    if topic not in RSSI_TOPICS:
        batch.ignored = len(events)
        return batch
    limits.count(sum(len(e["packets"]) for e in events if isinstance(e, dict) and isinstance(e.get("packets"), list))
                 + len(events), "events")
    heard: dict[tuple[str, str], list[float]] = {}
    for i, event in enumerate(events):
        where = f"events[{i}]"
        check_object(event, where)
        # Mist's schema makes every field of an event optional (client_id, ap_id, packets, a packet's rssi):
        # one without them carries no reading and is counted as ignored; a value that is there is checked.
        client = _optional(event, "client_id", where, ids)
        ap = _optional(event, "ap_id", where, check_bssid)
        if ap is not None:
            batch.reported(ap)  # its event came from that AP, packets or not
        rssis = _packet_rssis(event, where)
        if client is not None and ap is not None and rssis:
            heard.setdefault((client, ap), []).extend(rssis)
        else:
            batch.ignored += 1
    for (client, ap), rssis in heard.items():
        batch.add(client, ap, statistics.median(rssis), limits.now, RSSI_TOPICS[topic])
    return batch


def _optional(event: dict, name: str, where: str, check: Callable[[object, str], str]) -> str | None:
    """An optional field's checked value; None when it is missing or null."""
    value = event.get(name)
    return None if value is None else check(value, f"{where}.{name}")


def _packet_rssis(event: dict, where: str) -> list[float]:
    """The RSSI of each packet that has one (a packet's `rssi` is optional in Mist's schema)."""
    rssis = []
    for j, packet in enumerate(check_list(event.get("packets") or [], f"{where}.packets")):
        rssi = check_object(packet, f"{where}.packets[{j}]").get("rssi")
        if rssi is not None:
            rssis.append(check_rssi(rssi, f"{where}.packets[{j}].rssi"))
    return rssis
