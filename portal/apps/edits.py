"""A settings form saved from a stale page: another tab, or another person, saved the same settings after it was
opened. Posting every field as the page showed it would put back what the other save changed, so the form also
carries what it showed (`LOADED`, `loaded_field`), and a save writes only the fields the owner changed on this page
over what is stored now (`merge`). A field changed both here and elsewhere, to different values, is a conflict: the
save is refused (409) and the form shown again with the owner's values and what was saved elsewhere, so nothing
is lost either way.

The write is made only if the record is still as the merge read it, checked in the step that writes: under WATCH
(portal/apps/zone_apps.py), or in a script comparing `redis.sha1hex` of the stored bytes, the same SHA-1 as
`version` (the queue's menu)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _

LOADED = "loaded"  # the form field holding what the page showed (JSON)
MAX_LOADED_CHARS = 20_000


def loaded_field(values: Mapping[str, Any]) -> str:
    """What a page shows, as its form's LOADED field."""
    return json.dumps(dict(values), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def read_loaded(raw: str | None) -> dict[str, Any] | None:
    """A form's LOADED field; None when absent or not ours (a script's post: its values are saved as sent)."""
    if not raw or len(raw) > MAX_LOADED_CHARS:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def merge(loaded: Mapping[str, Any], typed: Mapping[str, Any],
          current: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(each field of `typed`: the owner's value where it differs from what the page showed, else the stored
    one; the fields changed both here and elsewhere to different values)."""
    merged, conflicts = {}, []
    for name, value in typed.items():
        shown, stored = loaded.get(name), current.get(name, value)
        if value == shown:
            merged[name] = stored
            continue
        merged[name] = value
        if stored not in (shown, value):
            conflicts.append(name)
    return merged, conflicts


def version(raw: bytes | None) -> str:
    """The version of a stored record (its bytes; None: no record), as a script's `redis.sha1hex(raw or '')`."""
    return hashlib.sha1(raw or b"").hexdigest()  # noqa: S324 - a change detector, not a secret


def conflict_text(changes: str) -> str:
    """The refusal of a stale save; `changes`: what was saved elsewhere ("Price: 30.00; Available: no")."""
    return _("Changed elsewhere since you opened this page: %(changes)s. Your values are shown: save again to "
             "keep them, or reload the page to take the saved ones.", changes=changes)


def shown_value(value: Any) -> str:
    """A stored setting as the refusal names it."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return f"“{value}”" if isinstance(value, str) else str(value)
