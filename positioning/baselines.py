"""Plain scikit-learn kNN baselines, for comparison in the same run."""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from positioning.representation import to_representation
from positioning.vectors import MISSING_DBM

BASELINES = {
    "sklearn kNN, Euclidean, k=5, raw dBm": ("raw", 5),
    "sklearn kNN, Euclidean, k=3, powed": ("powed", 3),
}


def baseline_k(k: int, n_train: int) -> int:
    """The k a baseline runs with: its own, or every training row when there are fewer (kNN cannot ask for
    more neighbours than the map has)."""
    return max(1, min(k, n_train))


def baseline_label(name: str, k: int, n_train: int) -> str:
    """A BASELINES name as run on `n_train` training rows: says so when k had to come down to them."""
    used = baseline_k(k, n_train)
    if used == k:
        return name
    rows = "row" if n_train == 1 else "rows"
    return name.replace(f"k={k}", f"k={used} ({k} asked, {n_train} training {rows})", 1)


def baseline_predict(X_train: np.ndarray, y_train: np.ndarray, X_test: np.ndarray, data: str, k: int) -> np.ndarray:
    """Building, floor, x, y of each test vector by scikit-learn's kNN; k = min(k, training rows)."""
    k = baseline_k(k, len(X_train))
    if data == "powed":
        X_train = to_representation(X_train, "powed", MISSING_DBM)
        X_test = to_representation(X_test, "powed", MISSING_DBM)
    building = KNeighborsClassifier(k).fit(X_train, y_train[:, 0]).predict(X_test)
    floor = KNeighborsClassifier(k).fit(X_train, y_train[:, 1]).predict(X_test)
    xy = KNeighborsRegressor(k).fit(X_train, y_train[:, 2:4]).predict(X_test)
    return np.column_stack([building, floor, xy])
