"""What the apps' privacy hooks share (a store's `export_shopper(venue, client) -> dict` and
`forget_shopper(venue, client) -> int`, called by portal/apps/views.py for the privacy centre): finding a
venue's keys by pattern, and unlinking a shopper from a record another party still needs (a sold seat, a
redeemed code, a place in a queue) atomically, without deleting the record."""

from __future__ import annotations

import redis

from core.storage import scan_slot

# KEYS[1] a hash. ARGV: field, the shopper. The field is blanked when it names the shopper.
_BLANK_FIELD = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], '')
  return 1
end
return 0
"""

# KEYS[1] a hash of JSON records. ARGV: record id, JSON field, the shopper, then fields the shopper wrote into the
# record (a guest name, a note). The record's field is blanked, and those fields removed, when it names the shopper
# (the record, its state and its place stay).
_BLANK_JSON = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local record = cjson.decode(raw)
if record[ARGV[2]] ~= ARGV[3] then return 0 end
record[ARGV[2]] = ''
for i = 4, #ARGV do record[ARGV[i]] = nil end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
return 1
"""


def glob_escape(text: str) -> str:
    """A literal part of a SCAN pattern (an id inside a key builder's name)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def keys_matching(db: redis.Redis, pattern: str) -> list[str]:
    """The keys a glob pattern (built from the store's key builders, in one venue's slot) matches: on a
    cluster, a scan of that slot's primary only (core/storage.py scan_slot)."""
    return [k.decode() if isinstance(k, bytes) else k for k in scan_slot(db, pattern)]


def blank_field(db: redis.Redis, key: str, field: str, client: str) -> int:
    """Blank `field` of the hash `key` if it is this shopper (1 if it was)."""
    return int(db.register_script(_BLANK_FIELD)(keys=[key], args=[field, client]))


def blank_json(db: redis.Redis, key: str, record_id: str, field: str, client: str, also: tuple[str, ...] = ()) -> int:
    """Blank `field` of the JSON record `record_id` in the hash `key` if it is this shopper, and remove the fields
    `also` (what the shopper wrote into it: a name, a note) from it then (1 if it was)."""
    return int(db.register_script(_BLANK_JSON)(keys=[key], args=[record_id, field, client, *also]))
