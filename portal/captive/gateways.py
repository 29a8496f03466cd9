"""Gateway adapters: each WLAN gateway redirects the shopper's browser to the portal with its own
parameters and expects access to be granted its own way (../shared/reference/captive-portals.md
sections 3-4). The adapter is chosen by which parameters arrive; it parses them, verifies what its
protocol lets us verify, and builds the grant.

Every URL a gateway hands us that we would later send a browser (or credentials) to is checked
against what that gateway can legitimately be (a Meraki splash host, a private gateway address, the
configured controller): a forged parameter must not turn the portal into an open redirect."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import secrets
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from core.addresses import client_address
from core.memo import BoundedMemo
from core.security import normalise_mac
from core.settings import Settings
from fingerprints.model import normalise_bssid
from portal.captive.controller_api import ControllerError
from portal.captive.omada import OmadaController
from portal.captive.probes import match_probe
from portal.captive.smartzone import DECRYPT_TIMEOUT_S, SmartZoneNbi, is_encrypted
from portal.captive.unifi import UniFiController

log = logging.getLogger(__name__)

# A redirect's query parameters: request.args (a MultiDict: read as here, its first value per name) or a plain dict.
RedirectArgs = Mapping[str, str]


class GatewayError(ValueError):
    """A gateway redirect we refuse; `field` names the parameter."""

    def __init__(self, field: str, message: str, status: int = 400) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status = status


@dataclass
class GatewayContext:
    gateway: str
    client_mac: str | None = None  # as the gateway sent it; only ever stored sealed (encrypted)
    client_ip: str | None = None
    ap_mac: str | None = None
    destination: str | None = None  # where the shopper was going: validated, used after the grant only
    grant: dict[str, Any] = field(default_factory=dict)
    # The gateway vouched for client_mac/client_ip (a checksum or an encryption only it can make): only
    # then may the portal learn the IP -> client binding or trust the phone for "where am I".
    verified: bool = False
    # What the redirect says of the phone's access at the gateway: ONLINE (it let the phone out already:
    # CoovaChilli's res=success/already, openNDS's status=authenticated), OFFLINE (it holds the phone back:
    # CoovaChilli's res=notyet/logoff), REFUSED (it refused the login a Continue handed it: CoovaChilli's
    # res=failed, a Cisco WLC's statusCode 2-5, a MikroTik hotspot's error), or "" (it does not say).
    access: str = ""
    # REFUSED: why, one of REFUSALS (the view words it in the shopper's language), and what the gateway itself
    # said (a RADIUS reply, the router's error text), as it said it: quoted to the shopper, never logged.
    refusal: str = ""
    said: str = ""


ONLINE, OFFLINE, REFUSED = "online", "offline", "refused"
# Why a gateway refused a login (GatewayContext.refusal): the Cisco WLC's statusCode 2-5 name theirs.
REFUSALS = ("refused", "not-web-auth", "user-unavailable", "blocked", "credentials")
MAX_SAID = 200  # characters of a gateway's own refusal text kept


@dataclass(frozen=True)
class Grant:
    """How to hand the browser back: a redirect, or a form the browser must POST to the gateway."""

    redirect_to: str | None = None
    form_action: str | None = None
    form_fields: dict[str, str] = field(default_factory=dict)
    # A one-time value the gateway will present back to the portal to confirm the grant (WiFiDog's token):
    # the caller must store it (hashed, portal/captive/wifidog.py) before the browser takes the redirect.
    ticket: str | None = None


class ContextSealer:
    """Encrypts gateway contexts (they can hold the client's raw MAC) before they touch storage or URLs.

    A context is sealed on one web host and may be opened on another: its stamp is that host's clock. One stamped
    up to `max_skew_s` in the future (the sealing host's clock ahead; MAX_CLOCK_SKEW_S, 300 s by default) still
    opens; Fernet's own ttl check allows only 60 s (its `_MAX_CLOCK_SKEW`), so the window is checked here."""

    def __init__(self, secret_key: str, max_skew_s: float = Settings.max_clock_skew_s) -> None:
        key = hashlib.sha256(b"mallportal gateway context\0" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))
        self.max_skew_s = max_skew_s
        self.clock = time.time  # tests move it

    def seal(self, ctx: GatewayContext) -> bytes:
        return self._fernet.encrypt_at_time(json.dumps(asdict(ctx)).encode(), int(self.clock()))

    def open(self, sealed: bytes | str, max_age_s: int = 6 * 3600) -> GatewayContext:
        """The context, if sealed by this install within `max_age_s` (and no further ahead than `max_skew_s`)."""
        try:
            token = sealed if isinstance(sealed, bytes) else sealed.encode()
            age = self.clock() - self._fernet.extract_timestamp(token)  # its seal checked
            if not -self.max_skew_s <= age <= max_age_s:
                raise InvalidToken
            raw = self._fernet.decrypt(token)
        except (InvalidToken, ValueError, TypeError):
            raise GatewayError("g", "invalid or expired gateway context") from None
        # Only the fields this code knows: during a rolling deploy a context sealed by a newer process (a field
        # added) still opens here, with that field's default, rather than failing the shopper's Continue.
        known = {f.name for f in fields(GatewayContext)}
        return GatewayContext(**{k: v for k, v in json.loads(raw).items() if k in known})


# ---- checks shared by the adapters -----------------------------------------------------------

PROBE_HOSTS = ("captive.apple.com", "connectivitycheck.gstatic.com", "www.msftconnecttest.com", "www.msftncsi.com",
               "detectportal.firefox.com", "clients3.google.com", "www.gstatic.com", "nmcheck.gnome.org",
               "connectivity-check.ubuntu.com")
# The OS vendors' domains, whose probe paths (BY_PATH) are checks wherever they are served from.
PROBE_DOMAINS = ("apple.com", "msftconnecttest.com", "msftncsi.com", "microsoft.com", "firefox.com", "gnome.org",
                 "ubuntu.com", "fedoraproject.org", "gstatic.com", "google.com", "googleapis.com")
MAX_URL = 4096  # openNDS passes original URLs of 2 kB and more


def is_probe_url(host: str, path: str) -> bool:
    """An OS connectivity check: Android's /generate_204* and /gen_204 on any host (OEM builds probe their own:
    connectivitycheck.platform.hicloud.com/generate_204_<uuid>), the other OSes' probe paths on their vendors'
    domains (a shop's own /success.html is a page, not a check)."""
    probe = match_probe(host, path)
    if probe is None:
        return False
    return probe.os == "android" or any(host == d or host.endswith("." + d) for d in PROBE_DOMAINS)


_ENCODED_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*%3A%2F%2F", re.IGNORECASE)


def _has_control(text: str) -> bool:
    """A space, a control character or DEL: no plain URL holds one (a header or a page could be split)."""
    return any(ord(ch) < 33 or ord(ch) == 127 for ch in text)


def safe_destination(raw: str | None, own_hosts: tuple[str, ...] = ()) -> str | None:
    """The shopper's original URL if it is a plain http(s) URL worth returning to, else None.
    Refused: other schemes, credentials in the URL, control characters, OS probe URLs on any host (continuing
    to one just closes the sign-in browser; OEM builds probe their own hosts), and hosts dressed up as ours
    (portal.example.evil.net). A URL encoded twice (`http%3A%2F%2F...`) is decoded once before the checks;
    a host still holding a `%` is refused."""
    if not raw or len(raw) > MAX_URL or _has_control(raw):
        return None
    if _ENCODED_SCHEME.match(raw):  # encoded once more than the gateway's own encoding (a UniFi `url`)
        raw = urllib.parse.unquote(raw)
        if _has_control(raw):
            return None
    if "://" not in raw:  # Cisco WLC sends `redirect` as host/path; "javascript:..." has no "//"
        head = raw.split("/", 1)[0]
        if ":" in head and not head.rsplit(":", 1)[1].isdigit():
            return None
        raw = "http://" + raw
    try:  # urlsplit raises on a `[` without its `]` (an IPv6 literal cut short), `.port` on a malformed port
        parts = urllib.parse.urlsplit(raw)
        parts.port  # noqa: B018
    except ValueError:
        return None
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme not in ("http", "https") or not host or "@" in parts.netloc or "\\" in raw:
        return None
    if "%" in host:  # still encoded (three times over, or a host in a URL without its scheme): no host of anyone's
        return None
    if host in PROBE_HOSTS or is_probe_url(host, parts.path or "/"):
        return None
    for own in own_hosts:
        own = own.lower().split(":")[0]
        if own and host != own and own in host:
            return None
    return raw


def gateway_words(text: str) -> str:
    """A gateway's own refusal text as kept (GatewayContext.said): printable characters, MAX_SAID of them."""
    return "".join(ch for ch in text[:MAX_SAID] if ch.isprintable())


def refused(refusal: str, text: str = "") -> dict[str, str]:
    """The GatewayContext fields of a redirect that says the gateway refused the login (REFUSALS)."""
    return {"access": REFUSED, "refusal": refusal, "said": gateway_words(text)}


def require_mac(args: RedirectArgs, name: str, required: bool = True) -> str | None:
    raw = args.get(name)
    if not raw:
        if required:
            raise GatewayError(name, "is required")
        return None
    try:
        normalise_mac(raw)
    except ValueError:
        raise GatewayError(name, "is not a MAC address") from None
    return raw


# How the gateways name the client's MAC and the AP it is associated with, in the redirect (captive-portals.md
# section 4). Names are matched without regard to case (TP-Link Omada: clientMac, apMac). `mac` is the client
# (MikroTik, CoovaChilli, Aruba), except beside an explicit client name, where it is the AP (Ruckus:
# client_mac + mac); so a Ruckus SmartZone client_mac encrypted as ENC... leaves the phone unknown rather than
# making the AP its MAC. Extreme sends the AP's `bssid`; FortiGate `usermac`, and the AP both as `apmac` (its
# device MAC) and `bssid` (the radio's, which the survey and the feeds name: so `bssid` first); Cambium `ga_cmac` and
# `ga_ap_mac`.
CLIENT_MAC_PARAMS = ("client_mac", "clientmac", "usermac", "ga_cmac")
MAC_PARAMS = (*CLIENT_MAC_PARAMS, "mac", "id")
AP_PARAMS = ("node_mac", "ap_mac", "ap", "called", "bssid", "apmac", "ga_ap_mac")
AP_PARAMS_BESIDE_CLIENT = (*AP_PARAMS, "mac")


def _by_lower_name(args) -> dict[str, str]:
    named: dict[str, str] = {}
    for key, value in args.items():  # a MultiDict's items(): the first value of each name
        named.setdefault(key.lower(), value)
    return named


MAX_MAC_CHARS = 64  # a MAC in any notation, with spaces round it; anything longer is not one (nor memoised)


def _is_mac(raw: str) -> bool:
    return len(raw) <= MAX_MAC_CHARS and _is_short_mac(raw)


def _bssid_or_none(raw: str) -> str | None:
    return _short_bssid(raw) if len(raw) <= MAX_MAC_CHARS else None


# Every probe reads these: the checks are memoised (a phone probes several times).
@functools.lru_cache(maxsize=16384)
def _is_short_mac(raw: str) -> bool:
    try:
        normalise_mac(raw)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _short_bssid(raw: str) -> str | None:
    try:
        return normalise_bssid(raw)
    except ValueError:
        return None


def _first(named: Mapping[str, str], names: tuple[str, ...], ok) -> str | None:
    for name in names:
        raw = named.get(name)
        if raw and ok(raw):
            return raw
    return None


def gateway_macs(args: RedirectArgs) -> tuple[str | None, str | None]:
    """(the client's MAC as the gateway sent it, the associated AP's BSSID normalised), each None when the
    redirect names none that is well-formed: the first of the names it may have used (see above)."""
    named = args if all(key.islower() for key in args) else _by_lower_name(args)  # a probe's are lower-case
    explicit = any(name in named for name in CLIENT_MAC_PARAMS)
    client = _first(named, CLIENT_MAC_PARAMS if explicit else MAC_PARAMS, _is_mac)
    ap = _first(named, AP_PARAMS_BESIDE_CLIENT if explicit else AP_PARAMS, _bssid_or_none)
    return client, _bssid_or_none(ap) if ap else None


def client_mac_param(args: RedirectArgs) -> str | None:
    return gateway_macs(args)[0]


def optional_ip(args: RedirectArgs, name: str) -> str | None:
    raw = args.get(name)
    if not raw:
        return None
    address = client_address(raw)
    if address is None:
        raise GatewayError(name, "is not an IP address")
    return str(address)  # the IP table's spelling (normal_ip: an IPv4-mapped address as its IPv4 one)


# The venue's own network: RFC 1918 and shared (RFC 6598) IPv4, link-local, the documentation and benchmark
# ranges gateways use as virtual addresses (Cisco recommends 192.0.2.1 for a WLC's), IPv6 unique-local,
# loopback. Not Python's `is_private`, which also takes 6to4, NAT64 and Teredo (routes to any IPv4 host).
GATEWAY_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "192.0.2.0/24",
    "198.18.0.0/15", "127.0.0.0/8", "fc00::/7", "::1/128"))


