"""An earlier release's payments code imports `build_providers` lazily, on first use: a process of it that was
running when a new release was installed over it gets this release's `ProviderSet`, and used it as the dict it
had before 2026-12-07 (`.items()`, `in`, `[name]`): a 500 on every payment page and callback, and a sweep failing
every round until restarted. The set reads as that mapping."""

from __future__ import annotations

from portal.payments.providers.base import ProviderError
from portal.payments.providers.registry import ProviderSet


class Named:
    methods = ("native",)


def test_the_set_reads_as_the_mapping_of_the_providers_set_up():
    providers = ProviderSet({"wechat": lambda: {"wechat": Named()}, "alipay": lambda: {"alipay": Named()}})
    assert sorted(name for name, _ in providers.items()) == ["alipay", "wechat"]
    assert "wechat" in providers and "paypal" not in providers and len(providers) == 2
    assert isinstance(providers["alipay"], Named) and sorted(providers) == ["alipay", "wechat"]


def test_a_provider_whose_set_up_fails_is_left_out_of_the_mapping():
    def broken() -> dict:
        raise ProviderError("no platform certificate")

    providers = ProviderSet({"wechat": broken, "alipay": lambda: {"alipay": Named()}}, clock=lambda: 0.0)
    assert list(providers) == ["alipay"] and "wechat" not in providers


def test_with_every_set_up_failing_the_mapping_is_empty_not_an_error():
    """The earlier release asked `name in providers` outside its error handling, and said "unavailable" for a name
    not found; `current` raises then (the payment pages' own answer)."""
    def broken() -> dict:
        raise ProviderError("sandbox not started")

    providers = ProviderSet({"sandbox": broken}, clock=lambda: 0.0)
    assert "sandbox" not in providers and len(providers) == 0 and dict(providers.items()) == {}
