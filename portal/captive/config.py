"""Per-venue portal policy and gateway settings, kept in the store and set with
`flask --app wsgi portal-config <venue> key=value ...` (README: "Gateways")."""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

import redis

from core.memo import BoundedMemo
from core.settings import phone_region_code, time_zone_name
from core.storage import VenueKeys
from portal.captive.omada import setting_problem

log = logging.getLogger(__name__)

# name -> (default, help). Secrets are write-only from the CLI's point of view (shown masked).
FIELDS: dict[str, tuple[str, str]] = {
    "time_zone": ("", "the venue's IANA time zone for every time shown and entered (empty: the TIME_ZONE setting)"),
    "phone_region": ("", "region of numbers typed without a country code, e.g. CN (empty: PHONE_REGION)"),
    "session_minutes": ("60", "internet access granted per 'continue' (minutes)"),
    "max_extensions": ("3", "how many times a shopper may extend a session"),
    "meraki_grant_hosts": ("network-auth.com", "hosts base_grant_url may point at (comma-separated suffixes)"),
    "opennds_level": ("1", "openNDS fas_secure_enabled level (0-4)"),
    "opennds_faskey": ("", "openNDS faskey (secret)"),
    "opennds_gatewayname": ("", "openNDS gatewayname (authmon sends sha256 of the url-encoded name; with "
                                "enable_serial_number_suffix, openNDS's default, the name ends ' Node:<mac> ': "
                                "set opennds_gatewayhashes instead)"),
    "opennds_gatewayhashes": ("", "or: the gatewayhash of each router (comma-separated; openNDS logs it as "
                                  "'gatewayname digest is: ...')"),
    "opennds_authmon_from": ("", "addresses allowed to poll authmon (comma-separated IPs or networks: the routers' "
                                 "public IPs); required at levels 3-4, empty: no poller at all. Keeps out the "
                                 "internet, not the guests behind the NAT"),
    "opennds_authdir": ("opennds_auth", "openNDS authdir (level 1 grants at http://<gatewayaddress>/<authdir>/; "
                                        "level 2 sends its own)"),
    "coova_uamsecret": ("", "CoovaChilli uamsecret (secret)"),
    "coova_username": ("guest", "CoovaChilli UAM user name"),
    "coova_password": ("", "CoovaChilli UAM password (secret)"),
    "guest_username": ("guest", "guest user for Meraki sign-on / Aruba / Cisco WLC / MikroTik / Ruckus Unleashed / "
                                "Ruckus SmartZone"),
    "guest_password": ("", "guest password for Aruba / Cisco WLC / MikroTik / Ruckus Unleashed / SmartZone: shared by "
                           "every guest, shown to their browsers (not SmartZone's); guest access only (secret)"),
    "aruba_switchip": ("securelogin.arubanetworks.com", "Aruba Instant login host"),
    "aruba_login_scheme": ("http", "http (Aruba's documented login URL) or https (an AP given a trusted certificate)"),
    "wlc_hosts": ("", "Cisco WLC switch_url hosts allowed (comma-separated); empty = private IPs only"),
    "aruba_post_hosts": ("", "Aruba Instant On login hosts (its `post` parameter) allowed, comma-separated; "
                             "empty: no Instant On grant"),
    "mikrotik_hosts": ("", "MikroTik link-login-only hosts allowed (the hotspot's dns-name); empty = private IPs only"),
    "ruckus_hosts": ("", "Ruckus Unleashed sip hosts allowed (comma-separated); empty = private IPs only"),
    "wifidog_gateways": ("", "addresses allowed to call the WiFiDog auth server's auth/ and ping/ (comma-separated "
                             "IPs or networks: the gateways' addresses as the portal sees them); required for "
                             "WiFiDog, empty: no caller at all. A portal hosted outside sees the guests and the "
                             "gateway behind the same NAT address and cannot tell them apart: run it on the "
                             "venue's network, or give the gateway its own public address"),
    "client_networks": ("", "where shoppers' requests come from (comma-separated IPs or networks: the guest "
                            "networks, or the venue's public NAT addresses when the portal is hosted outside); a "
                            "MAC a gateway did not vouch for places a phone only in a request from there (else "
                            "anyone could ask where a phone is); on-premises: only from loopback and private, "
                            "CGNAT, link-local and IPv6 unique-local addresses (a portal on the mall's own "
                            "network); empty: the same, not yet decided (the set-up checklist asks): a portal "
                            "hosted outside the mall must name the mall's public addresses"),
    "smartzone_nbi_hosts": ("", "Ruckus SmartZone / RUCKUS One northbound interfaces (the redirect's nbiIP: the "
                                "controller's address, or the tenant's wispr host) allowed, comma-separated; empty: "
                                "no SmartZone login and no MAC decryption"),
    "smartzone_nbi_scheme": ("https", "https (SmartZone port 9443, RUCKUS One 443) or http (SmartZone port 9080)"),
    "smartzone_nbi_port": ("9443", "the northbound portal interface's port: 9443 (https) or 9080 (http) on "
                                   "SmartZone, 443 on RUCKUS One"),
    "smartzone_nbi_username": ("", "RequestUserName, where the controller asks for one (RUCKUS One)"),
    "smartzone_nbi_password": ("", "the northbound portal interface's password set on the controller (secret)"),
    "smartzone_ca_bundle": ("", "PEM certificate(s) the NBI's TLS certificate must chain to (name checked)"),
    "smartzone_cert_sha256": ("", "or: SHA-256 fingerprint of the controller's own certificate (self-signed)"),
    "unifi_url": ("", "UniFi controller base URL: https://unifi.local:8443, or a UniFi OS console https://192.168.1.1"),
    "unifi_kind": ("auto", "auto, controller (/api/login) or unifi-os (/api/auth/login, /proxy/network/...)"),
    "unifi_ca_bundle": ("", "PEM certificate(s) the controller's TLS certificate must chain to (name checked)"),
    "unifi_cert_sha256": ("", "or: SHA-256 fingerprint of the controller's own certificate (self-signed)"),
    "unifi_site": ("default", "UniFi site"),
    "unifi_username": ("", "UniFi controller user"),
    "unifi_password": ("", "UniFi controller password (secret)"),
    "omada_url": ("", "TP-Link Omada controller base URL with its management port: https://omada.local:8043 "
                      "(software controller) or https://192.168.0.2 (OC200/OC300: 443)"),
    "omada_controller_id": ("", "Omada controller id: the 32 characters after the host in the controller's URL"),
    "omada_ca_bundle": ("", "PEM certificate(s) the controller's TLS certificate must chain to (name checked)"),
    "omada_cert_sha256": ("", "or: SHA-256 fingerprint of the controller's own certificate (self-signed)"),
    "omada_username": ("", "Omada hotspot operator (Hotspot Manager > Operators; not a controller admin)"),
    "omada_password": ("", "Omada hotspot operator password (secret)"),
    "omada_time_unit": ("ms", "unit of extPortal/auth's `time` (the session length): ms, as controllers read it, "
                              "or us, as TP-Link's page words it"),
}
INTEGER_FIELDS = {"session_minutes": (1, 7 * 24 * 60), "max_extensions": (0, 100), "opennds_level": (0, 4),
                  "smartzone_nbi_port": (1, 65535)}
