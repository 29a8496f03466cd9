"""How a shopper may be reached: the channels they opted into, per shopper (the random shopper id).

One hash per shopper, `mp:{v}:notify:contact:<shopper>`: `lang` (en|zh, the language of the page where
they opted in), `phone` (E.164, sealed with the phone vault, core/security.py: AES-GCM under PHONE_KEY;
opened only to send an SMS, never logged, gone with the hash) and
`push:<subscription id>` -> the browser's push subscription (endpoint and keys; the id is a hash of the
endpoint). It expires CONTACT_TTL_S after the last change: an opt-in lasts as long as a visit's tickets and
bookings matter, not forever. A shopper has at most MAX_PUSH subscriptions (one per browser they use)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis

from core.errors import InputError
from core.security import PhoneVault
from core.storage import VenueKeys

CONTACT_TTL_S = 30 * 86400
MAX_PUSH = 5
MAX_ENDPOINT = 1_000
LANGS = ("en", "zh")


class ContactKeys(VenueKeys):
    def contact(self, shopper: str) -> str:
        return self.key("notify", "contact", shopper)


class SubscriptionError(InputError):
    """A push subscription that is not one a browser makes, or names a host that is no push service."""


@dataclass(frozen=True)
class Contact:
    lang: str
    phone: str | None
    push: dict[str, dict]  # subscription id -> subscription info (endpoint, keys)


# KEYS: contact.  ARGV: field, subscription JSON, max subscriptions, ttl, lang, known only ('1': keep it only if
# already stored). Returns 'kept' (already stored: refreshed), 'added', 'full' (nothing written) or, known only,
# 'new' (it would be added; nothing written).
_ADD_PUSH = """
local known = redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1
if not known then
  local n = 0
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(f, 1, 5) == 'push:' then n = n + 1 end
  end
  if n >= tonumber(ARGV[3]) then return 'full' end
  if ARGV[6] == '1' then return 'new' end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], 'lang', ARGV[5])
redis.call('EXPIRE', KEYS[1], ARGV[4])
if known then return 'kept' end
return 'added'
"""


def subscription_id(endpoint: str) -> str:
    return hashlib.sha256(endpoint.encode()).hexdigest()[:20]


def parse_subscription(raw: object, push_hosts: tuple[str, ...]) -> dict:
    """The browser's PushSubscription JSON -> {endpoint, keys: {p256dh, auth}}; SubscriptionError if not one,
    or if its endpoint is not an https URL on one of the push services we deliver to (the worker POSTs there:
    no other host is ever contacted)."""
    if not isinstance(raw, dict):
        raise SubscriptionError("subscription", "subscription must be a JSON object")
    endpoint, keys = raw.get("endpoint"), raw.get("keys")
    if not isinstance(endpoint, str) or not 10 < len(endpoint) <= MAX_ENDPOINT:
        raise SubscriptionError("endpoint", "endpoint must be a URL")
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    loopback_test = host == "127.0.0.1" and "127.0.0.1" in push_hosts  # the tests' local push service
    if (parts.scheme != "https" and not loopback_test) or parts.username or parts.password:
        raise SubscriptionError("endpoint", "endpoint must be an https URL")
    if not any(host == h or host.endswith("." + h) for h in push_hosts):
        raise SubscriptionError("endpoint", "endpoint is not a known push service")
    if not isinstance(keys, dict):
        raise SubscriptionError("keys", "keys must be an object with p256dh and auth")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not _b64url(p256dh, 80, 100) or not _b64url(auth, 16, 32):
        raise SubscriptionError("keys", "keys.p256dh and keys.auth must be the browser's base64url keys")
    return {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}


def _b64url(value: object, low: int, high: int) -> bool:
    return (isinstance(value, str) and low <= len(value) <= high
            and all(c.isascii() and (c.isalnum() or c in "-_=") for c in value))


class ContactStore:
    def __init__(self, db: redis.Redis, phone_key: str, ttl_s: int = CONTACT_TTL_S) -> None:
        self.db = db
        self.vault = PhoneVault(phone_key)
        self.ttl_s = ttl_s
        self._add_push = db.register_script(_ADD_PUSH)

    def add_push(self, venue: str, shopper: str, subscription: dict, lang: str, known_only: bool = False) -> str:
        """Keep a parsed subscription (its id: `subscription_id` of its endpoint): "added"; "kept" when this
        shopper already has it (refreshed); "full" when they have MAX_PUSH others (nothing stored). With
        `known_only`, one not yet stored is not added: "new" (the caller spends its budget first)."""
        sid = subscription_id(subscription["endpoint"])
        args = [f"push:{sid}", json.dumps(subscription), MAX_PUSH, self.ttl_s, _lang(lang), int(known_only)]
        outcome = self._add_push(keys=[ContactKeys(venue).contact(shopper)], args=args)
        return outcome.decode() if isinstance(outcome, bytes) else str(outcome)

    def remove_push(self, venue: str, shopper: str, sid: str) -> bool:
        return bool(self.db.hdel(ContactKeys(venue).contact(shopper), f"push:{sid}"))

    def set_phone(self, venue: str, shopper: str, phone: str | None, lang: str) -> None:
        """The shopper's number for SMS (E.164, parsed by the caller); None forgets it."""
        key = ContactKeys(venue).contact(shopper)
        pipe = self.db.pipeline(transaction=True)
        if phone:
            pipe.hset(key, mapping={"phone": self.vault.seal(phone), "lang": _lang(lang)})
            pipe.expire(key, self.ttl_s)
        else:
            pipe.hdel(key, "phone")
        pipe.execute()

    def forget(self, venue: str, shopper: str) -> int:
        """Erasure: the shopper's number and push subscriptions."""
        return int(self.db.delete(ContactKeys(venue).contact(shopper)))

    def get(self, venue: str, shopper: str) -> Contact:
        raw = {k.decode(): v.decode() for k, v in self.db.hgetall(ContactKeys(venue).contact(shopper)).items()}
        push = {k[5:]: json.loads(v) for k, v in raw.items() if k.startswith("push:")}
        return Contact(lang=_lang(raw.get("lang")), phone=self.open_phone(raw.get("phone")), push=push)

    def open_phone(self, sealed: str | None) -> str | None:
        """A number sealed as `set_phone` keeps it (also pinned in a queued message, portal/notify/outbox.py)."""
        if not sealed:
            return None
        try:
            return self.vault.open(sealed)
        except ValueError:  # sealed under another PHONE_KEY: as good as no number
            return None


def _lang(lang: str | None) -> str:
    return lang if lang in LANGS else "zh"
