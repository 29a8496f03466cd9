"""Per-venue time zone: every time shown and typed is the venue's wall-clock time, whatever the host's
zone (this host runs in UTC; the demo venue is in Asia/Shanghai)."""

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from core.settings import Settings
from lightapps.cinema.store import CinemaStore, ShowtimeInput
from portal.apps.locale import spoken_time
from portal.captive.config import PortalConfigStore
from tests.hub.conftest import mint

BEIJING = ZoneInfo("Asia/Shanghai")


def test_settings_default_and_bad_values():
    assert Settings.from_env({}).time_zone == "Asia/Shanghai"
    assert Settings.from_env({"TIME_ZONE": "Europe/Berlin"}).time_zone == "Europe/Berlin"
    with pytest.raises(ValueError, match="IANA"):
        Settings.from_env({"TIME_ZONE": "Mars/Olympus"})
    with pytest.raises(ValueError, match="two-letter"):
        Settings.from_env({"PHONE_REGION": "China"})


def test_venue_setting_is_checked_before_it_is_stored(db):
    store = PortalConfigStore(db)
    with pytest.raises(ValueError):
        store.set("demo", {"time_zone": "Nowhere/Atall"})
    assert store.get("demo")["time_zone"] == ""
    store.set("demo", {"time_zone": "Europe/London"})
    assert store.get("demo")["time_zone"] == "Europe/London"


def test_the_demo_venue_is_in_beijing(svc, demo):
    assert PortalConfigStore(svc.db).get("demo")["time_zone"] == "Asia/Shanghai"


def test_a_hold_shows_beijing_time_on_a_utc_host(app, client, svc, shopper):
    assert time.localtime().tm_gmtoff != 8 * 3600  # the point: the host is not in Beijing
    who, token = shopper
    cinema = CinemaStore(svc.db)
    item = ShowtimeInput("TZ Film", "时区", "1", int(time.time()) + 7200, 4200)
    show_id = cinema.upsert_showtimes("demo", "cinema", [item], source="t")["ids"][0]
    resp = client.post(f"/v/demo/cinema/cinema/show/{show_id}/hold", data={"seat": ["A1"], "c": token})
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    hold = cinema.get_hold("demo", resp.headers["Location"].split("/hold/")[1].split("?")[0])
    beijing = datetime.fromtimestamp(hold.expires_ms / 1000, BEIJING).strftime("%H:%M")
    server = datetime.fromtimestamp(hold.expires_ms / 1000).strftime("%H:%M")
    assert beijing in page
    if server != beijing:
        assert f"({server})" not in page and f" {server})" not in page


def test_a_showtime_typed_without_an_offset_is_beijing_time(client, console, svc, demo):
    console.login("cinema")
    when = datetime.now(BEIJING).replace(second=0, microsecond=0)
    when = when.replace(hour=23, minute=30) if when.hour < 23 else when
    typed = when.strftime("%Y-%m-%dT%H:%M")
    resp = client.post("/console/apps/cinema/demo/cinema/showtimes", data={
        "csrf_token": console.csrf(), "film_en": "Typed", "film_zh": "输入", "auditorium": "1",
        "starts_at": typed, "price": "42"})
    assert resp.status_code in (302, 303), resp.get_data(as_text=True)[:500]
    shows = [s for s in CinemaStore(svc.db).showtimes("demo", "cinema") if s.film_en == "Typed"]
    assert shows and shows[0].starts_at == int(when.timestamp())


def test_me_shows_times_in_the_venue_zone(app, client, svc, demo):
    from portal.shopper import new_shopper

    who = new_shopper("demo")
    token = mint(app, who)
    PortalConfigStore(svc.db).set("demo", {"time_zone": "America/New_York"})
    cinema = CinemaStore(svc.db)
    starts = int(time.time()) + 3 * 3600
    show_id = cinema.upsert_showtimes("demo", "cinema", [ShowtimeInput("NY Film", "纽约", "1", starts, 100)],
                                      source="t")["ids"][0]
    held = cinema.hold("demo", cinema.showtime("demo", show_id), who.client, ["A1", "A2"], 300)
    assert held.status == "ok", held
    cinema.confirm("demo", held.token, who.client, "cinema")
    page = client.get(f"/v/demo/me?c={token}").get_data(as_text=True)
    with app.test_request_context("/v/demo/me"):  # the day and time as the page says them, in the venue's zone
        said = spoken_time(starts)
    assert said in page and datetime.fromtimestamp(starts, ZoneInfo("America/New_York")).strftime("%H:%M") in said
