"""Shopper pages: free bays, find my car (exact, partial, none), bad input, limits, the lookup log."""

from __future__ import annotations

import html
import re
import time
from datetime import datetime
from urllib.parse import parse_qsl, urlsplit

import pytest
from parking_fixtures import (  # noqa: F401 (the `garage` fixture)
    LANDING,
    VENUE,
    bay,
    find,
    find_page,
    find_verified_page,
    garage_fixture,
    plate,
    post_events,
    shopper_c,
    verify,
)

from core.settings import DEFAULT_BUDGETS
from lightapps.parking.store import ParkingKeys, ParkingStore
from portal.shopper import cookie_name
from portal.tracking import Position

SHOPPER_LIMIT = DEFAULT_BUDGETS["parking.lookup.shopper"][0]
IP_LIMIT = DEFAULT_BUDGETS["parking.lookup.ip"][0]

def log(db) -> list[dict]:
    return ParkingStore(db).lookups(VENUE, 100)


def test_landing_shows_free_bays_per_level(client, garage):
    now = time.time()
    post_events(client, garage, bay("G-A01", "free", now), bay("G-A02", "free", now), bay("G-A03", "occupied", now))
    page = client.get(LANDING).get_data(as_text=True)
    assert re.search(r'id="free-0">2<', page)
    assert "free of 95" in page and "92 not reporting" in page
    assert 'name="c"' in page and 'action="/v/demo/parking/garage/find"' in page


def test_landing_in_chinese(client, garage):
    page = client.get(f"{LANDING}?lang=zh").get_data(as_text=True)
    assert "停车场" in page and "反向寻车" in page


def test_landing_is_small_and_needs_no_script(client, garage):
    page = client.get(LANDING).get_data(as_text=True)
    assert len(page.encode()) < 100_000 and "<script" not in page


def test_landing_404_where_the_app_is_off(client, garage):
    assert client.get("/v/demo/parking/kopi").status_code == 404
    assert client.get("/v/demo/parking/nozone").status_code == 404
    assert client.get("/v/nowhere/parking/garage").status_code == 404


def test_exact_lookup_shows_bay_plan_and_route(client, garage, db):
    post_events(client, garage, plate("SG 1234-A", "G-C07"))
    c = shopper_c(client.application)
    resp = find(client, "sg1234a", c)
    assert resp.status_code == 303
    location = resp.headers["Location"]
    assert "c=" in location and "1234" not in location  # the plate never goes into a URL
    first = client.get(location).get_data(as_text=True)
    assert "G-C07" not in first and "<svg" not in first and 'id="verify"' in first  # the plate alone: level, area
    page = find_verified_page(client, "sg1234a", c)
    assert '<strong id="bay">G-C07</strong>' in page and "Area C" in page
    assert '<svg xmlns="http://www.w3.org/2000/svg" id="plan-0"' in page
    assert 'data-bay="G-C07" ' in page and 'fill="#ff9800"' in page  # the car's bay is highlighted
    assert '<polyline class="route"' in page
    assert "From the car park entrance" in page  # an unplaced shopper walks from the garage door
    assert len(page.encode()) < 100_000 and "<script" not in page
    entry = log(db)[-1]
    assert entry["kind"] == "exact" and entry["results"] == 1 and entry["shopper"] == "shopper-1"
    assert "SG1234A" not in str(entry) and len(entry["plate"]) == 16


def test_route_starts_where_the_portal_places_the_shopper(client, garage, monkeypatch):
    post_events(client, garage, plate("UP2DOWN", "G-B10"))
    locator = client.application.extensions["mallportal"].locator
    upstairs = Position(1, 60.0, 30.0, "foodcourt", .9, .9)
    monkeypatch.setattr(locator, "locate", lambda venue, client_id, now=None: upstairs)
    page = find_verified_page(client, "UP2DOWN", shopper_c(client.application))
    assert "From where you are" in page and "You are here" in page
    assert 'id="plan-1"' in page and 'id="plan-0"' in page  # upstairs, then the garage level
    assert re.search(r"Take the (escalator|lift|stairs) to level G", page)
    assert page.index('id="plan-1"') < page.index('id="plan-0"')


