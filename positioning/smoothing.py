"""Temporal smoothing of one client's successive estimates, with zone hysteresis.

Pure: the state is a small JSON-serialisable dict the caller keeps (the web side stores it in Redis)."""

from __future__ import annotations

from dataclasses import replace

from positioning.wknn import Estimate


class TemporalSmoother:
    """Exponential smoothing of x/y on the same floor; a new floor is taken when two estimates in a row
    agree (or one is very confident). A shopper is moved to another zone only when the new zone wins
    `switch_after` updates in a row, or beats the current zone's confidence by `margin`: standing on a
    border does not flip the light app back and forth, walking into the next shop does move it."""

    def __init__(self, alpha: float = 0.5, margin: float = 0.25, switch_after: int = 2,
                 reset_after_s: float = 30.0, confident_floor: float = 0.9) -> None:
        if not 0 < alpha <= 1:
            raise ValueError("alpha must be in (0, 1]")
        self.alpha = alpha
        self.margin = margin
        self.switch_after = switch_after
        self.reset_after_s = reset_after_s
        self.confident_floor = confident_floor

    def _fresh(self, estimate: Estimate, zone: str | None, zone_confidence: float, now: float) -> dict:
        return {"floor": estimate.floor, "x": estimate.x, "y": estimate.y, "ts": now, "zone": zone,
                "zone_conf": zone_confidence, "pending_zone": None, "pending_n": 0, "pending_floor": None}

    def update(self, state: dict | None, estimate: Estimate, zone: str | None, zone_confidence: float,
               now: float) -> tuple[dict, Estimate, str | None]:
        if state is None or now - state["ts"] > self.reset_after_s:
            state = self._fresh(estimate, zone, zone_confidence, now)
            return state, estimate, zone
        state = dict(state)
        self._update_floor_and_position(state, estimate)
        state["ts"] = now
        self._update_zone(state, zone, zone_confidence)
        smoothed = replace(estimate, floor=state["floor"], x=state["x"], y=state["y"])
        return state, smoothed, state["zone"]

    def _update_floor_and_position(self, state: dict, estimate: Estimate) -> None:
        if estimate.floor != state["floor"]:
            if estimate.confidence >= self.confident_floor or state["pending_floor"] == estimate.floor:
                state.update(floor=estimate.floor, x=estimate.x, y=estimate.y, pending_floor=None)
            else:
                state["pending_floor"] = estimate.floor
            return
        state["pending_floor"] = None
        a = self.alpha
        state["x"] = a * estimate.x + (1 - a) * state["x"]
        state["y"] = a * estimate.y + (1 - a) * state["y"]

    def _update_zone(self, state: dict, zone: str | None, confidence: float) -> None:
        if zone == state["zone"]:
            state.update(zone_conf=confidence, pending_zone=None, pending_n=0)
            return
        pending_n = state["pending_n"] + 1 if state["pending_zone"] == zone else 1
        if pending_n >= self.switch_after or confidence >= state["zone_conf"] + self.margin:
            state.update(zone=zone, zone_conf=confidence, pending_zone=None, pending_n=0)
        else:
            state.update(pending_zone=zone, pending_n=pending_n)
