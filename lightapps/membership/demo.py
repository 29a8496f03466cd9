"""Demo data: one member with a few purchases."""

from __future__ import annotations

from lightapps.membership.store import MemberStore

DEMO_PHONE = "+8613800138000"
DEMO_RECEIPTS = (("pixel", "DEMO-0001", 89900), ("kopi", "DEMO-0002", 4550), ("lumen", "DEMO-0003", 32900))


def seed(svc, venue_map) -> None:
    """A demo member (phone +86 138 0013 8000, Gold after three purchases), unless the venue has members.
    Open the card by signing up with that number; the development sender logs the code."""
    store = MemberStore.from_services(svc)
    if not store.claim_seed_slot(venue_map.id):
        return
    member, _created = store.bind(venue_map.id, DEMO_PHONE, "demo-seed")
    store.forget_client(venue_map.id, "demo-seed")
    for shop, receipt, cents in DEMO_RECEIPTS:
        store.post_purchase(venue_map.id, member.id, receipt, shop, cents)