def test_a_shopper_who_declined_location_walks_from_the_entrance(client, garage, monkeypatch):
    """Location-based services off in her privacy choices: her position is not used (PIPL; the notice says so)."""
    post_events(client, garage, plate("NOLOC1", "G-B10"))
    locator = client.application.extensions["mallportal"].locator
    upstairs = Position(1, 60.0, 30.0, "foodcourt", .9, .9)
    monkeypatch.setattr(locator, "locate", lambda venue, client_id, now=None: upstairs)
    c = shopper_c(client.application)
    assert client.post(f"/v/{VENUE}/privacy", data={"c": c, "next": f"/v/{VENUE}/me"}).status_code == 303
    page = find_verified_page(client, "NOLOC1", c)
    assert "From the car park entrance" in page and "You are here" not in page


def test_position_off_the_plan_falls_back_to_the_entrance(client, garage, monkeypatch):
    post_events(client, garage, plate("OFFPLAN1", "G-B10"))
    locator = client.application.extensions["mallportal"].locator
    monkeypatch.setattr(locator, "locate", lambda venue, client_id, now=None: Position(7, 500.0, 30.0, None, .1, .1))
    page = find_verified_page(client, "OFFPLAN1", shopper_c(client.application))
    assert "From the car park entrance" in page


def test_configured_entrance_is_used(client, garage, svc):
    svc.zone_apps.set(VENUE, "garage", "parking", {"entrance": "0,2,58"})
    post_events(client, garage, plate("ENTR4NCE", "G-A01"))
    page = find_verified_page(client, "ENTR4NCE", shopper_c(client.application))
    assert re.search(r'<circle cx="10\.0" cy="290\.0"', page)  # 2 m, 58 m at 5 px per metre


def test_partial_lookup_shows_level_and_area_only(client, garage, db):
    now = time.time()
    post_events(client, garage, plate("AB4711", "G-A03", now), plate("CD4711", "G-D05", now))
    page = find_page(client, "4711", shopper_c(client.application))
    assert "2 cars match part of the plate" in page
    assert "Area A" in page and "Area D" in page
    assert "G-A03" not in page and "G-D05" not in page and "AB4711" not in page and "<svg" not in page
    assert log(db)[0]["kind"] == "partial" and log(db)[0]["results"] == 2


def test_more_than_three_matches_shows_none(client, garage, db):
    now = time.time()
    post_events(client, garage, *[plate(f"{p}9090", f"G-A0{i + 1}", now) for i, p in enumerate("WXYZ")])
    page = find_page(client, "9090", shopper_c(client.application))
    assert "More than 3 cars match" in page and "Area A" not in page
    assert log(db)[0]["kind"] == "too_many" and log(db)[0]["results"] == 0


def test_unknown_plate(client, garage, db):
    page = find_page(client, "NOCAR99", shopper_c(client.application))
    assert "No car with that plate" in page
    assert log(db)[0]["kind"] == "none"


def test_fee_for_an_unknown_plate_goes_back_to_the_form(client, garage, db):
    """As /find does: the POST answers 303 (a reload or Back asks nothing again), the form says why; the plate
    is not in the address."""
    c = shopper_c(client.application)
    resp = client.post(f"{LANDING}/fee", data={"plate": "粤B 99999", "c": c, "lang": "zh"})
    assert resp.status_code == 303
    location = resp.headers["Location"]
    assert location.startswith(f"{LANDING}?") and location.endswith("#fee-form")
    assert f"c={c}" in location and "lang=zh" in location and "99999" not in location
    page = client.get(location)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert re.search(r'<form class="find" method="post" id="fee-form"[^>]*>\s*<input[^>]*>(<input[^>]*>)?\s*'
                     r'<p class="error" id="fee-error" role="alert">停车场内没有该车牌的车辆', html)
    assert 'aria-describedby="fee-error"' in html and 'id="error"' not in html
    assert log(db)[0]["kind"] == "fee-none"
    english = client.get(f"{LANDING}?fee=none&lang=en").get_data(as_text=True)
    assert "No car with that plate is in the car park now" in english
    assert 'id="fee-error"' not in client.get(f"{LANDING}?fee=other").get_data(as_text=True)


@pytest.mark.parametrize("raw", ["", "AB1", "A-B 1", "<b>1234", "X" * 41, "ABCDEFGHIJK"])
def test_bad_query_is_422_and_not_counted(client, garage, db, raw):
    resp = find(client, raw, shopper_c(client.application))
    assert resp.status_code == 422
    assert 'id="error"' in resp.get_data(as_text=True)
    assert log(db) == [] and not list(db.scan_iter(match=b"mp:{demo}:budget:*"))


