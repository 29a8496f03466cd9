"""One-time form tokens: a light-app form that changes something scarce (a draw, a prize handed out, a coupon
redeemed at the till) or makes something new (a coupon, an activity: `create_once`) carries one, and the app's
script keeps its first answer under it for a while, so the same form sent again (a double tap, a reload after
success) gets that answer instead of a second change, a duplicate or a refusal. A form that makes or calls something
keeps its first answer under its token *and what it says* (`read_form_once`): the same token sent again with other
content (the back button, an edit, send) is a new form and is acted on; a double tap sends the same content."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from typing import Any

from redis.commands.core import Script
from werkzeug.datastructures import MultiDict

NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_nonce() -> str:
    """A new form's one-time token."""
    return secrets.token_urlsafe(16)


def read_nonce(raw: str | None) -> str | None:
    """The form's one-time token, or None (none sent, or not one of ours: the form works as without one)."""
    return raw if raw and NONCE.fullmatch(raw) else None


# Sent with every form but not what it says: its one-time token, and Flask-WTF's CSRF token (the session's).
NOT_CONTENT = frozenset({"nonce", "csrf_token"})


def form_digest(form: MultiDict[str, str]) -> str:
    """A digest of what a form says (every field but NOT_CONTENT's, in any order; repeated fields each count)."""
    said = sorted((name, value) for name, value in form.items(multi=True) if name not in NOT_CONTENT)
    return hashlib.sha256(json.dumps(said).encode()).hexdigest()[:32]


def read_form_once(form: MultiDict[str, str]) -> str | None:
    """The name of the form's one-time record: its token and what it says ("<token>.<digest>"), or None (no token:
    the form works as without one). The token resent with other content names another record, so it is acted on."""
    nonce = read_nonce(form.get("nonce"))
    return f"{nonce}.{form_digest(form)}" if nonce else None


ONCE_TTL_S = 600  # a form's first answer is kept this long: a double tap, a reload, a slow network

# A new record (a hash, listed in an index) made once per form. KEYS: the record, the index (a sorted set)[, the
# form's one-time record]. ARGV: the record's id, its score in the index, how long the one-time record is kept
# (s), then the record's fields and values. Returns {'OK', id}, or {'REPLAY', the id the form's first sending made}.
CREATE_ONCE_LUA = """
if KEYS[3] then
  local first = redis.call('GET', KEYS[3])
  if first then return {'REPLAY', first} end
end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if KEYS[3] then redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[3]) end
return {'OK', ARGV[1]}
"""


def create_once(script: Script, record: str, index: str, once: str | None, record_id: str, score: float,
                mapping: dict[str, Any]) -> tuple[str, bool]:
    """Write the record and list it in `index` in one step (`script`: CREATE_ONCE_LUA, registered by the app's
    store), unless the form whose one-time record is `once` made one already: (the record's id, True when an earlier
    sending of the form made it and nothing was written now). `once` None: no form token, always written."""
    fields = [part for name, value in mapping.items() for part in (name, value)]
    status, made = script(keys=[record, index, *([once] if once else [])],
                          args=[record_id, repr(float(score)), ONCE_TTL_S, *fields])
    return made.decode(), status == b"REPLAY"
