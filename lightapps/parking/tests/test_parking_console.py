"""Owner console: who may see it, occupancy per level, the manual bay override, the lookup log."""

from __future__ import annotations

import re

import pytest
from parking_fixtures import find, shopper_c

from lightapps.parking.demo import DEMO_PLATE_BAY
from lightapps.parking.store import ParkingStore
from portal.auth import AuditLog

CONSOLE = "/console/apps/parking/demo/garage/"


def test_logged_out_goes_to_login(client, demo):
    resp = client.get(CONSOLE)
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    resp = client.post(f"{CONSOLE}bays", data={"bay": "G-A01", "status": "free"})
    assert resp.status_code in (302, 400)  # no session: the CSRF check or the login redirect stops it


@pytest.mark.parametrize("owner", ["kopi", "cinema"])
def test_owner_of_another_zone_gets_403(client, console, owner, db):
    console.login(owner)
    assert client.get(CONSOLE).status_code == 403
    before = ParkingStore(db).states("demo")
    resp = client.post(f"{CONSOLE}bays", data={"bay": "G-A01", "status": "free", "csrf_token": console.csrf()})
    assert resp.status_code == 403
    assert ParkingStore(db).states("demo") == before


def test_garage_owner_sees_occupancy(client, console, db):
    console.login("parking")
    page = client.get(CONSOLE).get_data(as_text=True)
    (level,) = ParkingStore(db).level_counts("demo", "garage")
    assert level.total == 95 and level.free + level.occupied == 95  # the demo seeds every bay
    row = re.search(r'<tr id="level-0">(.*?)</tr>', page).group(1)
    assert f'class="free">{level.free}<' in row and f'class="occupied">{level.occupied}<' in row
    assert 'id="area-0-A"' in page and 'id="occupancy-0"' in page
    assert page.count('class="bay"') == 95


def test_operator_may_see_it_too(client, console):
    console.login("ops")
    assert client.get(CONSOLE).status_code == 200


def test_set_bay_by_hand(client, console, db):
    console.login("parking")
    store = ParkingStore(db)
    target = "G-E01"
    wanted = "free" if store.states("demo").get(target) == "occupied" else "occupied"
    before = store.level_counts("demo", "garage")[0]
    resp = client.post(f"{CONSOLE}bays", data={"bay": target, "status": wanted, "csrf_token": console.csrf()})
    assert resp.status_code == 303
    assert store.states("demo")[target] == wanted
    after = store.level_counts("demo", "garage")[0]
    assert after.free - before.free == (1 if wanted == "free" else -1)
    entry = AuditLog(db).recent("demo", 1)[0]
    assert entry["action"] == "parking.bay.set" and entry["user"] == "parking"
    assert entry["detail"] == {"zone": "garage", "bay": target, "status": wanted}


@pytest.mark.parametrize("form, words", [
    ({"bay": "G-Z99", "status": "free"}, "Unknown bay"),
    ({"bay": "", "status": "free"}, "Unknown bay"),
    ({"bay": "G-A01", "status": "towed"}, "Status must be"),
])
def test_set_bay_bad_input(client, console, db, form, words):
    console.login("parking")
    before = ParkingStore(db).states("demo")
    resp = client.post(f"{CONSOLE}bays", data={**form, "csrf_token": console.csrf()})
    assert resp.status_code == 422 and words in resp.get_data(as_text=True)
    assert ParkingStore(db).states("demo") == before


def test_set_bay_needs_csrf(client, console, db):
    console.login("parking")
    before = ParkingStore(db).states("demo")
    assert client.post(f"{CONSOLE}bays", data={"bay": "G-A01", "status": "free"}).status_code == 400
    assert ParkingStore(db).states("demo") == before


def test_lookup_log_shows_hashes_not_plates(client, console, demo):
    find(client, "粤B D8888", shopper_c(client.application, "log-shopper"))
    console.login("parking")
    page = client.get(CONSOLE).get_data(as_text=True)
    table = re.search(r'<table id="lookups">(.*?)</table>', page, re.S).group(1)
    assert "log-shopper" in table and "exact" in table
    assert "D8888" not in page
    assert DEMO_PLATE_BAY in page  # the bay itself is fine: it is on the plan anyway


TARIFF_FORM = "/console/owner/demo/zone/garage"


def _tariff(svc) -> dict:
    return svc.zone_apps.get("demo", "garage")[1]


