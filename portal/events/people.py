"""How the host names a person across the event log's readers (the moments engine, the insights, the privacy
centre, the simulation's truth): one spelling, written here only.

    s:<shopper id>   a shopper token's id (each captive landing mints a new one)
    p:<phone>        a phone, by its client id (a MAC's keyed hash)
    m:<member>       a member, by the number her events carry as `member` (portal.apps.capabilities MEMBERS)

These names are stored (the moments' `refs` sets, caps and cooldowns, visit book and daily message counts), so the
spelling never changes: a store written before must still be read. A member or a shopper id is an identity (it
outlives the phone's randomised MAC); a phone is not."""

from __future__ import annotations

from collections.abc import Callable

from portal.events.log import Event

SHOPPER, PHONE, MEMBER = "s:", "p:", "m:"
IDENTITIES = (SHOPPER, MEMBER)
ANON = "anon-"  # a pseudonym the retention job wrote for a phone or shopper id (privacy.py)

MemberOf = Callable[[str], str | None]  # shopper id -> the member she is, as her events name her; None: not one


def shopper_ref(shopper: str) -> str:
    return SHOPPER + shopper


def phone_ref(phone: str) -> str:
    return PHONE + phone


def member_ref(member: object) -> str:
    """An event's `member` may be stored as a number: it names the member as its text does."""
    return MEMBER + str(member)


def is_identity(name: str) -> bool:
    """`name` is a shopper's or a member's ref, not a phone (a raw client id or a "p:")."""
    return name.startswith(IDENTITIES)


def ref_name(subject: str) -> str:
    """A rule's subject (whom its caps count: a raw phone id or an identity) as the person it names: an identity as
    it is, a phone as its "p:" ref."""
    return subject if is_identity(subject) else phone_ref(subject)


def is_pseudonym(who: str | None) -> bool:
    return bool(who) and who.startswith(ANON)


def identity_of(event: Event, member_of: MemberOf) -> str | None:
    """Who an event names, for counting people in its day (the insights' new vs repeat buyers): her member, else
    her shopper id. A pseudonym counts too: the retention job gives one person one pseudonym a venue day, so it is
    one buyer of that day (`Insights.anonymised` already withholds what looks back over days)."""
    if event.data.get("member"):
        return member_ref(event.data["member"])
    if not event.shopper:
        return None
    member = member_of(event.shopper)
    return member_ref(member) if member else shopper_ref(event.shopper)


def durable_identity_of(event: Event, member_of: MemberOf) -> str | None:
    """As `identity_of`, for what lasts beyond a day (the moments' first visit, return and per-person limits):
    None for a pseudonym, which stands for nobody after its day. Booked as a visit, each anonymised day would be
    someone's first visit, and no offer or message reaches it."""
    if not event.data.get("member") and is_pseudonym(event.shopper):
        return None
    return identity_of(event, member_of)
