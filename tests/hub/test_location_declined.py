"""Location declined means what the notice says (PIPL: location-based services only with consent): once a shopper
answers with location off, her verified phone (Shopper.own_phone, and the phones vouched for on her other tokens,
ShopperKeys.phones_of) lands on the mall home, not on its zone's app; the tracker writes no event of it (footfall's
aggregate counts go on); "from me" is refused; answering yes again undoes it; before any answer nothing changes. Her
export shows it and her erasure keeps only the phone's note (it does not turn tracking back on). Who
may: only a token vouched for the phone marks the phone. On the demo
mall's data and the real store."""

from __future__ import annotations

import time

import pytest

from portal.consent import KEEP_S, ConsentKeys, ConsentStore
from portal.events.log import EventKeys, write_deferred_events
from portal.events.sim import Simulator
from portal.shopper import Shopper, shopper_token, token_store
from portal.tracking.footfall import FootfallKeys

CLIENT, PHONE = "s-declined-0001", "dev-declined-0001"


@pytest.fixture
def her(app, demo):
    """A shopper whose token the gateway vouched for on PHONE, and a way to place the phone (as the tracker keeps a
    position, its listeners included) at a time."""
    with app.app_context():
        token = shopper_token(Shopper("demo", CLIENT, phone=PHONE, phone_verified=True))
    sim = Simulator(app.extensions["mallportal"], app.extensions["captive"].landing, "demo")
    return token, sim


def answer(client, token: str, location: bool) -> None:
    data = {"c": token, "next": "/v/demo/me", **({"location": "1"} if location else {})}
    assert client.post("/v/demo/privacy", data=data).status_code == 303


def landing_of(app, at: float, phone: str = PHONE):
    """The landing of the phone's probe at `at` (a gateway-vouched one), as the lane and the views ask it."""
    return app.extensions["captive"].landing.decide("demo", phone, verified=True, now=at)


def events_of(svc, phone: str, since: float) -> list[str]:
    write_deferred_events()
    return [e.kind for e in svc.events.read("demo") if e.device == phone and e.at >= since]


def test_declined_the_phone_lands_home_and_is_not_tracked_until_she_agrees(app, client, svc, her):
    token, sim = her
    t0 = time.time() - 300
    sim._fix(PHONE, "kopi", t0)  # before any answer: as before (the notice comes after the first landing)
    assert landing_of(app, t0 + 1).values == {"venue": "demo", "zone": "kopi"}
    assert events_of(svc, PHONE, t0 - 1) == ["arrive", "zone_enter", "landing"]

    answer(client, token, location=False)
    assert svc.db.exists(ConsentKeys("demo").location_off(PHONE))
    assert not svc.db.hexists(EventKeys("demo").presence(), PHONE)  # her open visit ends with no event
    sim._fix(PHONE, "kopi", t0 + 60)
    sim._fix(PHONE, "pixel", t0 + 120)  # a zone change: no zone_leave / zone_enter either
    decision = landing_of(app, t0 + 121)
    assert (decision.endpoint, decision.values) == ("directory.home", {"venue": "demo"})
    assert not decision.heard
    assert events_of(svc, PHONE, t0 + 2) == []  # not even the landing names the phone
    svc.presence.sweep("demo", t0 + 5000)  # nor a `leave` when she would have gone quiet
    assert events_of(svc, PHONE, t0 + 2) == []
    # footfall still counts the phone (its counts are HyperLogLogs and sums; the visit it is in stays open)
    assert svc.db.hget(FootfallKeys("demo").open_visits(), PHONE).startswith(b"pixel|")

    answer(client, token, location=True)  # she agrees again: all of it comes back
    assert not svc.db.exists(ConsentKeys("demo").location_off(PHONE))
    sim._fix(PHONE, "kopi", t0 + 180)
    assert landing_of(app, t0 + 181).values == {"venue": "demo", "zone": "kopi"}
    assert events_of(svc, PHONE, t0 + 170) == ["arrive", "zone_enter", "landing"]


def test_an_other_phone_and_an_unanswered_shopper_are_unchanged(app, client, svc, her):
    token, sim = her
    t0 = time.time() - 300
    answer(client, token, location=False)
    sim._fix("dev-someone-else", "kopi", t0)
    assert landing_of(app, t0 + 1, "dev-someone-else").values == {"venue": "demo", "zone": "kopi"}
    assert events_of(svc, "dev-someone-else", t0 - 1) == ["arrive", "zone_enter", "landing"]


