"""A ticket booked in the WiFi sign-in sheet: its page offers keeping it in the phone's real browser, as the hold's
did (Android's sheet closes by itself once the network works, and the ticket would stay behind in it)."""

from __future__ import annotations

import time

from cinema_fixtures import mall_fixture  # noqa: F401 (the `mall` fixture)

from lightapps.cinema.store import CinemaStore, ShowtimeInput
from portal.shopper import Shopper, shopper_token

ANDROID = {"User-Agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A; wv) AppleWebKit/537.36 (KHTML, like "
                         "Gecko) Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36"}
CHROME = {"User-Agent": ANDROID["User-Agent"].replace("; wv)", ")")}


def test_the_ticket_page_offers_the_keep_link_in_the_sheet(app, svc, mall):
    cinema = CinemaStore(svc.db)
    ids = cinema.upsert_showtimes("demo", "cinema", [ShowtimeInput("Keep Film", "保留电影", "1",
                                                                   int(time.time()) + 3600, 4200)], source="t")["ids"]
    held = cinema.hold("demo", cinema.showtime("demo", ids[0]), "sheet-viewer", ["A1"], 300)
    booked = cinema.confirm("demo", held.token, "sheet-viewer", "cinema")
    assert booked.status == "ok"
    with app.app_context():
        c = shopper_token(Shopper("demo", "sheet-viewer"))
    code = cinema.client_bookings("demo", "sheet-viewer")[0].code
    path = f"/v/demo/cinema/cinema/ticket/{code}?c={c}&lang=en"
    page = app.test_client(use_cookies=False).get(path, headers=ANDROID).get_data(as_text=True)
    assert 'id="booking-code"' in page and page.count('id="keep-offer"') == 1
    assert 'id="keep-link"' in page[page.index("<main>"):page.index("</main>")]
    assert 'id="keep-offer"' not in app.test_client(use_cookies=False).get(path, headers=CHROME).get_data(as_text=True)
