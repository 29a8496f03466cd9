"""Sums over the rows of a batch's arrays, bit for bit what one row's own numpy sum gives: the batch forms
(positioning/motion.py, positioning/zones.py) must give each phone exactly the numbers its one-phone path does."""

from __future__ import annotations

import numpy as np


def row_sums(a: np.ndarray) -> np.ndarray:
    """The sum of each row of a 2-D float array, added as numpy adds a 1-D array (pairwise: eight running
    sums over blocks of up to 128, then the rest one by one), so a row's sum is the last bit what one
    phone's `.sum()` gives; numpy's own sum over an axis of a 2-D array adds in another order."""
    rows, n = a.shape
    if n < 8:
        total = np.zeros(rows)
        for i in range(n):
            total = total + a[:, i]
        return total
    if n <= 128:
        partial = [a[:, j] for j in range(8)]
        i = 8
        while i < n - n % 8:
            partial = [partial[j] + a[:, i + j] for j in range(8)]
            i += 8
        total = ((partial[0] + partial[1]) + (partial[2] + partial[3])) + ((partial[4] + partial[5])
                                                                          + (partial[6] + partial[7]))
        for k in range(i, n):
            total = total + a[:, k]
        return total
    half = n // 2
    half -= half % 8
    return row_sums(a[:, :half]) + row_sums(a[:, half:])
