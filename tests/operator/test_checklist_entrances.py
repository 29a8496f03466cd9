"""The checklist's walkways step asks for an entrance: on a venue whose walkways mark no node where shoppers on foot
come in (the quality report's claim then places them along lobbies and corridors), the step says so and links the
walkway tool of the lowest floor with walkways that is not only car park (entrance_floor); marking one in the console
clears it. Floors not joined keep their link (joining them comes first). The demo mall marks its street doors: its
step stays done.

Real store (the suite's Valkey), the Flask test client."""

from __future__ import annotations

import html
import re

import pytest

from fingerprints.model import WalkEdge
from portal.auth import AccountStore
from portal.maps.checklist import _walkways, entrance_floor
from tests.operator.test_onboarding_review_fixes import tower

H = "/console/ops/harbour"
LINE = ("no entrance marked: mark the street doors where shoppers on foot come in (the quality report's claim places "
        "them along lobbies and corridors otherwise)")


@pytest.fixture
def harbour(client, console, svc):
    AccountStore(svc.db).create("harbour-ops", "harbour-pass-1", "operator", "harbour")
    console.login("harbour-ops", "harbour-pass-1")
    return console


def walkways_step(client, venue_url: str = H, lang: str = "en") -> tuple[str, str, str]:
    """(done or todo, the step's words, its HTML)."""
    page = client.get(f"{venue_url}/checklist?lang={lang}").get_data(as_text=True)
    item = re.search(r'<li id="step-walkways" class="(\w+)">(.*?)</li>\s*(?:<li id="step-|</ol>)', page, re.S)
    assert item, page
    words = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", item.group(2))))
    return item.group(1), words, item.group(2)


def test_walkways_with_no_entrance_ask_for_one_and_marking_one_clears_it(client, harbour, svc):
    # three floors, all joined, listed out of order: the link goes to the lowest (-1), not the first listed
    joined = [WalkEdge("n0-2", "n1-2", "elevator"), WalkEdge("n-1-0", "n0-0", "stairs")]
    svc.venues.put_map(tower(joined, levels=(0, 1, -1), entrance=False))
    state, words, item = walkways_step(client)
    assert state == "todo" and LINE in words and "not all joined" not in words
    assert f'<a href="{H}/setup/floor/-1?tool=walkway">Mark the entrances</a>' in item
    zh_state, zh_words, zh_item = walkways_step(client, lang="zh")
    assert zh_state == "todo" and "未标出入口" in zh_words and ">标出入口</a>" in zh_item and "entrance" not in zh_words
    before = svc.venues.current_version("harbour")
    resp = client.post(H + "/setup/walkway/entrance", data={"csrf_token": harbour.csrf(), "node": "n-1-0",
                                                            "floor": "-1"})
    assert resp.status_code == 303 and svc.venues.current_version("harbour") == before + 1
    state, words, item = walkways_step(client)
    assert state == "done" and "entrance" not in words and "Add derived walkways to a draft" in words
    # unmarked again: the step asks again
    resp = client.post(H + "/setup/walkway/entrance", data={"csrf_token": harbour.csrf(), "node": "n-1-0",
                                                            "floor": "-1", "clear": "1"})
    assert resp.status_code == 303 and walkways_step(client)[0] == "todo"


def test_floors_not_joined_keep_their_link_when_no_entrance_is_marked_either(client, harbour, svc):
    svc.venues.put_map(tower([], levels=(0, 1), entrance=False))
    state, words, item = walkways_step(client)
    assert state == "todo" and "not all joined" in words and LINE in words
    assert f'<a href="{H}/setup/floor/1?tool=walkway">Link the floors</a>' in item and "Mark the entrances" not in item
    svc.venues.put_map(tower([], levels=(0, 1)))  # an entrance marked: the floors still apart, nothing else asked
    state, words, item = walkways_step(client)
    assert state == "todo" and "not all joined" in words and "no entrance marked" not in words


def test_the_demo_marks_its_street_doors_and_its_step_stays_done(client, ops, svc):
    assert svc.venues.get_map("demo").entrance_spots()
    state, words, _item = walkways_step(client, "/console/ops/demo")
    assert state == "done" and "no entrance marked" not in words, words


def test_the_link_skips_a_car_park_below_the_shops(client, harbour, svc):
    """The lowest floor is often the car park: the link goes to the lowest floor with walkways that is not only car
    park (here L0, above the garage at -1), and to the lowest with walkways when every floor is car park."""
    joined = [WalkEdge("n0-2", "n1-2", "elevator"), WalkEdge("n-1-0", "n0-0", "stairs")]
    venue_map = tower(joined, levels=(-1, 0, 1), entrance=False)
    next(z for z in venue_map.zones if z.floor == -1).kind = "garage"
    svc.venues.put_map(venue_map)
    state, words, item = walkways_step(client)
    assert state == "todo" and LINE in words
    assert f'<a href="{H}/setup/floor/0?tool=walkway">Mark the entrances</a>' in item
    for zone in venue_map.zones:
        zone.kind = "garage"
    svc.venues.put_map(venue_map)
    assert f'<a href="{H}/setup/floor/-1?tool=walkway">Mark the entrances</a>' in walkways_step(client)[2]


def test_entrance_floor_falls_back_and_never_raises():
    venue_map = tower([], levels=(-2, -1, 3), entrance=False)
    for zone in venue_map.zones:
        zone.kind = "garage" if zone.floor < 0 else "shop"
    assert entrance_floor(venue_map) == 3
    venue_map.zones = [z for z in venue_map.zones if z.floor != 3]  # a floor with walkways and no zone drawn yet
    assert entrance_floor(venue_map) == 3
    venue_map.nodes = [n for n in venue_map.nodes if n.floor != 3]  # only the car parks have walkways
    assert entrance_floor(venue_map) == -2
    venue_map.nodes = []
    assert entrance_floor(venue_map) == -2  # no walkways at all: the lowest floor
    venue_map.floors = []
    assert entrance_floor(venue_map) is None


def test_the_walkways_step_of_a_map_with_walkways_and_no_floors_does_not_raise(app):
    """The checklist page shows no walkways step without floors, but the step itself must not raise on such a map
    (min() of no floors did): it asks for an entrance, its link left as it was."""
    venue_map = tower([], levels=(0,), entrance=False)
    venue_map.floors, venue_map.zones = [], []
    with app.test_request_context("/"):
        step = _walkways("harbour", venue_map)
    assert not step.done and LINE in step.missing and "/setup/floor/" not in step.link
