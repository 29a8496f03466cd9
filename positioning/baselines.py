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


def baseline_predict(X_train, y_train, X_test, data: str, k: int) -> np.ndarray:
    if data == "powed":
        X_train = to_representation(X_train, "powed", MISSING_DBM)
        X_test = to_representation(X_test, "powed", MISSING_DBM)
    building = KNeighborsClassifier(k).fit(X_train, y_train[:, 0]).predict(X_test)
    floor = KNeighborsClassifier(k).fit(X_train, y_train[:, 1]).predict(X_test)
    xy = KNeighborsRegressor(k).fit(X_train, y_train[:, 2:4]).predict(X_test)
    return np.column_stack([building, floor, xy])
