"""Helpers for the ingest tests: one object that posts every feed format to the demo venue and
reads back what was stored."""

from __future__ import annotations

import json
import time

import pytest

from portal.ingest.meraki import MerakiStore
from portal.ingest.mist import MistStore
from portal.ingest.store import RssiKeys, ap_times

PHONE = "02:00:5e:00:53:aa"  # locally administered (randomised) MAC
PHONE2 = "18:fe:34:fc:5a:7f"
AP1, AP2, AP3 = "f0:9f:c2:1a:00:01", "f0:9f:c2:1a:00:02", "f0:9f:c2:1a:00:03"
VALIDATOR = "a5b1c9d5e0f4d3c2b1a0f9e8d7c6b5a4f3e2d1c0"
SECRET = "supersecret"


class Feeds:
    # constants and documented example payloads, for the test modules (which cannot import conftest)
    PHONE, PHONE2, AP1, AP2, AP3, VALIDATOR, SECRET = PHONE, PHONE2, AP1, AP2, AP3, VALIDATOR, SECRET
    v2 = staticmethod(lambda *a, **kw: meraki_v2(*a, **kw))
    v3 = staticmethod(lambda *a, **kw: meraki_v3(*a, **kw))
    event = staticmethod(lambda *a, **kw: openwrt_event(*a, **kw))
    passive = staticmethod(lambda *a, **kw: find3_passive(*a, **kw))
    iso = staticmethod(lambda ts: iso(ts))

    def __init__(self, client, token, svc, db) -> None:
        self.client = client
        self.token = token
        self.svc = svc
        self.db = db

    # -- posting ----------------------------------------------------------------------------------

    def _post(self, url, body, headers, content_type="application/json"):
        data = body if isinstance(body, str | bytes) else json.dumps(body)
        return self.client.post(url, data=data, headers=headers, content_type=content_type)

    def auth(self, token):
        return {"Authorization": f"Bearer {token}"} if token is not None else {}

    def native(self, body, token=..., venue="demo", **kw):
        token = self.token if token is ... else token
        return self._post(f"/api/v1/venues/{venue}/reports", body, self.auth(token), **kw)

    def openwrt(self, body, token=..., venue="demo", **kw):
        token = self.token if token is ... else token
        return self._post(f"/api/v1/venues/{venue}/openwrt", body, self.auth(token), **kw)

    def find3(self, body, token=..., venue="demo", headers=None, **kw):
        token = self.token if token is ... else token
        return self._post(f"/api/v1/venues/{venue}/find3/passive", body,
                          headers if headers is not None else self.auth(token), **kw)

    def meraki(self, body, network="main", venue="demo", **kw):
        return self._post(f"/api/v1/venues/{venue}/meraki/{network}", body, {}, **kw)

    def meraki_get(self, network="main", venue="demo"):
        return self.client.get(f"/api/v1/venues/{venue}/meraki/{network}")

    # -- reading back -----------------------------------------------------------------------------

    def readings(self, mac, venue="demo"):
        return self.svc.rssi.readings(venue, self.svc.hasher.client_id(mac), time.time())

    def stored(self, venue="demo"):
        """Everything ingestion stored for a venue: readings and AP last-seen times."""
        keys = RssiKeys(venue)
        out = {}
        for key in self.db.scan_iter(match=keys.readings("*")):
            out[key] = tuple(sorted(self.db.zrange(key, 0, -1)))
        out["ap_last"] = tuple(sorted(self.db.hgetall(keys.ap_last_seen()).items()))
        out["ap_reach"] = tuple(sorted(self.db.hgetall(keys.ap_reach()).items()))
        out["ap_unknown"] = tuple(sorted(self.db.zrange(keys.unknown_aps(), 0, -1, withscores=True)))
        out["feed_since"] = self.db.get(keys.feed_since())
        return out

    def heard_aps(self, venue="demo") -> dict[str, float]:
        """AP -> when its last report arrived: the map's APs (RssiKeys.ap_last_seen) and the others
        (RssiKeys.unknown_aps) alike."""
        keys = RssiKeys(venue)
        unknown = {ap.decode(): at for ap, at in self.db.zrange(keys.unknown_aps(), 0, -1, withscores=True)}
        return {**unknown, **ap_times(self.db.hgetall(keys.ap_last_seen()))}

    def nothing_stored(self, venue="demo") -> bool:
        return self.stored(venue) == {"ap_last": (), "ap_reach": (), "ap_unknown": (), "feed_since": None}


