"""The venue's event log and what reads it.

- log.py: EventLog, the per-venue bounded stream (emit, read, consumer groups) and the event schema;
- presence.py: PresenceTracker, the Locator listener that emits arrive / zone_enter / zone_leave / leave;
- insights.py: figures for operators and zone owners computed from the stream (pure, k-anonymous);
- sim.py: a seeded simulated day in a venue with its ground truth (`python -m portal flask insights simulate`);
- moments.py: rules (trigger x conditions -> action) run over the stream by a consumer group."""

from portal.events.log import Event, EventKeys, EventLog
from portal.events.presence import PresenceTracker

__all__ = ["Event", "EventKeys", "EventLog", "PresenceTracker"]