def test_a_plate_with_a_bullet_for_its_dot_is_found(client, garage, db):
    """粤B•D8888 (U+2022, as some phone keyboards type the plate's dot) has 7 letters and digits: found."""
    post_events(client, garage, plate("粤B D8888", "G-C07"))
    page = find_page(client, "粤B•D8888", shopper_c(client.application))
    assert 'id="verify"' in page and "level G, area C" in page
    assert log(db)[0]["kind"] == "exact"


@pytest.mark.parametrize("raw, named", [("粤B$D8888", "“$”"), ("AB<b>1234", "“&lt;”"), ("AB\x001234", "“U+0000”")])
def test_a_character_no_plate_has_is_named_not_counted(client, garage, db, raw, named):
    """Not "type at least 4 letters or digits" for a plate that has 7: the page names what to remove."""
    for path in ("find", "fee"):
        resp = client.post(f"{LANDING}/{path}", data={"plate": raw, "c": shopper_c(client.application)})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 422 and f"A number plate has only letters and digits: remove {named}." in html
        assert "Type at least" not in html and "<b>" not in html
    assert log(db) == [] and not list(db.scan_iter(match=b"mp:{demo}:budget:*"))


def test_a_refused_fee_plate_is_answered_by_the_fee_form_with_what_was_typed(client, garage, db):
    """The fee form's refusal stands by the fee form, which keeps the plate typed; the finder's form is left
    as it was (its error and plate belong to a /find)."""
    c = shopper_c(client.application)
    for raw, words in (("粤B$D8888", "remove “$”"), ("B1", "Type your whole number plate"),
                       ("X" * 41, "Type at most")):
        resp = client.post(f"{LANDING}/fee", data={"plate": raw, "c": c})
        html = resp.get_data(as_text=True)
        assert resp.status_code == 422, raw
        assert re.search(r'<p class="error" id="fee-error" role="alert">[^<]*' + re.escape(words), html), raw
        assert 'id="error"' not in html and 'id="plate" name="plate" value=""' in html
        kept = "" if len(raw) > 40 else raw  # a plate longer than any is not offered back
        assert f'id="fee-plate" name="plate" value="{kept}"' in html, raw
    resp = client.post(f"{LANDING}/find", data={"plate": "粤B$D8888", "c": c})
    html = resp.get_data(as_text=True)
    assert 'id="error"' in html and 'id="fee-error"' not in html and 'id="fee-plate" name="plate" value=""' in html
    assert log(db) == []


def test_rate_limit_per_shopper(client, garage, db):
    c = shopper_c(client.application, "curious")
    for _ in range(SHOPPER_LIMIT):
        assert find(client, "SG1234A", c).status_code == 303
    resp = find(client, "SG1234B", c)
    # A sliding window: a full current window also has to age past part of the next one, so the wait
    # runs up to two windows depending on when in the window the test runs.
    assert resp.status_code == 429 and 0 < int(resp.headers["Retry-After"]) <= 2 * 600
    assert "Too many lookups" in resp.get_data(as_text=True)
    assert log(db)[0]["kind"] == "limited"
    assert find(client, "SG1234A", shopper_c(client.application, "someone-else")).status_code == 303


def test_rate_limit_per_ip_catches_fresh_shoppers(client, garage):
    codes = []
    for i in range(IP_LIMIT + 2):
        client.delete_cookie(cookie_name("demo"))  # each a new shopper: no token, no cookie
        codes.append(find(client, f"ENUM{i:04d}", None, ip="10.9.8.7").status_code)
    assert codes.count(303) == IP_LIMIT and codes[-2:] == [429, 429]
    assert find(client, "ENUM0000", None, ip="10.9.8.6").status_code == 303


def test_lookups_switched_off_are_a_403_with_no_wait(client, garage, db):
    """A venue that set a lookup budget to 0: no wait ends it, so the page says so and names no minutes."""
    client.application.extensions["budgets"].set_limit("demo", "parking.lookup.shopper", (0, 600))
    resp = find(client, "SG1234A", shopper_c(client.application, "curious"))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 403 and "Retry-After" not in resp.headers and "minutes" not in page
    assert "switched off" in page and "car park office" in page and log(db)[0]["kind"] == "limited"


