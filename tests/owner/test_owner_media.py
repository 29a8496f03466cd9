"""Owners' images (portal/media): only real images, metadata stripped, a few widths, within the venue's
budget; uploaded only by who manages the zone; served cached; drawn lazily with srcset."""

from __future__ import annotations

import io
import struct
import threading
import zlib

import pytest
from PIL import Image

from portal.media import images
from portal.media.images import MAX_PIXELS, MAX_SIDE, WIDTHS, MediaError, rendition_sizes, renditions
from portal.media.store import MediaKeys, MediaStore, OverBudget

LIMIT = 8 * 2**20
URL = "/console/owner/demo/zone/kopi/media"


def photo(width: int = 1500, height: int = 1000, fmt: str = "JPEG", gps: bool = True) -> bytes:
    image = Image.new("RGB", (width, height), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # camera maker
    if gps:
        exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0)}  # GPS IFD
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A PNG whose header claims width x height pixels, with almost no data: never decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + \
        chunk(b"IEND", b"")


def header_only_png(width: int = 64, height: int = 64) -> bytes:
    """A PNG with its header and end and no image data between (57 bytes)."""
    whole = bomb_png(width, height)
    return whole[:33] + whole[-12:]


def test_a_large_png_is_shrunk_before_it_is_copied():
    """A 6,000 x 4,000 PNG is reduced (a whole factor) to what the largest rendition needs before it is flattened:
    at full size each copy is 96 MB. The renditions are as before."""
    with Image.open(io.BytesIO(photo(6000, 4000, fmt="PNG", gps=False))) as image:
        image.load()
        assert images._shrunk(image).size == (2000, 1334)  # by 3: its shorter side still at least 1024
    out = renditions(photo(6000, 4000, fmt="PNG", gps=False), LIMIT)
    assert [(r.width, r.height) for r in out if r.fmt == "webp"] == [(320, 213), (640, 427), (1024, 683)]


def test_a_16_bit_greyscale_png_keeps_its_tones():
    """Pillow's own 16-to-8-bit conversion clips at 255: a real 16-bit image (values to 65535) came out white."""
    import numpy as np

    grey = Image.fromarray(np.full((400, 600), 32896, dtype=np.uint16))  # mid-grey in 16 bits (I;16)
    out = io.BytesIO()
    grey.save(out, "PNG")
    jpeg = next(r for r in renditions(out.getvalue(), LIMIT) if r.fmt == "jpg")
    with Image.open(io.BytesIO(jpeg.data)) as shown:
        assert 120 <= shown.convert("L").getpixel((10, 10)) <= 136  # mid-grey still, not white


@pytest.mark.parametrize("mode", ["P", "1", "I;16", "LA"])
def test_a_large_png_in_any_mode_is_converted(mode):
    """Palette (an indexed poster), 1-bit (a scanned menu) and 16-bit images are large PNGs too: Pillow reduces
    none of them as they are (they were refused as unreadable)."""
    out = io.BytesIO()
    Image.new("RGB", (2400, 2100), (200, 120, 40)).convert(mode).save(out, "PNG")
    webp = [r for r in renditions(out.getvalue(), LIMIT) if r.fmt == "webp"]
    assert [r.width for r in webp] == list(WIDTHS)


def test_an_upload_that_waits_too_long_for_its_turn_is_told_to_try_again(monkeypatch):
    monkeypatch.setattr(images, "CONVERSION_WAIT_S", 0.0)
    for _ in range(images.CONVERSIONS_AT_ONCE):
        assert images._converting.acquire(blocking=False)
    try:
        with pytest.raises(MediaError) as busy:
            renditions(photo(), LIMIT)
        assert busy.value.status == 503
    finally:
        for _ in range(images.CONVERSIONS_AT_ONCE):
            images._converting.release()


def test_at_most_two_images_are_converted_at_once(monkeypatch):
    """Each conversion may hold a few hundred MB: a third upload waits for one of the two running."""
    inside, release = [], threading.Event()

    def held_encode(pixels):
        inside.append(1)
        release.wait(60)
        return []

    monkeypatch.setattr(images, "_encode", held_encode)
    threads = [threading.Thread(target=renditions, args=(photo(), LIMIT)) for _ in range(2)]
    for t in threads:
        t.start()
    for _ in range(6000):  # until both are converting (no timing asserted: the wait only ends the loop)
        if len(inside) == 2:
            break
        release.wait(0.01)
    assert len(inside) == 2
    assert images._converting.acquire(blocking=False) is False  # a third would wait
    release.set()
    for t in threads:
        t.join(60)
    assert images._converting.acquire(blocking=False) is True  # free again
    images._converting.release()


