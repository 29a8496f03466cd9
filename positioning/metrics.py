"""Evaluation metrics for a positioner's predictions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def position_report(y_true: np.ndarray, y_pred: np.ndarray, zones_true: Sequence[str | None] | None = None,
                    zones_pred: Sequence[str | None] | None = None) -> dict:
    """Building and floor hit rates, 2-D error statistics (metres), zone hit rate when known."""
    errors = np.hypot(y_true[:, 2] - y_pred[:, 2], y_true[:, 3] - y_pred[:, 3])
    zone_hit = None
    if zones_true is not None and zones_pred is not None:
        zone_hit = float(np.mean([a == b for a, b in zip(zones_true, zones_pred, strict=True)]))
    return {
        "building_hit_rate": float(np.mean(y_true[:, 0] == y_pred[:, 0])),
        "floor_hit_rate": float(np.mean(y_true[:, 1] == y_pred[:, 1])),
        "mean_error_m": float(errors.mean()),
        "median_error_m": float(np.median(errors)),
        "p75_error_m": float(np.percentile(errors, 75)),
        "p95_error_m": float(np.percentile(errors, 95)),
        "zone_hit_rate": zone_hit,
        "n_test": int(len(y_true)),
    }
