"""Owners' images after review: an image goes only with a place the zone really has (else nobody could see it
or remove it, and it would still take the venue's space), no zone takes more than its share of the venue's
image space, and a full space is a 507 with a message people can read, not a 500; nothing is stored."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
from PIL import Image

from portal.apps.views import STORES
from portal.auth import AuditLog
from portal.media.images import renditions
from portal.media.store import MediaKeys, MediaStore
from portal.media.views import ZONE_SHARE

LIMIT = 8 * 2**20


def photo(shade: int = 40, size: tuple[int, int] = (900, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, shade)).save(out, "JPEG")
    return out.getvalue()


def size_of(data: bytes) -> int:
    """The bytes an upload of `data` takes in the store (all its renditions)."""
    return sum(len(r.data) for r in renditions(data, LIMIT))


SIZE = size_of(photo())


def media_url(zone: str) -> str:
    return f"/console/owner/demo/zone/{zone}/media"


def upload(client, console, zone: str, kind: str, ref: str, data: bytes | None = None, **headers):
    form = {"csrf_token": console.csrf(), "kind": kind, "ref": ref, "image": (io.BytesIO(data or photo()), "x.jpg")}
    return client.post(media_url(zone) + "?lang=en", data=form, content_type="multipart/form-data", headers=headers)


def remove(client, console, zone: str, kind: str, ref: str):
    form = {"csrf_token": console.csrf(), "kind": kind, "ref": ref, "remove": "1"}
    return client.post(media_url(zone) + "?lang=en", data=form)


def media_entries(svc) -> list[dict]:
    return [e for e in AuditLog(svc.db).recent("demo", 1000) if e["action"].startswith("zone.media.")]


@pytest.fixture
def budget(monkeypatch, svc):
    """Set the venue's image budget (MEDIA_BUDGET_MB) for the test, in bytes."""
    def set_budget(nbytes: int) -> None:
        monkeypatch.setattr(svc, "settings", replace(svc.settings, media_budget_bytes=nbytes))
    return set_budget


def shops_of(demo_map, zone: str) -> list[str]:
    return [s.id for s in demo_map.shops if s.zone == zone]


def test_a_full_venue_is_a_507_with_its_message_and_nothing_is_stored(client, console, svc, budget, demo_map):
    budget(ZONE_SHARE * SIZE)  # a zone's share holds one image; the venue, four
    filler = MediaStore(svc.db, ZONE_SHARE * SIZE)
    for n in range(ZONE_SHARE):  # other zones' images fill the venue
        filler.put("demo", "atrium", "shop", f"filler{n}", photo(), renditions(photo(), LIMIT))
    used = filler.used("demo")
    [shop] = shops_of(demo_map, "kopi")
    console.login("kopi")
    resp = upload(client, console, "kopi", "shop", shop)
    assert resp.status_code == 507
    assert "The venue&#39;s image space is full; remove an image first." in resp.get_data(as_text=True)
    as_json = upload(client, console, "kopi", "shop", shop, Accept="application/json")
    assert as_json.status_code == 507 and as_json.get_json()["error"].startswith("The venue's image space is full")
    assert filler.used("demo") == used and filler.get("demo", "kopi", "shop", shop) is None
    assert filler.zone_used("demo", "kopi") == 0 and media_entries(svc) == []

    assert filler.remove("demo", "atrium", "shop", "filler0")  # room again: the same upload goes through
    assert upload(client, console, "kopi", "shop", shop).status_code == 303
    assert filler.get("demo", "kopi", "shop", shop) is not None and filler.used("demo") == used