def test_a_token_the_gateway_did_not_vouch_for_marks_no_phone(app, client, svc, her):
    """A MAC typed into a URL gives a token naming the phone, unverified: its shopper's answer is hers alone, it
    must not switch anyone's phone off (nor on)."""
    _, sim = her
    with app.app_context():
        typed = shopper_token(Shopper("demo", "s-typed-0001", phone=PHONE, phone_verified=False))
    answer(client, typed, location=False)
    assert not svc.db.exists(ConsentKeys("demo").location_off(PHONE))
    now = time.time()
    sim._fix(PHONE, "kopi", now)
    assert landing_of(app, now + 1).values == {"venue": "demo", "zone": "kopi"}


def test_her_other_tokens_phones_follow_her_answer(app, client, svc, demo):
    """An answer given from a browser whose token names no phone (a texted link) reaches the phone her sign-in
    sheet's token was vouched for (her phone set)."""
    with app.app_context():
        shopper_token(Shopper("demo", CLIENT, phone=PHONE, phone_verified=True))  # the sign-in sheet's
        texted = shopper_token(Shopper("demo", CLIENT))
    answer(client, texted, location=False)
    assert svc.db.exists(ConsentKeys("demo").location_off(PHONE))
    assert landing_of(app, time.time()).endpoint == "directory.home"


def test_the_marker_lives_as_long_as_the_consent_record(app, client, svc, her):
    token, _ = her
    answer(client, token, location=False)
    for key in (ConsentKeys("demo").location_off(PHONE), EventKeys("demo").untracked(),
                ConsentKeys("demo").consent(CLIENT)):
        assert KEEP_S - 60 < svc.db.ttl(key) <= KEEP_S, key
    until = svc.db.zscore(EventKeys("demo").untracked(), PHONE)
    assert time.time() + KEEP_S - 60 < until <= time.time() + KEEP_S


def test_export_shows_it_and_erasure_keeps_only_the_phones_note(app, client, svc, her):
    token, _ = her
    answer(client, token, location=False)
    data = client.get(f"/v/demo/my-data/export.json?c={token}").get_json()
    assert data["consent"]["location"] is False and data["consent"]["phone_location_off_at"] > time.time() - 60
    page = client.get(f"/v/demo/my-data?c={token}&lang=en").get_data(as_text=True)
    assert "Location-based services off on this phone since" in page
    with app.app_context():  # a token that names no phone shows no phone's marker
        texted = shopper_token(Shopper("demo", CLIENT))
    assert "phone_location_off_at" not in client.get(f"/v/demo/my-data/export.json?c={texted}").get_json()["consent"]

    erased = client.post("/v/demo/my-data/erase", data={"confirm": "1", "c": token, "lang": "en"})
    assert erased.status_code == 200 and 'id="kept-declined"' in erased.get_data(as_text=True)
    # her answer goes; the phone stays out of location-based services (an erasure must not turn them back on)
    assert not svc.db.exists(ConsentKeys("demo").consent(CLIENT))
    assert svc.db.exists(ConsentKeys("demo").location_off(PHONE))
    assert svc.db.zscore(EventKeys("demo").untracked(), PHONE) is not None
    with app.app_context():
        assert token_store(app).verified_phones("demo", CLIENT) == set()


def test_declines_location_reads_her_last_answer(db):
    store = ConsentStore(db)
    assert not store.declines_location("demo", "s-1", "dev-1")  # no answer: nothing declined
    store.record("demo", "s-1", location=True, marketing=False)
    assert not store.declines_location("demo", "s-1", "dev-1")
    db.hset(ConsentKeys("demo").consent("s-1"), "version", "2020-01-01")  # an older notice's yes: not a no
    assert not store.declines_location("demo", "s-1")
    db.hset(ConsentKeys("demo").consent("s-1"), "location", 0)  # an older notice's no: still her last word
    assert store.declines_location("demo", "s-1")
    store.record("demo", "s-2", location=False, marketing=True, phones=["dev-2"])
    assert store.declines_location("demo", "s-3", "dev-2")  # another shopper of that phone: its owner said no
    assert store.location_off_since("demo", "dev-2") is not None and store.location_off_since("demo", "dev-1") is None
    assert store.forget("demo", "s-2") == 1  # her answer; the phone's marker stays (erasure does not re-enable)
    assert store.declines_location("demo", "s-3", "dev-2")


def test_her_transactions_name_no_phone_once_she_declined(app, client, svc, her):
    """A txn event naming the phone would be one more point of the per-phone trail her decline stops; it still
    counts under her shopper id."""
    from lightapps.coupons.store import CouponStore

    token, _ = her
    coupon = next(iter(CouponStore(svc.db).live_for_zone("demo", "kopi", time.time())))
    since = time.time() - 1
    answer(client, token, location=False)
    assert client.post(f"/v/demo/zone/kopi/coupons/{coupon.id}/claim", data={"c": token}).status_code == 303
    write_deferred_events()
    [claimed] = [e for e in svc.events.read("demo") if e.kind == "txn" and e.at >= since]
    assert claimed.shopper == CLIENT and claimed.device is None
