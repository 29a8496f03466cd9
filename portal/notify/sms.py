"""SMS: one provider interface, the Tencent Cloud SMS provider and the development sender.

`SmsProvider.send(venue, phone, event, params, text, lang)`: `event` picks the provider's approved template
(SMS_TEMPLATES: ``event=template id:param|param``, the parameters named from the message's data and
``link``; ``event.<lang>=...``, e.g. ``cinema.ticket.en``, the template for shoppers reading that language: a
provider approves each template's wording, so an English one is a template of its own), `text` is the whole message
for providers (and the log) that take free text. Every SMS of
the portal goes through here: notifications (`SmsChannel`) and membership sign-up codes.

Why Tencent Cloud SMS (`tencentcloud-sdk-python-sms`) and not Alibaba Cloud's: one small package over
`requests` (already a dependency) instead of Alibaba's Tea/Darabonba stack, and one `SendSms` call takes
mainland and international numbers alike in E.164 (what `phonenumbers` gives us), where Alibaba splits
them between two APIs. Its endpoint and protocol are settings, so the tests drive the real SDK against a
loopback service.

The development sender (`SMS_PROVIDER=log`, the default) sends nothing: it logs the event and the masked
number, and only in demo mode the text (codes and links are secrets), and keeps the last texts per shopper
in a short-lived store list a test or the demo page can read (`dev_sms`)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Protocol

import redis

from core.settings import NotifySettings
from core.storage import VenueKeys
from portal.notify.channels import Contact, Message, Refused, Retry

log = logging.getLogger(__name__)
DEV_KEEP = 50
DEV_TTL_S = 3600
BUDGET_TTL_S = 2 * 86400  # a day's count outlives the day in every time zone

# KEYS: the shopper's count for the day.  ARGV: the budget, ttl. Takes one SMS from the day's budget if one is
# left (a check and a write: one step, so two workers never both take the last).
_SPEND = """
if tonumber(redis.call('GET', KEYS[1]) or '0') >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""
# KEYS: the same count.  Gives back the SMS a try took but did not send.
_GIVE_BACK = """
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then return redis.call('DECR', KEYS[1]) end
return 0
"""


class SmsError(Exception):
    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class SmsProvider(Protocol):
    def send(self, venue: str, phone: str, event: str, params: dict[str, str], text: str, lang: str = "") -> None:
        """Send one SMS to a shopper reading `lang` ("" unknown); SmsError (permanent or not) when it was not
        accepted."""


def mask_phone(phone: str) -> str:
    """'+8613800138000' -> '+86•••••••8000' (for pages and logs): the one masking rule, apps use it through
    portal.apps.notify."""
    return phone[:3] + "•" * max(len(phone) - 7, 0) + phone[-4:]


def phone_hash(phone: str) -> str:
    """A number named in the development outbox without the number (a test finds its texts by it)."""
    return hashlib.sha256(phone.encode()).hexdigest()[:24]


class SmsKeys(VenueKeys):
    def dev_outbox(self) -> str:
        return self.key("notify", "dev_sms")

    def budget(self, shopper: str, day: str) -> str:
        return self.key("notify", "sms_budget", day, shopper)


class LoggingSmsProvider:
    """Development: nothing leaves the machine."""

    def __init__(self, db: redis.Redis | None, show_text: bool) -> None:
        self.db = db
        self.show_text = show_text  # demo mode only: the text holds codes and links to the shopper's pages

    def send(self, venue: str, phone: str, event: str, params: dict[str, str], text: str, lang: str = "",
             shopper: str = "") -> None:
        if self.show_text:
            log.warning("SMS (development sender, not sent) %s to %s in %s: %s", event, mask_phone(phone), venue, text)
        else:
            log.warning("SMS (development sender, not sent) %s to %s in %s", event, mask_phone(phone), venue)
        if self.db is not None and self.show_text:
            key = SmsKeys(venue).dev_outbox()
            item = {"event": event, "to": mask_phone(phone), "to_hash": phone_hash(phone), "shopper": shopper,
                    "text": text, "lang": lang, "at": time.time()}
            pipe = self.db.pipeline(transaction=True)
            pipe.lpush(key, json.dumps(item, ensure_ascii=False))
            pipe.ltrim(key, 0, DEV_KEEP - 1)
            pipe.expire(key, DEV_TTL_S)
            pipe.execute()


def dev_sms(db: redis.Redis, venue: str, shopper: str | None = None) -> list[dict]:
    """What the development sender "sent" (newest first), optionally to one shopper."""
    items = [json.loads(raw) for raw in db.lrange(SmsKeys(venue).dev_outbox(), 0, -1)]
    return [i for i in items if shopper is None or i.get("shopper") == shopper]


def forget_dev_sms(db: redis.Redis, venue: str, shopper: str) -> int:
    """Erasure: what the development sender kept for this shopper."""
    key = SmsKeys(venue).dev_outbox()
    return sum(int(db.lrem(key, 0, raw)) for raw in db.lrange(key, 0, -1) if json.loads(raw).get("shopper") == shopper)


def template_for(templates: dict[str, str], event: str, lang: str = "") -> tuple[str, list[str]] | None:
    """SMS_TEMPLATES entry of an event for a shopper reading `lang` (`event.<lang>`, else the event's own): (template
    id, parameter names); None when it has none."""
    spec = (templates.get(f"{event}.{lang}") if lang else None) or templates.get(event)
    if not spec:
        return None
    template_id, _, names = spec.partition(":")
    return template_id, [n for n in names.split("|") if n] or ["link"]


