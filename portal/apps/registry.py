"""The light-app registry: each app's name, titles, config schema and landing view.

The apps are named, by module, in the LIGHT_APPS setting (core/settings.py); `load()` imports each and
registers the `APP = LightApp(...)` its __init__ defines. The host never imports an app by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint


@dataclass(frozen=True)
class ConfigField:
    """One field of an app's per-zone config; the owner console builds its form from these."""

    name: str
    label: str
    type: str = "str"  # str, int, float, bool, choice, text
    default: Any = None
    required: bool = False
    min: float | None = None
    max: float | None = None
    max_length: int = 200
    choices: tuple[str, ...] = ()
    help: str = ""

    def parse(self, raw: Any) -> Any:
        """Form or JSON value -> typed value; ValueError with a user-facing message if invalid."""
        if raw is None or raw == "":
            if self.type == "bool":
                return False
            if self.required:
                raise ValueError(f"{self.label} is required")
            return self.default
        if self.type == "bool":
            return raw in (True, "on", "true", "1", 1, "yes")
        if self.type in ("int", "float"):
            try:
                value = int(raw) if self.type == "int" else float(raw)
            except (TypeError, ValueError):
                raise ValueError(f"{self.label} must be a number") from None
            if self.min is not None and value < self.min:
                raise ValueError(f"{self.label} must be at least {self.min:g}")
            if self.max is not None and value > self.max:
                raise ValueError(f"{self.label} must be at most {self.max:g}")
            return value
        value = str(raw).strip()
        if len(value) > self.max_length:
            raise ValueError(f"{self.label} must be at most {self.max_length} characters")
        if self.type == "choice" and value not in self.choices:
            raise ValueError(f"{self.label} must be one of: {', '.join(self.choices)}")
        return value


@dataclass(frozen=True)
class LightApp:
    name: str
    title_en: str
    title_zh: str
    blueprint: Blueprint
    landing_endpoint: str  # endpoint taking (venue, zone) that a shopper in the zone lands on
    config_schema: tuple[ConfigField, ...] = ()
    zone_kinds: tuple[str, ...] = ()  # kinds of zone this app suits (a hint for owners)
    init_app: Callable | None = None  # optional hook: (flask_app) -> None
    seed_demo: Callable | None = None  # optional hook: (services, venue_map) -> None, fills demo data
    console_endpoint: str | None = None  # optional endpoint taking (venue, zone): the app's own owner console

    def validate_config(self, raw: dict[str, Any]) -> dict[str, Any]:
        """All fields parsed; raises ValueError naming the first bad field."""
        return {f.name: f.parse(raw.get(f.name)) for f in self.config_schema}

    def default_config(self) -> dict[str, Any]:
        return {f.name: f.default for f in self.config_schema}


_REGISTRY: dict[str, LightApp] = {}


def load(modules: Iterable[str]) -> dict[str, LightApp]:
    """Import each named app package (the LIGHT_APPS setting) and register its APP; the apps, by name."""
    loaded = {}
    for module_name in modules:
        app = getattr(importlib.import_module(module_name), "APP", None)
        if not isinstance(app, LightApp):
            raise RuntimeError(f"LIGHT_APPS names {module_name}, which defines no APP = LightApp(...)")
        _REGISTRY[app.name] = loaded[app.name] = app
    return loaded


def get(name: str) -> LightApp | None:
    return _REGISTRY.get(name)


def all_apps() -> list[LightApp]:
    return sorted(_REGISTRY.values(), key=lambda a: a.name)