def test_renditions_are_resized_and_carry_no_metadata():
    out = renditions(photo(), LIMIT)
    webp = [r for r in out if r.fmt == "webp"]
    assert [r.width for r in webp] == list(WIDTHS) and all(r.height == round(r.width * 2 / 3) for r in webp)
    assert [r.width for r in out if r.fmt == "jpg"] == [640]
    for r in out:
        with Image.open(io.BytesIO(r.data)) as image:
            assert not image.getexif() and "icc_profile" not in image.info and "exif" not in image.info
    small = renditions(photo(200, 100, fmt="PNG"), LIMIT)  # never upscaled
    assert {(r.width, r.fmt) for r in small} == {(200, "webp"), (200, "jpg")}


@pytest.mark.parametrize(("data", "status"), [
    (b"", 400),
    (b"hello, not an image", 415),
    (b"GIF89a" + b"\0" * 100, 415),  # not a format we take
    (photo()[:2000], 415),  # truncated
    (bomb_png(), 413),  # a decompression bomb, refused from its header
    (header_only_png(), 415),  # no image data at all: Pillow's decoder raises IndexError
    (b"\xff" * (LIMIT + 1), 413),
])
def test_bad_files_are_refused(data, status):
    with pytest.raises(MediaError) as refused:
        renditions(data, LIMIT)
    assert refused.value.status == status
    assert MAX_PIXELS < 30_000 * 30_000


def test_budget_and_replacement_keep_the_count_right(db):
    images = renditions(photo(), LIMIT)
    size = sum(len(r.data) for r in images)
    store = MediaStore(db, budget_bytes=size + 10)
    venue = "mediatest"
    first = store.put(venue, "z1", "dish", "m1", b"one", images)
    assert store.used(venue) == size and store.rendition(venue, first.id, "320.webp")
    with pytest.raises(OverBudget):
        store.put(venue, "z1", "dish", "m2", b"two", images)
    assert store.get(venue, "z1", "dish", "m2") is None and store.used(venue) == size
    second = store.put(venue, "z1", "dish", "m1", b"one-new", images)  # replaces: fits again
    assert second.id != first.id and not db.exists(MediaKeys(venue).image(first.id))
    assert store.used(venue) == size
    assert store.remove(venue, "z1", "dish", "m1") and store.used(venue) == 0
    assert not db.exists(MediaKeys(venue).image(second.id))


def test_who_may_upload_and_bad_uploads_store_nothing(client, console, svc):
    def upload(data: bytes, **form):
        fields = {"csrf_token": console.csrf(), "kind": "shop", "ref": "kopi", **form}
        fields["image"] = (io.BytesIO(data), "x.jpg")
        return client.post(URL, data=fields, content_type="multipart/form-data")

    used = MediaStore(svc.db, 1).used("demo")
    resp = client.post(URL, data={"kind": "shop", "ref": "kopi"})
    assert resp.status_code in (302, 400)  # logged out: to the login page (or refused for want of CSRF)
    console.login("books")  # another owner
    assert upload(photo()).status_code == 403
    console.logout()
    console.login("kopi")
    for data, form, status in ((b"not an image", {}, 415), (bomb_png(), {}, 413), (photo(), {"kind": "x"}, 400),
                               (photo(), {"ref": "../etc"}, 400), (photo(), {"ref": "books"}, 404)):
        assert upload(data, **form).status_code == status, form
    assert MediaStore(svc.db, 1).used("demo") == used
    assert upload(photo()).status_code == 303
    picture = MediaStore(svc.db, 1).get("demo", "kopi", "shop", "kopi")
    assert picture is not None and MediaStore(svc.db, 1).used("demo") > used

    served = client.get(f"/media/demo/{picture.id}/640.webp")
    assert served.status_code == 200 and served.mimetype == "image/webp"
    assert "immutable" in served.headers["Cache-Control"]
    again = client.get(f"/media/demo/{picture.id}/640.webp", headers={"If-None-Match": served.headers["ETag"]})
    assert again.status_code == 304
    assert client.get(f"/media/demo/{picture.id}/641.webp").status_code == 404
    assert client.get(f"/media/demo/{picture.id}/640.png").status_code == 404

    page = client.get("/v/demo/shop/kopi?lang=en").get_data(as_text=True)
    assert 'type="image/webp"' in page and " 320w" in page and 'loading="lazy"' in page
    assert f"/media/demo/{picture.id}/640.jpg" in page


