"""The light-app contract and registry.

An app is a package named, by module, in the LIGHT_APPS setting (core/settings.py). Its `__init__.py`
declares `APP = LightApp(...)`: name, titles, landing endpoint, config schema, store class. Its other parts
are found by convention at the paths of RESOURCE_PATHS (NetBox's DEFAULT_RESOURCE_PATHS), relative to the
package; `LightApp.resources` renames or adds one. `load()` imports the apps and resolves their parts;
`portal/apps/platform.py` wires them into the Flask app. The host never imports an app by name."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint

from portal.payments.money import MAX_FEN, read_amount, yuan

# Part -> "module.attribute" inside the app's package. A part whose module does not exist is skipped; the
# shopper blueprint is required. Any further part named in LightApp.resources must be a Blueprint.
RESOURCE_PATHS: dict[str, str] = {
    "views": "views.bp",  # the shopper pages: a Blueprint
    "console": "console.console_bp",  # the zone owner's console: a Blueprint
    "api": "api.api_bp",  # a machine API: a Blueprint
    "demo": "demo.seed",  # seed(services, venue_map): idempotent demo data (runs on every start)
    "mine": "me.mine",  # mine(venue, shopper) -> list[MyItem]: the shopper's own things, for Me (portal/apps/mine.py)
    "paid": "me.paid",  # paid(venue, client) -> list[PaidThing]: her live paid things (portal/apps/paid.py)
}
# Parts that share their module with another part (me.py): an app whose module lacks one has no such part (an app
# that sells nothing has no paid things), where a missing attribute of another part is an error.
OPTIONAL_IN_MODULE = frozenset({"paid"})


TEXT_TYPES = ("str", "text")  # the types an owner may leave empty (a choice's empty is its default)


@dataclass(frozen=True)
class ConfigField:
    """One field of an app's per-zone config; the owner console builds its form from these."""

    name: str
    label: str
    type: str = "str"  # str, int, float, money, bool, choice, text
    default: Any = None
    required: bool = False
    # money: typed in yuan by the platform's amount rule (read_amount), stored as an int of fen, as are its
    # default, min and max; so an app reads fen under the same key whichever way the owner typed it.
    min: float | None = None
    max: float | None = None
    max_length: int = 200
    choices: tuple[str, ...] = ()
    help: str = ""

    def parse(self, raw: Any) -> Any:
        """Form or JSON value -> typed value; ValueError with a user-facing message if invalid.

        A field not sent at all (None) takes the schema default. A text field sent empty stays empty: the
        owner cleared it, e.g. wrote a headline in one language only, so the shopper is shown the other one
        (portal/apps/bilingual.py) rather than the app's generic default."""
        if raw is None or raw == "":
            return self._empty(raw)
        if self.type == "money":
            return read_amount(raw, low=int(self.min or 0), high=int(MAX_FEN if self.max is None else self.max),
                               field=self.label)
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
        value = str(raw).replace("\r\n", "\n").strip()  # a textarea's line break is sent as CRLF, counted as one
        if not value:  # only spaces: empty (and so refused when required)
            return self._empty("")
        if len(value) > self.max_length:
            raise ValueError(f"{self.label} must be at most {self.max_length} characters")
        if self.type == "choice" and value not in self.choices:
            raise ValueError(f"{self.label} must be one of: {', '.join(self.choices)}")
        return value

    def shown(self, value: Any) -> str:
        """A value as the form's box shows it: a saved money value (fen) in yuan, 500 -> "5.00", which `parse`
        reads back; a value as the owner typed it (a refused form's) as it is."""
        if value is None:
            return ""
        if self.type == "money" and isinstance(value, int | float) and not isinstance(value, bool):
            return yuan(int(value))
        return str(value)

    def _empty(self, raw: str | None) -> Any:
        """The value of a field left empty (""), or not sent at all (None)."""
        if self.type == "bool":
            return False
        if self.required:
            raise ValueError(f"{self.label} is required")
        if raw == "" and self.type in TEXT_TYPES:
            return ""
        return self.default


