"""The providers a portal pays with, each set up on its own (no SDK imported here: the service holds one of these
from its start, whether the providers were given or are built from the settings on first use)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping

from portal.payments.providers.base import Provider, ProviderError

log = logging.getLogger(__name__)
Builder = Callable[[], dict[str, Provider]]
SETUP_RETRY_S = 30.0  # a provider whose set-up failed is tried again after this, doubling up to SETUP_RETRY_MAX_S
SETUP_RETRY_MAX_S = 600.0


class ProviderSet(Mapping[str, Provider]):
    """The providers, each set up on its own on first use: one whose set-up fails (WeChat Pay's certificate
    download, the sandbox not started yet) leaves the others working, and is tried again after a back-off
    rather than at every page that lists the ways to pay. A read-only mapping of the providers set up (`current`),
    as `build_providers` returned before 2026-12-07: a process of the earlier release that imports this module
    after a new release was installed over it (its lazy import) keeps working until it is restarted."""

    def __getitem__(self, name: str) -> Provider:
        return self._readable()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._readable())

    def __len__(self) -> int:
        return len(self._readable())

    def _readable(self) -> dict[str, Provider]:
        """`current`, empty where it would raise: the earlier release asked `name in providers` outside its own
        error handling and said "unavailable" for a name it did not find."""
        try:
            return self.current()
        except ProviderError:
            return {}

    def __init__(self, builders: dict[str, Builder], clock: Callable[[], float] = time.monotonic) -> None:
        self._builders = dict(builders)  # what is still to set up
        self._ready: dict[str, Provider] = {}
        self._failed: dict[str, tuple[float, float, str]] = {}  # name -> (retry at, wait, why)
        self._clock = clock
        self._lock = threading.Lock()

    @classmethod
    def of(cls, providers: dict[str, Provider]) -> ProviderSet:
        ready = cls({})
        ready._ready = dict(providers)
        return ready

    def current(self) -> dict[str, Provider]:
        """Those set up; ProviderError when none is and one failed (the payment pages say "not available")."""
        if self._builders:
            with self._lock:
                for name in list(self._builders):
                    self._try(name)
        if not self._ready and self._failed:
            raise ProviderError(next(iter(self._failed.values()))[2])
        return dict(self._ready)  # a copy: another thread's set-up may add to it while the caller iterates

    def get(self, name: str) -> Provider:
        """The provider; ProviderError while its set-up fails, KeyError for one not configured."""
        providers = self.current()
        if name not in providers and name in self._failed:
            raise ProviderError(self._failed[name][2])
        return providers[name]

    def _try(self, name: str) -> None:
        now = self._clock()
        retry_at, wait, _why = self._failed.get(name, (0.0, SETUP_RETRY_S / 2, ""))
        if now < retry_at:
            return
        try:
            self._ready.update(self._builders[name]())
        except ProviderError as exc:
            wait = min(wait * 2, SETUP_RETRY_MAX_S)
            log.error("payment provider %s not available, tried again in %.0f s: %s", name, wait, exc)
            self._failed[name] = (now + wait, wait, str(exc))
            return
        del self._builders[name]
        self._failed.pop(name, None)