def is_gateway_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """An address on the venue's own network (GATEWAY_NETWORKS): where a gateway may be."""
    return any(ip in network for network in GATEWAY_NETWORKS)


def private_gateway_ip(raw: str, name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """A bare IP address of the gateway (GATEWAY_NETWORKS): no zone id (Python takes fe80::1%eth0), no port."""
    try:
        ip = ipaddress.ip_address(raw) if "%" not in raw else None
    except ValueError:
        ip = None
    if ip is None or not is_gateway_ip(ip):
        raise GatewayError(name, "must point at the gateway's private address")
    return ip


def private_gateway_url(raw: str | None, name: str, scheme_required: bool = True) -> urllib.parse.SplitResult:
    """A URL on the venue's own network (the gateway): a private or loopback IP (GATEWAY_NETWORKS), http(s)."""
    if not raw:
        raise GatewayError(name, "is required")
    parts = _url_parts(raw if "://" in raw or scheme_required else "http://" + raw, name)
    private_gateway_ip(parts.hostname or "", name)
    return parts


def _url_parts(raw: str, name: str) -> urllib.parse.SplitResult:
    """http(s), no user info, no IPv6 zone id, a port that is a port."""
    parts = _split(raw, name)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not one ("host:evil.com")
    except ValueError:
        raise GatewayError(name, "has a malformed port") from None
    if parts.scheme not in ("http", "https") or "@" in parts.netloc or "%" in parts.netloc:
        raise GatewayError(name, "must be an http(s) URL of the gateway")
    return parts


def _split(raw: str, name: str) -> urllib.parse.SplitResult:
    """urlsplit, its ValueError (a `[` without its `]`: "Invalid IPv6 URL") a refused parameter, not a 500."""
    try:
        return urllib.parse.urlsplit(raw)
    except ValueError:
        raise GatewayError(name, "is not a URL") from None


def listed(setting: str) -> list[str]:
    """A comma-separated setting's entries, trimmed and lower-case; empty ones (a trailing comma) are none."""
    return [entry.strip().lower() for entry in setting.split(",") if entry.strip()]


def allowed_gateway_url(raw: str | None, name: str, hosts_setting: str) -> urllib.parse.SplitResult:
    """A URL we send the shopper's browser, with the guest login, to: http(s) on a host of the venue's
    `hosts_setting` (comma-separated names), or, when that is empty, on the gateway's private address."""
    allowed = listed(hosts_setting)
    if not allowed:
        return private_gateway_url(raw, name)
    parts = _url_parts(raw or "", name)
    if (parts.hostname or "").lower() not in allowed:
        raise GatewayError(name, "is not this venue's gateway", status=403)
    return parts


def hand_back(ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str]) -> Grant:
    """How the browser goes back to the gateway; raises GatewayError when the grant failed (a controller
    refused, a login host the venue has not allowed). A phone the gateway already let out needs no grant."""
    if ctx.access == ONLINE:
        return Grant(redirect_to=destination)
    return BY_NAME[ctx.gateway].grant(ctx, seconds, destination, config)


