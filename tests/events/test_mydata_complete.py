"""My data shows and exports everything held about the shopper: besides her events, offers and the apps'
data, the notifications' contact (the number: masked on the page, in full in the download; the browsers
for push), the messages not sent yet, and the moments deliveries that name her."""

from __future__ import annotations

import json
import time

from werkzeug.datastructures import MultiDict

from portal.events.moments import parse_rule
from portal.notify.contacts import ContactStore
from portal.notify.outbox import Outbox
from portal.shopper import Shopper, shopper_token

CLIENT = "s-mydata-all"
NUMBER = "+8613800138999"


def test_everything_held_is_shown_and_exported(app, client, svc, demo):
    contacts = ContactStore(svc.db, svc.settings.phone_key)
    contacts.set_phone("demo", CLIENT, NUMBER, "en")
    contacts.add_push("demo", CLIENT, {"endpoint": "https://fcm.googleapis.com/fcm/send/abc",
                                       "keys": {"p256dh": "k" * 20, "auth": "a" * 16}}, "en")
    Outbox(svc.db).enqueue("demo", CLIENT, "queue.called", {"title_en": "Your table"}, "m-1")
    Outbox(svc.db).enqueue("demo", CLIENT, "queue.reminder", {"title_en": "Soon"}, "m-2", at=time.time() + 3600)
    svc.moments.save("demo", parse_rule(MultiDict({"name": "Hello", "trigger": "zone_enter", "zone": "kopi",
                                                   "action": "offer", "message_en": "Hi"}),
                                        zones=["kopi"], owner="ops", may_webhook=True))
    svc.consent.record("demo", CLIENT, location=True, marketing=True)
    svc.moments.ensure("demo", start="0")
    svc.events.emit("demo", "landing", at=time.time() - 9, device="d-all", shopper=CLIENT, zone="atrium")
    svc.events.emit("demo", "zone_enter", at=time.time() - 8, device="d-all", zone="kopi")
    svc.moments.tick("demo")
    with app.app_context():
        token = shopper_token(Shopper("demo", CLIENT))
    data = client.get(f"/v/demo/my-data/export.json?c={token}").get_json()
    held = data["notifications"]
    assert held["phone"] == NUMBER and held["push"][0]["endpoint"].startswith("https://fcm.googleapis.com/")
    assert sorted(m["event"] for m in held["messages"]) == ["queue.called", "queue.reminder"]
    [delivery] = data["moments"]
    assert (delivery["rule_name"], delivery["action"], delivery["shopper"]) == ("Hello", "offer", CLIENT)
    page = client.get(f"/v/demo/my-data?c={token}").get_data(as_text=True)
    assert "8999" in page and NUMBER not in page and 'id="held-moments"' in page
    assert "Messages not sent yet: 2." in page
    assert client.post("/v/demo/my-data/erase", data={"confirm": "1", "c": token}).status_code == 200
    with app.app_context():
        again = shopper_token(Shopper("demo", CLIENT))
    after = client.get(f"/v/demo/my-data/export.json?c={again}").get_json()
    assert after["moments"] == [] and after["notifications"]["messages"] == []
    assert after["notifications"]["phone"] is None and NUMBER not in json.dumps(after)


def test_the_my_data_page_names_the_mall_in_its_header(app, client, svc, demo):
    """Its header's brand is the mall's name in the page's language, as on the mall's other pages (it read
    "MallPortal", the product's name, on the payment, status and my-data pages)."""
    import re

    venue_map = svc.venues.get_map("demo")
    with app.app_context():
        token = shopper_token(Shopper("demo", CLIENT))
    brand = re.compile(r'<a class="brand"[^>]*>([^<]*)</a>')
    assert brand.search(client.get(f"/v/demo/my-data?c={token}&lang=en").get_data(as_text=True)).group(1) \
        == venue_map.name
    assert brand.search(client.get(f"/v/demo/my-data?c={token}&lang=zh").get_data(as_text=True)).group(1) \
        == venue_map.name_zh



def test_the_page_says_times_as_every_shopper_page_does(app, svc, demo):
    """The data table puts an epoch time in words, as the rest of the shopper's pages say it (`Tue, Dec 8, 19:30`,
    Chinese on a Chinese page), not the consoles' `2026-12-08 19:30`; the download keeps it as stored. A value shaped
    like a day (the consent notice's version, `2026-12-06`, which the privacy notice names so) stays as it is."""
    from portal.apps.locale import spoken_time
    from portal.events.mydata import _Words

    at = 1796_000_000.0
    for lang, word in (("en", "Nov 30"), ("zh", "11月30日")):  # 2026-11-30 08:53 in Shanghai
        with app.test_request_context(f"/v/demo/my-data?lang={lang}"):
            words = _Words(svc.venues.get_map("demo"), {})
            when = words.scalar("at", at)
            assert when.text == spoken_time(at) and word in when.text and "-" not in when.text
            assert words.scalar("version", "2026-12-06").data == "2026-12-06"
