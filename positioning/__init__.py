"""The positioning core: pure numerics (numpy/scipy/scikit-learn/shapely), no Flask, no Redis.

scikit-learn estimator API: parameters in __init__, learned state in attributes ending with `_`."""

from positioning.smoothing import TemporalSmoother
from positioning.vectors import MISSING_DBM, build_vector
from positioning.wknn import Estimate, WKNNPositioner
from positioning.zones import ZoneMap

__all__ = ["MISSING_DBM", "Estimate", "TemporalSmoother", "WKNNPositioner", "ZoneMap", "build_vector"]
