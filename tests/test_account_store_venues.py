"""AccountStore.add_venue and remove_venue: a mall group's operator's further venues, each checked and written in one
step on the account's one key (`flask users add-venue` / `remove-venue` call them)."""

from __future__ import annotations

from portal.auth import AccountStore


def test_remove_venue_undoes_add_venue_and_says_whether_it_did(db):
    store = AccountStore(db)
    store.create("group-ops", None, "operator", "demo")
    store.add_venue("group-ops", "east")
    store.add_venue("group-ops", "west")
    assert store.remove_venue("group-ops", "east") is True
    assert store.get("group-ops").more_venues == ("west",) and store.get("group-ops").venue == "demo"
    assert store.remove_venue("group-ops", "east") is False  # not run any more: nothing written
    assert store.remove_venue("group-ops", "demo") is False  # its own venue is no further one
    assert store.remove_venue("nobody", "east") is False
    assert not db.exists(store.keys.account("nobody"))  # no account made by asking
    assert store.get("group-ops").more_venues == ("west",)
