"""Data representations of RSSI for fingerprint matching (Torres-Sospedra et al., 2015).

All map dBm to non-negative numbers with 'not heard' = 0, so vectors are sparse:
- positive:    rssi - missing
- exponential: exp(positive / alpha) / exp(-missing / alpha)
- powed:       (positive / -missing) ** beta   (beta = e by default)
Powed and exponential shrink differences among weak, unreliable readings and keep those among strong ones."""

from __future__ import annotations

import numpy as np

REPRESENTATIONS = ("positive", "exponential", "powed")


def to_representation(
    X: np.ndarray, kind: str, missing: float, alpha: float = 24.0, beta: float = np.e
) -> np.ndarray:
    if kind not in REPRESENTATIONS:
        raise ValueError(f"unknown representation {kind!r}; choose one of {REPRESENTATIONS}")
    positive = np.clip(np.asarray(X, dtype=np.float64) - missing, 0.0, None)
    if kind == "positive":
        out = positive
    elif kind == "exponential":
        out = np.where(positive > 0, np.exp(positive / alpha) / np.exp(-missing / alpha), 0.0)
    else:
        out = (positive / -missing) ** beta
    return out.astype(np.float32)
