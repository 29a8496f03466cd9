"""Drafts: a set of map changes (console edits, imports) kept aside, previewed with a diff, then applied
as ONE map version (one model rebuild) or abandoned.

A draft records its steps as `(edit name, JSON arguments)` of fingerprints.edits; each step is checked
when added (replayed on the current map with the steps before it) and the whole list is replayed inside
one `VenueStore.edit` when applied, so changes others made meanwhile are kept, not overwritten.

Keys (the venue's hash tag):
- `draft:<id>`  hash: title, by, created, base (the version it was started on), steps (JSON list);
- `drafts`      set of open draft ids.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import redis

from core.errors import CatalogText
from core.storage import VenueKeys
from fingerprints.edits import N_, EditError, apply_edit
from fingerprints.model import VenueMap
from fingerprints.store import VenueStore

MAX_DRAFTS = 20
DRAFT_TTL_S = 30 * 86400


def imdf_note(filename: str, notes: int = 0) -> CatalogText:
    """A step's note for an IMDF plan added; `notes`: how many notes its import made (a unit that kept only its
    largest part, a sliver cut, a category kept unlisted, holes filled...), each shown when it was added."""
    if notes:
        return CatalogText(N_("IMDF %(file)s (%(n)s import note(s))"), file=filename, n=notes)
    return CatalogText(N_("IMDF %(file)s"), file=filename)


def aps_note(count: int, filename: str) -> CatalogText:
    return CatalogText(N_("%(n)s APs from %(file)s"), n=count, file=filename)


def samples_note(count: int, filename: str, mode: str | None = None) -> CatalogText:
    """`mode` (replace or append) is named where the sender chose it (the CLI)."""
    if mode == "append":
        return CatalogText(N_("%(n)s samples (append) from %(file)s"), n=count, file=filename)
    if mode == "replace":
        return CatalogText(N_("%(n)s samples (replace) from %(file)s"), n=count, file=filename)
    return CatalogText(N_("%(n)s samples from %(file)s"), n=count, file=filename)


def walkways_note(filename: str, nodes: int, links: int) -> CatalogText:
    return CatalogText(N_("walkways from %(file)s: %(nodes)s nodes, %(links)s links"), file=filename, nodes=nodes,
                       links=links)


class DraftKeys(VenueKeys):
    def draft(self, draft_id: str) -> str:
        return self.key("draft", draft_id)

    def drafts(self) -> str:
        return self.key("drafts")


@dataclass
class Draft:
    id: str
    venue: str
    title: str
    by: str
    created: float
    base: int
    steps: list[dict[str, Any]]


def empty_map(venue: str) -> VenueMap:
    """What a new venue's first draft starts from (its first step is usually an IMDF import)."""
    return VenueMap(id=venue, name=venue, name_zh=venue, floors=[])


def diff_maps(before: VenueMap, after: VenueMap) -> dict[str, dict[str, list[str]]]:
    """What a draft changes, per part of the map: ids added, removed and changed."""
    def keyed(m: VenueMap) -> dict[str, dict[str, Any]]:
        return {
            "floors": {str(f.level): f for f in m.floors}, "aps": {a.bssid: a for a in m.aps},
            "zones": {z.id: z for z in m.zones}, "shops": {s.id: s for s in m.shops},
            "amenities": {a.id: a for a in m.amenities},
            "nodes": {n.id: n for n in m.nodes}, "edges": {f"{e.a}-{e.b}": e for e in m.edges},
            "samples": {f"{s.floor}:{s.x:g},{s.y:g}": s for s in m.samples},
        }

    out = {}
    old, new = keyed(before), keyed(after)
    for part in old:
        a, b = old[part], new[part]
        out[part] = {"added": sorted(set(b) - set(a)), "removed": sorted(set(a) - set(b)),
                     "changed": sorted(k for k in set(a) & set(b) if a[k] != b[k])}
    if before.origin != after.origin:  # the plan moved or turned on Earth (a re-import): lat/lon lists follow it
        out["origin"] = {"added": [], "removed": [], "changed": ["origin"]}
    return out