def test_a_zone_past_its_share_is_refused_while_another_zone_can_upload(client, console, svc, budget, demo_map):
    budget(ZONE_SHARE * SIZE + SIZE // 2)  # a zone's share: one image and an eighth
    store = MediaStore(svc.db, 1)
    first, second = shops_of(demo_map, "foodcourt")
    console.login("foodcourt")
    assert upload(client, console, "foodcourt", "shop", first).status_code == 303
    resp = upload(client, console, "foodcourt", "shop", second)
    assert resp.status_code == 507
    assert "This zone&#39;s images already take its share of the venue&#39;s image space" in resp.get_data(as_text=True)
    assert store.get("demo", "foodcourt", "shop", second) is None
    assert store.used("demo") == store.zone_used("demo", "foodcourt") == SIZE
    other = photo(99)  # replacing the zone's image fits: the old one's bytes are given back
    assert size_of(other) <= SIZE + SIZE // 8
    assert upload(client, console, "foodcourt", "shop", first, other).status_code == 303
    assert store.zone_used("demo", "foodcourt") == store.used("demo") == size_of(other)
    console.logout()

    console.login("kopi")  # the venue still has room for everyone else
    [shop] = shops_of(demo_map, "kopi")
    assert upload(client, console, "kopi", "shop", shop).status_code == 303
    assert store.used("demo") == size_of(other) + SIZE and store.zone_used("demo", "kopi") == SIZE
    console.logout()

    console.login("foodcourt")  # removing one of its images makes room in the zone's share
    assert remove(client, console, "foodcourt", "shop", first).status_code == 303
    assert store.zone_used("demo", "foodcourt") == 0
    assert upload(client, console, "foodcourt", "shop", second).status_code == 303
    assert store.zone_used("demo", "foodcourt") == SIZE and store.used("demo") == 2 * SIZE


@pytest.mark.parametrize(("kind", "ref"), [("dish", "doesnotexist"), ("film", "0123456789abcdef"),
                                           ("event", "a99999"), ("shop", "books")])
def test_an_image_for_a_place_the_zone_does_not_have_is_refused(client, console, svc, kind, ref):
    store = MediaStore(svc.db, 1)
    console.login("foodcourt")
    resp = upload(client, console, "foodcourt", kind, ref)
    assert resp.status_code == 404
    text = "Unknown shop." if kind == "shop" else "Unknown film, dish or event in this zone."
    assert text in resp.get_data(as_text=True)
    assert store.used("demo") == 0 and store.get("demo", "foodcourt", kind, ref) is None
    assert not svc.db.exists(MediaKeys("demo").zone("foodcourt")) and media_entries(svc) == []


def test_an_app_store_says_which_of_its_records_take_images(monkeypatch, app, client, console, svc):
    """The contract of portal/media/places.py: a loaded app's store answers has_media_place for its records;
    the queue's dishes are its menu items, per zone."""
    queue = app.extensions[STORES]["queue"]
    if not hasattr(type(queue), "has_media_place"):  # until the queue declares its places itself
        monkeypatch.setattr(queue, "has_media_place", lambda venue, zone, kind, ref: kind == "dish" and
                            queue.menu_item(venue, zone, ref) is not None, raising=False)
    dish = queue.menu("demo", "foodcourt")[0]["id"]
    console.login("foodcourt")
    assert upload(client, console, "foodcourt", "dish", dish).status_code == 303
    assert MediaStore(svc.db, 1).get("demo", "foodcourt", "dish", dish) is not None
    console.logout()
    console.login("jade")  # the same id in another zone's menu is another dish; one it does not have: refused
    missing = "m999"
    assert queue.menu_item("demo", "jade", missing) is None
    assert upload(client, console, "jade", "dish", missing).status_code == 404


def test_an_image_whose_place_is_gone_can_still_be_removed_and_removing_nothing_is_not_audited(
        client, console, svc):
    store = MediaStore(svc.db, 10 * SIZE)
    store.put("demo", "foodcourt", "dish", "deleted1", photo(), renditions(photo(), LIMIT))  # its dish since deleted
    console.login("foodcourt")
    resp = remove(client, console, "foodcourt", "dish", "deleted1")
    assert resp.status_code == 303 and store.used("demo") == 0 and store.zone_used("demo", "foodcourt") == 0
    assert [e["action"] for e in media_entries(svc)] == ["zone.media.remove"]
    for _ in range(3):
        assert remove(client, console, "foodcourt", "dish", "deleted1").status_code == 303
    assert len(media_entries(svc)) == 1
    page = client.get("/console/owner/demo/zone/foodcourt?lang=en").get_data(as_text=True)
    assert "There was no image to remove." in page


def test_zone_counts_never_drift_below_zero_for_images_stored_before_them(db):
    images = renditions(photo(), LIMIT)
    store = MediaStore(db, 10 * SIZE, zone_budget_bytes=2 * SIZE)
    store.put("legacy", "z1", "dish", "old", b"one", images)
    db.delete(MediaKeys("legacy").zone("z1"))  # as stored before zones were counted
    store.put("legacy", "z1", "dish", "new", b"two", images)
    assert store.remove("legacy", "z1", "dish", "old") and store.zone_used("legacy", "z1") == SIZE
    assert store.used("legacy") == SIZE
    store.put("legacy", "z1", "dish", "new", b"three", images)  # a replacement: counted once
    assert store.zone_used("legacy", "z1") == SIZE and store.used("legacy") == SIZE
