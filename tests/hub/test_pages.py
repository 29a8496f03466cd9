"""The language switch after a form error, localized error pages, phone formats, fixed labels, /demo."""

import re

import pytest

from lightapps.membership.sender import EXTENSION
from tests.hub.conftest import mint


def _lang_link(html: str) -> str:
    return re.search(r'<a href="([^"]+)"[^>]*id="lang-switch"', html).group(1).replace("&amp;", "&")


def test_language_switch_after_a_form_error_is_a_get_url_with_the_token(client, shopper):
    _, token = shopper
    resp = client.post("/v/demo/member/signup", data={"c": token, "phone": "12"})
    assert resp.status_code == 400
    link = _lang_link(resp.get_data(as_text=True))
    assert f"c={token}" in link and "lang=zh" in link
    follow = client.get(link)
    assert follow.status_code == 200  # not 405


def test_language_switch_on_a_get_page_keeps_the_query(client, shopper):
    _, token = shopper
    html = client.get(f"/v/demo/?c={token}&q=star").get_data(as_text=True)
    link = _lang_link(html)
    assert link.startswith("/v/demo/?") and f"c={token}" in link and "q=star" in link and "lang=zh" in link


@pytest.mark.parametrize("lang, text", [("en", "Page not found"), ("zh", "页面不存在")])
def test_404_page_is_localized_and_styled(client, demo, lang, text):
    resp = client.get(f"/v/demo/nothing/here?lang={lang}")
    assert resp.status_code == 404
    html = resp.get_data(as_text=True)
    assert text in html and 'class="error-page"' in html
    assert "The requested URL was not found" not in html


def test_405_page_speaks_to_people(client, demo):
    resp = client.get("/v/demo/member/signup?lang=zh")
    assert resp.status_code == 405 and "POST" in resp.headers["Allow"]
    html = resp.get_data(as_text=True)
    assert "无法以这种方式打开此页面" in html and "Method Not Allowed" not in html


def test_no_developer_messages(client, demo):
    html = client.get("/portal/status?lang=en").get_data(as_text=True)
    assert "missing or invalid shopper token" not in html and "Your session has expired" in html


def test_api_errors_stay_json(client, demo):
    resp = client.get("/api/v1/nothing")
    assert resp.status_code == 404 and resp.is_json


class _Sent:
    def __init__(self):
        self.sent = []

    def send(self, venue, phone, code, expires_in_s):
        self.sent.append(phone)


@pytest.mark.parametrize("typed", ["13800138000", "138 0013 8000", "+8613800138000", "+86 138-0013-8000"])
def test_membership_accepts_any_common_phone_format(app, client, shopper, typed):
    sender = _Sent()
    app.extensions[EXTENSION] = sender
    _, token = shopper
    resp = client.post("/v/demo/member/signup", data={"c": token, "phone": typed})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:300]
    assert sender.sent == ["+8613800138000"]


def test_a_wrong_number_is_refused_and_nothing_sent(app, client, shopper):
    sender = _Sent()
    app.extensions[EXTENSION] = sender
    _, token = shopper
    resp = client.post("/v/demo/member/signup", data={"c": token, "phone": "1380013800"})
    assert resp.status_code == 400 and not sender.sent


def test_reservation_states_are_words_in_the_console(client, console, db, demo):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from lightapps.queue.store import QueueStore

    day = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=1)).isoformat()
    QueueStore(db).reserve("demo", "jade", day, "12:00", 4, "B", "c1", capacity=4)
    console.login("jade")
    html = client.get(f"/console/apps/queue/demo/jade/reservations?date={day}&lang=en").get_data(as_text=True)
    assert 'data-state="BOOKED">booked<' in html and ">BOOKED<" not in html


def test_demo_page_in_demo_mode(live_server):
    import urllib.request

    html = urllib.request.urlopen(f"{live_server.url}/demo?lang=en", timeout=120).read().decode()
    assert 'id="demo-intro"' in html and 'id="demo-zones"' in html and 'id="demo-consoles"' in html
    assert re.search(r'data-zone="cinema"><td>[^<]+</td><td>L1</td>', html) or "data-zone=\"cinema\"" in html
    assert 'data-account="cinema"' in html and 'data-account="ops"' in html
    (token,) = live_server.shopper_tokens("demo", ["demo-back"])
    page = urllib.request.urlopen(f"{live_server.url}/v/demo/?c={token}", timeout=120).read().decode()
    assert '<a href="/demo" id="back-to-demo">' in page


def test_me_of_a_new_shopper_is_empty(app, client, demo):
    from portal.shopper import new_shopper

    token = mint(app, new_shopper("demo"))
    html = client.get(f"/v/demo/me?c={token}&lang=en").get_data(as_text=True)
    assert 'id="mine-cinema"' not in html and 'id="mine-coupons"' not in html