def _with_query(base: str, **params: Any) -> str:
    """`base` with `params` in its query: a query the gateway put in `base` is kept (a name given in `params` is
    replaced, not repeated), as the gateway may need it back (a grant URL's own `gateway_id`)."""
    parts = urllib.parse.urlsplit(base)
    kept = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    query = urllib.parse.urlencode([*kept, *((k, v) for k, v in params.items() if v is not None)])
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


# ---- the adapters -----------------------------------------------------------------------------


class Adapter:
    name = ""
    # Its grant is a call of ours to the venue's controller (a login there, then an authorisation), not a
    # redirect or a form the browser takes to the gateway: Continue spends the captive.grant budget on it.
    calls_controller = False
    # Its landing may call the venue's controller (SmartZone decrypts an encrypted MAC there): its parse takes
    # `controller_allowed`, asked only when a call would be made (the captive.decrypt budget).
    landing_calls_controller = False
    # Its grant carries a one-time value (Grant.ticket) the portal stores until the gateway presents it back:
    # Continue spends the captive.ticket budget on it.
    issues_ticket = False

    def detect(self, args: RedirectArgs) -> bool:
        raise NotImplementedError

    def parse(self, args: RedirectArgs, request_url: str, config: dict[str, str], now: float) -> GatewayContext:
        raise NotImplementedError

    def grant(self, ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str]) -> Grant:
        raise NotImplementedError

    def tells_length(self, ctx: GatewayContext) -> bool:
        """Whether the grant carries the session's length to the gateway; else the gateway keeps its own."""
        return False


def tells_length(ctx: GatewayContext) -> bool:
    """Whether the gateway is told how long this phone's session lasts (its time left is then ours too)."""
    return BY_NAME[ctx.gateway].tells_length(ctx)


def calls_controller(ctx: GatewayContext) -> bool:
    """Whether handing this context back makes the portal call the venue's controller (hand_back)."""
    return ctx.access != ONLINE and BY_NAME[ctx.gateway].calls_controller


def issues_ticket(ctx: GatewayContext) -> bool:
    """Whether handing this context back makes a one-time value the portal must store (Grant.ticket)."""
    return ctx.access != ONLINE and BY_NAME[ctx.gateway].issues_ticket


class MerakiClickThrough(Adapter):
    """Meraki click-through splash: the browser is sent to `base_grant_url?continue_url=..&duration=..`."""

    name = "meraki"

    def detect(self, args: RedirectArgs) -> bool:
        return "base_grant_url" in args

    def parse(self, args: RedirectArgs, request_url: str, config: dict[str, str], now: float) -> GatewayContext:
        grant_url = args.get("base_grant_url", "")
        meraki_url(grant_url, "base_grant_url", config)
        return GatewayContext(
            gateway=self.name, client_mac=require_mac(args, "client_mac"), client_ip=optional_ip(args, "client_ip"),
            ap_mac=require_mac(args, "node_mac", required=False), destination=args.get("user_continue_url"),
            grant={"base_grant_url": grant_url})

    def grant(self, ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str]) -> Grant:
        return Grant(redirect_to=_with_query(ctx.grant["base_grant_url"], continue_url=destination, duration=seconds))

    def tells_length(self, ctx: GatewayContext) -> bool:
        return True  # `duration`


def meraki_url(url: str, name: str, config: dict[str, str]) -> None:
    """An https URL on Meraki's splash hosts (`meraki_grant_hosts`, suffixes): where a grant may send the browser."""
    parts = _split(url, name)
    allowed = listed(config.get("meraki_grant_hosts", "network-auth.com"))
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or "@" in parts.netloc or not any(host == a or host.endswith("." + a)
                                                                 for a in allowed):
        raise GatewayError(name, "is not a Meraki splash URL")


