"""What a delivery channel is, and the message it is handed.

A channel names its targets for a shopper (`targets`: the shopper's push subscriptions; their phone) and
delivers one rendered message to one target (`send`). It says how a try went by raising: `Retry` (try
again later: the service is down, rate limited, timed out), `Refused` (never: a number the provider
refuses, a message it rejects) or `TargetGone` (the browser dropped the subscription: forget it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from portal.notify.contacts import Contact


@dataclass(frozen=True)
class Message:
    """One notification, rendered for one shopper in their language."""

    venue: str
    event: str
    lang: str
    title: str
    body: str
    url: str  # absolute link to the page, with a fresh shopper token ("" when the message links nowhere)
    params: dict[str, str] = field(default_factory=dict)  # the app's data (SMS template parameters)

    @property
    def text(self) -> str:
        """Title, body and link as one short text (an SMS)."""
        parts = [self.title, self.body] if self.body and self.body != self.title else [self.title]
        text = " ".join(p for p in parts if p)
        return f"{text} {self.url}" if self.url else text


class DeliveryError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Retry(DeliveryError):
    """Not delivered this time; a later try may succeed."""


class Refused(DeliveryError):
    """Not deliverable: trying again would fail the same way."""


class TargetGone(DeliveryError):
    """The target no longer exists (a push subscription the browser dropped)."""


class Channel(Protocol):
    name: str

    def targets(self, contact: Contact) -> list[str]:
        """The shopper's targets on this channel ([] when they did not opt in)."""

    def send(self, shopper: str, target: str, contact: Contact, message: Message) -> None:
        """Deliver, or raise Retry / Refused / TargetGone."""
