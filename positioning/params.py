"""scikit-learn's estimator parameter contract, without importing scikit-learn.

`sklearn.base` pulls in `sklearn.utils` and through it `scipy.stats`: 1.1-1.2 s on this machine's CPU, paid by
every gunicorn worker, tracker and CLI that loads a positioner, for two methods. The contract is small and
stable (https://scikit-learn.org/stable/developers/develop.html#get-params-and-set-params): the constructor's
keyword arguments are the parameters, stored unchanged under their own names; `get_params` returns them,
`set_params` sets them and returns self. `sklearn.base.clone` works on any object that keeps it, and
tests/positioning_tests/test_wknn.py checks that with scikit-learn's own `clone`.
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
