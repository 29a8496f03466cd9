"""One owner of "where is this phone".

- models.py: the venue's positioning model per process (VenueModel, build_venue_model, ModelCache);
- positions.py: Position, the kept position in the store (KeptPosition, fields by name) and TrackKeys;
- locator.py: Locator, readings + motion state -> Position; keeping it is an explicit step, and
  listeners (footfall) hear every new position;
- tracker.py: Tracker, positions the phones the APs hear as their readings arrive (`python -m portal track`);
- footfall.py: FootfallStore, aggregated visitors, dwell and presence from those positions."""

from portal.tracking.locator import Locator
from portal.tracking.models import ModelCache, VenueModel, build_venue_model
from portal.tracking.positions import KeptPosition, Position, TrackKeys
from portal.tracking.tracker import Tracker

__all__ = ["KeptPosition", "Locator", "ModelCache", "Position", "TrackKeys", "Tracker", "VenueModel",
           "build_venue_model"]
