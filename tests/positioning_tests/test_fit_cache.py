"""What a fitted WKNNPositioner works out on first use (the floor classifier, the strong rows) leaves the estimator's
attributes as fit set them (scikit-learn: predict changes no attribute), and threads sharing one model (the portal's
ModelCache) work each out once."""

import copy
import pickle
import sys
import threading
import time

import numpy as np
import pytest

from positioning import wknn
from positioning.wknn import WKNNPositioner

from .test_wknn import campus


@pytest.fixture
def model_and_queries():
    X, y = campus(n=300, seed=9)  # two buildings of two floors: two classifiers
    return WKNNPositioner(k=3, floor_model="logistic").fit(X, y), X[:20] + 2.0


def counted_fits(monkeypatch, during_first=None) -> list[int]:
    """The LogisticRegression fits from now on (the thread of each); `during_first()` runs inside the first."""
    from sklearn.linear_model import LogisticRegression

    fits = []
    original = LogisticRegression.fit

    def fit(self, *args, **kwargs):
        fits.append(threading.get_ident())
        if len(fits) == 1 and during_first is not None:
            during_first()
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LogisticRegression, "fit", fit)
    return fits


def test_predicting_leaves_the_estimators_attributes_as_fit_set_them(model_and_queries):
    model, queries = model_and_queries
    before = dict(vars(model))
    model.predict(queries)
    model.predict_with_own(queries)
    model.locate_many(queries)
    model.locate(queries[0])
    model.score(queries, model.predict(queries))
    model.strong_rows(0)
    model.with_strong_rows(3)
    assert vars(model).keys() == before.keys()
    assert all(vars(model)[name] is value for name, value in before.items())


def waiting_in_the_cache(thread: threading.Thread) -> bool:
    """Whether the thread's innermost Python frame is the fit cache's lookup (blocked on its lock, or about to be)."""
    frame = sys._current_frames().get(thread.ident)
    return frame is not None and frame.f_code.co_filename == wknn.__file__ and frame.f_code.co_name == "get"


def test_threads_sharing_a_model_fit_its_floor_classifier_once(model_and_queries, monkeypatch):
    model, queries = model_and_queries
    alone = WKNNPositioner(k=3, floor_model="logistic").fit(*campus(n=300, seed=9)).predict(queries)
    other: dict = {}

    def predict_elsewhere() -> None:
        """While the first classifier fits, another thread predicts: it must wait for that fit, not fit again."""
        other["thread"] = threading.Thread(target=lambda: other.setdefault("answer", model.predict(queries)))
        other["thread"].start()
        deadline = time.monotonic() + 60  # reached only if the other thread neither waits nor fits
        while len(fits) == 1 and not waiting_in_the_cache(other["thread"]):
            assert time.monotonic() < deadline, "the other thread neither fitted nor waited for the fit"
            time.sleep(0.001)

    fits = counted_fits(monkeypatch, predict_elsewhere)
    answer = model.predict(queries)
    other["thread"].join()
    assert len(fits) == 2 and set(fits) == {threading.get_ident()}  # one per building, by the first thread
    assert np.array_equal(answer, alone) and np.array_equal(other["answer"], alone)


@pytest.mark.parametrize("duplicate", [copy.deepcopy, lambda m: pickle.loads(pickle.dumps(m))])
def test_a_copy_keeps_what_was_worked_out_and_works_on_its_own(model_and_queries, monkeypatch, duplicate):
    model, queries = model_and_queries
    answer = model.predict(queries)
    fits = counted_fits(monkeypatch)
    twin = duplicate(model)
    assert np.array_equal(twin.predict(queries), answer) and fits == []  # the classifier came along
    assert np.array_equal(twin.strong_rows(1), model.strong_rows(1))
