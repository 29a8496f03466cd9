"""What a light app uses to reach a shopper after the page is closed (portal/notify does the delivery).

    notify(venue, shopper, "queue.called", {**in_both(title=lambda lang: _("Your table is ready"), ...),
                                           "path": url_for("queue.landing", venue=venue, zone=zone)},
           key=f"queue.called:{zone}:{ticket}")

`data` holds the texts in both languages (`title_en`/`title_zh`, `body_en`/`body_zh`: `in_both` renders
them with the app's own gettext strings, so an owner's action reaches a shopper in the shopper's language),
the page it links to (`path`, a site path: the worker adds the portal's address and a fresh shopper token)
and the app's values (SMS template parameters). `key` makes it idempotent: the same key is sent once. `at`
sends it later (a reminder); `cancel(venue, key)` withdraws one not sent yet. A store fault never breaks the
app's action: the notification is dropped and logged (fail open).

The shopper opts in per channel: push from the page (static/notify.js, the `notify/optin.html` partial)
and a phone number for SMS through `save_phone`, called by the app's own form handler."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import redis
from flask_babel import force_locale
from flask_babel import gettext as _

from core.errors import InputError
from portal.apps.budgets import spend_budget
from portal.apps.locale import PhoneNumberError, parse_phone
from portal.apps.views import is_zh
from portal.notify import views as notify_views
from portal.notify.contacts import LANGS
from portal.notify.sms import SmsError, mask_phone

log = logging.getLogger(__name__)


def notify(venue: str, shopper: str, event: str, data: Mapping[str, Any], *, key: str | None = None,
           at: float | None = None, channel: str = "") -> bool:
    """Queue a notification for the shopper (by shopper id), on every channel they opted into or only on
    `channel` ("sms": "text me this ticket"); False when `key` was queued before or the store failed.
    NotifyInputError (a bug in the app) for a malformed event, key or payload."""
    message_id = key or f"{event}:{secrets.token_hex(8)}"
    try:
        return notify_views.outbox().enqueue(venue, shopper, event, data, message_id, at=at, channel=channel)
    except redis.RedisError as exc:
        log.warning("notify: %s for venue %s dropped, store unavailable: %s", event, venue, exc.__class__.__name__)
        return False


def cancel(venue: str, key: str) -> bool:
    """Withdraw a scheduled notification (a reminder of a booking the shopper cancelled)."""
    try:
        return notify_views.outbox().cancel(venue, key)
    except redis.RedisError:
        return False


def in_both(**texts: Callable[[str], str]) -> dict[str, str]:
    """{name_en, name_zh} for each text: each callable runs once per language, given the language, with
    gettext in that locale (`title=lambda lang: _("Your table is ready")`)."""
    out = {}
    for lang in LANGS:
        with force_locale(lang):
            for name, make in texts.items():
                out[f"{name}_{lang}"] = str(make(lang))
    return out


class PhoneInputError(InputError):
    """A number for texts that is not a phone number; the message is in the shopper's language."""


class E164(str):
    """A number for texts `read_phone` has read, in E.164: `spend_text_budget` and `save_phone` take it as it is
    (a view that checked the number first passes it on, rather than have it parsed again)."""

    __slots__ = ()


def spend_text_budget(venue: str, shopper: str, raw: str | None) -> None:
    """A number a shopper asks texts at costs one of the "notify.sms" budgets (per number, shopper, client IP
    and venue), spent before the number is kept: each text costs the mall money and lands on a number the
    shopper typed, so without it one address could point texts from many new shoppers at one number (429 when
    spent). A malformed number spends nothing: save_phone refuses it with the shopper's message. Nor does the
    number the shopper already has on file (a double tap, the same number typed with the next booking): it
    adds no texts. `raw`: as typed, or an `E164` already read."""
    try:
        phone = read_phone(raw)
    except PhoneInputError:
        return
    if notify_views.contacts().get(venue, shopper).phone == phone:
        return
    spend_budget("notify.sms", venue, shopper=shopper, phone=phone)


def read_phone(raw: str | None) -> E164:
    """A number for texts, in any common format (read in the venue's phone region: the platform's parse_phone), as
    E.164 (an `E164` is returned as it is); PhoneInputError (field "phone", a message in the shopper's language) when
    it is not a number. The one check of a number for texts."""
    if isinstance(raw, E164):
        return raw
    try:
        return E164(parse_phone(raw, field="phone"))
    except PhoneNumberError:
        message = _("That is not a valid phone number.") if (raw or "").strip() else _("Enter your mobile number.")
        raise PhoneInputError("phone", message) from None


def save_phone(venue: str, shopper: str, raw: str | None, lang: str | None = None) -> str:
    """The shopper's number for SMS (`read_phone`: as typed, or an `E164` already read), texts in `lang` (else the
    page's language); returns it masked. PhoneInputError when it is not a number."""
    phone = read_phone(raw)
    lang = lang if lang in LANGS else ("zh" if is_zh() else "en")
    notify_views.contacts().set_phone(venue, shopper, phone, lang)
    return mask_phone(phone)


def forget_phone(venue: str, shopper: str) -> None:
    notify_views.contacts().set_phone(venue, shopper, None, "zh")


def masked_phone(venue: str, shopper: str) -> str | None:
    """The number the shopper gave, masked (for "we'll text +86•••••••8000"); None when none."""
    phone = notify_views.contacts().get(venue, shopper).phone
    return mask_phone(phone) if phone else None


def send_sms_now(venue: str, phone: str, event: str, params: Mapping[str, str], text: str, lang: str = "") -> None:
    """Send one SMS at once through the portal's SMS provider (SMS_PROVIDER, portal/notify/sms.py), for what
    cannot wait for the outbox's worker (a sign-up code the shopper is waiting to type). `event` names the
    provider's template (SMS_TEMPLATES; `event.<lang>` for a shopper reading `lang`), `params` its parameters, `text`
    the whole message (development sender, providers that take free text). SmsError when it was not accepted."""
    notify_views.sms().send(venue, phone, event, dict(params), text, lang)


__all__ = ["E164", "PhoneInputError", "SmsError", "cancel", "forget_phone", "in_both", "mask_phone", "masked_phone",
           "notify", "save_phone", "send_sms_now"]