class OpenNDS(Adapter):
    """openNDS forwarding authentication (FAS), `fas_secure_enabled` levels 0-4, as openNDS 10-11 builds
    them (src/http_microhttpd.c): 0: clear query `authaction=http://<gw>/<authdir>/?clientip=..&tok=..
    &redir=..`; 1 and 4: `fas` = base64 (not url-encoded) of "name=value, ..." pairs (hid, clientip,
    clientmac, gatewayname, gatewayaddress, originurl url-encoded, clientif, ...; no authdir); 2 and 3:
    `fas` AES-256-CBC encrypted with `faskey` and `iv`. openNDS appends `?fas=` to the FAS URL as it is,
    query or not (portal/captive/views.py gateway_args); a client already authenticated comes back with
    `status=authenticated` (GatewayContext.access). Grant: levels 0-2 send the browser to
    http://<gatewayaddress>/<authdir>/ (level 2: the router's own, else `opennds_authdir`) with `tok` (= rhid =
    sha256(hid + faskey) from level 1 on) and `redir`; levels 3-4 queue the rhid for the gateway's authmon
    daemon, which polls the portal."""

    name = "opennds"

    def detect(self, args: RedirectArgs) -> bool:
        return "fas" in args or ("tok" in args and "authaction" in args) or self._authenticated(args)

    @staticmethod
    def _authenticated(args) -> bool:
        """An authenticated client that opens the gateway's page again: `?clientip=..&gatewayname=..
        &status=authenticated` (openNDS's FAS docs), nothing to grant."""
        return args.get("status") == "authenticated" and "gatewayname" in args

    def parse(self, args: RedirectArgs, request_url: str, config: dict[str, str], now: float) -> GatewayContext:
        if "fas" not in args and "authaction" not in args:  # openNDS signs nothing here: it only says "online"
            return GatewayContext(gateway=self.name, client_ip=_ip_or_none(args, "clientip"), access=ONLINE)
        if "fas" not in args:
            return self._level0(args)
        level = int(config.get("opennds_level", "1"))
        faskey = config.get("opennds_faskey", "")
        if level >= 1 and not faskey:
            raise GatewayError("fas", "openNDS faskey is not configured for this venue", status=503)
        fields = self._decrypt(args["fas"], args["iv"], faskey) if "iv" in args else self._decode(args["fas"])
        hid = fields.get("hid") or fields.get("client_hid")
        if not hid:
            raise GatewayError("fas", "carries no hid")
        # Levels 2-3 send the router's authdir, encrypted with the faskey (the router's own word; openNDS's
        # fas-aes.php builds its Continue on it); level 1 sends none (its example FAS hard-codes /opennds_auth/,
        # the default `authdir`), and its base64 is anyone's to write: the venue's setting.
        sent = fields.get("authdir", "").strip("/") if "iv" in args else ""
        authdir = sent or (config.get("opennds_authdir") or "opennds_auth").strip("/")
        if not authdir.replace("_", "").replace("-", "").isalnum():
            raise (GatewayError("fas.authdir", "must be a plain directory name") if sent else
                   GatewayError("opennds_authdir", "must be a plain directory name", status=503))
        auth_base = private_gateway_url(f"http://{fields.get('gatewayaddress', '')}/{authdir}/",
                                        "fas.gatewayaddress")
        rhid = hashlib.sha256(hid.strip().encode() + faskey.strip().encode()).hexdigest()
        return GatewayContext(
            gateway=self.name, client_mac=fields.get("clientmac"), client_ip=fields.get("clientip"),
            destination=urllib.parse.unquote(fields.get("originurl", "")),  # openNDS url-encodes it
            verified="iv" in args,
            grant={"level": level, "rhid": rhid, "auth_url": urllib.parse.urlunsplit(auth_base),
                   "gatewayname": urllib.parse.unquote(fields.get("gatewayname", ""))})

    def _level0(self, args) -> GatewayContext:
        action = private_gateway_url(args.get("authaction"), "authaction")
        return GatewayContext(gateway=self.name, client_ip=optional_ip(args, "clientip"),
                              destination=args.get("redir"),
                              grant={"level": 0, "tok": args.get("tok", "")[:64],
                                     "auth_url": urllib.parse.urlunsplit(action._replace(query=""))})

    @staticmethod
    def _pairs(text: str) -> dict[str, str]:
        fields = {}
        for item in text.split(", "):
            name, sep, value = item.partition("=")
            if sep:
                fields[name.strip()] = value.strip()
        if not fields:
            raise GatewayError("fas", "holds no name=value pairs")
        return fields

    def _decode(self, fas: str) -> dict[str, str]:
        fas = fas.replace(" ", "+")  # openNDS does not url-encode its base64: a query parser reads + as space
        try:
            text = base64.b64decode(fas + "=" * (-len(fas) % 4), validate=False).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise GatewayError("fas", "is not base64 text") from None
        return self._pairs(text)

    @staticmethod
    def _ciphertext(fas: str) -> bytes:
        """openNDS base64-encodes what PHP's openssl_encrypt(..., 0, iv) returns, itself base64
        (src/http_microhttpd.c): two layers; a single layer is taken too."""
        once = base64.b64decode(fas.replace(" ", "+"))
        try:
            twice = base64.b64decode(once, validate=True)
        except ValueError:
            return once
        return twice if twice and len(twice) % 16 == 0 else once

    def _decrypt(self, fas: str, iv: str, faskey: str) -> dict[str, str]:
        """PHP openssl_encrypt(..., 'aes-256-cbc', faskey, 0, iv): base64 ciphertext, the key NUL-padded
        to 32 bytes, a 16-character IV. A wrong key or a forged blob fails the padding or the parse."""
        try:
            key = faskey.encode()[:32].ljust(32, b"\0")
            decryptor = Cipher(algorithms.AES(key), modes.CBC(iv.encode()[:16])).decryptor()
            padded = decryptor.update(self._ciphertext(fas)) + decryptor.finalize()
            unpadder = padding.PKCS7(128).unpadder()
            text = (unpadder.update(padded) + unpadder.finalize()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            raise GatewayError("fas", "could not be decrypted with this venue's faskey", status=403) from None
        return self._pairs(text)

    def grant(self, ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str]) -> Grant:
        level = ctx.grant["level"]
        if level == 0:
            return Grant(redirect_to=_with_query(ctx.grant["auth_url"], tok=ctx.grant["tok"], redir=destination))
        if level <= 2:
            return Grant(redirect_to=_with_query(ctx.grant["auth_url"], tok=ctx.grant["rhid"], redir=destination))
        return Grant(redirect_to=destination)  # levels 3-4: authmon collects the rhid (see authmon_entry)

    def tells_length(self, ctx: GatewayContext) -> bool:
        return ctx.grant.get("level", 0) >= 3  # the authmon entry's minutes; levels 0-2 carry no length

    @classmethod
    def gateway_hashes(cls, gatewayname: str, hashes: str = "") -> list[str]:
        """The gatewayhashes a venue's routers may send: that of `gatewayname` (when set) and the ones given
        as they are (comma-separated; openNDS logs its own: "gatewayname digest is: ..."), lower case."""
        out = [cls.gateway_hash(gatewayname)] if gatewayname else []
        return out + listed(hashes)

    @staticmethod
    def gateway_hash(gatewayname: str) -> str:
        """What authmon sends as `gatewayhash`: sha256 of the gateway name url-encoded as openNDS does it
        (uh_urlencode: letters, digits and -_.~ kept, every other byte %xx in lower case; src/main.c)."""
        encoded = "".join(chr(b) if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "-_.~") else f"%{b:02x}"
                          for b in gatewayname.encode())
        return hashlib.sha256(encoded.encode()).hexdigest()

    @staticmethod
    def authmon_entry(rhid: str, seconds: int) -> str:
        """One authmon list entry: rhid sessionlength(min) uprate downrate upquota downquota custom,
        url-encoded as openNDS's authmon expects (0 = no limit)."""
        entry = f"{rhid} {max(1, seconds // 60)} 0 0 0 0 none"
        return urllib.parse.quote(entry)


