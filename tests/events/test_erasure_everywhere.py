"""Deleting a shopper removes them from every store: one shopper (a member, with a verified phone) leaves
data in every light app (coupons, queue, cinema, parking, activities, games, membership), in payments, the
notification outbox, consent, the event log, presence and moments (an offer rule and a notify rule fired for
her: deliveries, caps, cooldowns, the phone's link to her); the export before the erasure holds
each app's part; after it, no key of the store names the shopper id or the phone's client id, in its
name or in its value, and the next export is empty.

Every loaded app whose store keeps shopper data (tests/test_light_app_contract.py: it has the erasure hooks)
must have its part in that export: a new app's author adds an action of its own above."""

from __future__ import annotations

import datetime
import time
from dataclasses import dataclass

from werkzeug.datastructures import MultiDict

from lightapps.parking.store import FindResult
from portal.events.moments import parse_rule
from portal.events.sim import Simulator
from portal.notify.contacts import ContactStore
from portal.notify.outbox import Outbox
from portal.shopper import Shopper, shopper_token
from portal.tracking import TrackKeys
from tests.test_light_app_contract import app_stores, keeps_shopper_data

CLIENT = "s-erase-me-7f3a"
PHONE = "dev-erase-me-91c2"


def mentions(db, needles: tuple[str, ...]) -> list[str]:
    """Every key whose name or value contains one of the needles (strings, hashes, lists, sets, sorted sets,
    streams: all of them read whole)."""
    found = []
    for raw_key in db.scan_iter(count=1000):
        key = raw_key.decode(errors="replace")
        kind = db.type(raw_key).decode()
        if kind == "string":
            values = [db.get(raw_key) or b""]
        elif kind == "hash":
            values = [b"%s=%s" % kv for kv in db.hgetall(raw_key).items()]
        elif kind == "list":
            values = db.lrange(raw_key, 0, -1)
        elif kind == "set":
            values = list(db.smembers(raw_key))
        elif kind == "zset":
            values = db.zrange(raw_key, 0, -1)
        elif kind == "stream":
            values = [b"%s=%s" % kv for _id, fields in db.xrange(raw_key) for kv in fields.items()]
        else:
            values = []
        text = key + " " + " ".join(v.decode(errors="replace") for v in values)
        if any(n in text for n in needles):
            found.append(key)
    return found


@dataclass(frozen=True)
class Used:
    """What `use_every_app` left in the stores, for the checks that follow."""

    member: str
    coupon: str
    seat: str
    show: str
    item: str
    order: str


