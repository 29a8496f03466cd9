"""A car found in the WiFi sign-in sheet: the result page offers keeping it in the phone's real browser, where Me
lists "My car" (Android's sheet closes by itself once the network works, and the result would stay behind)."""

from __future__ import annotations

from parking_fixtures import find, garage_fixture, plate, post_events, shopper_c  # noqa: F401 (the `garage` fixture)

ANDROID = {"User-Agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A; wv) AppleWebKit/537.36 (KHTML, like "
                         "Gecko) Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36"}
CHROME = {"User-Agent": ANDROID["User-Agent"].replace("; wv)", ")")}


def test_the_car_page_offers_the_keep_link_in_the_sheet(app, client, garage):
    post_events(client, garage, plate("KEEP 1234", "G-C07"))
    found = find(client, "keep1234", shopper_c(app, "sheet-driver"))
    assert found.status_code == 303
    page = client.get(found.headers["Location"], headers=ANDROID).get_data(as_text=True)
    assert 'id="answer"' in page and page.count('id="keep-offer"') == 1
    main = page[page.index("<main>"):page.index("</main>")]
    assert 'id="keep-link"' in main and "/v/demo/keep?k=" in main
    assert 'id="keep-offer"' not in client.get(found.headers["Location"], headers=CHROME).get_data(as_text=True)
