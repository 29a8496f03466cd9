"""The config form of a light app, generated from its `config_schema`, and its validation.

Each field is parsed on its own so every bad field gets its message next to it; the config that is
saved is `LightApp.validate_config`'s result (the app's own rules), and only when no field failed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from portal.apps import edits
from portal.apps.registry import ConfigField, LightApp
from portal.errors import input_error_text

MAX_RAW_CHARS = 10_000  # a form value longer than this is cut before parsing (no field allows more)


@dataclass(frozen=True)
class FormField:
    """One rendered form field: the schema field, the value to show, and its error if any."""

    field: ConfigField
    value: Any
    error: str | None = None

    @property
    def input_id(self) -> str:
        return "cfg-" + self.field.name

    @property
    def label(self) -> str:
        return _(self.field.label) if self.field.label else self.field.name

    @property
    def help(self) -> str:
        return _(self.field.help) if self.field.help else ""

    @property
    def step(self) -> str:
        return "1" if self.field.type == "int" else "any"

    @property
    def checked(self) -> bool:
        return self.value in (True, "on", "true", "1", 1, "yes")

    @property
    def shown(self) -> str:
        return self.field.shown(self.value)


def _number(value: float) -> str:
    return f"{value:g}"


def field_error(field: ConfigField, exc: ValueError) -> str:
    """ConfigField.parse's English message, in the page's language (the same rules, restated); an app's own
    rule error that carries its catalog message and values (`template`, `params`) is translated as it is."""
    label = _(field.label) if field.label else field.name
    if isinstance(getattr(exc, "template", None), str):
        return input_error_text(exc, label=label)
    message = str(exc)
    if message.endswith(" is required"):
        return _("%(label)s is required.", label=label)
    if message.endswith(" must be a number"):
        return _("%(label)s must be a number.", label=label)
    if " must be at least " in message and field.min is not None:
        return _("%(label)s must be at least %(min)s.", label=label, min=_number(field.min))
    if " must be at most " in message and message.endswith(" characters"):
        return _("%(label)s must be at most %(n)s characters.", label=label, n=field.max_length)
    if " must be at most " in message and field.max is not None:
        return _("%(label)s must be at most %(max)s.", label=label, max=_number(field.max))
    if " must be one of" in message:
        return _("%(label)s must be one of: %(choices)s.", label=label, choices=", ".join(field.choices))
    return message


def saved_text(app: LightApp, name: str, value: Any) -> str:
    """A saved setting as a stale save's refusal names it: a money field's as its box shows it (fen in yuan)."""
    field = next((f for f in app.config_schema if f.name == name), None)
    return field.shown(value) if field is not None and field.type == "money" else edits.shown_value(value)


def raw_values(app: LightApp, form) -> dict[str, Any]:
    """The submitted values of the app's fields (a missing checkbox is absent, i.e. off)."""
    raw: dict[str, Any] = {}
    for field in app.config_schema:
        value = form.get(field.name)
        if value is not None:
            raw[field.name] = value[:MAX_RAW_CHARS] if isinstance(value, str) else value
    return raw


def validate(app: LightApp, raw: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """(config, {}) when every field is valid, else (None, {field name: message})."""
    errors: dict[str, str] = {}
    for field in app.config_schema:
        try:
            field.parse(raw.get(field.name))
        except ValueError as exc:
            errors[field.name] = field_error(field, exc)
    if errors:
        return None, errors
    try:
        return app.validate_config(raw), {}
    except ValueError as exc:  # pragma: no cover - the per-field pass above already found it
        return None, {"": str(exc)}


def build_form(app: LightApp, values: dict[str, Any], errors: dict[str, str] | None = None) -> list[FormField]:
    errors = errors or {}
    defaults = app.default_config()
    return [FormField(field=f, value=values.get(f.name, defaults.get(f.name)), error=errors.get(f.name))
            for f in app.config_schema]