class UniFi(Adapter):
    """UniFi external portal: `id` (client MAC), `ap`, `t`, `url`, `ssid` on /guest/s/<site>/; access is
    granted server side with the controller's `authorize-guest` command."""

    name = "unifi"
    calls_controller = True
    MAX_AGE_S = 3600

    def detect(self, args: RedirectArgs) -> bool:
        return "id" in args and "ap" in args and "t" in args

    def parse(self, args: RedirectArgs, request_url: str, config: dict[str, str], now: float) -> GatewayContext:
        try:
            stamp = int(args.get("t", ""))
        except ValueError:
            raise GatewayError("t", "must be a Unix timestamp") from None
        if abs(now - stamp) > self.MAX_AGE_S:
            raise GatewayError("t", "is too old or in the future: redirect replayed?")
        return GatewayContext(gateway=self.name, client_mac=require_mac(args, "id"), ap_mac=require_mac(args, "ap"),
                              destination=args.get("url"), grant={"ssid": args.get("ssid", "")[:64]})

    def grant(self, ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str]) -> Grant:
        base = config.get("unifi_url", "").rstrip("/")
        if not base:
            raise GatewayError("unifi_url", "the UniFi controller is not configured for this venue", status=503)
        try:
            controller = UniFiController(base, kind=config.get("unifi_kind", "auto"),
                                         ca_bundle=config.get("unifi_ca_bundle", ""),
                                         cert_sha256=config.get("unifi_cert_sha256", ""))
            controller.authorize_guest(config.get("unifi_site", "default"), config.get("unifi_username", ""),
                                       config.get("unifi_password", ""), normalise_mac(ctx.client_mac),
                                       max(1, seconds // 60), normalise_mac(ctx.ap_mac) if ctx.ap_mac else None)
        except ControllerError as exc:
            raise GatewayError(exc.setting, str(exc), status=502) from None
        return Grant(redirect_to=destination)

    def tells_length(self, ctx: GatewayContext) -> bool:
        return True  # the controller's authorize call carries the time


class Omada(Adapter):
    """TP-Link Omada external portal (controller 5.0.15+): the controller redirects with `clientMac`, `site`,
    `redirectUrl`, `t`, `clientIp` and, for an access point, `apMac`, `ssidName`, `radioId` (a gateway:
    `gatewayMac`, `vid`); access is granted server side by the controller's `extPortal/auth`
    (portal/captive/omada.py), with those fields as the controller sent them. Omada signs nothing, so `t`
    proves nothing and is not checked, and a forged redirect can have any MAC authorised, as with UniFi.
    A malformed MAC is refused (400); any other field the controller would not take lands the phone all the
    same and only refuses Continue, as the form-login gateways' settings do."""

    name = "omada"
    calls_controller = True

    def detect(self, args: RedirectArgs) -> bool:
        return "clientMac" in args and "site" in args and ("apMac" in args or "gatewayMac" in args)

    def parse(self, args: RedirectArgs, request_url: str, config: dict[str, str], now: float) -> GatewayContext:
        mac_names = ("clientMac", "apMac") if "apMac" in args else ("clientMac", "gatewayMac")
        client = {name: require_mac(args, name) for name in mac_names}
        grant: dict[str, Any] = {"client": client}
        try:
            client["site"] = self._text(args, "site", 128, required=True)
            if "apMac" in client:
                client.update(ssidName=self._text(args, "ssidName", 128), radioId=self._number(args, "radioId", 0, 7))
            else:
                client["vid"] = self._number(args, "vid", 0, 4094)
        except GatewayError as exc:  # the phone still lands; Continue says what is wrong
            grant.update(problem=exc.message, field=exc.field)
        client_ip = _ip_or_none(args, "clientIp")
        if client_ip:  # later controllers (6.2.10+) want it; earlier ones take it
            client["clientIp"] = client_ip
        return GatewayContext(gateway=self.name, client_mac=client["clientMac"], client_ip=client_ip,
                              ap_mac=client.get("apMac"), destination=args.get("redirectUrl"), grant=grant)

    @staticmethod
    def _text(args, name: str, limit: int, required: bool = False) -> str:
        value = args.get(name, "")
        if required and not value:
            raise GatewayError(name, "is required")
        if len(value) > limit or not value.isprintable():
            raise GatewayError(name, f"must be at most {limit} printable characters")
        return value

    @staticmethod
    def _number(args, name: str, low: int, high: int) -> str:
        value = args.get(name, "")
        if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
            raise GatewayError(name, f"must be a number from {low} to {high}")
        return value

    def grant(self, ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str]) -> Grant:
        if "problem" in ctx.grant:
            raise GatewayError(ctx.grant["field"], ctx.grant["problem"] + " (in the Omada controller's redirect)")
        base = config.get("omada_url", "").rstrip("/")
        if not base:
            raise GatewayError("omada_url", "the Omada controller is not configured for this venue", status=503)
        try:
            controller = OmadaController(base, config.get("omada_controller_id", ""),
                                         ca_bundle=config.get("omada_ca_bundle", ""),
                                         cert_sha256=config.get("omada_cert_sha256", ""))
            controller.authorize(config.get("omada_username", ""), config.get("omada_password", ""),
                                 ctx.grant["client"], seconds, config.get("omada_time_unit", "ms"))
        except ControllerError as exc:
            raise GatewayError(exc.setting, str(exc), status=502) from None
        return Grant(redirect_to=destination)

    def tells_length(self, ctx: GatewayContext) -> bool:
        return True  # the controller's authorize call carries the time


class _FormLogin(Adapter):
    """Gateways that grant when the browser POSTs guest credentials to them."""

    def grant_form(self, action: str, fields: dict[str, str]) -> Grant:
        return Grant(form_action=action, form_fields={k: v for k, v in fields.items() if v is not None})


class MerakiSignOn(_FormLogin):
    """Meraki sign-on splash: `login_url` (a network-auth.com URL carrying Meraki's `mauth` token),
    `continue_url`, `ap_mac`, `ap_name`, `ap_tags`, `client_mac`, `client_ip`; grant = POST username, password
    and `success_url` to `login_url` (Meraki then sends the browser to `success_url`). The account is the
    venue's guest account on Meraki's authentication (`guest_username` / `guest_password`)."""

    name = "meraki-signon"

    def detect(self, args: RedirectArgs) -> bool:
        return "login_url" in args and "base_grant_url" not in args

    def parse(self, args: RedirectArgs, request_url: str, config: dict[str, str], now: float) -> GatewayContext:
        login_url = args.get("login_url", "")
        meraki_url(login_url, "login_url", config)
        client, ap = gateway_macs(args)
        return GatewayContext(gateway=self.name, client_mac=client,
                              client_ip=_ip_or_none(args, "client_ip"), ap_mac=ap,
                              destination=args.get("continue_url"), grant={"login_url": login_url})

    def grant(self, ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str]) -> Grant:
        return self.grant_form(ctx.grant["login_url"], {"username": config.get("guest_username", "guest"),
                                                        "password": config.get("guest_password", ""),
                                                        "success_url": destination})


class ArubaInstant(_FormLogin):
    """Aruba Instant external captive portal: `cmd=login`, `mac`, `ip`, `essid`, `apname`, `apmac`,
    `vcname`, `switchip`, `url`; grant = POST user/password/cmd=authenticate to
    <aruba_login_scheme>://<switchip>/cgi-bin/login: http by default, as Aruba documents it (the AP answers
    for securelogin.arubanetworks.com itself, often with a certificate a phone will not trust), https for APs
    given a real one. `switchip` must be the configured one (`aruba_switchip`): we post credentials there; another
    one lands the phone all the same and only Continue is refused."""

    name = "aruba"

    def detect(self, args: RedirectArgs) -> bool:
        return args.get("cmd") == "login" and ("switchip" in args or "apname" in args or "vcname" in args)

    def parse(self, args: RedirectArgs, request_url: str, config: dict[str, str], now: float) -> GatewayContext:
        expected = config.get("aruba_switchip", "securelogin.arubanetworks.com").lower()
        switchip = args.get("switchip", expected).lower()
        login = ({"switchip": switchip} if switchip == expected else  # another host: the phone lands all the same
                 {"problem": "is not this venue's Aruba login host", "field": "switchip", "setting": "aruba_switchip"})
        return GatewayContext(gateway=self.name, client_mac=require_mac(args, "mac"), client_ip=optional_ip(args, "ip"),
                              ap_mac=require_mac(args, "apmac", required=False), destination=args.get("url"),
                              grant={**login, "essid": args.get("essid", "")[:64]})

    def grant(self, ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str]) -> Grant:
        _raise_login_problem(ctx)
        scheme = config.get("aruba_login_scheme") or "http"
        return self.grant_form(f"{scheme}://{ctx.grant['switchip']}/cgi-bin/login", {
            "user": config.get("guest_username", "guest"), "password": config.get("guest_password", ""),
            "cmd": "authenticate", "mac": ctx.client_mac, "ip": ctx.client_ip, "essid": ctx.grant["essid"],
            "url": destination})


