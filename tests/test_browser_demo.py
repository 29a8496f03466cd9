"""The newcomer's path in a real headless Chromium: /demo, click a spot in the cinema, open the
portal as that phone, land on the cinema zone's page."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from fingerprints.plan import PX_PER_M
from portal.ingest.store import RssiKeys, ap_times
from portal.tracking.models import silent_aps


def test_click_in_cinema_and_land_on_cinema_page(page, live_server):
    page.goto(f"{live_server.url}/demo?floor=1")
    plan = page.locator("#plan")
    plan.wait_for()
    # The cinema is x 0-45 m, y 0-60 m on floor 1: click its middle.
    plan.click(position={"x": 20 * PX_PER_M, "y": 30 * PX_PER_M})
    page.wait_for_selector("#result")
    assert "cinema" in page.locator("#estimate").inner_text().lower()
    page.click("#open-portal")
    page.wait_for_load_state()
    assert "/cinema" in page.url or "zone/cinema" in page.url
    assert "Starlight Cinema" in page.content() or "星光影城" in page.content()


def test_demo_works_without_javascript(browser, live_server):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/demo?floor=0")
    page.locator("#plan").click(position={"x": 20 * PX_PER_M, "y": 30 * PX_PER_M})  # car park
    page.wait_for_selector("#result")
    page.click("#open-portal")
    page.wait_for_load_state()
    assert "garage" in page.url or "parking" in page.url
    context.close()


def test_demo_rejects_bad_spots(client, demo):
    assert client.post("/demo/spot", data={"floor": "7", "x": "1", "y": "1"}).status_code == 400
    assert client.post("/demo/spot", data={"floor": "0", "x": "abc", "y": "1"}).status_code == 400
    assert client.post("/demo/spot", data={"floor": "0", "x": "500", "y": "1"}).status_code == 400
    assert client.post("/demo/spot", data={"floor": "0", "phone": "x", "x": "1", "y": "1"}).status_code == 400
    assert client.post("/demo/spot", data={"floor": "0"}).status_code == 400


def test_a_demo_click_is_reported_by_every_ap_so_none_falls_silent(client, demo, svc, db):
    """The demo's clicks are its venue's whole feed: every AP reports (those not hearing the phone with
    nothing), so after 5 minutes of clicks in one corner the live model has left out no AP the radio has on."""
    db.delete(RssiKeys("demo").ap_last_seen())  # whatever the demo's seeding reported
    # A corner of the car park that some APs do not hear at all: they report all the same, with nothing.
    assert client.post("/demo/spot", data={"floor": "0", "x": "2", "y": "2"}).status_code == 303
    seen = ap_times(db.hgetall(RssiKeys("demo").ap_last_seen()))
    map_aps = svc.venues.get_map("demo").ap_ids()
    assert set(map_aps) <= set(seen)
    now = max(seen.values()) + 1
    assert silent_aps(seen, map_aps, now, 300, feed_since=now - 400) == frozenset()  # the feed 400 s old


def _placed(resp) -> tuple[str, str]:
    query = dict(parse_qsl(urlsplit(resp.headers["Location"]).query))
    return query["x"], query["y"]


def test_the_plan_pressed_from_the_keyboard_is_not_a_click_at_its_corner(client, demo):
    """Enter or Space on the plan, or Enter in the typed fields, send the plan at (0, 0): the typed spot wins,
    and with none typed the answer says what to do, in the page's language, instead of moving the phone."""
    pressed = {"floor": "0", "spot.x": "0", "spot.y": "0"}
    assert _placed(client.post("/demo/spot", data={**pressed, "x": "20", "y": "30"})) == ("20.0", "30.0")
    clicked = {"floor": "0", "spot.x": str(20 * PX_PER_M), "spot.y": str(30 * PX_PER_M), "x": "5", "y": "5"}
    assert _placed(client.post("/demo/spot", data=clicked)) == ("20.0", "30.0")  # a real click wins
    refused = client.post("/demo/spot?lang=zh", data=pressed)
    assert refused.status_code == 400
    assert "Click a spot" not in refused.get_data(as_text=True)
    assert "输入" in refused.get_data(as_text=True)


def test_the_phone_is_placed_from_the_keyboard(page, live_server):
    page.goto(f"{live_server.url}/demo?floor=0")
    page.fill("#spot-typed input[name=x]", "20")
    page.fill("#spot-typed input[name=y]", "30")
    page.press("#spot-typed input[name=y]", "Enter")
    page.wait_for_selector("#result")
    assert "(20.0 m, 30.0 m)" in page.locator("#result").inner_text()
