"""Erasure of a shopper from the notifications (the privacy centre, portal/events/mydata.py): their contact
(number, push subscriptions), the messages not delivered yet, the development sender's copies."""

from __future__ import annotations

import redis

from portal.notify.contacts import ContactStore
from portal.notify.outbox import Outbox
from portal.notify.sms import forget_dev_sms


def forget_shopper(db: redis.Redis, phone_key: str, venue: str, shopper: str) -> int:
    return (ContactStore(db, phone_key).forget(venue, shopper) + Outbox(db).forget_shopper(venue, shopper)
            + forget_dev_sms(db, venue, shopper))