@pytest.fixture
def feeds(client, demo, svc, db):
    MerakiStore(db).configure("demo", "main", VALIDATOR, SECRET)
    return Feeds(client, demo, svc, db)


MIST_SECRET = "mist-webhook-secret"  # the Mist webhook "north" of the demo venue (`mist`)


@pytest.fixture
def mist(feeds, svc):
    """`feeds` with the demo venue's Mist webhook "north" configured (its secret MIST_SECRET)."""
    MistStore(svc.db, svc.settings.secret_key).configure("demo", "north", MIST_SECRET)
    return feeds


@pytest.fixture
def other_venue(svc, demo_map, demo):
    """A second venue ('other') with its own token and Meraki network."""
    other = demo_map.copy()  # VenueMap.copy: a deep copy, ~4x cheaper than copy.deepcopy
    other.id = "other"
    svc.venues.put_map(other)
    MerakiStore(svc.db).configure("other", "main", "other-validator", "other-secret")
    return svc.tokens.issue("other", "other-controller")


def now() -> float:
    return time.time()


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def meraki_v2(ts=None, rssi=47, client=PHONE2, ap="00:18:0a:13:dd:b0", secret=SECRET):
    """The documented v2 example (developer.cisco.com/meraki/scanning-api/2-0), times moved to now."""
    ts = int(now() - 30) if ts is None else ts
    return {
        "version": "2.0",
        "secret": secret,
        "type": "DevicesSeen",
        "data": {
            "apMac": ap,
            "apFloors": [],
            "apTags": ["dev", "entrance", "office"],
            "observations": [{
                "ipv4": "/192.168.0.38",
                "location": {"lat": 51.5355157, "lng": -0.06990350000000944, "unc": 1.233417960754815,
                             "x": [], "y": []},
                "seenTime": iso(ts),
                "ssid": ".interwebs",
                "os": None,
                "clientMac": client,
                "seenEpoch": ts,
                "rssi": rssi,
                "ipv6": None,
                "manufacturer": "Espressif",
            }],
        },
    }


def meraki_v3(ts=None, client="11:22:33:44:55:66", secret=SECRET, records=None, network_id="L_000000000000000001"):
    """The documented v3 example (shape per developer.cisco.com/meraki/scanning-api/3-0), times moved
    to now."""
    ts = now() - 20 if ts is None else ts
    records = records if records is not None else [
        {"apMac": "aa:aa:aa:11:11:11", "rssi": -34},
        {"apMac": "aa:aa:aa:22:22:22", "rssi": -51},
        {"apMac": "aa:aa:aa:44:44:44", "rssi": -45},
        {"apMac": "aa:aa:aa:33:33:33", "rssi": -51},
    ]
    return {
        "version": "3.0",
        "secret": secret,
        "type": "WiFi",
        "data": {
            "networkId": network_id,
            "observations": [{
                "clientMac": client,
                "ipv4": "192.168.0.251",
                "ipv6": None,
                "ssid": ".interwebs",
                "os": "iOS",
                "manufacturer": "Apple",
                "locations": [{
                    "time": iso(ts),
                    "x": "8.591860719528196", "y": "11.404523745521399",
                    "lat": 60.053427800388225, "lng": 6.095759658672512,
                    "variance": 1.5097088029182084,
                    "floorPlanId": "g_643451796760560979", "floorPlanName": "3rd Floor",
                    "nearestApTags": ["API-TEST", "Office"],
                    "rssiRecords": records,
                }],
                "latestRecord": {"time": iso(ts), "nearestApMac": "aa:aa:aa:44:44:44", "nearestApRssi": "-47"},
            }],
        },
    }


def openwrt_event(address=PHONE, signal=-61, freq=2437, kind="probe", bssid=AP1, ts=None):
    event = {"type": kind, "address": address, "signal": signal, "freq": freq}
    if ts is not None:
        event["ts"] = ts
    return {"bssid": bssid, **event}


def find3_passive(device="AP-G01", wifi=None, t=None):
    """The documented FIND3 body (doc/api.md), as a passive scanner sends it."""
    return {
        "d": device,
        "f": "mall",
        "t": int((now() - 5) * 1000) if t is None else t,
        "s": {"wifi": wifi if wifi is not None else {PHONE: -73, "70:4d:7b:11:3a:c8": -81},
              "bluetooth": {"20:25:64:b7:91:42": -72}},
    }