def long_image(width: int = 1080, height: int = 18000) -> bytes:
    """A "long image" (长图): a tall menu or poster, well under MAX_PIXELS but taller than WebP can hold."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(out, "JPEG", quality=60)
    return out.getvalue()


def test_a_long_image_gets_renditions_no_taller_than_webp_allows():
    out = renditions(long_image(), LIMIT)
    webp = [r for r in out if r.fmt == "webp"]
    assert [r.width for r in webp] == [320, 640, 982] and max(r.height for r in out) <= MAX_SIDE
    assert [r.width for r in out if r.fmt == "jpg"] == [640]
    for r in out:  # real files of the size they claim
        with Image.open(io.BytesIO(r.data)) as image:
            assert image.size == (r.width, r.height) and abs(r.height / r.width - 18000 / 1080) < 0.01
    assert rendition_sizes(400, 30_000) == [(218, 16350)]  # narrower than every width: one rendition


def test_an_image_the_encoder_refuses_is_a_422_not_a_500(monkeypatch, client, console, svc):
    monkeypatch.setattr(images, "MAX_SIDE", 65_535)  # no cap: WebP itself refuses the 17,067 px rendition
    with pytest.raises(MediaError) as refused:
        renditions(long_image(), LIMIT)
    assert refused.value.status == 422
    console.login("kopi")
    used = MediaStore(svc.db, 1).used("demo")
    resp = client.post(URL + "?lang=en", data={"csrf_token": console.csrf(), "kind": "shop", "ref": "kopi",
                                               "image": (io.BytesIO(long_image()), "menu.jpg")},
                       content_type="multipart/form-data")
    assert resp.status_code == 422 and "could not be converted" in resp.get_data(as_text=True)
    assert MediaStore(svc.db, 1).used("demo") == used


def test_an_owner_uploads_a_long_image(client, console, svc):
    console.login("kopi")
    resp = client.post(URL, data={"csrf_token": console.csrf(), "kind": "shop", "ref": "kopi",
                                  "image": (io.BytesIO(long_image()), "menu.jpg")}, content_type="multipart/form-data")
    assert resp.status_code == 303
    picture = MediaStore(svc.db, 1).get("demo", "kopi", "shop", "kopi")
    assert picture.widths == (320, 640, 982) and picture.height <= MAX_SIDE
    assert client.get(f"/media/demo/{picture.id}/982.webp").status_code == 200


def _error_beside(page: str, kind: str, ref: str) -> str:
    """The refusal shown inside the image form of (kind, ref), or ''."""
    import re

    for form in re.findall(r'<form[^>]*class="media-upload".*?</form>', page, re.S):
        if f'name="kind" value="{kind}"' in form and f'name="ref" value="{ref}"' in form:
            found = re.search(rf'id="media-error-{kind}-{ref}"[^>]*>(.*?)</p>', form, re.S)
            return found.group(1).strip() if found else ""
    raise AssertionError(f"no image form for {kind} {ref}")


def test_a_refused_image_shows_the_page_again_with_the_message_by_its_form(app, client, console, svc):
    """Not a bare 415 page: the page the form is on (the zone page for a shop, the app's page of image forms
    for a dish), the message beside that form, the status kept, nothing stored; a script still gets JSON."""
    def upload(zone: str, kind: str, ref: str, data: bytes, **extra):
        fields = {"csrf_token": console.csrf(), "kind": kind, "ref": ref, "image": (io.BytesIO(data), "x.jpg"),
                  **extra}
        return client.post(f"/console/owner/demo/zone/{zone}/media?lang=en", data=fields,
                           content_type="multipart/form-data")

    used = MediaStore(svc.db, 1).used("demo")
    console.login("kopi")
    resp = upload("kopi", "shop", "kopi", b"hello, not an image", back="zone")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 415 and 'id="shops"' in page and 'id="save"' in page  # the zone page, its forms
    assert _error_beside(page, "shop", "kopi") == "The file is not a readable JPEG, PNG or WebP image."
    resp = upload("kopi", "shop", "kopi", b"")
    assert resp.status_code == 400 and _error_beside(resp.get_data(as_text=True), "shop", "kopi").startswith(
        "Choose an image file")
    as_json = client.post("/console/owner/demo/zone/kopi/media?lang=en", headers={"Accept": "application/json"},
                          data={"csrf_token": console.csrf(), "kind": "shop", "ref": "kopi",
                                "image": (io.BytesIO(b"GIF89a" + b"\0" * 100), "x.gif")},
                          content_type="multipart/form-data")
    assert as_json.status_code == 415 and as_json.get_json()["error"].startswith("The file is not a readable")
    console.logout()
    queue = app.extensions["light_app_stores"]["queue"]
    dishes = [item["id"] for item in queue.menu("demo", "foodcourt")]
    console.login("foodcourt")
    resp = upload("foodcourt", "dish", dishes[0], photo()[:2000], back="app")  # a truncated photo
    page = resp.get_data(as_text=True)
    assert resp.status_code == 415 and 'id="add-item"' in page  # the queue's menu, where the dish photos are
    assert _error_beside(page, "dish", dishes[0]) == "The file is not a readable JPEG, PNG or WebP image."
    assert all(_error_beside(page, "dish", other) == "" for other in dishes[1:])  # by its own form only
    assert MediaStore(svc.db, 1).used("demo") == used
    done = upload("foodcourt", "dish", dishes[0], photo(), back="app")
    assert done.status_code == 303 and done.location.endswith("/console/apps/queue/demo/foodcourt/menu")