class ArubaInstantOn(_FormLogin):
    """Aruba Instant On external captive portal: `cmd=login`, `mac`, `network`, `ip`, `apmac`, `site`, `post`
    (the cloud login host), `url`; grant = POST user/password/cmd=authenticate to https://<post>/cgi-bin/login.
    `post` must be one of the venue's `aruba_post_hosts` (we send the guest login there): until that is set,
    the phone lands and Continue is refused with the setting named in the log."""

    name = "aruba-instant-on"

    def detect(self, args: RedirectArgs) -> bool:
        return args.get("cmd") == "login" and "post" in args and "switchip" not in args

    def parse(self, args: RedirectArgs, request_url: str, config: dict[str, str], now: float) -> GatewayContext:
        host = args.get("post", "")
        login = (_login_or_problem(f"https://{host}/cgi-bin/login", "post", config, "aruba_post_hosts")
                 if config.get("aruba_post_hosts") else
                 {"problem": "is not allowed: no login host is set", "field": "post",
                  "setting": "aruba_post_hosts"})
        client, ap = gateway_macs(args)
        return GatewayContext(gateway=self.name, client_mac=client, client_ip=_ip_or_none(args, "ip"),
                              ap_mac=ap, destination=args.get("url"),
                              grant={**login, "network": args.get("network", "")[:64]})

    def grant(self, ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str]) -> Grant:
        _raise_login_problem(ctx)
        return self.grant_form(ctx.grant["login"], {
            "user": config.get("guest_username", "guest"), "password": config.get("guest_password", ""),
            "cmd": "authenticate", "mac": ctx.client_mac, "ip": ctx.client_ip, "url": destination})


class CiscoWLC(_FormLogin):
    """Cisco WLC external web auth: `switch_url`, `ap_mac`, `client_mac`, `wlan`, `redirect`
    (+ `statusCode` on errors); grant = POST username/password/buttonClicked=4 to switch_url, which must be the
    controller (`wlc_hosts`, else a private address); another one lands the phone and only Continue is refused
    (a WLC's virtual interface often has a public name: wifi-guest.equinox.com in a captured redirect)."""

    name = "cisco"
    # statusCode -> REFUSALS: 2 the WLAN is not set up for web auth, 3 the user name cannot be used now (logged in
    # elsewhere), 4 the client is excluded, 5 the user name and password were refused
    STATUS = {"2": "not-web-auth", "3": "user-unavailable", "4": "blocked", "5": "credentials"}

    def detect(self, args: RedirectArgs) -> bool:
        return "switch_url" in args

    def parse(self, args: RedirectArgs, request_url: str, config: dict[str, str], now: float) -> GatewayContext:
        if args.get("statusCode") == "1":  # "already logged in", for the WLC no further action: on, as online
            return GatewayContext(gateway=self.name, client_mac=require_mac(args, "client_mac", required=False),
                                  destination=args.get("redirect"), access=ONLINE)
        refusal = self.STATUS.get(args.get("statusCode", ""), "")  # the login a Continue handed it was refused
        login = _login_or_problem(args["switch_url"], "switch_url", config, "wlc_hosts")
        return GatewayContext(gateway=self.name, client_mac=require_mac(args, "client_mac", required=not refusal),
                              ap_mac=require_mac(args, "ap_mac", required=False), destination=args.get("redirect"),
                              grant={**login, "wlan": args.get("wlan", "")[:64]},
                              **(refused(refusal) if refusal else {}))

    def grant(self, ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str]) -> Grant:
        _raise_login_problem(ctx)
        # "switch_url": a context sealed before the login check moved here (kept for an hour)
        return self.grant_form(ctx.grant.get("login") or ctx.grant["switch_url"], {
            "buttonClicked": "4", "err_flag": "0", "username": config.get("guest_username", "guest"),
            "password": config.get("guest_password", ""), "redirect_url": destination})


class MikroTikHotspot(_FormLogin):
    """MikroTik Hotspot with an external login page: the router's own login.html sends `mac`, `ip`, `username`,
    `link-login`, `link-login-only`, `link-orig`, `chap-id`, `chap-challenge`, `error` (as a query or a form
    post). Grant = POST username/password/dst to `link-login-only`, the password as the router's page sends
    it: hex md5(chap-id + password + chap-challenge) when a challenge came (login by http-chap, the default),
    else plain (http-pap). `link-login-only` must be the hotspot (`mikrotik_hosts`, else a private address)."""

    name = "mikrotik"

    def detect(self, args: RedirectArgs) -> bool:
        return "link-login-only" in args

    def parse(self, args: RedirectArgs, request_url: str, config: dict[str, str], now: float) -> GatewayContext:
        error = args.get("error", "")  # the router refused the login a Continue posted it: its own words
        return GatewayContext(gateway=self.name, client_mac=client_mac_param(args), client_ip=_ip_or_none(args, "ip"),
                              destination=args.get("link-orig"),
                              grant={**_login_or_problem(args.get("link-login-only"), "link-login-only", config,
                                                         "mikrotik_hosts"),
                                     "chap_id": args.get("chap-id", "")[:64],
                                     "chap_challenge": args.get("chap-challenge", "")[:256]},
                              **(refused("refused", error) if error else {}))

    def grant(self, ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str]) -> Grant:
        _raise_login_problem(ctx)
        password = config.get("guest_password", "")
        if ctx.grant.get("chap_challenge"):
            chap = ctx.grant["chap_id"], ctx.grant["chap_challenge"]
            # the router's md5.js takes each character's low byte (charCodeAt & 0xFF), not UTF-8
            secret = _octal_escaped(chap[0]) + bytes(ord(c) & 0xFF for c in password) + _octal_escaped(chap[1])
            password = hashlib.md5(secret, usedforsecurity=False).hexdigest()  # the router's CHAP, not our choice
        return self.grant_form(ctx.grant["login"], {"username": config.get("guest_username", "guest"),
                                                    "password": password, "dst": destination, "popup": "false"})


def _login_or_problem(raw: str | None, name: str, config: dict[str, str], setting: str) -> dict[str, str]:
    """{"login": url} when the gateway's login URL may be posted to (a host of the venue's `setting`, else a
    private address), else {"problem": why}: the phone still lands on its zone; only the grant is refused (a
    setting to fix, not the shopper's fault)."""
    try:
        return {"login": urllib.parse.urlunsplit(allowed_gateway_url(raw, name, config.get(setting, "")))}
    except GatewayError as exc:
        return {"problem": exc.message, "field": exc.field, "setting": setting}


def _raise_login_problem(ctx: GatewayContext) -> None:
    if "problem" in ctx.grant:
        setting = ctx.grant.get("setting", "gateway settings")
        raise GatewayError(ctx.grant["field"], f"{ctx.grant['problem']} (the venue's {setting}: README, Gateways)",
                           status=403)


def _ip_or_none(args, name: str) -> str | None:
    try:
        return optional_ip(args, name)
    except GatewayError:
        return None


def _octal_escaped(text: str) -> bytes:
    """MikroTik writes chap-id and chap-challenge for a JavaScript string: bytes as octal escapes (\\347)."""
    return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8) & 0xFF]), text.encode("latin-1", "replace"))


class RuckusUnleashed(_FormLogin):
    """Ruckus Unleashed external portal: `sip` (the Unleashed master), `mac` (the AP), `client_mac`, `uip`, `lid`,
    `dn`, `url`, `ssid`, `loc`, `vlan`; grant = POST username/password to http://<sip>:9997/login. `sip` must be
    the master (`ruckus_hosts`, else a private address). SmartZone and RUCKUS One send `nbiIP` (RuckusSmartZone)."""

    name = "ruckus"

    def detect(self, args: RedirectArgs) -> bool:
        return "sip" in args and "client_mac" in args and "nbiIP" not in args

    def parse(self, args: RedirectArgs, request_url: str, config: dict[str, str], now: float) -> GatewayContext:
        host = args.get("sip", "")
        login = (_login_or_problem(f"http://{host}:9997/login", "sip", config, "ruckus_hosts")
                 if re.fullmatch(r"[A-Za-z0-9.-]{1,253}", host) else
                 {"problem": "must be the Unleashed master's address", "field": "sip", "setting": "ruckus_hosts"})
        client, ap = gateway_macs(args)
        return GatewayContext(gateway=self.name, client_mac=client, client_ip=_ip_or_none(args, "uip"),
                              ap_mac=ap, destination=args.get("url"), grant=login)

    def grant(self, ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str]) -> Grant:
        _raise_login_problem(ctx)
        return self.grant_form(ctx.grant["login"], {"username": config.get("guest_username", "guest"),
                                                    "password": config.get("guest_password", "")})


