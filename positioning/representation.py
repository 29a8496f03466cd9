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
        return positive.astype(np.float32)
    # Only the heard entries are transformed (~4% of a map or a query): the others stay 0.
    heard = positive > 0
    values = positive[heard]
    out = np.zeros(positive.shape, dtype=np.float32)
    if kind == "exponential":
        out[heard] = np.exp(values / alpha) / np.exp(-missing / alpha)
    else:
        out[heard] = (values / -missing) ** beta
    return out
