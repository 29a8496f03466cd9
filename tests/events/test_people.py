"""One spelling of a person (portal/events/people.py) for the moments engine, the insights and the privacy centre:
the names already in stores ("s:", "p:", "m:") are read as they were written, and the two readers of who an event
names agree on every real person: the insights' buyers (`prepare`) and the moments' visitors (`observe`). They part
only on a pseudonym the retention job wrote: one buyer of its day for the insights, nobody lasting for the moments."""

from __future__ import annotations

from portal.events.insights import prepare
from portal.events.log import Event
from portal.events.moments import VisitBook, message_ids, observe
from portal.events.people import member_ref, phone_ref, ref_name, shopper_ref

T = 1_800_000_000.0


def test_the_names_are_spelled_as_the_stores_hold_them():
    assert (shopper_ref("s-1"), phone_ref("d-1"), member_ref(100001)) == ("s:s-1", "p:d-1", "m:100001")
    assert [ref_name(s) for s in ("d-1", "s:s-1", "m:100001")] == ["p:d-1", "s:s-1", "m:100001"]
    assert message_ids("s-1", "p:d-1", None) == ("p:d-1", "s:s-1")


def purchase(i: int, shopper: str | None, **data) -> Event:
    return Event("txn", T + i, "v", None, shopper, "kopi", {"app": "coupons", "action": "coupon_claim", **data})


def test_the_insights_and_the_moments_name_the_same_people():
    events = [purchase(0, "s-a", member=100001),  # a member's own event
              purchase(1, "s-a"),  # her shopper id, known as the member's from the event before
              purchase(2, "s-b"),  # an anonymous shopper
              purchase(3, None),  # nobody
              purchase(4, "anon-0123456789abcdef")]  # anonymised: a pseudonym of its venue day
    buyers = [who for _at, who, _zone in prepare(events).buys]
    book = VisitBook()
    visitors = [observe(book, e).identity for e in events]
    assert buyers[:4] == visitors[:4] == ["m:100001", "m:100001", "s:s-b", None]
    assert (buyers[4], visitors[4]) == ("s:anon-0123456789abcdef", None)