# Decrypted client MACs and IPs per (NBI, encrypted value): an OS probes several times per join, and the
# controller encrypts a phone's MAC alike each time. Kept an hour; a failed call is not kept.
_NBI_DECRYPTED = BoundedMemo(8192, max_age_s=3600)


class RuckusSmartZone(Adapter):
    """Ruckus SmartZone (SZ, vSZ) and RUCKUS One WISPr hotspots with an external portal: `nbiIP` (the controller's
    northbound interface), `client_mac` and `uip` (encrypted as ENC... unless the WLAN says no encrypt-mac-ip),
    `mac` (the AP), `url`, `startUrl`/`StartURL`, `proxy`, `ssid`, `zoneName`, ... Through the NBI
    (portal/captive/smartzone.py) an encrypted MAC is decrypted to place the phone (and is then one the gateway
    vouched for), and Continue logs the phone in with the venue's guest credentials. The NBI is called only on a
    host of the venue's `smartzone_nbi_hosts` (the NBI password goes with every call; a forged redirect must not
    send it elsewhere); otherwise, or when the NBI does not answer, the phone lands all the same (unknown when its
    MAC is encrypted) and only Continue is refused."""

    name = "smartzone"
    calls_controller = True
    landing_calls_controller = True

    def detect(self, args: RedirectArgs) -> bool:
        return "nbiIP" in args

    def parse(self, args: RedirectArgs, request_url: str, config: dict[str, str], now: float,
              controller_allowed: Callable[[], bool] = lambda: True) -> GatewayContext:
        named = _by_lower_name(args)
        ue_mac, ue_ip = named.get("client_mac", ""), named.get("uip", "")
        if not (is_encrypted(ue_mac) or _is_mac(ue_mac)):
            raise GatewayError("client_mac", "must be a MAC address or the controller's ENC... value")
        nbi = self.nbi_or_problem(named.get("nbiip", ""), config)
        client, ap = gateway_macs(args)  # a plain client_mac (the WLAN does not encrypt); the AP from `mac`
        client_ip, verified = _ip_or_none(args, "uip"), False
        if is_encrypted(ue_mac) and "nbi" in nbi and (_NBI_DECRYPTED.peek((nbi["nbi"], ue_mac)) is not None
                                                      or controller_allowed()):
            client = _decrypted(nbi["nbi"], ue_mac, config)
            verified = client is not None
            client_ip = _decrypted(nbi["nbi"], ue_ip, config, ip=True) if verified and is_encrypted(ue_ip) else None
        proxy = named.get("proxy", "0")
        return GatewayContext(gateway=self.name, client_mac=client, client_ip=client_ip, ap_mac=ap,
                              destination=named.get("starturl") or named.get("url"), verified=verified,
                              grant={**nbi, "ue_mac": ue_mac, "ue_ip": ue_ip[:512] if ue_ip else "",
                                     "proxy": proxy if proxy in ("0", "1") else "0"})

    @staticmethod
    def listed_nbi(host: str, config: dict[str, str]) -> bool:
        """Whether the NBI password may go to `host`: one of the venue's `smartzone_nbi_hosts` now."""
        return host.lower() in listed(config.get("smartzone_nbi_hosts", ""))

    def nbi_or_problem(self, host: str, config: dict[str, str]) -> dict[str, str]:
        """{"nbi": base URL} when `host` is one of the venue's NBI hosts, else {"problem": why, ...}."""
        if not self.listed_nbi(host, config):
            return {"problem": "is not one of this venue's SmartZone NBI hosts", "field": "nbiIP",
                    "setting": "smartzone_nbi_hosts"}
        literal = f"[{host}]" if ":" in host else host  # an IPv6 NBI address
        return {"nbi": f"{config.get('smartzone_nbi_scheme', 'https')}://{literal}:"
                       f"{config.get('smartzone_nbi_port', '9443')}", "nbi_host": host.lower()}

    def grant(self, ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str]) -> Grant:
        _raise_login_problem(ctx)
        if not self.listed_nbi(ctx.grant.get("nbi_host") or "", config):
            # listed when the phone landed, no longer (a context lives an hour, a fail-open page's six):
            # the password goes to the venue's NBI hosts of now only
            raise GatewayError("nbiIP", "is no longer one of this venue's SmartZone NBI hosts (the venue's "
                                        "smartzone_nbi_hosts: README, Gateways)", status=403)
        try:
            _nbi(ctx.grant["nbi"], config).login(ctx.grant["ue_mac"], ctx.grant["ue_ip"] or None, ctx.grant["proxy"],
                                                 config.get("guest_username", "guest"),
                                                 config.get("guest_password", ""))
        except ControllerError as exc:
            raise GatewayError(exc.setting, str(exc), status=502) from None
        return Grant(redirect_to=destination)


def _nbi(base: str, config: dict[str, str], timeout_s: float | None = None) -> SmartZoneNbi:
    if not config.get("smartzone_nbi_password"):
        raise ControllerError("the NBI password is not set for this venue", "smartzone_nbi_password")
    options = {"timeout_s": timeout_s} if timeout_s else {}
    try:
        return SmartZoneNbi(base, config["smartzone_nbi_password"], config.get("smartzone_nbi_username", ""),
                            ca_bundle=config.get("smartzone_ca_bundle", ""),
                            cert_sha256=config.get("smartzone_cert_sha256", ""), **options)
    except ValueError:  # a host the URL cannot hold (a setting saved before the host check): not a 500
        raise ControllerError("the NBI host does not make a URL", "smartzone_nbi_hosts") from None


def _decrypted(base: str, value: str, config: dict[str, str], ip: bool = False) -> str | None:
    """A MAC (or with `ip`, an IP) the controller decrypts, or None when it will not (logged, without the
    value: the phone lands unknown)."""
    try:
        plain = _NBI_DECRYPTED.get((base, value), lambda: _nbi(base, config, DECRYPT_TIMEOUT_S).decrypt(value))
    except ControllerError as exc:
        log.warning("SmartZone NBI could not decrypt the redirect's %s (%s): %s", "uip" if ip else "client_mac",
                    exc.setting, exc)
        return None
    if ip:
        return _ip_or_none({"ip": plain}, "ip")
    return plain if _is_mac(plain) else None


