"""A venue's named configurations of one vendor feed (Meraki networks, Mist webhooks): one key per name and an
index of the names, written and removed together (one slot: every key carries the venue's hash tag)."""

from __future__ import annotations

from collections.abc import Callable

import redis

from core.storage import VenueKeys
from fingerprints.model import ID_RE


class NamedConfigKeys(VenueKeys):
    """`<kind>:<item>:<name>` per configuration and `<kind>:index`, under the venue's prefix."""

    kind = ""
    item = ""

    def config(self, name: str) -> str:
        return self.key(self.kind, self.item, name)

    def index(self) -> str:
        return self.key(self.kind, "index")


class NamedConfigs:
    """What every feed's configuration store does alike; the feed's own class reads and writes the value."""

    keys: type[NamedConfigKeys] = NamedConfigKeys
    what = "name"  # for the error message

    def __init__(self, db: redis.Redis) -> None:
        self.db = db

    @staticmethod
    def valid_name(name: object) -> bool:
        return isinstance(name, str) and bool(ID_RE.match(name))

    def check_name(self, name: str) -> None:
        if not self.valid_name(name):
            raise ValueError(f"{self.what}: lower-case letters, digits, - and _, at most 48")

    def save(self, venue: str, name: str, write: Callable[[redis.client.Pipeline, str], None]) -> None:
        """Replace the configuration `name` with what `write(pipe, key)` writes, and index it."""
        keys = self.keys(venue)
        pipe = self.db.pipeline(transaction=True)
        pipe.delete(keys.config(name))
        write(pipe, keys.config(name))
        pipe.sadd(keys.index(), name)
        pipe.execute()

    def names(self, venue: str) -> list[str]:
        return sorted(n.decode() for n in self.db.smembers(self.keys(venue).index()))

    def remove(self, venue: str, name: str) -> bool:
        keys = self.keys(venue)
        pipe = self.db.pipeline(transaction=True)
        pipe.delete(keys.config(name))
        pipe.srem(keys.index(), name)
        return bool(pipe.execute()[0])