CHOICE_FIELDS = {"unifi_kind": ("auto", "controller", "unifi-os"), "aruba_login_scheme": ("http", "https"),
                 "smartzone_nbi_scheme": ("https", "http")}
SECRET_FIELDS = {name for name, (_, text) in FIELDS.items() if "(secret)" in text}
# The `client_networks` of a portal on the mall's own network: phones placed from the premises' own kind of address
# only (core/addresses.py PREMISES_NETWORKS), exactly as where it is unset; stated, it lets the set-up
# checklist tell a decision from a setting nobody has looked at.
ON_PREMISES = "on-premises"


def is_sha256_fingerprint(value: str) -> bool:
    digits = value.replace(":", "").lower()
    return len(digits) == 64 and all(c in "0123456789abcdef" for c in digits)


class PortalConfigKeys(VenueKeys):
    def config(self) -> str:
        return self.key("portal", "config")


class LastKnownSettings:
    """venue -> the settings this process last read from the store, for the fail-open page's grant while the
    store is down (a controller's URL, an NBI host and password are in no default). Refreshed by every
    successful read, never expired (a stale copy beats none while the store is down), bounded by venues: the
    least recently read venue goes first (core.memo's one bounded LRU)."""

    VENUES = 4096  # a bound, far above the venues one deployment serves

    def __init__(self, size: int = VENUES) -> None:
        self._memo = BoundedMemo(size)

    @property
    def size(self) -> int:
        return self._memo.size

    @size.setter
    def size(self, value: int) -> None:
        self._memo.size = value

    def remember(self, venue: str, settings: dict[str, str]) -> None:
        self._memo.put(venue, dict(settings))

    def get(self, venue: str) -> dict[str, str] | None:
        found = self._memo.peek(venue)
        return dict(found) if found is not None else None


