"""What a piece of code sends to the store: each command, or each pipeline whole, is one send and one round trip.
For tests that hold a page or a listing to a number of round trips whatever the data's size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis.connection


@contextmanager
def store_sends(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """The sends made meanwhile (on any connection of this process, a cluster's too), each as its packed bytes."""
    sent: list[bytes] = []
    send = redis.connection.AbstractConnection.send_packed_command

    def recorded(self, command, check_health=True):
        sent.append(b"".join(command) if isinstance(command, list) else command)
        return send(self, command, check_health)

    with monkeypatch.context() as patch:
        patch.setattr(redis.connection.AbstractConnection, "send_packed_command", recorded)
        yield sent
