"""What a group buy tells its members (through portal.apps.notify), each message once per member:
- complete: the group reached its size (sent to every member then, and to each later joiner);
- failed: it did not by the deadline. Scheduled for the deadline when a member joins, and withdrawn for
  everyone when the group completes, so the worker sends it at the deadline without anyone opening a page;
- cancelled: the organiser stopped it before it was settled."""

from __future__ import annotations

import hashlib
import hmac

from flask import url_for
from flask_babel import gettext as _

from lightapps.activities.store import Activity, ActivityStore
from portal.apps.notify import cancel, in_both, notify
from portal.services import services


def _member_ref(member: str) -> str:
    """A member as the messages' keys name them: a keyed digest of the client id (HMAC under the install's MAC
    hash key), not the id itself, since the outbox keeps a message's key (its `seen` marker, days) past the
    shopper's erasure; keyed, so that whoever knows a client id cannot find its markers without the key."""
    key = services().settings.mac_hash_key.encode()
    return hmac.new(key, b"activities.member|" + member.encode(), hashlib.sha256).hexdigest()[:24]


def _unkeyed_ref(member: str) -> str:
    """The unkeyed digest the keys had before: only to withdraw notices scheduled then."""
    return hashlib.blake2s(member.encode(), digest_size=12).hexdigest()


def _failed_key(item: Activity, member: str) -> str:
    return f"activities.group_failed:{item.id}:{_member_ref(member)}"


def _withdraw_failed(venue: str, item: Activity, member: str) -> None:
    """Withdraw the member's scheduled "group buy off". Also under the keys notices scheduled earlier still
    have (the client id itself, then its unkeyed digest), until the last such group buy's deadline (a year at
    most)."""
    cancel(venue, _failed_key(item, member))
    cancel(venue, f"activities.group_failed:{item.id}:{_unkeyed_ref(member)}")
    cancel(venue, f"activities.group_failed:{item.id}:{member}")


def _send(venue: str, item: Activity, member: str, event: str, texts: dict, at: float | None = None,
          key: str | None = None) -> None:
    notify(venue, member, event, {**texts, "title": item.title_zh or item.title_en,
                                  "path": url_for("activities.item", venue=venue, item_id=item.id)},
           key=key or f"{event}:{item.id}:{_member_ref(member)}", at=at)


def _title(item: Activity, lang: str) -> str:
    return str(item.title(lang == "zh"))


def after_join(store: ActivityStore, venue: str, item: Activity, member: str) -> None:
    """A member joined a group buy (`item` as read after the join)."""
    if item.kind != "group":
        return
    if item.taken >= item.needed:
        group_complete(store, venue, item)
        return
    texts = in_both(title=lambda lang: _("Group buy off: %(title)s", title=_title(item, lang)),
                    body=lambda lang: _("Fewer than %(n)s people joined by the deadline: nothing to pay.",
                                        n=item.needed))
    _send(venue, item, member, "activities.group_failed", texts, at=item.ends_at, key=_failed_key(item, member))


def group_complete(store: ActivityStore, venue: str, item: Activity) -> None:
    texts = in_both(title=lambda lang: _("Group buy on: %(title)s", title=_title(item, lang)),
                    body=lambda lang: _("%(n)s people joined: it goes ahead.", n=item.taken))
    for member in store.members(venue, item.id):
        _withdraw_failed(venue, item, member)
        _send(venue, item, member, "activities.group_done", texts)


def group_cancelled(store: ActivityStore, venue: str, item: Activity) -> None:
    """The organiser stopped a group buy that had no outcome yet."""
    texts = in_both(title=lambda lang: _("Group buy cancelled: %(title)s", title=_title(item, lang)),
                    body=lambda lang: _("The organiser cancelled it: nothing to pay."))
    for member in store.members(venue, item.id):
        _withdraw_failed(venue, item, member)
        _send(venue, item, member, "activities.group_cancelled", texts)
