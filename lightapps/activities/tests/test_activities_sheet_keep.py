"""An activity joined in the WiFi sign-in sheet: its page, My sign-ups and the landing (which show her
confirmation code) offer keeping it in the phone's real browser; Android's sheet closes by itself once the
network works, and the sign-up would stay behind in it."""

from __future__ import annotations

import time

ANDROID = {"User-Agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A; wv) AppleWebKit/537.36 (KHTML, like "
                         "Gecko) Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36"}
CHROME = {"User-Agent": ANDROID["User-Agent"].replace("; wv)", ")")}


def _main(page: str) -> str:
    return page[page.index("<main>"):page.index("</main>")]


def test_a_sign_up_in_the_sheet_is_offered_the_keep_link_where_its_code_shows(app, demo, acts, token):
    now = time.time()
    event = acts.create("demo", "atrium", {"kind": "event", "title_en": "Keep talk", "title_zh": "保留讲座",
                                           "starts_at": now + 3600, "ends_at": now + 7200, "limit": 5})
    sheet, c = app.test_client(use_cookies=False), token("sheet-joiner")
    item = f"/v/demo/activities/{event.id}?c={c}&lang=en"
    assert 'id="keep-offer"' not in sheet.get(item, headers=ANDROID).get_data(as_text=True)  # nothing of hers yet
    joined = sheet.post(f"/v/demo/activities/{event.id}/join?lang=en", data={"c": c}, headers=ANDROID)
    assert joined.status_code == 303 and "joined=1" in joined.headers["Location"]
    code = acts.joined("demo", "sheet-joiner", [event.id])[event.id]
    for path in (joined.headers["Location"], f"/v/demo/activities/mine?c={c}&lang=en",
                 f"/v/demo/zone/atrium/activities?c={c}&lang=en"):
        page = sheet.get(path, headers=ANDROID).get_data(as_text=True)
        assert code in page and page.count('id="keep-offer"') == 1, path
        assert 'id="keep-link"' in _main(page), path  # by her sign-up, not only by Continue
        assert 'id="keep-offer"' not in app.test_client(use_cookies=False).get(path, headers=CHROME).get_data(
            as_text=True), path
