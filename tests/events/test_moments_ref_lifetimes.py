"""How long the moments' erasure references (`mp:{venue}:mom:ref:<person>`) live, in the real store: every captive
probe lands a new shopper, whose only reference points at her phone's `mom:who` field (a day, overwritten by the
phone's next probe), so it lives a day too, not REF_TTL_S; a shopper a delivery names keeps hers REF_TTL_S (a later
landing never shortens it), and erasure finds what it points at either way."""

from __future__ import annotations

import time

from werkzeug.datastructures import MultiDict

from portal.events.log import EventLog
from portal.events.moments import OFFER_TTL_S, REF_MARGIN_S, REF_TTL_S, MomentKeys, MomentsEngine, parse_rule

KEYS = MomentKeys("v1")
PHONE = "02abcd000042"
SLACK_S = 600  # TTLs count down while the test runs: far more than it takes on a busy machine


def engine(db) -> MomentsEngine:
    engine = MomentsEngine(db, EventLog(db))
    engine.ensure("v1", start="0")
    return engine


def land(engine: MomentsEngine, shopper: str, at: float) -> None:
    engine.events.emit("v1", "landing", at=at, device=PHONE, shopper=shopper, zone="atrium")


def ref_ttls(db) -> dict[str, int]:
    return {key.decode(): db.ttl(key) for key in db.scan_iter(match=KEYS.refs("*"), count=1000)}


def test_many_probes_of_one_phone_leave_no_reference_past_the_phones_field(db):
    moments, at = engine(db), time.time() - 60
    for i in range(30):  # no rule at all: the landings are booked all the same
        land(moments, f"s-probe-{i}", at + i)
    moments.drain("v1")
    assert db.hget(KEYS.shoppers(), PHONE) == b"s-probe-29"
    [field_ttl] = db.httl(KEYS.shoppers(), PHONE)
    ttls = ref_ttls(db)
    assert len(ttls) == 30  # one per shopper, each gone with the field it points at (or, overwritten, sooner)
    assert all(0 < ttl <= field_ttl + REF_MARGIN_S for ttl in ttls.values()), ttls
    assert max(ttls.values()) <= OFFER_TTL_S + REF_MARGIN_S


def test_a_shopper_a_delivery_names_keeps_her_reference_and_erasure_finds_it(db):
    moments, at = engine(db), time.time() - 60
    moments.save("v1", parse_rule(MultiDict({"name": "Hello", "trigger": "zone_enter", "zone": "kopi",
                                             "action": "offer", "message_en": "Hi", "cap_per_day": "0",
                                             "cooldown_h": "0", "budget": "0"}),
                                  zones=["kopi"], owner="ops", may_webhook=True))
    land(moments, "s-her", at)
    moments.events.emit("v1", "zone_enter", at=at + 1, device=PHONE, zone="kopi")
    land(moments, "s-her", at + 2)  # she lands again (her token kept): a day's reference must not shorten hers
    land(moments, "s-other", at + 3)  # someone else on a phone of the same MAC: landed only
    moments.drain("v1")
    [delivery] = moments.deliveries("v1")
    ref = KEYS.refs("s:s-her")
    assert {m.decode() for m in db.smembers(ref)} == {"w:" + PHONE, "d:" + delivery.id}
    assert REF_TTL_S - SLACK_S < db.ttl(ref) <= REF_TTL_S
    assert 0 < db.ttl(KEYS.refs("s:s-other")) <= OFFER_TTL_S + REF_MARGIN_S

    assert moments.forget("v1", ["s-her"]) > 0  # by her shopper id alone: her reference finds the rest
    assert moments.delivery("v1", delivery.id) is None
    assert db.exists(ref) == 0
    assert db.hget(KEYS.shoppers(), PHONE) == b"s-other"  # the phone's link to someone else stays

    assert moments.forget("v1", ["s-other"]) > 0  # a shopper who only landed: her day's reference finds her link
    assert db.hget(KEYS.shoppers(), PHONE) is None
    assert ref_ttls(db) == {KEYS.refs("p:" + PHONE): db.ttl(KEYS.refs("p:" + PHONE))}  # the phone's own caps


def test_a_phones_arrival_naming_a_shopper_is_referenced_as_long_as_it_lives(db):
    moments, at = engine(db), time.time() - 60
    moments.events.emit("v1", "arrive", at=at, device=PHONE)
    moments.events.emit("v1", "txn", at=at + 1, device=PHONE, shopper="s-buyer", zone="kopi", app="coupons",
                        action="coupon_claim")
    moments.drain("v1")
    [field_ttl] = db.httl(KEYS.arrivals(), PHONE)
    ref = KEYS.refs("s:s-buyer")
    assert db.smembers(ref) == {b"w:" + PHONE.encode()}
    assert 0 < db.ttl(ref) <= field_ttl + REF_MARGIN_S
    assert moments.forget("v1", ["s-buyer"]) > 0
    assert db.hget(KEYS.arrivals(), PHONE) is None
