"""A zone's recent changes as people read them: "Landing app changed to Cinema seats", not `zone.app.set`.

The host's own actions (landing app, settings, shop texts, images) are described here; an app's actions by
the texts it declares in `LightApp.history` (the host never names an app's actions)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask_babel import gettext as _

from portal.apps import registry
from portal.apps.views import format_time, is_zh


def _app_title(name: str) -> str:
    app = registry.get(name)
    if app is None:
        return name or "?"
    return app.title_zh if is_zh() else app.title_en


def _field_labels(app_name: str, names: list[str]) -> str:
    """The changed fields' labels, in the order of the app's form."""
    app = registry.get(app_name)
    schema = [f.name for f in app.config_schema] if app else []
    labels = {f.name: _(f.label) for f in app.config_schema} if app else {}
    ordered = sorted(names, key=lambda n: (schema.index(n) if n in schema else len(schema), n))
    return ", ".join(labels.get(n, n) for n in ordered) or _("nothing")


def media_kind_label(kind: str) -> str:
    return {"film": _("film poster"), "dish": _("dish photo"), "shop": _("shop image"),
            "event": _("activity image")}.get(kind, kind)


def describe(entry: dict[str, Any]) -> str:
    """One audit entry of a zone in words, in the page's language."""
    action, detail = entry.get("action", ""), entry.get("detail", {}) or {}
    if action == "zone.app.set":
        return _("Landing app changed to %(app)s (was %(previous)s)", app=_app_title(detail.get("app", "")),
                 previous=_app_title(detail.get("previous", "")))
    if action == "zone.config.set":
        return _("Settings of %(app)s changed: %(fields)s", app=_app_title(detail.get("app", "")),
                 fields=_field_labels(detail.get("app", ""), list(detail.get("changed", {}))))
    if action == "zone.shop.text":
        return _("Shop description edited (%(shop)s)", shop=detail.get("shop", ""))
    if action == "zone.media.set":
        return _("Image added: %(what)s", what=media_kind_label(detail.get("kind", "")))
    if action == "zone.media.remove":
        return _("Image removed: %(what)s", what=media_kind_label(detail.get("kind", "")))
    for app in registry.all_apps():
        text = app.history.get(action)
        if text is not None:
            return str(text) % defaultdict(str, {k: v for k, v in detail.items() if isinstance(v, str | int)})
    return _("Other change")


def zone_history(entries: list[dict[str, Any]], zone: str, shown: int) -> list[dict[str, Any]]:
    """The zone's entries among `entries` (newest first), each with `when` and `text`."""
    out = []
    for entry in entries:
        if (entry.get("detail") or {}).get("zone") != zone:
            continue
        out.append({**entry, "when": format_time(entry.get("ts", 0)), "text": describe(entry)})
        if len(out) >= shown:
            break
    return out