class TencentSmsProvider:
    """Tencent Cloud SMS (API 2021-01-11 SendSms) through its SDK."""

    PERMANENT = ("InvalidParameterValue", "UnsupportedOperation", "FailedOperation.PhoneNumberInBlacklist",
                 "FailedOperation.TemplateIncorrectOrUnapproved", "FailedOperation.SignatureIncorrectOrUnapproved",
                 "UnauthorizedOperation", "AuthFailure")

    def __init__(self, settings: NotifySettings, timeout_s: int = 10) -> None:
        from tencentcloud.common import credential  # lazy: the SDK only when SMS_PROVIDER=tencent
        from tencentcloud.common.profile.client_profile import ClientProfile  # lazy: likewise
        from tencentcloud.common.profile.http_profile import HttpProfile  # lazy: likewise
        from tencentcloud.sms.v20210111 import models, sms_client  # lazy: likewise

        self.settings = settings
        self.models = models
        endpoint = settings.tencent_endpoint or "sms.tencentcloudapi.com"
        protocol = "http" if endpoint.startswith("127.0.0.1:") else "https"  # only the tests' loopback service
        http = HttpProfile(protocol=protocol, endpoint=endpoint, reqTimeout=timeout_s)
        secret = credential.Credential(settings.tencent_secret_id, settings.tencent_secret_key)
        self.client = sms_client.SmsClient(secret, settings.tencent_region, ClientProfile(httpProfile=http))

    def send(self, venue: str, phone: str, event: str, params: dict[str, str], text: str, lang: str = "") -> None:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (  # lazy: the SDK's, with it
            TencentCloudSDKException,
        )

        template = template_for(self.settings.sms_templates, event, lang)
        if template is None:
            raise SmsError(f"no SMS template for {event} (SMS_TEMPLATES)", permanent=True)
        template_id, names = template
        request = self.models.SendSmsRequest()
        request.PhoneNumberSet = [phone]
        request.SmsSdkAppId = self.settings.tencent_app_id
        request.SignName = self.settings.tencent_sign_name
        request.TemplateId = template_id
        request.TemplateParamSet = [str(params.get(n, "")) for n in names]
        request.SessionContext = venue
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            code = exc.get_code() or "error"
            raise SmsError(f"tencent: {code}", permanent=code.startswith(self.PERMANENT)) from None
        status = (response.SendStatusSet or [None])[0]
        if status is None or status.Code != "Ok":
            code = getattr(status, "Code", None) or "no status"
            raise SmsError(f"tencent: {code}", permanent=code.startswith(self.PERMANENT))


def sms_provider(settings: NotifySettings, db: redis.Redis | None, demo: bool) -> SmsProvider:
    """The provider the settings name (SMS_PROVIDER)."""
    if settings.sms_provider == "tencent":
        return TencentSmsProvider(settings)
    return LoggingSmsProvider(db, show_text=demo)


class SmsChannel:
    """Notifications by SMS to the number the shopper gave, within a daily budget per shopper: the texts
    the provider accepted on the venue's day (`time_zone_of`: venue -> its zone; UTC when not given). A try
    that fails takes nothing from it, so a provider's outage cannot spend a shopper's day."""

    name = "sms"

    def __init__(self, provider: SmsProvider, db: redis.Redis, per_shopper_day: int,
                 time_zone_of: Callable[[str], tzinfo] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.provider = provider
        self.db = db
        self.per_shopper_day = per_shopper_day
        self.time_zone_of = time_zone_of
        self.clock = clock
        self._spend = db.register_script(_SPEND)
        self._give_back = db.register_script(_GIVE_BACK)

    def targets(self, contact: Contact) -> list[str]:
        return ["phone"] if contact.phone else []

    def send(self, shopper: str, target: str, contact: Contact, message: Message) -> None:
        if not contact.phone:
            raise Refused("the shopper no longer has a phone number")
        budget = self.budget_key(message.venue, shopper)
        if not self._spend(keys=[budget], args=[self.per_shopper_day, BUDGET_TTL_S]):
            raise Refused("SMS budget of this shopper spent for today")
        try:
            self._send(shopper, contact.phone, message)
        except BaseException:
            self._give_back(keys=[budget])  # not sent: the day's budget counts texts, not tries
            raise

    def budget_key(self, venue: str, shopper: str) -> str:
        """The shopper's count for the venue's day (its date in its own time zone, not the host's)."""
        zone = self.time_zone_of(venue) if self.time_zone_of else UTC
        return SmsKeys(venue).budget(shopper, datetime.fromtimestamp(self.clock(), zone).strftime("%Y%m%d"))

    def _send(self, shopper: str, phone: str, message: Message) -> None:
        params = {**message.params, "link": message.url}
        try:
            if isinstance(self.provider, LoggingSmsProvider):
                self.provider.send(message.venue, phone, message.event, params, message.text, message.lang,
                                   shopper=shopper)
            else:
                self.provider.send(message.venue, phone, message.event, params, message.text, message.lang)
        except SmsError as exc:
            raise (Refused if exc.permanent else Retry)(exc.reason) from None
