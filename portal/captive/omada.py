"""A TP-Link Omada SDN controller's external-portal authorisation (Omada Controller 5.0.15 and later,
TP-Link FAQ 3231 "API and Code Sample for External Portal Server"):

1. `POST https://<controller>:<port>/<controller id>/api/v2/hotspot/login` with the hotspot operator
   (`{"name", "password"}`: an operator added in the controller's Hotspot Manager, not a controller
   admin) answers `{"errorCode": 0, "result": {"token": ...}}` and a `TPOMADA_SESSIONID` cookie
   (`TPEAP_SESSIONID` before 5.11);
2. `POST .../<controller id>/api/v2/hotspot/extPortal/auth` with that cookie and the token in a
   `Csrf-Token` header, and the client as the controller's redirect named it: for an EAP (access point)
   `clientMac`, `apMac`, `ssidName`, `radioId`, `site`; for a gateway `clientMac`, `gatewayMac`, `vid`,
   `site`; `clientIp` when the redirect gave one (integrators quote TP-Link's document for controller
   6.2.10+ as requiring it); plus `time` and `authType` 4 (external portal). `{"errorCode": 0}` is a grant.

`time` is how long the client stays authorised. TP-Link's page calls it the "expiration time" in
microseconds, yet its own code sample passes milliseconds, and most integrators send a duration in
milliseconds (one reports that an absolute time sent in milliseconds expired decades later; a few send
microseconds or seconds). So it is a duration, in milliseconds by
default, microseconds with the venue setting `omada_time_unit=us` for a controller that reads it so.

TLS and the HTTP plumbing: portal/captive/controller_api.py."""

from __future__ import annotations

import urllib.parse

from portal.captive.controller_api import ControllerClient, ControllerError

EXTERNAL_PORTAL = 4  # authType: the external portal server authorised the client
TIME_UNITS = {"ms": 1_000, "us": 1_000_000}  # `time` per second of access


def setting_problem(name: str, value: str) -> str | None:
    """Why a venue's Omada setting (`omada_url`, `omada_controller_id`, `omada_time_unit`) cannot be used,
    or None: the one check, run when the setting is saved and again when a grant reads it."""
    if name == "omada_url":
        parts = urllib.parse.urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:  # the operator's password goes in the login
            return "must be an https URL with the controller's host (its management port: 8043, or 443)"
    if name == "omada_controller_id" and not (value.isascii() and value.isalnum()):
        return "must be the controller id from its URL (letters and digits)"
    if name == "omada_time_unit" and value not in TIME_UNITS:
        return f"must be one of {', '.join(TIME_UNITS)}"
    return None


class OmadaController(ControllerClient):
    prefix = "omada"
    csrf_header = "Csrf-Token"

    def __init__(self, base_url: str, controller_id: str, **tls) -> None:
        self.check_setting("omada_url", base_url)
        super().__init__(base_url, **tls)
        self.check_setting("omada_controller_id", controller_id)
        self.root = f"/{urllib.parse.quote(controller_id, safe='')}/api/v2/hotspot"

    @staticmethod
    def check_setting(name: str, value: str) -> None:
        problem = setting_problem(name, value)
        if problem:
            raise ControllerError(problem, name)

    def authorize(self, username: str, password: str, client: dict[str, str], seconds: int,
                  time_unit: str = "ms") -> None:
        """Log in as the hotspot operator, then authorise `client` (the redirect's own fields: clientMac
        and apMac/ssidName/radioId or gatewayMac/vid, and site) for `seconds`."""
        self.check_setting("omada_time_unit", time_unit)
        self.login(username, password)
        body = {**client, "time": int(seconds) * TIME_UNITS[time_unit], "authType": EXTERNAL_PORTAL}
        status, _, answer = self.request("POST", f"{self.root}/extPortal/auth", body)
        code = answer.get("errorCode") if isinstance(answer, dict) else None
        if status != 200 or code != 0 or isinstance(code, bool):
            raise self.fail(f"extPortal/auth refused (HTTP {status}, errorCode={code})")

    def login(self, username: str, password: str) -> None:
        status, _, answer = self.request("POST", f"{self.root}/login", {"name": username, "password": password})
        answer = answer if isinstance(answer, dict) else {}
        result = answer.get("result")
        token = result.get("token") if isinstance(result, dict) else None
        code = answer.get("errorCode")
        if status != 200 or code != 0 or isinstance(code, bool) or not isinstance(token, str) or not token:
            raise self.fail(f"hotspot login refused (HTTP {status}, errorCode={code})")
        if not (token.isascii() and token.isprintable()):  # it goes into a header
            raise self.fail("hotspot login answered a malformed token")
        self.csrf = token