class DraftStore:
    def __init__(self, db: redis.Redis, venues: VenueStore) -> None:
        self.db = db
        self.venues = venues

    def open(self, venue: str, title: str, by: str = "-") -> Draft:
        keys = DraftKeys(venue)
        if self.db.scard(keys.drafts()) >= MAX_DRAFTS:
            raise EditError(N_("This venue has %(n)s open drafts; apply or abandon some first."), n=MAX_DRAFTS)
        draft = Draft(id=secrets.token_hex(6), venue=venue, title=title.strip()[:80] or "draft", by=by,
                      created=time.time(), base=self.venues.current_version(venue), steps=[])
        with self.db.pipeline() as pipe:
            pipe.hset(keys.draft(draft.id), mapping={"title": draft.title, "by": by, "created": draft.created,
                                                     "base": draft.base, "steps": "[]"})
            pipe.expire(keys.draft(draft.id), DRAFT_TTL_S)
            pipe.sadd(keys.drafts(), draft.id)
            pipe.execute()
        return draft

    def get(self, venue: str, draft_id: str) -> Draft | None:
        raw = self.db.hgetall(DraftKeys(venue).draft(str(draft_id)[:32]))
        if not raw:
            return None
        d = {k.decode(): v.decode() for k, v in raw.items()}
        return Draft(id=draft_id, venue=venue, title=d["title"], by=d["by"], created=float(d["created"]),
                     base=int(d["base"]), steps=json.loads(d["steps"]))

    def list(self, venue: str) -> list[Draft]:
        ids = sorted(v.decode() for v in self.db.smembers(DraftKeys(venue).drafts()))
        drafts = [self.get(venue, i) for i in ids]
        return [d for d in drafts if d is not None]

    def _require(self, venue: str, draft_id: str) -> Draft:
        draft = self.get(venue, draft_id)
        if draft is None:
            raise EditError(N_("There is no draft %(d)s (applied or abandoned already?)."), d=repr(draft_id[:32]))
        return draft

    def preview(self, venue: str, draft_id: str) -> tuple[VenueMap, VenueMap]:
        """(current map, current map with the draft's steps replayed). Raises EditError if a step no
        longer applies (e.g. somebody deleted the zone it changes)."""
        draft = self._require(venue, draft_id)
        current = self.venues.get_map(venue) or empty_map(venue)
        after = current.copy()
        for step in draft.steps:
            apply_edit(after, step["edit"], step["args"])
        return current, after

    def add(self, venue: str, draft_id: str, edit: str, args: dict[str, Any], note: str = "") -> int:
        """Add a step after checking it applies on top of the others; returns the number of steps. The
        draft is read, checked and written under the venue's map lock (so two tabs do not lose a step)."""
        with self.venues.locked(venue):
            draft = self._require(venue, draft_id)
            _, after = self.preview(venue, draft_id)
            apply_edit(after, edit, args)  # EditError: the step is refused, the draft unchanged
            step: dict[str, Any] = {"edit": edit, "args": args, "note": note[:200]}
            if isinstance(note, CatalogText):  # a console says it in the page's language (`said`)
                step["said"] = {"template": note.template, "params": note.params}
            steps = [*draft.steps, step]
            self.db.hset(DraftKeys(venue).draft(draft.id), "steps", json.dumps(steps, separators=(",", ":")))
        return len(steps)

    def apply(self, venue: str, draft_id: str, by: str | None = None) -> int:
        """All the steps as one map version (one audit entry, one model rebuild). Returns the version. `by`:
        who, when not the account of the request it is applied in (a command: "cli")."""
        self._require(venue, draft_id)
        extra = {"by": by} if by else {}
        with self.venues.edit(venue, "draft.apply", create=empty_map(venue), draft=draft_id, **extra) as venue_map:
            draft = self._require(venue, draft_id)  # again under the lock: applied once
            if not draft.steps:
                raise EditError(N_("The draft is empty; nothing to apply."))
            for step in draft.steps:
                apply_edit(venue_map, step["edit"], step["args"])
            self._forget(venue, draft.id)
        return venue_map.version

    def abandon(self, venue: str, draft_id: str) -> bool:
        return self._forget(venue, draft_id)

    def _forget(self, venue: str, draft_id: str) -> bool:
        keys = DraftKeys(venue)
        with self.db.pipeline() as pipe:
            pipe.delete(keys.draft(draft_id))
            pipe.srem(keys.drafts(), draft_id)
            deleted, _ = pipe.execute()
        return bool(deleted)