@dataclass(frozen=True)
class LightApp:
    """What an app declares in its __init__.py; the platform finds and wires the rest."""

    name: str
    title_en: str
    title_zh: str
    landing_endpoint: str  # endpoint taking (venue, zone) that a shopper in the zone lands on
    config_schema: tuple[ConfigField, ...] = ()
    zone_kinds: tuple[str, ...] = ()  # kinds of zone this app fits; an owner is offered only those (empty: all)
    # Only the venue's operator may turn the app on in a zone (it issues points or money: membership). A zone
    # owner is offered it, and may save its settings, only in a zone that runs it now (the operator put it
    # there); an owner may still switch such a zone to another app, and then cannot switch it back.
    operator_assigns: bool = False
    console_endpoint: str | None = None  # optional endpoint taking (venue, zone): the app's own owner console
    # optional endpoint taking (venue, zone): the console page with the app's image forms, when not the console's
    # first page (the owner returns there after an upload, and sees a refused one's message there)
    media_endpoint: str | None = None
    # The app's store: a class built once per process by the platform from the store connection (or by its
    # classmethod `from_services(services)`), handed out by portal.apps.views.app_store(APP).
    store: type | None = None
    resources: Mapping[str, str] = field(default_factory=dict)  # parts at other paths than RESOURCE_PATHS
    # How the zone console's history reads the app's audit actions: action -> a lazy_gettext text that may
    # use the entry's detail as %(name)s (portal/owner/history.py); an action not named here reads "Other change".
    # A zone's history shows only entries audited with the zone: `audit(action, venue, zone=zone, ...)`; an entry
    # without `zone=` is in the venue's audit log only.
    history: Mapping[str, Any] = field(default_factory=dict)
    # The app's abuse budgets' defaults (portal/apps/budgets.py): "<app>.<action>.<scope>" -> (count, window
    # seconds), e.g. {"lostfound.report.ip": (10, 3600)}; merged with the platform's at start, so BUDGETS and
    # `flask budgets set` take them. `spend_budget` of an action with none declared raises.
    budgets: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    init_app: Callable | None = None  # optional hook for what no convention covers: (flask_app) -> None
    # What the app offers other apps (portal/apps/capabilities.py): capability name -> factory(its store).
    provides: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    # Optional: what shoppers still hold in a zone that a change would cut them off from (a live queue number,
    # a ticket for a coming show): in_use(its store, venue, zone, config) -> the refusal in the page's language,
    # or None. `config` is the config about to be saved, or None when the zone is being switched to another
    # app (the shopper pages then answer 404). The owner console saves nothing while it answers something.
    in_use: Callable[[Any, str, str, dict[str, Any] | None], str | None] | None = None
    blueprint: Blueprint | None = None  # given only by an app that is not a package (tests); else views.bp
    seed_demo: Callable | None = None  # likewise; else demo.seed

    def validate_config(self, raw: dict[str, Any]) -> dict[str, Any]:
        """All fields parsed; raises ValueError naming the first bad field."""
        return {f.name: f.parse(raw.get(f.name)) for f in self.config_schema}

    def default_config(self) -> dict[str, Any]:
        return {f.name: f.default for f in self.config_schema}

    def zone_endpoints(self) -> dict[str, str]:
        """The endpoints it declares, by field, each built with (venue, zone)."""
        named = {"landing_endpoint": self.landing_endpoint, "console_endpoint": self.console_endpoint,
                 "media_endpoint": self.media_endpoint}
        return {name: endpoint for name, endpoint in named.items() if endpoint}

    def fits(self, zone_kind: str) -> bool:
        """Whether a zone of this kind may run the app (an app that names no kinds fits every zone)."""
        return not self.zone_kinds or zone_kind in self.zone_kinds

    def may_assign(self, role: str, running: str) -> bool:
        """Whether an account of `role` may put the app on a zone that runs `running` now: anyone, unless the
        app is `operator_assigns` (then an operator, or an owner where the zone runs it already)."""
        return not self.operator_assigns or role == "operator" or running == self.name


@dataclass(frozen=True)
class AppParts:
    """An app's parts as the platform found them."""

    blueprints: tuple[Blueprint, ...] = ()
    seed_demo: Callable | None = None
    mine: Callable | None = None  # the app's part of Me: mine(venue, shopper) -> list[MyItem]
    paid: Callable | None = None  # the shopper's live paid things: paid(venue, client) -> list[PaidThing]

    @property
    def shopper_blueprint(self) -> Blueprint:
        """The shopper pages' blueprint: the first, as `_find_parts` puts it (the one part every app has)."""
        return self.blueprints[0]


_REGISTRY: dict[str, LightApp] = {}
_PARTS: dict[str, AppParts] = {}


def load(modules: Iterable[str]) -> dict[str, LightApp]:
    """Import each named app package (the LIGHT_APPS setting), register its APP and find its parts; the
    apps, by name."""
    loaded = {}
    for module_name in modules:
        app = getattr(importlib.import_module(module_name), "APP", None)
        if not isinstance(app, LightApp):
            raise RuntimeError(f"LIGHT_APPS names {module_name}, which defines no APP = LightApp(...)")
        if app.name not in _PARTS or _REGISTRY.get(app.name) is not app:
            _PARTS[app.name] = _find_parts(app, module_name)
        _REGISTRY[app.name] = loaded[app.name] = app
    return loaded


def _find_parts(app: LightApp, package: str) -> AppParts:
    found = {name: _resource(package, path, name in OPTIONAL_IN_MODULE)
             for name, path in {**RESOURCE_PATHS, **app.resources}.items()}
    views = app.blueprint or found.pop("views", None)
    found.pop("views", None)
    seed = app.seed_demo or found.pop("demo", None)
    found.pop("demo", None)
    mine, paid = found.pop("mine", None), found.pop("paid", None)
    for name, part in (("mine", mine), ("paid", paid)):
        if part is not None and not callable(part):
            raise RuntimeError(f"light app {app.name}: {package}.{RESOURCE_PATHS[name]} must be a function")
    if not isinstance(views, Blueprint):
        raise RuntimeError(f"light app {app.name}: no shopper blueprint at {package}.{RESOURCE_PATHS['views']}")
    extra = [part for part in found.values() if part is not None]
    if not all(isinstance(part, Blueprint) for part in extra):
        raise RuntimeError(f"light app {app.name}: {sorted(found)} must be blueprints")
    return AppParts(blueprints=(views, *extra), seed_demo=seed, mine=mine, paid=paid)


def _resource(package: str, path: str, optional: bool = False) -> Any:
    """The object at package.path ("module.attribute"); None when that module does not exist (or, `optional`, when
    it has no such attribute)."""
    module_name, _, attribute = path.rpartition(".")
    full_name = f"{package}.{module_name}"
    try:
        module = importlib.import_module(full_name)
    except ModuleNotFoundError as exc:
        if exc.name == full_name:
            return None
        raise
    return getattr(module, attribute, None) if optional else getattr(module, attribute)


def get(name: str) -> LightApp | None:
    return _REGISTRY.get(name)


def parts(name: str) -> AppParts:
    return _PARTS.get(name, AppParts())


def all_apps() -> list[LightApp]:
    return sorted(_REGISTRY.values(), key=lambda a: a.name)


def apps_for_kind(zone_kind: str) -> list[LightApp]:
    """The apps a zone of this kind may run: what its owner is offered."""
    return [app for app in all_apps() if app.fits(zone_kind)]
