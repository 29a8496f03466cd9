"""Test-vector perturbations for robustness checks: another phone model, access points switched off."""

from __future__ import annotations

import numpy as np

from positioning.vectors import MISSING_DBM


def shift_rssi(X: np.ndarray, offset_db: float | np.ndarray, missing: float = MISSING_DBM) -> np.ndarray:
    """Every heard reading `offset_db` louder (negative: softer; one value or one per row), capped at 0 dBm.
    A reading pushed to or below `missing` is lost, as a quieter phone's weakest APs fall under the
    receiver's sensitivity; a louder phone cannot gain APs the data never recorded, so +X dB is slightly
    kinder than -X dB."""
    X = np.asarray(X, dtype=np.float64)
    heard = missing < X
    offset = np.asarray(offset_db, dtype=np.float64)
    shifted = np.minimum(X + (offset[:, None] if offset.ndim == 1 else offset), 0.0)
    return np.where(heard & (shifted > missing), shifted, missing)


def aps_switched_off(X: np.ndarray, fraction: float, seed: int = 0, missing: float = MISSING_DBM) -> np.ndarray:
    """Which columns `switch_off_aps` silences: round(fraction x heard APs) of the APs heard anywhere in X
    (seeded), sorted."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError("the fraction of APs off must be in [0, 1)")
    heard_aps = np.flatnonzero((missing < np.asarray(X)).any(axis=0))
    return np.sort(np.random.default_rng(seed).choice(heard_aps, size=round(fraction * heard_aps.size), replace=False))


def switch_off_aps(X: np.ndarray, fraction: float, seed: int = 0, missing: float = MISSING_DBM) -> np.ndarray:
    """The same vectors with round(fraction x heard APs) of the APs heard anywhere in X silenced (seeded)."""
    X = np.array(X, dtype=np.float64)
    X[:, aps_switched_off(X, fraction, seed, missing)] = missing
    return X