def test_result_page_belongs_to_its_shopper(client, garage):
    post_events(client, garage, plate("MINE4040", "G-A01"))
    location = find(client, "MINE4040", shopper_c(client.application, "owner-of-car")).headers["Location"]
    path = location.split("?")[0]
    other = client.get(f"{path}?c={shopper_c(client.application, 'stranger')}")
    assert other.status_code == 404 and "G-A01" not in other.get_data(as_text=True)
    assert client.get(f"{LANDING}/car/not-a-real-result-id?c={shopper_c(client.application)}").status_code == 404
    assert client.get(f"{LANDING}/car/..%2f..?c={shopper_c(client.application)}").status_code == 404


def test_result_expires(client, garage, db):
    location = find(client, "EXPIRE12", shopper_c(client.application)).headers["Location"]
    (key,) = list(db.scan_iter(match=ParkingKeys(VENUE).result("*").encode()))
    assert 0 < db.ttl(key) <= 600
    db.delete(key)
    assert client.get(location).status_code == 404


def test_language_travels_through_the_lookup(client, garage):
    post_events(client, garage, plate("ZH8080", "G-A01"))
    resp = find(client, "ZH8080", shopper_c(client.application), lang="zh")
    assert "lang=zh" in resp.headers["Location"]
    assert "lang=zh" in client.get(resp.headers["Location"]).get_data(as_text=True)


# ---- the second factor of a whole-plate lookup -----------------------------------------------------


def _hour_of(ts: float) -> int:
    return int(datetime.fromtimestamp(ts).replace(minute=0, second=0, microsecond=0).timestamp())


def test_a_plate_alone_shows_level_and_area_until_the_hour_is_named(client, garage, db):
    parked = time.time() - 3 * 3600
    post_events(client, garage, plate("HOUR1234", "G-C07", parked))
    location = find(client, "HOUR1234", shopper_c(client.application)).headers["Location"]
    page = client.get(location).get_data(as_text=True)
    assert "level G, area C" in page and 'id="verify"' in page
    assert "G-C07" not in page and "<svg" not in page and 'id="route-summary"' not in page
    wrong = verify(client, location, _hour_of(parked + 3600))
    assert wrong.status_code == 403 and "G-C07" not in wrong.get_data(as_text=True)
    assert verify(client, location, 12345).status_code == 400  # not an offered hour: not counted
    right = verify(client, location, _hour_of(parked))
    assert right.status_code == 303
    assert '<strong id="bay">G-C07</strong>' in client.get(location).get_data(as_text=True)


def test_guesses_at_the_hour_spend_a_budget_per_plate(client, garage):
    parked = time.time() - 5 * 3600
    post_events(client, garage, plate("GUESS777", "G-A01", parked))
    limit = DEFAULT_BUDGETS["parking.verify.plate"][0]
    wrong = [_hour_of(time.time() - h * 3600) for h in range(0, 24) if h != 5]
    statuses = []
    for i, hour in enumerate(wrong[:limit + 1]):  # each guess from another shopper and address
        ip = f"10.7.0.{i}"
        location = find(client, "GUESS777", shopper_c(client.application, f"guesser-{i}"), ip=ip).headers["Location"]
        statuses.append(verify(client, location, hour, ip=ip).status_code)
    assert statuses == [403] * limit + [429]
    # The owner, too, must now ask at the office (or wait): the budget is the plate's.
    location = find(client, "GUESS777", shopper_c(client.application, "owner")).headers["Location"]
    assert verify(client, location, _hour_of(parked)).status_code == 429


def test_no_page_shows_when_a_car_was_seen_before_verification(client, garage):
    now = time.time()
    post_events(client, garage, plate("AB4712", "G-A03", now), plate("CD4712", "G-D05", now))
    page = find_page(client, "4712", shopper_c(client.application))
    assert "seen at" not in page.lower() and not re.search(r"\b\d\d:\d\d\b", page)


def _hour(ts: float) -> int:
    return int(datetime.fromtimestamp(ts).replace(minute=0, second=0, microsecond=0).timestamp())


def test_me_shows_the_bay_only_after_the_hour_was_named(client, garage):
    """Me's "my car" follows the car page: a whole-plate lookup shows the bay once verified, never before
    (anyone who knows a plate could otherwise read the bay there)."""
    parked = time.time() - 3 * 3600
    post_events(client, garage, plate("VICT1234", "G-C07", parked))
    c = shopper_c(client.application, "stranger")
    location = find(client, "VICT1234", c).headers["Location"]
    assert "G-C07" not in client.get(f"/v/{VENUE}/me?c={c}").get_data(as_text=True)
    assert verify(client, location, _hour(parked)).status_code == 303
    assert "G-C07" in client.get(f"/v/{VENUE}/me?c={c}").get_data(as_text=True)


