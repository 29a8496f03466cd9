"""The venue's audit log, read-only, for its operators: who changed what and when, newest first (console
pages under the account's name, the command line as "cli", a shopper's own export as "shopper (self)").

    /console/ops/<venue>/audit     the newest SHOWN entries (the log keeps AuditLog.KEEP)

`flask audit VENUE [--limit N]` prints the same from a terminal (portal/cli.py)."""

from __future__ import annotations

import json
from typing import Any

from flask import render_template

from portal.auth import AuditLog
from portal.operator.blueprint import bp, works_without_map
from portal.services import services

SHOWN = 200
DETAIL_CHARS = 200  # one value; a zone's settings change can be long


def _value_text(value: Any) -> str:
    """A plain word as it is; anything else (spaces, quotes, numbers, lists) as JSON, so `k=v` pairs stay
    readable; cut at DETAIL_CHARS."""
    plain = isinstance(value, str) and value and value.isprintable() and not any(c in value for c in " \"'=")
    text = value if plain else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS - 1] + "…"


def detail_text(detail: dict[str, Any] | None) -> str:
    """An entry's details as `key=value` pairs, in the order they were recorded."""
    return " ".join(f"{key}={_value_text(value)}" for key, value in (detail or {}).items())


@bp.get("/<venue>/audit")
@works_without_map  # a venue's first drafts and accounts are audited before it has a map
def audit_log(venue: str):
    entries = [{**entry, "text": detail_text(entry.get("detail"))}
               for entry in AuditLog(services().db).recent(venue, SHOWN)]
    page = render_template("operator/audit.html", venue=venue, entries=entries, shown=SHOWN)
    return page, 200, {"Cache-Control": "no-store"}
