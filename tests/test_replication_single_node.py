"""Replica-confirmed writes (core/replication.py) cost a single node nothing: no INFO, no WAIT, no marker write."""

from __future__ import annotations

import pytest

from core.replication import confirm, online_replicas
from lightapps.queue.store import QueueStore


def calls(db, command: str) -> int:
    return int((db.info("commandstats").get(f"cmdstat_{command}") or {}).get("calls", 0))


@pytest.mark.single_node
def test_a_single_node_is_asked_nothing(db):
    before = calls(db, "wait")  # nothing else sends WAIT to a single node (other tests' SETs may run meanwhile)
    assert online_replicas(db, "mp:{demo}:queue") == 0
    confirm(db, "mp:{demo}:queue")
    assert QueueStore(db).take("demo", "jade", "A", 2, "alice").ok
    assert calls(db, "wait") == before
    assert db.exists("mp:{demo}:-replicated-") == 0  # no marker written
