"""A page that lists places draws their images from one read (portal/media/views.py `media_prefetch`, one MGET):
a day's films on the cinema page, a menu's dishes, the activities, and the consoles' image forms; each
`media_picture` then takes the image read ahead instead of a read of its own (a food court's menu of forty dishes
was forty round trips)."""

from __future__ import annotations

import time

import redis

from lightapps.cinema.store import CinemaStore
from portal.media.images import renditions
from portal.media.store import MediaStore
from tests.owner.test_owner_media import LIMIT, photo
from tests.store_sends import store_sends

VENUE = "demo"


def media_reads(sent: list[bytes]) -> int:
    return sum(b"media:ref:" in send for send in sent)


def test_many_places_images_are_read_in_one_round_trip(db, monkeypatch):
    store = MediaStore(db, budget_bytes=2**30)
    images = renditions(photo(), LIMIT)
    drawn = store.put("mediatest", "z1", "dish", "m1", b"one", images)
    places = [("z1", "dish", "m1"), ("z1", "dish", "m2"), ("z2", "event", "e1"), ("z1", "dish", "m1")]
    with store_sends(monkeypatch) as sent:
        found = store.get_many("mediatest", places)
    assert len(sent) == 1 and found == {("z1", "dish", "m1"): drawn, ("z1", "dish", "m2"): None,
                                        ("z2", "event", "e1"): None}
    assert store.get_many("mediatest", []) == {}


def test_the_cinema_page_reads_its_films_posters_once_a_day_listed(client, svc, demo, monkeypatch):
    cinema, media = CinemaStore(svc.db), MediaStore(svc.db, budget_bytes=2**30)
    now = time.time()
    films = {show.poster_ref for show in cinema.showtimes(VENUE, "cinema", now, now + 2 * 86400)}
    assert len(films) > 2
    images = renditions(photo(), LIMIT)
    pictures = {ref: media.put(VENUE, "cinema", "film", ref, ref.encode(), images) for ref in films}
    client.get("/v/demo/cinema/cinema")
    with store_sends(monkeypatch) as sent:
        page = client.get("/v/demo/cinema/cinema").get_data(as_text=True)
    drawn = [picture for picture in pictures.values() if f"/media/demo/{picture.id}/640.jpg" in page]
    assert len(drawn) > 2 and media_reads(sent) <= 2  # more posters drawn than reads: one a day, not one a film


def test_places_read_ahead_once_a_request_and_a_store_fault_draws_them_without(app, svc, demo, monkeypatch):
    from portal.media.views import media_picture, media_prefetch  # lazy: the functions the templates call

    images = renditions(photo(), LIMIT)
    drawn = MediaStore(svc.db, budget_bytes=2**30).put(VENUE, "kopi", "shop", "kopi", b"one", images)
    shops = [{"id": "kopi"}, {"id": "none-here"}]
    with app.test_request_context("/v/demo/shop/kopi"), store_sends(monkeypatch) as sent:
        app.preprocess_request()
        assert media_prefetch("shop", shops, zone="kopi") == "" and media_prefetch("shop", shops, zone="kopi") == ""
        assert drawn.id in media_picture("shop", "kopi", "kopi") and media_picture("shop", "kopi", "none-here") == ""
    assert media_reads(sent) == 1  # read ahead once; the pictures and the second call read nothing

    tried = []

    def down(*args, **_kwargs):
        tried.append(args[1:])
        raise redis.ConnectionError("the store stopped answering")

    monkeypatch.setattr(MediaStore, "get_many", down)
    monkeypatch.setattr(MediaStore, "get", down)
    with app.test_request_context("/v/demo/shop/kopi"):
        app.preprocess_request()
        assert media_prefetch("shop", shops, zone="kopi") == "" and media_picture("shop", "kopi", "kopi") == ""
    assert len(tried) == 1  # the read ahead failed once; the picture drew nothing without trying again