class CoovaChilli(Adapter):
    """CoovaChilli UAM: `res`, `uamip`, `uamport`, `challenge`, `mac`, `ip`, `userurl`, ... and `md` =
    MD5(redirect URL up to `&md=` + uamsecret). Grant = send the browser to the chilli's /logon with a
    CHAP response computed from the challenge, as hotspotlogin.cgi does. `res` says where the phone stands
    (src/redir.c) and sets GatewayContext.access (`failed`: the login was refused, `reply` the RADIUS server's
    words); any other value says nothing."""

    name = "coova"
    ACCESS = {"success": ONLINE, "already": ONLINE, "notyet": OFFLINE, "logoff": OFFLINE}

    def detect(self, args: RedirectArgs) -> bool:
        return "res" in args and "uamip" in args

    def parse(self, args: RedirectArgs, request_url: str, config: dict[str, str], now: float) -> GatewayContext:
        secret = config.get("coova_uamsecret", "")
        if secret:
            signed, sep, _ = request_url.partition("&md=")
            given = args.get("md", "")
            expected = hashlib.md5((signed + secret).encode()).hexdigest()
            if not sep or not hmac.compare_digest(given.lower(), expected):
                raise GatewayError("md", "checksum does not match: not from this venue's gateway", status=403)
        res = args.get("res", "")
        uamip = optional_ip(args, "uamip")
        try:
            port = int(args.get("uamport", "3990"))
        except ValueError:
            raise GatewayError("uamport", "must be a port number") from None
        base = private_gateway_url(f"http://{uamip}:{port}/logon", "uamip")
        challenge = args.get("challenge", "")
        if challenge and (len(challenge) % 2 or any(c not in "0123456789abcdefABCDEF" for c in challenge)):
            raise GatewayError("challenge", "must be hex")
        return GatewayContext(gateway=self.name, client_mac=require_mac(args, "mac"), client_ip=optional_ip(args, "ip"),
                              destination=args.get("userurl"), verified=bool(secret),
                              grant={"logon": urllib.parse.urlunsplit(base), "challenge": challenge},
                              **(refused("refused", args.get("reply", "")) if res == "failed" else
                                 {"access": self.ACCESS.get(res, "")}))

    @staticmethod
    def chap_response(challenge_hex: str, password: str, uamsecret: str) -> str:
        challenge = bytes.fromhex(challenge_hex)
        if uamsecret:
            challenge = hashlib.md5(challenge + uamsecret.encode()).digest()
        return hashlib.md5(b"\0" + password.encode() + challenge).hexdigest()

    def grant(self, ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str]) -> Grant:
        response = self.chap_response(ctx.grant["challenge"], config.get("coova_password", ""),
                                      config.get("coova_uamsecret", ""))
        return Grant(redirect_to=_with_query(ctx.grant["logon"], username=config.get("coova_username", "guest"),
                                             response=response, userurl=destination))


class WiFiDog(Adapter):
    """WiFiDog (wifidog-gateway src/http.c, src/centralserver.c): the gateway sends the browser to its auth
    server's `login/?gw_address=..&gw_port=..&gw_id=..&ip=..&mac=..&url=..` (`url` the original URL,
    url-encoded). Grant = send the browser to http://<gw_address>:<gw_port>/wifidog/auth?token=<token>, a new
    one-time token: the gateway then asks the portal's auth/ (stage=login, from its own address) whether that
    token is good for that MAC, and keeps asking (stage=counters) while the phone is out, so the portal's end
    of the session (or a revoke) logs the phone off there (portal/captive/views.py: wifidog_auth). WiFiDog signs
    nothing: the redirect is anyone's to write (not verified), and the MAC the token is bound to counts only
    once the gateway names it in its auth call. A redirect without `mac` (older versions, a gateway that could
    not resolve it) binds the token to its `ip`, which the gateway's auth call must name (with the MAC)."""

    name = "wifidog"
    issues_ticket = True
    AUTH_PATH = "/wifidog/auth"  # the gateway's own httpd path (src/http.c), not the auth server's
    MAX_GW_ID = 64

    def detect(self, args: RedirectArgs) -> bool:
        return "gw_address" in args and "gw_id" in args

    def parse(self, args: RedirectArgs, request_url: str, config: dict[str, str], now: float) -> GatewayContext:
        address = private_gateway_ip(args.get("gw_address", ""), "gw_address")
        port = args.get("gw_port", "")
        if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
            raise GatewayError("gw_port", "must be a port number from 1 to 65535")
        gw_id = args.get("gw_id", "")
        if not gw_id or len(gw_id) > self.MAX_GW_ID or not gw_id.isprintable():
            raise GatewayError("gw_id", f"must be 1 to {self.MAX_GW_ID} printable characters")
        host = f"[{address}]" if address.version == 6 else str(address)
        client_ip = optional_ip(args, "ip")
        if not args.get("mac") and not client_ip:  # no token could be bound to the phone
            raise GatewayError("mac", "is required where the redirect names no ip (the phone's address)")
        return GatewayContext(gateway=self.name, client_mac=require_mac(args, "mac", required=False),
                              client_ip=client_ip, destination=args.get("url"),
                              grant={"auth_url": f"http://{host}:{int(port)}{self.AUTH_PATH}", "gw_id": gw_id})

    def grant(self, ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str]) -> Grant:
        token = secrets.token_urlsafe(32)  # 256 bits: never guessed; one use (portal/captive/wifidog.py)
        return Grant(redirect_to=_with_query(ctx.grant["auth_url"], token=token), ticket=token)

    def tells_length(self, ctx: GatewayContext) -> bool:
        return True  # the gateway asks auth/ every CheckInterval: the session's end is when it logs the phone off


class Direct(Adapter):
    """No gateway parameters: the portal is its own gateway (or the demo); the grant is the session."""

    name = "direct"

    def detect(self, args: RedirectArgs) -> bool:
        return True

    def parse(self, args: RedirectArgs, request_url: str, config: dict[str, str], now: float) -> GatewayContext:
        # Also the gateways without a grant of ours (Extreme, and any other): their phones are
        # placed all the same. A MAC that is not one (encrypted) is no phone, not a refused redirect.
        url = next((args.get(name) for name in ("url", "redirectUrl", "link-orig", "dest", "StartURL")
                    if args.get(name)), None)
        return GatewayContext(gateway=self.name, client_mac=client_mac_param(args), destination=url)

    def grant(self, ctx: GatewayContext, seconds: int, destination: str, config: dict[str, str]) -> Grant:
        return Grant(redirect_to=destination)


ADAPTERS: tuple[Adapter, ...] = (MerakiClickThrough(), MerakiSignOn(), OpenNDS(), CoovaChilli(), CiscoWLC(),
                                 ArubaInstant(), ArubaInstantOn(), UniFi(), Omada(), MikroTikHotspot(),
                                 RuckusSmartZone(), RuckusUnleashed(), WiFiDog(), Direct())
BY_NAME = {a.name: a for a in ADAPTERS}


# Gateways whose redirect is signed or encrypted as a whole when `verified` (CoovaChilli's md over the URL,
# openNDS FAS 2-3's encrypted query), so the shopper's original URL in it is the gateway's, not anyone's.
SIGNED_REDIRECTS = frozenset({"coova", "opennds"})


def destination_vouched(ctx: GatewayContext) -> bool:
    """Whether the portal may itself redirect to `ctx.destination`: the gateway signed it with the redirect."""
    return ctx.verified and ctx.gateway in SIGNED_REDIRECTS


def detect(args: RedirectArgs) -> Adapter:
    return next(a for a in ADAPTERS if a.detect(args))


def parse_redirect(args: RedirectArgs, request_url: str, config: dict[str, str], now: float | None = None,
                   controller_allowed: Callable[[], bool] | None = None, gateway: str | None = None) -> GatewayContext:
    """The gateway's redirect, read. `controller_allowed`: asked before the landing calls the venue's
    controller (spends that budget; False: no call, the phone lands as if the controller did not answer).
    `gateway`: the adapter the URL itself names (WiFiDog's login/), whatever parameters came: a redirect
    missing one is refused with its name, not taken for a direct landing."""
    adapter, now = BY_NAME[gateway] if gateway else detect(args), time.time() if now is None else now
    if adapter.landing_calls_controller and controller_allowed is not None:
        return adapter.parse(args, request_url, config, now, controller_allowed=controller_allowed)
    return adapter.parse(args, request_url, config, now)
