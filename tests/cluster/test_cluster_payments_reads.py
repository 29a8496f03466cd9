"""The payments store's batched reads on the local cluster: every key of a venue's orders in its slot, so the
reconciliation's chunks of orders are one pipeline each there too."""

from portal.payments.store import PaymentStore
from tests.payments.test_ledger_bounded import VENUE, pay


def test_a_bills_orders_merchants_on_the_cluster(db):
    store = PaymentStore(db)
    mine, theirs = pay(store, "kopi", 100), pay(store, "cinema", 200)
    assert store.merchants_of(VENUE, [mine, theirs, "no-such-order"], chunk=2) == {
        mine: "kopi", theirs: "cinema", "no-such-order": ""}
