"""Paid flash-sale captures and group-buy deposit joins give the lists they write (who joined, my activities) the
same expiries as a free join (core.storage `keep_record`)."""

from lightapps.activities.deposits import DepositStore
from lightapps.activities.payment import SaleStock
from lightapps.activities.store import KEEP_AFTER_END_S, ActivityKeys, ActivityStore

NOW = 1_900_000_000.0
DAY = 86400


def test_paid_joins_expire(db):
    acts = ActivityStore(db)
    sale = acts.create("demo", "atrium", {"kind": "sale", "title_en": "x", "starts_at": NOW - 60,
                                          "ends_at": NOW + 10 * DAY, "limit": 5, "price": "9"}, now=NOW - 60)
    stock = SaleStock(db, 30 * DAY)
    r = stock.reserve("demo", sale.id, "anon-p", now_ms=int(NOW * 1000))
    assert r.status == "OK"
    assert stock.capture("demo", sale.id, "anon-p", r.token, now_ms=int(NOW * 1000))
    k = ActivityKeys("demo")
    assert db.ttl(k.who(sale.id)) >= 10 * DAY + KEEP_AFTER_END_S - 5
    assert db.ttl(k.mine("anon-p")) >= 10 * DAY + KEEP_AFTER_END_S - 5
    group = acts.create("demo", "atrium", {"kind": "group", "title_en": "g", "ends_at": NOW + 2 * DAY,
                                           "needed": 3}, now=NOW - 60)
    deps = DepositStore(db, 30 * DAY)
    assert deps.join_paid("demo", group.id, "anon-q", "order-1", now=NOW) == "OK"
    assert db.ttl(k.who(group.id)) >= 2 * DAY + KEEP_AFTER_END_S - 5
    assert db.ttl(k.mine("anon-q")) >= 32 * DAY - 5
