"""A worker's start never needs the store (issue 14): gunicorn.conf.py's post_worker_init only starts the
model warm-up in a background thread, and nothing it does can raise (an exception there is "worker failed
to boot", and gunicorn's master then shuts down). The real-gunicorn version, with the store stopped while
a worker restarts, is tests/faults/test_faults_gunicorn.py."""

from __future__ import annotations

import importlib.util
import threading
from types import SimpleNamespace

import pytest

from core.settings import PROJECT_ROOT
from portal import create_app


@pytest.fixture(scope="module")
def gunicorn_conf():
    spec = importlib.util.spec_from_file_location("gunicorn_conf_faults", PROJECT_ROOT / "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    return conf


class StalledWarmUp:
    """A warm-up that waits until the test lets it go: as long as a stopped store would keep it."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()

    def __call__(self) -> None:
        self.started.set()
        self.release.wait(timeout=30)  # a hook that waited for it would return only after this
        self.finished.set()


def worker_for(app):
    return SimpleNamespace(wsgi=app, log=SimpleNamespace(exception=lambda *a, **k: None))


def test_post_worker_init_returns_while_the_warm_up_still_waits_on_the_store(gunicorn_conf, app, svc,
                                                                               monkeypatch):
    stalled = StalledWarmUp()
    monkeypatch.setattr(svc, "warm_up", stalled)
    try:
        gunicorn_conf.post_worker_init(worker_for(app))
        assert not stalled.finished.is_set()  # the hook returned while the warm-up still waits
        assert stalled.started.wait(timeout=60)  # ...and it runs, in another thread
    finally:
        stalled.release.set()


def test_a_failing_warm_up_never_fails_the_worker(gunicorn_conf, app, svc, monkeypatch):
    def broken() -> None:
        raise RuntimeError("not a store error: still no boot failure")

    monkeypatch.setattr(svc, "warm_up", broken)
    thread = svc.warm_up_in_background()
    thread.join(timeout=60)
    assert not thread.is_alive()
    monkeypatch.setattr(svc, "warm_up_in_background", lambda: (_ for _ in ()).throw(RuntimeError("no thread")))
    gunicorn_conf.post_worker_init(worker_for(app))  # logged, not raised


def test_the_app_is_built_and_warmed_without_a_store(settings, gunicorn_conf):
    """create_app reads nothing from the store (a worker loads the app before anything else), and the
    warm-up gives up quietly when the store is gone (a closed port)."""
    from portal.tools.net import free_port

    app = create_app(settings.with_(redis_url=f"redis://127.0.0.1:{free_port()}/0", store_timeout_s=1.0))
    thread = app.extensions["mallportal"].warm_up_in_background()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert app.extensions["mallportal"].models._models == {}
