"""Web Push (RFC 8030/8291/8292) to the PWA installs that subscribed, with pywebpush: the payload is
encrypted for the browser's keys (aes128gcm), the request signed with our VAPID key."""

from __future__ import annotations

import json

import requests
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from core.settings import NotifySettings
from portal.notify.channels import Contact, Message, Refused, Retry, TargetGone

PUSH_TTL_S = 6 * 3600  # a push service keeps an undelivered message this long (phone off, no network)
TIMEOUT_S = 10


class WebPushChannel:
    name = "push"

    def __init__(self, settings: NotifySettings) -> None:
        self.vapid = Vapid.from_raw(settings.vapid_private_key.encode())
        self.subject = settings.vapid_subject
        self.session = requests.Session()

    def targets(self, contact: Contact) -> list[str]:
        return sorted(contact.push)

    def send(self, shopper: str, target: str, contact: Contact, message: Message) -> None:
        subscription = contact.push.get(target)
        if subscription is None:
            raise TargetGone("subscription removed")
        payload = json.dumps({"title": message.title, "body": message.body, "url": message.url,
                              "tag": message.event, "lang": message.lang}, ensure_ascii=False)
        try:
            webpush(subscription, payload, vapid_private_key=self.vapid, vapid_claims={"sub": self.subject},
                    ttl=PUSH_TTL_S, timeout=TIMEOUT_S, requests_session=self.session)
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status in (404, 410):
                raise TargetGone(f"push service: {status}") from None
            if status in (400, 403, 413):
                raise Refused(f"push service: {status}") from None
            raise Retry(f"push service: {status or 'no answer'}") from None
        except requests.RequestException as exc:
            raise Retry(f"push service unreachable: {exc.__class__.__name__}") from None