def test_hour_guesses_count_on_one_plate_however_it_was_typed(client, garage):
    """The per-plate guess budget is the stored plate's: a Chinese plate typed with or without its province
    character spends from the same budget."""
    parked = time.time() - 5 * 3600
    post_events(client, garage, plate("粤B D8888", "G-C07", parked))
    limit = DEFAULT_BUDGETS["parking.verify.plate"][0]
    wrong = [_hour(time.time() - h * 3600) for h in range(0, 24) if h != 5]
    statuses = []
    for n in range(limit + 1):
        ip, c = f"10.9.0.{n + 1}", shopper_c(client.application, f"g{n}")
        query = "粤BD8888" if n % 2 else "BD8888"
        location = find(client, query, c, ip=ip).headers["Location"]
        statuses.append(verify(client, location, wrong[n], ip=ip).status_code)
    assert statuses == [403] * limit + [429]


def test_the_plan_is_labelled_in_the_browsers_language(client, garage):
    """A Chinese phone without ?lang: the page is Chinese, and so are the plan's labels (its zones)."""
    post_events(client, garage, plate("ZH7070", "G-A01"))
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN,zh;q=0.9,en;q=0.5"
    page = find_verified_page(client, "ZH7070", shopper_c(client.application))
    assert 'id="plan-0"' in page and "停车场" in page
    assert "中庭" in page and "考比咖啡" in page  # the atrium and Kopi Coffee, as with ?lang=zh
    assert ">Atrium<" not in page and ">Kopi Coffee<" not in page
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en-GB,en;q=0.9"
    english = find_verified_page(client, "ZH7070", shopper_c(client.application))
    assert ">Atrium<" in english and "中庭" not in english


# ---- plates as people type them (traditional characters; a plate read without its province) ----------


@pytest.mark.parametrize("stored, typed", [("粤B D8888", "粵BD8888"),  # a Hong Kong or Taiwan keyboard
                                           ("BD8888", "粤BD8888"),  # the reader missed the province character
                                           ("粵B D8888", "粤BD8888")])  # a reader that writes it traditional
def test_plates_as_people_type_them_find_the_car(client, garage, stored, typed):
    post_events(client, garage, plate(stored, "G-C07"))
    c = shopper_c(client.application)
    first = find_page(client, typed, c)
    assert 'id="verify"' in first and "level G, area C" in first
    page = find_verified_page(client, typed, c)  # the hour is the stored plate's stay's
    assert '<strong id="bay">G-C07</strong>' in page


# ---- a step-free walk to the car (trolleys, prams, wheelchairs) -----------------------------------------

NOODLE_BAR = Position(1, 55.0, 20.0, "noodle", .9, .9)  # upstairs, by the down escalator


def _upstairs(client, garage: str, monkeypatch, plate_text: str, **extra) -> tuple[str, str]:
    """A car in G-A01, its owner upstairs by the noodle bar: (the car page's URL, verified, and the page)."""
    parked = time.time() - 3 * 3600
    post_events(client, garage, plate(plate_text, "G-A01", parked))
    locator = client.application.extensions["mallportal"].locator
    monkeypatch.setattr(locator, "locate", lambda venue, client_id, now=None: NOODLE_BAR)
    location = find(client, plate_text, shopper_c(client.application), **extra).headers["Location"]
    assert verify(client, location, _hour_of(parked)).status_code == 303
    return location, client.get(location).get_data(as_text=True)


def _link(page: str, link_id: str) -> str:
    return html.unescape(re.search(rf'<a href="([^"]+)" id="{link_id}"', page).group(1))


def test_the_car_page_offers_a_step_free_route(client, garage, monkeypatch):
    _location, fastest = _upstairs(client, garage, monkeypatch, "STEP4FREE", lang="en")
    assert "Take the escalator to level G" in fastest and "step-free" not in fastest.split('id="route-steps"')[0]
    link = _link(fastest, "step-free-route")
    assert "accessible=1" in link and "c=" in link and "lang=en" in link  # the shopper's token and language kept
    resp = client.get(link)
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "Take the lift to level G" in page and "escalator" not in page and "stairs" not in page.lower()
    assert re.search(r'id="route-summary">.*· step-free</p>', page, re.S)
    assert '<polyline class="route"' in page and 'id="plan-1"' in page and 'id="plan-0"' in page
    back = _link(page, "fastest-route")
    assert "accessible" not in back and "c=" in back and "lang=en" in back
    assert "Take the escalator" in client.get(back).get_data(as_text=True)


