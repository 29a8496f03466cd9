"""Phone numbers the shopper types for SMS, in any common format, read with `phonenumbers` in the venue's
region: `13800138000`, `138 0013 8000`, `+86 138-0013-8000` and `0086 13800138000` are one number."""

from __future__ import annotations

import phonenumbers
from flask_babel import lazy_gettext as _l

from core.errors import InputError

DEFAULT_REGION = "CN"
MAX_LENGTH = 32


class PhoneInputError(InputError):
    """A number that is not a valid mobile or fixed number."""


def parse_phone(raw: str | None, region: str = DEFAULT_REGION) -> str:
    """The number in E.164 (`+8613800138000`); PhoneInputError if it is not a valid number."""
    text = (raw or "").strip()
    if not text:
        raise PhoneInputError("phone", str(_l("Enter your mobile number.")))
    if len(text) > MAX_LENGTH:
        raise PhoneInputError("phone", str(_l("That is too long for a phone number.")))
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise PhoneInputError("phone", str(_l("That is not a phone number."))) from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneInputError("phone", str(_l("That is not a valid phone number.")))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