class PortalConfigStore:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db
        self.last_known = LastKnownSettings()

    @staticmethod
    def defaults() -> dict[str, str]:
        return {name: default for name, (default, _) in FIELDS.items()}

    def get(self, venue: str) -> dict[str, str]:
        stored = {k.decode(): v.decode() for k, v in self.db.hgetall(PortalConfigKeys(venue).config()).items()}
        settings = {name: stored.get(name, default) for name, (default, _) in FIELDS.items()}
        if stored:  # a venue with settings of its own: any venue id can be asked for, and must not push it out
            self.last_known.remember(venue, settings)
        return settings

    def offline(self, venue: str) -> dict[str, str]:
        """The settings to go by while the store is down: the ones this process last read, else the defaults."""
        return self.last_known.get(venue) or self.defaults()

    def _own(self, venue: str, name: str) -> str:
        """One setting as the venue itself set it ("" when it sets none, whatever the default): one field read."""
        raw = self.db.hget(PortalConfigKeys(venue).config(), name)
        return raw.decode() if raw else ""

    def client_networks(self, venue: str) -> str:
        """The networks the venue's `client_networks` names, for the landing's short memo: "" where it names none
        (unset or `on-premises`: both place phones from the premises' own addresses only, Landing.placeable)."""
        value = self.client_networks_setting(venue)
        return "" if states_on_premises(value) else value

    def client_networks_setting(self, venue: str) -> str:
        """The venue's `client_networks` as set: "" (unset), `on-premises` or networks (the set-up checklist)."""
        return self._own(venue, "client_networks")

    def unifi_site(self, venue: str) -> str:
        """The venue's own `unifi_site`: which venue a UniFi redirect's path names (portal/captive/unifi.py
        SiteVenues; a venue that sets none names no site, not UniFi's "default")."""
        return self._own(venue, "unifi_site")

    def time_zone(self, venue: str) -> str:
        """The venue's own `time_zone`: for the per-process cache below."""
        return self._own(venue, "time_zone")

    def set(self, venue: str, values: dict[str, str]) -> None:
        """All values checked first; nothing written if one is wrong."""
        values = dict(values)
        for name, value in list(values.items()):
            if name not in FIELDS:
                raise ValueError(f"unknown setting {name!r}; known: {', '.join(FIELDS)}")
            if name in INTEGER_FIELDS:
                low, high = INTEGER_FIELDS[name]
                if not value.isdigit() or not low <= int(value) <= high:
                    raise ValueError(f"{name} must be an integer from {low} to {high}")
            if name in CHOICE_FIELDS and value not in CHOICE_FIELDS[name]:
                raise ValueError(f"{name} must be one of {', '.join(CHOICE_FIELDS[name])}")
            if name == "time_zone" and value:
                values[name] = time_zone_name(value)
            if name == "phone_region" and value:
                phone_region_code(value)
            if name in ("opennds_authmon_from", "wifidog_gateways") and value:
                address_networks(value)
            if name == "client_networks" and value:
                values[name] = client_networks_value(value)
            if name == "opennds_gatewayhashes" and value and not all(
                    is_sha256_fingerprint(h.strip()) and ":" not in h for h in value.split(",") if h.strip()):
                raise ValueError("opennds_gatewayhashes must be 64-hex-digit sha256 values, comma-separated")
            if name == "smartzone_nbi_hosts" and value and (bad := [h for h in value.split(",") if h.strip() and
                                                                   not is_host_name_or_ip(h.strip())]):
                raise ValueError(f"smartzone_nbi_hosts: {bad[0].strip()[:60]!r} is not a host name or an IP address "
                                 "(the redirect's nbiIP, without a port: smartzone_nbi_port sets it)")
            if name in ("unifi_cert_sha256", "omada_cert_sha256", "smartzone_cert_sha256") and value and \
                    not is_sha256_fingerprint(value):
                raise ValueError(f"{name} must be 64 hex digits (colons allowed)")
            if name.startswith("omada_") and (value or name == "omada_time_unit") and (
                    problem := setting_problem(name, value)):
                raise ValueError(f"{name} {problem}")
        if values:
            self.db.hset(PortalConfigKeys(venue).config(), mapping=values)


