"""scikit-learn's estimator parameter contract, without importing scikit-learn.

`sklearn.base` pulls in `sklearn.utils` and through it `scipy.stats`: 1.1-1.2 s on this machine's CPU, paid by
every gunicorn worker, tracker and CLI that loads a positioner, for two methods. The contract is small and
stable (https://scikit-learn.org/stable/developers/develop.html#get-params-and-set-params): the constructor's
keyword arguments are the parameters, stored unchanged under their own names; `get_params` returns them,
`set_params` sets them and returns self. `sklearn.base.clone` works on any object that keeps it, and
tests/positioning_tests/test_wknn.py checks that with scikit-learn's own `clone`.

scikit-learn's own tools (cross_val_score, GridSearchCV, check_is_fitted, clone) also read the estimator's
tags, `__sklearn_tags__`: that method imports scikit-learn, but only those tools call it, and a process that
runs them has scikit-learn loaded already.
"""

from __future__ import annotations

import inspect
from typing import Any


class EstimatorParams:
    """get_params / set_params / repr read from the subclass's `__init__` signature, as in scikit-learn."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return sorted(name for name, p in signature.parameters.items()
                      if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL))

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters and their current values (`deep` kept for the API: none nest)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> EstimatorParams:
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid: {valid}")
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags: a regressor of a 2-D target (several outputs, never one), y required.

        The positioners predict (n, 4) = building, floor, x, y from RSSI in dBm (0 or below, unheard = a
        negative `missing`; no NaN, no sparse input). scikit-learn's tools work on them (clone,
        cross_val_score, GridSearchCV, check_is_fitted). `sklearn.utils.estimator_checks.check_estimator`
        mostly does not apply: its fitting checks (check_regressors_train, check_fit_idempotent,
        check_estimators_pickle, check_n_features_in, ...) fit random positive features against a 1-D or
        one-column y, which a positioner refuses (values above 0 dBm; y not (n, 4) with whole building and
        floor labels), and its error-message checks (check_estimators_empty_data_messages, check_fit2d_1sample,
        check_complex_data, check_requires_y_none) expect scikit-learn's own wording. The construction and
        parameter checks (check_estimator_cloneable, check_get_params_invariance, check_set_params,
        check_no_attributes_set_in_init, check_estimators_unfitted, ...) pass."""
        # lazy: scikit-learn (~1.2 s to import); only scikit-learn's own tools ask for the tags
        from sklearn.utils import InputTags, RegressorTags, Tags, TargetTags

        return Tags(estimator_type="regressor",
                    target_tags=TargetTags(required=True, multi_output=True, single_output=False),
                    regressor_tags=RegressorTags(), input_tags=InputTags(allow_nan=False, sparse=False))

    def __repr__(self) -> str:
        # Like scikit-learn's: only the parameters that differ from the constructor's defaults.
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()}
        changed = [f"{name}={value!r}" for name, value in self.get_params().items()
                   if not _same(value, defaults.get(name, inspect.Parameter.empty))]
        return f"{type(self).__name__}({', '.join(changed)})"


def _same(value: Any, default: Any) -> bool:
    try:
        return bool(value == default)
    except (TypeError, ValueError):  # array-like values compare element-wise
        return value is default
