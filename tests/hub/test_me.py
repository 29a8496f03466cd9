"""Me: each app's part, collected through the light-app contract (`me.py`), only the bearer's own things;
the hub header on every shopper page; keeping the shopper in the real browser with a one-time link."""

import re
import time

from lightapps.cinema.store import CinemaStore, ShowtimeInput
from lightapps.coupons.store import CouponStore
from lightapps.queue.store import QueueStore
from portal.apps import registry
from portal.hub.keep import KeepKeys
from portal.shopper import COOKIE, new_shopper
from tests.hub.conftest import mint


def _a_ticket_coupon_and_number(svc, client_id: str) -> None:
    cinema = CinemaStore(svc.db)
    show = cinema.upsert_showtimes("demo", "cinema", [ShowtimeInput("Hub Film", "枢纽电影", "1",
                                                                   int(time.time()) + 3600, 4200)], source="t")
    show_obj = cinema.showtime("demo", show["ids"][0])
    held = cinema.hold("demo", show_obj, client_id, ["A1"], 300)
    assert cinema.confirm("demo", held.token, client_id, "cinema").status == "ok"
    coupons = CouponStore(svc.db)
    coupon = coupons.create("demo", "kopi", {"title_en": "Hub coffee", "title_zh": "枢纽咖啡", "description_en": "",
                                             "stock": 5, "valid_from": time.time() - 60,
                                             "valid_until": time.time() + 86400})
    assert coupons.claim("demo", "kopi", coupon.id, client_id).ok
    assert QueueStore(svc.db).take("demo", "foodcourt", "A", 2, client_id).ok


def test_me_collects_every_apps_part_for_the_bearer_only(app, client, svc, shopper):
    who, token = shopper
    _a_ticket_coupon_and_number(svc, who.client)
    page = client.get(f"/v/demo/me?c={token}&lang=en").get_data(as_text=True)
    for section in ("mine-cinema", "mine-coupons", "mine-queue", "mine-membership", "mine-parking"):
        assert f'id="{section}"' in page, section
    assert "Hub Film" in page and "Hub coffee" in page and "Become a member" in page and "Find my car" in page
    assert re.search(r'href="/v/demo/cinema/cinema/ticket/\w+\?[^"]*c=demo\.', page)
    other = mint(app, new_shopper("demo"))
    theirs = client.get(f"/v/demo/me?c={other}&lang=en").get_data(as_text=True)
    assert "Hub Film" not in theirs and "Hub coffee" not in theirs and 'id="mine-queue"' not in theirs
    anonymous = client.get("/v/demo/me?lang=en").get_data(as_text=True)
    assert "Hub Film" not in anonymous


def test_zh_me_and_times_in_the_venue_zone(client, svc, shopper):
    who, token = shopper
    _a_ticket_coupon_and_number(svc, who.client)
    page = client.get(f"/v/demo/me?c={token}&lang=zh").get_data(as_text=True)
    assert "枢纽电影" in page and "我的" in page


def test_an_app_without_a_mine_part_is_simply_absent(app):
    assert registry.parts("directory").mine is None
    assert registry.parts("cinema").mine is not None


def test_hub_header_on_every_shopper_page_keeps_the_token(client, shopper):
    _, token = shopper
    for path in ("/v/demo/", "/v/demo/cinema/cinema", "/v/demo/parking/garage", "/v/demo/queue/foodcourt",
                 "/v/demo/member", "/v/demo/coupons/mine"):
        page = client.get(f"{path}?c={token}").get_data(as_text=True)
        assert 'id="hub-nav"' in page, path
        assert f'href="/v/demo/me?c={token}"' in page, path
        assert f'href="/v/demo/?c={token}"' in page, path


def test_mall_home_lists_every_app_with_its_zones(client, shopper):
    _, token = shopper
    page = client.get(f"/v/demo/?c={token}&lang=en").get_data(as_text=True)
    assert 'id="venue-apps"' in page
    for url in ("/v/demo/cinema/cinema", "/v/demo/parking/garage", "/v/demo/queue/foodcourt",
                "/v/demo/zone/kopi/coupons", "/v/demo/zone/pixel/member"):
        assert re.search(rf'href="{url}\?[^"]*c={re.escape(token)}', page), url


def test_keep_link_works_once_and_leaves_no_token_in_the_address(client, db, shopper):
    who, token = shopper
    _ = db
    page = client.get(f"/v/demo/me?c={token}").get_data(as_text=True)
    link = re.search(r'id="keep-link" href="([^"]+)"', page).group(1)
    path = link.split("://", 1)[1].split("/", 1)[1]
    browser = client.application.test_client()  # the real browser: no cookie yet
    resp = browser.get("/" + path)
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/v/demo/me"
    cookie = browser.get_cookie(COOKIE)
    assert cookie is not None and cookie.value != token
    me = browser.get("/v/demo/me")
    assert me.status_code == 200 and 'id="kept"' in me.get_data(as_text=True)
    assert browser.get("/" + path).status_code == 404  # once
    assert not db.keys(KeepKeys("demo").code("*"))


def test_keep_with_a_bad_code_is_404_and_sets_nothing(client, demo):
    for code in ("", "x" * 200, "nope"):
        resp = client.get(f"/v/demo/keep?k={code}")
        assert resp.status_code == 404
        assert client.get_cookie(COOKIE) is None