def is_host_name_or_ip(value: str) -> bool:
    """A DNS host name (letters, digits, hyphens, dots) or a bare IPv4/IPv6 address: no port, brackets or path."""
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    return 0 < len(value) <= 253 and all(0 < len(label) <= 63 and label.isascii() and
                                         label.replace("-", "").isalnum() and not label.startswith("-")
                                         for label in labels)


def states_on_premises(value: str) -> bool:
    """A `client_networks` value that says the portal is on the premises (ON_PREMISES, in any case)."""
    return value.strip().lower() == ON_PREMISES


def client_networks_value(value: str) -> str:
    """A `client_networks` value as stored: ON_PREMISES, or comma-separated IPs or networks as given; ValueError
    says what is wrong (the words a setting mixing both would be read as, or the first part that is no network)."""
    if states_on_premises(value):
        return ON_PREMISES
    if ON_PREMISES in value.lower():
        raise ValueError(f"client_networks: {ON_PREMISES} stands alone (the premises' own addresses); "
                         "else list the networks")
    try:
        address_networks(value)
    except ValueError as exc:
        raise ValueError(f"client_networks: {exc} (or {ON_PREMISES}, for a portal on the mall's own "
                         "network)") from None
    return value


def address_networks(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """A comma-separated list of IPs or networks (10.0.0.0/8, 203.0.113.7, 2001:db8::/32); ValueError names
    the first one that is neither."""
    networks = []
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"{part[:60]!r} is not an IP address or network") from None
    return networks


class VenueTimeZones:
    """The one owner of "the venue's time zone": its own `time_zone`, else `default` (the TIME_ZONE setting). A
    stored name this host's zone database cannot load (written by a host with newer tzdata, by an older release, or
    not through set()) counts in the default too, logged once per venue: every page, store and worker of the venue
    keeps going on one clock. One per process (build_services: `Services.time_zones`).

    `__call__` is for the hot paths outside a request (the tracker's footfall per position, the moments engine): one
    store read per venue per `max_age_s` in each process, not one per position; a venue whose zone changes is counted
    in the new zone within max_age_s. `read` reads it now (a request: the console shows a change at once)."""

    MAX_AGE_S = 60.0
    VENUES = 4096  # a bound, far above the venues one deployment serves

    def __init__(self, db: redis.Redis, default: str, max_age_s: float = MAX_AGE_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = PortalConfigStore(db)
        self.default = ZoneInfo(default)
        self._zones = BoundedMemo(self.VENUES, max_age_s=max_age_s, clock=clock)
        self._unloadable = BoundedMemo(self.VENUES)  # venue -> the stored name last logged as unloadable

    def __call__(self, venue: str) -> ZoneInfo:
        return self._zones.get(venue, lambda: self.read(venue))

    def read(self, venue: str) -> ZoneInfo:
        return self.zone_named(venue, self.store.time_zone(venue))

    def zone_named(self, venue: str, name: str) -> ZoneInfo:
        """The zone of the venue whose stored `time_zone` is `name` (read by the caller: a request reads the
        venue's whole config at once): `default` for none, or for one this host cannot load."""
        if not name:
            return self.default
        try:
            return ZoneInfo(name)
        except (ValueError, KeyError, OSError):  # not found (a KeyError), a malformed key, a name too long for a file
            self._log_unloadable(venue, name)
            return self.default

    def _log_unloadable(self, venue: str, name: str) -> None:
        if self._unloadable.peek(venue) == name:
            return
        self._unloadable.put(venue, name)
        log.warning("venue %s: time_zone %r is not in this host's zone database (newer tzdata elsewhere?); its "
                    "times are in the TIME_ZONE setting's %s until the zone database has it or the venue sets one",
                    venue, name[:60], self.default.key)
