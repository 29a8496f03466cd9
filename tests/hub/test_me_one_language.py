"""A name written in one language only is shown on the other language's pages, never blank: an activity's title on
Me, and a zone's name (a map imported with English names only) on Me, the mall home and the zone's own pages."""

import time

import pytest

from fingerprints.model import Zone
from lightapps.activities.store import ActivityStore
from lightapps.queue.store import QueueStore
from tests.pages import visible_text


def test_me_names_an_activity_published_in_english_only_on_a_chinese_page(client, svc, shopper):
    who, token = shopper
    acts, now = ActivityStore(svc.db), time.time()
    event = acts.create("demo", "atrium", {"kind": "event", "title_en": "Lego workshop", "title_zh": "",
                                           "starts_at": now + 3600, "ends_at": now + 7200, "limit": 5})
    assert client.post(f"/v/demo/activities/{event.id}/join", data={"c": token}).status_code == 303
    page = client.get(f"/v/demo/me?c={token}&lang=zh").get_data(as_text=True)
    code = acts.joined("demo", who.client, [event.id])[event.id]
    assert code in page
    assert '<span lang="en">Lego workshop</span>' in page  # bilingual.pick's fallback, tagged as English


@pytest.fixture
def english_only(svc, demo):
    """The food court and the car park named in English only, as a map imported without Chinese names."""
    with svc.venues.edit("demo", "test.zone_names", by="test") as venue_map:
        for zone in venue_map.zones:
            if zone.id in ("foodcourt", "garage"):
                zone.name_zh = ""


def test_me_names_a_zone_without_a_chinese_name_in_english(client, svc, shopper, english_only):
    who, token = shopper
    assert QueueStore(svc.db).take("demo", "foodcourt", "A", 2, who.client).ok
    page = visible_text(client.get(f"/v/demo/me?c={token}&lang=zh").get_data(as_text=True))
    assert "Food court" in page  # the queue number's place
    assert "Car park" in page  # "find my car" in the car park


def test_zone_pages_and_the_mall_home_name_a_zone_without_a_chinese_name(client, shopper, english_only):
    _, token = shopper
    home = client.get(f"/v/demo/?c={token}&lang=zh").get_data(as_text=True)
    apps = home[home.index('id="venue-apps"'):]
    assert "Food court" in apps and "Car park" in apps
    for path, name in (("/v/demo/queue/foodcourt", "Food court"), ("/v/demo/parking/garage", "Car park")):
        page = client.get(f"{path}?c={token}&lang=zh").get_data(as_text=True)
        assert f'<h1 id="zone-title">{name}</h1>' in page, path


@pytest.mark.parametrize(("name", "name_zh", "zh", "shown"), [
    ("Food court", "美食广场", True, "美食广场"),
    ("Food court", "美食广场", False, "Food court"),
    ("Food court", "", True, "Food court"),
    ("", "美食广场", False, "美食广场"),
])
def test_zone_label_falls_back_to_the_other_language(name, name_zh, zh, shown):
    assert Zone("foodcourt", name, name_zh, 1, []).label(zh) == shown