@pytest.mark.parametrize("owner", ["kopi", "cinema"])
def test_only_the_garage_owner_sets_the_tariff(client, console, svc, owner):
    console.login(owner)
    before = _tariff(svc)
    resp = client.post(TARIFF_FORM, data={"csrf_token": console.csrf(), "app": "parking", "hourly_fen": "1"})
    assert resp.status_code == 403
    assert _tariff(svc) == before


def test_garage_owner_sets_the_tariff(client, console, svc):
    console.login("parking")
    resp = client.post(TARIFF_FORM, data={"csrf_token": console.csrf(), "app": "parking", "free_minutes": "30",
                                          "hourly_fen": "8", "daily_cap_fen": "60", "grace_minutes": "20",
                                          "points_per_yuan": "100", "spend_fen_per_hour": "200",
                                          "max_free_hours": "2"})
    assert resp.status_code == 303
    saved = _tariff(svc)
    assert (saved["free_minutes"], saved["hourly_fen"], saved["daily_cap_fen"], saved["points_per_yuan"]) == \
        (30, 800, 6000, 100)


@pytest.mark.parametrize("field, value", [("hourly_fen", "-1"), ("hourly_fen", "5.555"), ("free_minutes", "1441"),
                                          ("daily_cap_fen", "abc"), ("grace_minutes", "0")])
def test_bad_tariff_is_refused_and_nothing_saved(client, console, svc, field, value):
    console.login("parking")
    before = _tariff(svc)
    resp = client.post(TARIFF_FORM, data={"csrf_token": console.csrf(), "app": "parking", field: value})
    assert resp.status_code == 422
    assert _tariff(svc) == before


def _left_owing(client, demo, plate_text="粤A DEBT7"):
    """A car that came in 2 h 30 min ago and left without paying (no payment service here): owed ¥15.00."""
    import time

    from parking_fixtures import auth

    now = time.time()
    events = [{"type": "entry", "plate": plate_text, "ts": now - 9000},
              {"type": "exit", "plate": plate_text, "ts": now}]
    resp = client.post("/api/v1/venues/demo/parking/events", json={"events": events}, headers=auth(demo))
    assert resp.get_json()["exits"] == [{"index": 1, "outcome": "owed", "due_fen": 1500}]


def test_the_owed_list_is_the_car_park_offices_and_the_operators(client, console, demo):
    _left_owing(client, demo)
    resp = client.get(f"{CONSOLE}owed")
    assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    console.login("kopi")  # another zone's owner
    resp = client.get(f"{CONSOLE}owed")
    assert resp.status_code == 403 and "粤ADEBT7" not in resp.get_data(as_text=True)
    for who in ("parking", "ops"):
        console.logout()
        console.login(who)
        page = client.get(f"{CONSOLE}owed").get_data(as_text=True)
        table = re.search(r'<table id="owed">(.*?)</table>', page, re.S).group(1)
        assert "粤ADEBT7" in table and "¥15.00" in table and "1 exit owes ¥15.00 in all." in page
    assert 'id="owed-link"' in client.get(CONSOLE).get_data(as_text=True)
    zh = client.get(f"{CONSOLE}owed?lang=zh").get_data(as_text=True)
    assert "¥15.00" in zh and "欠费" in zh
    assert "<th>离场时间</th>" in zh and "<th>剩余</th>" not in zh  # "Left" as the car left, not "remaining"


def test_the_owed_list_answers_503_when_the_store_is_down(client, console, demo, monkeypatch):
    import redis

    console.login("parking")

    def broken(self, venue, limit=500):
        raise redis.ConnectionError("store down")

    monkeypatch.setattr(ParkingStore, "open_debts", broken)
    assert client.get(f"{CONSOLE}owed").status_code == 503


def test_the_occupancy_plan_is_labelled_in_the_owners_language(client, console, svc):
    console.login("parking")
    zone = next(z for z in svc.venues.get_map("demo").zones if z.floor == 0 and z.name_zh and z.name_zh != z.name)

    def plan(lang: str) -> str:
        page = client.get(f"{CONSOLE}?lang={lang}").get_data(as_text=True)
        return re.search(r'<svg[^>]*id="occupancy-0".*?</svg>', page, re.S).group(0)

    assert zone.name_zh in plan("zh") and zone.name not in plan("zh") and zone.name in plan("en")