def use_every_app(app, svc, client: str = CLIENT, phone: str = PHONE) -> Used:
    """The shopper `client` (a member, her phone `phone`) leaves data in every light app, in payments, the
    notification outbox, consent, the event log, presence and moments (an offer rule and a notify rule fired for
    her). The demo mall must be loaded."""
    with app.app_context():
        stores = app.extensions["light_app_stores"]
        now = time.time()
        # membership: the shopper is a member
        member = stores["membership"].bind("demo", "+8613800138777", client)[0]
        # coupons: a claimed code
        coupon = next(c for c in stores["coupons"].live_for_zone("demo", "kopi", now))
        assert stores["coupons"].claim("demo", "kopi", coupon.id, client, now).status == "OK"
        # queue: a ticket, and a table booked under her name with a note for the restaurant
        assert stores["queue"].take("demo", "foodcourt", "A", 2, client).ok
        day = (datetime.date.today() + datetime.timedelta(days=5)).isoformat()
        assert stores["queue"].reserve("demo", "foodcourt", day, "12:00", 2, "A", client, capacity=5,
                                       name="Wang Fang", note="wheelchair, nut allergy").ok
        # cinema: a booking (hold, then confirm)
        cinema = stores["cinema"]
        show = next(s for s in cinema.showtimes("demo", "cinema") if s.starts_at > now + 3600)
        # the first seat the rules let one shopper hold alone: the demo seed's sales (placed by the clock) can
        # make any fixed seat taken or one that would leave an orphan single seat (a refusal writes nothing)
        for seat in sorted(show.layout.seats):
            held = cinema.hold("demo", show, client, [seat], 600)
            if held.status not in ("taken", "orphan"):
                break
        assert held.status == "ok"
        assert cinema.confirm("demo", held.token, client, "cinema").status == "ok"
        # parking: a lookup in the operator's log and the answer kept for Me
        parking = stores["parking"]
        parking.log_lookup("demo", "garage", client, "platehash0123456789", "exact", 1)
        parking.save_result("demo", client, "garage", FindResult("none"), "platehash0123456789")
        # activities: joined one, followed a partner link
        activities = stores["activities"]
        item = next(a for a in activities.for_zone("demo", "atrium") if activities.join("demo", a.id, client).ok)
        for link in activities.links_for_zone("demo", "atrium")[:1]:
            activities.click("demo", link.id, client)
        # games: a draw in the atrium's lucky draw (a win or not: the plays are counted either way)
        games = stores["games"]
        game = games.current("demo", "atrium")
        games.randbelow, lucky = (lambda n: 0), games.randbelow  # the roll that wins
        try:
            assert games.draw("demo", "atrium", game.id, client, time.strftime("%Y-%m-%d")).status == "WON"
        finally:
            games.randbelow = lucky
        # payments: an order
        order_id, _ = svc.payments.store.create("demo", "idem-erase-1", 600_000, {
            "shopper": client, "amount": 4200, "currency": "CNY", "merchant": "cinema", "purpose": "cinema",
            "return_url": "/v/demo/cinema?c=secret-token"})
        # notifications: a number for SMS and a message not delivered yet; consent; the event log; presence
        ContactStore(svc.db, svc.settings.phone_key).set_phone("demo", client, "+8613800138777", "en")
        Outbox(svc.db).enqueue("demo", client, "queue.called", {"title_en": "Your table"}, "m-erase-1")
        svc.consent.record("demo", client, location=True, marketing=True)
        Simulator(svc, app.extensions["captive"].landing, "demo")._fix(phone, "kopi", now - 60)  # a position
        # ... and one kept as the version before 2026-12-05 kept it, left without a TTL (a failover between its two
        # writes): erasure removes it too
        svc.db.hset(TrackKeys("demo").former_last_position(phone), mapping={"zone": "kopi", "newest": b"ap|-60|1"})
        svc.events.emit("demo", "landing", at=now - 50, device=phone, shopper=client, zone="kopi")
        svc.events.emit("demo", "txn", at=now - 40, shopper=client, zone="pixel", app="membership",
                        action="member_join", member=member.id)
        # moments: an offer on her first visit (her member_join) and a notification when her phone, known
        # by its landing, enters kopi again
        for trigger, action, zone in (("first_visit", "offer", ""), ("zone_enter", "notify", "kopi")):
            svc.moments.save("demo", parse_rule(MultiDict({
                "name": action, "trigger": trigger, "zone": zone, "action": action, "message_en": "Hi"}),
                zones=["kopi"], owner="ops", may_webhook=True))
        svc.events.emit("demo", "zone_leave", at=now - 35, device=phone, zone="kopi", dwell_s=25)
        svc.events.emit("demo", "zone_enter", at=now - 30, device=phone, zone="kopi")
        svc.moments.ensure("demo", start="0")
        svc.moments.tick("demo")
        assert sorted(d.action for d in svc.moments.deliveries("demo")) == ["notify", "offer"]
    return Used(member.id, coupon.id, seat, show.id, item.id, order_id)


def test_one_shopper_in_every_app_then_erased(app, client, svc, demo):
    used = use_every_app(app, svc)
    before = mentions(svc.db, (CLIENT, PHONE))
    assert len(before) >= 25, before  # the shopper is all over the store
    with app.app_context():
        token = shopper_token(Shopper("demo", CLIENT, phone=PHONE, phone_verified=True))
    data = client.get(f"/v/demo/my-data/export.json?c={token}").get_json()
    parts = data["apps"]
    keeping = {name for name, store in app_stores(app).items() if keeps_shopper_data(store)}
    assert not keeping - set(parts), "the shopper did nothing in these apps above: add an action of theirs"
    assert "payments" in parts
    assert parts["games"]["prizes"][0]["state"]
    assert parts["membership"]["member"] == used.member
    assert parts["coupons"]["codes"][0]["coupon"] == used.coupon
    assert parts["queue"]["tickets"][0]["party"] == 2
    assert parts["cinema"]["bookings"][0]["seats"] == [used.seat]
    assert parts["parking"]["lookups"][0]["plate"] == "platehash0123456"
    assert parts["activities"]["joined"][0]["activity"] == used.item
    assert parts["payments"]["orders"][0]["order"] == used.order
    assert data["consent"]["marketing"] is True
    assert {e["kind"] for e in data["events"]} >= {"arrive", "zone_enter", "landing", "txn"}

    assert client.post("/v/demo/my-data/erase", data={"confirm": "1", "c": token}).status_code == 200
    assert mentions(svc.db, (CLIENT, PHONE)) == []
    assert mentions(svc.db, ("Wang Fang", "nut allergy")) == []  # what she typed goes with her
    assert svc.moments.deliveries("demo") == []  # nothing left to replay to her
    # The records others need stay, unlinked: the seat is still sold, the order still paid for the books.
    assert app.extensions["light_app_stores"]["cinema"].show_bookings("demo", used.show)[0].client == ""
    assert svc.payments.store.order("demo", used.order).shopper == ""
    with app.app_context():
        again = shopper_token(Shopper("demo", CLIENT, phone=PHONE, phone_verified=True))
    data = client.get(f"/v/demo/my-data/export.json?c={again}").get_json()
    assert data["events"] == [] and data["apps"] == {} and data["consent"] is None