def test_the_step_free_choice_is_in_chinese_too(client, garage, monkeypatch):
    _location, fastest = _upstairs(client, garage, monkeypatch, "STEP4ZH", lang="zh")
    link = _link(fastest, "step-free-route")
    assert "lang=zh" in link
    page = client.get(link).get_data(as_text=True)
    assert "无障碍" in page and 'id="fastest-route"' in page


def test_no_step_free_route_says_so(client, garage, svc, monkeypatch):
    """The lift out of order (no lift on the map): the step-free page says there is no such route, and offers
    the fastest."""
    location, _page = _upstairs(client, garage, monkeypatch, "NOLIFT1")
    venue_map = svc.venues.get_map(VENUE, for_update=True)
    venue_map.edges = [e for e in venue_map.edges if e.kind != "elevator"]
    svc.venues.put_map(venue_map)
    resp = client.get(f"{location}&accessible=1")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert 'id="no-step-free"' in page and "There is no step-free route to your car" in page
    assert '<polyline class="route"' not in page and 'id="fastest-route"' in page
    assert 'id="no-route"' not in page
    assert "Take the escalator" in client.get(_link(page, "fastest-route")).get_data(as_text=True)


def test_a_route_without_stairs_or_escalators_says_it_is_step_free(client, garage):
    post_events(client, garage, plate("FLAT1234", "G-A01"))  # from the garage door, on the same level
    page = find_verified_page(client, "FLAT1234", shopper_c(client.application))
    assert re.search(r'id="route-summary">.*· step-free</p>', page, re.S)
    assert 'id="step-free-route"' not in page


@pytest.mark.parametrize("raw", ["maybe", "2", "yes please", "1" * 200, "on\x00"])
def test_a_step_free_value_that_is_not_on_or_off_is_400(client, garage, monkeypatch, raw):
    location, _page = _upstairs(client, garage, monkeypatch, "ODDVAL1")
    resp = client.get(urlsplit(location).path, query_string={**_query(location), "accessible": raw})
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "Step-free (lifts only, no stairs or escalators) must be on or off." in page
    assert "Take the escalator to level G" in page  # the fastest route, as when it is left out


@pytest.mark.parametrize("raw, step_free", [("1", True), ("true", True), ("ON", True), ("yes", True), ("0", False),
                                            ("off", False), ("", False), ("no", False)])
def test_step_free_values_as_navigation_takes_them(client, garage, monkeypatch, raw, step_free):
    location, _page = _upstairs(client, garage, monkeypatch, "VALUES1")
    resp = client.get(urlsplit(location).path, query_string={**_query(location), "accessible": raw})
    assert resp.status_code == 200
    assert ("Take the lift to level G" in resp.get_data(as_text=True)) is step_free


def _query(location: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(location).query))


def test_the_step_free_choice_survives_naming_the_hour(client, garage, monkeypatch):
    """A car page opened step-free before the hour was named: the verify form keeps the choice."""
    parked = time.time() - 3 * 3600
    post_events(client, garage, plate("KEEP1234", "G-A01", parked))
    locator = client.application.extensions["mallportal"].locator
    monkeypatch.setattr(locator, "locate", lambda venue, client_id, now=None: NOODLE_BAR)
    c = shopper_c(client.application)
    location = find(client, "KEEP1234", c).headers["Location"]
    unverified = client.get(f"{location}&accessible=1").get_data(as_text=True)
    action = html.unescape(re.search(r'id="verify" action="([^"]+)"', unverified).group(1))
    assert "accessible=1" in action
    done = client.post(action, data={"hour": str(_hour_of(parked)), "c": c})
    assert done.status_code == 303 and "accessible=1" in done.headers["Location"]
    assert "Take the lift to level G" in client.get(done.headers["Location"]).get_data(as_text=True)
    odd = client.post(action.replace("accessible=1", "accessible=maybe"), data={"hour": str(_hour_of(parked)), "c": c})
    assert odd.status_code == 303 and "accessible" not in odd.headers["Location"]  # dropped, not carried
