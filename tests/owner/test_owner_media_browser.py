"""An owner's image form sends without leaving the page (static/media-upload.js): in a real Chromium, a shop's
description typed and not saved yet is still there after its image is uploaded, refused and removed, each answer
shown by its form (the picture, the refusal, the page's message). Without the script the form posts as before
(tests/owner/test_owner_media.py)."""

from __future__ import annotations

import pytest

from portal.media.store import MediaStore
from tests.browsers import console_sign_in
from tests.owner.test_owner_media import photo

pytestmark = pytest.mark.browser

ZONE_PAGE = "/console/owner/demo/zone/kopi"
IMAGE_FORM = "form.media-upload:has(input[name=ref][value=kopi])"
UNSAVED = "#shop-kopi-description_en"


@pytest.fixture
def kopi_without_image(live_server):
    """The kopi shop's image taken off before and after (the live server is the session's)."""
    store = MediaStore(live_server.db(), budget_bytes=2**30)
    store.remove("demo", "kopi", "shop", "kopi")
    yield
    store.remove("demo", "kopi", "shop", "kopi")


def test_an_image_is_uploaded_refused_and_removed_and_the_text_typed_beside_it_stays(live_server, page,
                                                                                        kopi_without_image):
    base = live_server.url
    console_sign_in(page, base, "kopi")
    page.goto(base + ZONE_PAGE + "?lang=en")
    page.fill(UNSAVED, "Typed, not saved yet")
    assert page.locator(f"{IMAGE_FORM} picture").count() == 0

    page.set_input_files(f"{IMAGE_FORM} input[type=file]",
                         files=[{"name": "kopi.jpg", "mimeType": "image/jpeg", "buffer": photo(640, 480)}])
    page.click(f"{IMAGE_FORM} button:not([name])")
    page.wait_for_selector(f"{IMAGE_FORM} picture img")
    assert page.inner_text("p.flash.ok") == "Image saved."
    assert page.input_value(UNSAVED) == "Typed, not saved yet" and page.url.endswith(ZONE_PAGE + "?lang=en")

    page.set_input_files(f"{IMAGE_FORM} input[type=file]",
                         files=[{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"not an image at all"}])
    page.click(f"{IMAGE_FORM} button:not([name])")
    page.wait_for_selector(f"{IMAGE_FORM} p.error")
    assert page.inner_text(f"{IMAGE_FORM} p.error") == "The file is not a readable JPEG, PNG or WebP image."
    assert page.evaluate("document.activeElement.id") == "media-error"  # told at once, where the form is
    assert page.locator(f"{IMAGE_FORM} picture img").count() == 1  # the saved image is still shown
    assert page.input_value(UNSAVED) == "Typed, not saved yet"

    page.click(f"{IMAGE_FORM} button[name=remove]")
    page.wait_for_selector(f"{IMAGE_FORM} picture", state="detached")
    assert page.inner_text("p.flash.ok") == "Image removed."
    assert page.locator(f"{IMAGE_FORM} p.error").count() == 0
    assert page.input_value(UNSAVED) == "Typed, not saved yet"
