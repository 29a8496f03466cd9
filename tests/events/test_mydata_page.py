"""My data shows what is held on the page itself, readable, in the page's language: the captive sign-in
sheet cannot download the JSON export (a shopper there saw only a count of events and the apps' ids). Each
app under its own title, each app's items with their fields; the download stays; only the shopper's own."""

from __future__ import annotations

import time
from html.parser import HTMLParser

import pytest

from lightapps.coupons import APP as COUPONS
from lightapps.coupons.store import CouponStore
from portal.shopper import Shopper, shopper_token
from tests.events.test_zh_pages import english

ME, OTHER = "s-page-me", "s-page-other"


class Texts(HTMLParser):
    """The text inside each element with an id (its descendants' too)."""

    VOID = {"meta", "link", "input", "br", "img", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[tuple[str, str | None]] = []
        self.texts: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        if tag not in self.VOID:
            self.open.append((tag, dict(attrs).get("id")))
            self.texts.setdefault(self.open[-1][1] or "", "")

    def handle_endtag(self, tag):
        while self.open and self.open.pop()[0] != tag:
            pass

    def handle_data(self, data):
        for _tag, element in self.open:
            if element:
                self.texts[element] += data


def text_of(html: str, element: str) -> str:
    parser = Texts()
    parser.feed(html)
    return parser.texts[element]


@pytest.fixture
def claimed(app, svc, demo):
    """A coupon claimed by ME in kopi: its code."""
    coupons = CouponStore(svc.db)
    coupon = coupons.create("demo", "kopi", {"title_en": "Page coupon", "title_zh": "页面券", "stock": 5,
                                             "valid_from": time.time() - 60, "valid_until": time.time() + 86400})
    return coupons.claim("demo", "kopi", coupon.id, ME).code


def token_of(app, client_id: str) -> str:
    with app.app_context():
        return shopper_token(Shopper("demo", client_id))


def test_apps_are_listed_by_their_titles_in_chinese(app, client, claimed):
    page = client.get(f"/v/demo/my-data?c={token_of(app, ME)}&lang=zh").get_data(as_text=True)
    held_apps = text_of(page, "held-apps")
    assert "coupons" not in held_apps and COUPONS.title_zh in held_apps
    assert english(page) == []  # labels in Chinese; stored values (the code) in <code>


def test_the_claimed_coupon_shows_on_the_page(app, client, claimed):
    page = client.get(f"/v/demo/my-data?c={token_of(app, ME)}").get_data(as_text=True)
    assert COUPONS.title_en in text_of(page, "held-apps")
    section = text_of(page, "held-app-coupons")
    assert claimed in section and "Kopi Coffee" in section and "Code" in section  # the zone by its name
    assert 'id="export-json"' in page  # the download stays, as an extra


def test_the_page_is_only_the_shoppers_own(app, client, claimed):
    assert claimed in client.get(f"/v/demo/my-data?c={token_of(app, ME)}").get_data(as_text=True)
    page = client.get(f"/v/demo/my-data?c={token_of(app, OTHER)}").get_data(as_text=True)
    assert claimed not in page and 'id="held-app-coupons"' not in page
    assert client.get("/v/demo/my-data").status_code == 403
    with app.app_context():
        elsewhere = shopper_token(Shopper("other-venue", ME))
    assert client.get(f"/v/demo/my-data?c={elsewhere}").status_code in (403, 404)


def test_events_show_in_words_and_a_member_phone_masked(app, client, svc, demo):
    members = app.extensions["light_app_stores"]["membership"]
    members.bind("demo", "+8613800138123", ME)
    svc.events.emit("demo", "landing", at=time.time(), shopper=ME, zone="kopi")
    page = client.get(f"/v/demo/my-data?c={token_of(app, ME)}&lang=zh").get_data(as_text=True)
    events = text_of(page, "held-events")
    assert "考比咖啡" in events and "landing" not in events
    membership = text_of(page, "held-app-membership")
    assert "8123" in membership and "+8613800138123" not in page
    assert english(page) == []


def test_a_long_list_shows_its_newest_items(app, client, svc, demo, monkeypatch):
    monkeypatch.setattr("portal.events.mydata.MAX_ROWS_SHOWN", 2)
    for i in range(3):
        svc.events.emit("demo", "txn", at=time.time() - 60 + i, shopper=ME, zone="kopi", app="coupons",
                        action=f"step-{i}")
    page = client.get(f"/v/demo/my-data?c={token_of(app, ME)}").get_data(as_text=True)
    events = text_of(page, "held-events")
    assert "step-2" in events and "step-1" in events and "step-0" not in events
    assert "… and 1 more: the download holds them all." in events
    assert COUPONS.title_en in events  # the app by its title


def test_a_payments_currency_is_labelled_in_words(app, client, svc, demo):
    """Every field of a payment order has a label: `currency` showed as its key, the one unlabelled field."""
    svc.payments.store.create("demo", "idem-page-1", 600_000, {
        "shopper": ME, "amount": 4200, "currency": "CNY", "merchant": "cinema", "purpose": "cinema",
        "return_url": "/v/demo/cinema"})
    page = client.get(f"/v/demo/my-data?c={token_of(app, ME)}&lang=en").get_data(as_text=True)
    payments = text_of(page, "held-app-payments")
    assert "CNY" in payments and "Currency" in payments and "currency" not in payments
