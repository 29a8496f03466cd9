"""How long the moments' visit book keeps who visited when (`mp:{venue}:mom:visit`, one hash per venue): an
anonymous shopper's latest visit ("s:<shopper id>") only as long as her shopper token lives, a member's ("m:")
long enough for the longest `return` rule; fields expire in the real store."""

from __future__ import annotations

import time

import pytest
from werkzeug.datastructures import MultiDict

from portal.events.log import EventLog
from portal.events.moments import (
    SHOPPER_VISIT_KEPT_S,
    TIER_KEPT_S,
    VISIT_KEPT_S,
    MomentKeys,
    MomentsEngine,
    RuleError,
    StoredVisitBook,
    parse_rule,
)

DAY = 86400
T0 = 1_800_000_000.0  # a fixed past moment: the field TTLs count from the store's clock, never from it
ZONES = ["atrium", "kopi"]


def rule(**form) -> object:
    form = {"name": "r", "message_en": "Hello", "cap_per_day": "0", "cooldown_h": "0", **form}
    return parse_rule(MultiDict(form), zones=ZONES, owner="ops", may_webhook=True, now=T0)


def visit(log: EventLog, t: float, device: str, shopper: str, **data) -> None:
    """A phone arrives and lands (a fresh token: identifies nobody); its shopper transacts ten minutes later."""
    log.emit("v1", "arrive", at=t, device=device)
    log.emit("v1", "landing", at=t + 30, device=device, shopper=f"s-fresh-{device}", zone="atrium")
    log.emit("v1", "txn", at=t + 600, device=device, shopper=shopper, zone="kopi", app="coupons",
             action="coupon_claim", **data)


def field_ttls(db) -> dict[str, int]:
    key = MomentKeys("v1").visits()
    names = [n.decode() for n in db.hkeys(key)]
    return dict(zip(names, db.httl(key, *names), strict=True)) if names else {}


def engine_with_visits(db, **options) -> MomentsEngine:
    """Twenty anonymous shoppers (new MAC, new shopper id each) and one member, through the engine."""
    log = EventLog(db)
    engine = MomentsEngine(db, log, **options)
    engine.save("v1", rule(trigger="first_visit", action="offer"))
    engine.ensure("v1", start="0")
    for i in range(20):
        visit(log, T0 + i * 60, f"mac-{i}", f"s-anon-{i}")
    visit(log, T0 + 3600, "mac-m", "s-member-phone", member="100001")
    engine.drain("v1")
    return engine


def test_anonymous_visits_last_the_token_lifetime_and_a_members_the_longest_return(db):
    engine_with_visits(db)
    ttls = field_ttls(db)
    anonymous = {name: ttl for name, ttl in ttls.items() if name.startswith("s:")}
    assert len(anonymous) == 20
    assert all(SHOPPER_VISIT_KEPT_S - 60 < ttl <= SHOPPER_VISIT_KEPT_S for ttl in anonymous.values()), anonymous
    # The longest window a `return` rule may have is 365 days: the member's visit outlives it.
    rule(trigger="return", return_days="365", action="offer")
    with pytest.raises(RuleError):
        rule(trigger="return", return_days="366", action="offer")
    assert 365 * DAY < ttls["m:100001"] <= VISIT_KEPT_S


def test_the_bound_follows_the_configured_token_lifetime_up_to_a_members(db):
    engine_with_visits(db, shopper_kept_s=90 * DAY)  # SHOPPER_TOKEN_TTL_S=90 days
    ttls = field_ttls(db)
    assert all(90 * DAY - 60 < ttl <= 90 * DAY for name, ttl in ttls.items() if name.startswith("s:"))
    assert StoredVisitBook(db, "v1", shopper_kept_s=5000 * DAY).kept_s("visits", "s:x") == VISIT_KEPT_S


def test_a_shopper_whose_record_expired_is_new_again_a_member_is_not(db):
    log = EventLog(db)
    engine = MomentsEngine(db, log, shopper_kept_s=3600)  # an hour's token lifetime, run out below
    first, back = rule(trigger="first_visit", action="offer"), rule(trigger="return", return_days="7", action="offer")
    for r in (first, back):
        engine.save("v1", r)
    engine.ensure("v1", start="0")
    visit(log, T0, "mac-a1", "s-kept")
    visit(log, T0 + 100, "mac-m1", "s-member-1", member="100001")
    engine.drain("v1")
    key = MomentKeys("v1").visits()
    assert db.hget(key, "s:s-kept") is not None and 0 < db.httl(key, "s:s-kept")[0] <= 3600
    db.hpexpire(key, 1, "s:s-kept")  # the hour is up: the store's own field expiry, however slow the machine
    deadline = time.monotonic() + 30
    while db.hget(key, "s:s-kept") is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert db.hget(key, "s:s-kept") is None
    assert db.hget(MomentKeys("v1").visits(), "m:100001") is not None
    # Ten days on: the shopper's token could not have lived that long, so she is a new shopper (a first
    # visit); the member returns.
    visit(log, T0 + 10 * DAY, "mac-a2", "s-kept")
    visit(log, T0 + 10 * DAY + 100, "mac-m2", "s-member-2", member="100001")
    engine.drain("v1")
    assert engine.fired("v1") == {first.id: 3, back.id: 1}


def test_a_phones_member_tier_expires_too(db):
    """The phone -> tier hash is keyed by randomised phone ids: each field expires (TIER_KEPT_S)."""
    log = EventLog(db)
    engine = MomentsEngine(db, log)
    engine.save("v1", rule(trigger="first_visit", action="offer"))
    engine.ensure("v1", start="0")
    visit(log, T0, "mac-gold", "s-gold-phone", member="100002", tier="gold")
    engine.drain("v1")
    key = MomentKeys("v1").tiers()
    assert db.hget(key, "mac-gold") == b"gold"
    assert 0 < db.httl(key, "mac-gold")[0] <= TIER_KEPT_S
