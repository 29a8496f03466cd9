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
    assert page.inner_text("#media-news p.flash.ok") == "Image saved."  # in the live region that was there before
    assert "Image added" in page.inner_text("#history li:first-child")  # the zone's recent changes follow
    assert page.input_value(UNSAVED) == "Typed, not saved yet" and page.url.endswith(ZONE_PAGE + "?lang=en")

    page.set_input_files(f"{IMAGE_FORM} input[type=file]",
                         files=[{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"not an image at all"}])
    page.click(f"{IMAGE_FORM} button:not([name])")
    page.wait_for_selector(f"{IMAGE_FORM} p.error")
    assert page.inner_text(f"{IMAGE_FORM} p.error") == "The file is not a readable JPEG, PNG or WebP image."
    assert page.evaluate("document.activeElement.id") == "media-error-shop-kopi"  # told at once, by the form
    assert page.locator(f"{IMAGE_FORM} picture img").count() == 1  # the saved image is still shown
    assert page.input_value(UNSAVED) == "Typed, not saved yet"

    page.click(f"{IMAGE_FORM} button[name=remove]")
    page.wait_for_selector(f"{IMAGE_FORM} picture", state="detached")
    assert page.inner_text("#media-news p.flash.ok") == "Image removed."
    assert "Image removed" in page.inner_text("#history li:first-child")
    assert page.locator(f"{IMAGE_FORM} p.error").count() == 0
    assert page.input_value(UNSAVED) == "Typed, not saved yet"


def test_an_upload_without_an_answer_or_refused_by_an_error_page_is_told_by_its_form(live_server, page,
                                                                                      kopi_without_image):
    """No answer (the connection failed, or a file far over the limit cut off): the form's own "not sent" note, and
    nothing sent again; an error page's answer (here the form's token no longer valid): its message by the form."""
    base = live_server.url
    console_sign_in(page, base, "kopi")
    page.goto(base + ZONE_PAGE + "?lang=en")
    page.fill(UNSAVED, "Typed, not saved yet")
    page.set_input_files(f"{IMAGE_FORM} input[type=file]",
                         files=[{"name": "kopi.jpg", "mimeType": "image/jpeg", "buffer": photo(640, 480)}])
    posts = []
    page.route("**/media", lambda route: (posts.append(route.request.method), route.abort()))
    page.click(f"{IMAGE_FORM} button:not([name])")
    page.wait_for_selector(f"{IMAGE_FORM} p.error")
    assert page.inner_text(f"{IMAGE_FORM} p.error").startswith("Not sent: the connection failed, or the file is over")
    assert posts == ["POST"] and page.input_value(UNSAVED) == "Typed, not saved yet"
    assert page.evaluate("document.activeElement.className") == "error"

    page.unroute("**/media")
    page.eval_on_selector(f"{IMAGE_FORM} input[name=csrf_token]", "input => { input.value = 'stale'; }")
    page.click(f"{IMAGE_FORM} button:not([name])")
    page.wait_for_selector(f"{IMAGE_FORM} p.error:not(:text-matches('^Not sent'))")
    assert page.locator(f"{IMAGE_FORM} p.error").count() == 1  # the earlier note gives way
    assert page.inner_text(f"{IMAGE_FORM} p.error").startswith("This page was open too long or came from elsewhere")
    assert page.input_value(UNSAVED) == "Typed, not saved yet" and page.url.endswith(ZONE_PAGE + "?lang=en")
    assert page.locator(f"{IMAGE_FORM} picture").count() == 0  # nothing was stored
