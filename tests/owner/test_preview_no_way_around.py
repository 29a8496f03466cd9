"""The preview stays the owner's (portal/apps/preview.py, portal/shopper.py `current_shopper`): a browser that kept
a preview shopper's token in its cookie (an earlier release set it) is never that shopper again, whatever token it
arrives with; a preview id lends its unsaved settings to no change, whoever's token comes with it; and the
shopper's changes outside the apps' pages (Web Push opt-in, WiFi continue and extend) are refused to the preview
shopper too."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from lightapps.queue.store import QueueStore
from portal.shopper import LEGACY_COOKIE, cookie_name, new_shopper, token_store
from tests.owner.test_preview_read_only import REFUSED, preview_link, real_shopper_token, token_of

PHONE = "phone-hash-of-a-real-shopper"


def test_a_kept_preview_cookie_never_takes_over_a_shopper_landing_from_the_portal(app, client, console, svc):
    preview = token_of(preview_link(client, console, "foodcourt", "foodcourt"))
    console.logout()
    browser = app.test_client()
    browser.set_cookie(LEGACY_COOKIE, preview)  # kept from the release that set it
    arrived = new_shopper("demo", PHONE, phone_verified=True)
    with app.app_context():
        handout = token_store(app).mint(arrived, handout=True)
    page = browser.get(f"/v/demo/queue/foodcourt?c={handout}&lang=en")
    assert page.status_code == 200 and 'id="preview-banner"' not in page.text
    assert browser.post("/v/demo/queue/foodcourt/take", data={"c": handout, "party": "2"}).status_code == 303
    queue = QueueStore(svc.db)
    assert queue.my_ticket("demo", "foodcourt", arrived.client) is not None
    assert queue.my_ticket("demo", "foodcourt", "preview-foodcourt") is None
    with app.app_context():
        assert token_store(app).verified_phones("demo", "preview-foodcourt") == set()
        assert token_store(app).resolve(browser.get_cookie(cookie_name("demo")).value).client == arrived.client


def test_a_kept_preview_cookie_alone_is_no_shopper(app, client, console):
    preview = token_of(preview_link(client, console, "foodcourt", "foodcourt"))
    console.logout()
    browser = app.test_client()
    browser.set_cookie(LEGACY_COOKIE, preview)
    page = browser.get("/v/demo/queue/foodcourt?lang=en")
    assert 'id="preview-banner"' not in page.text
    assert token_of_page(page.text) != preview


def token_of_page(page: str) -> str:
    start = page.index('name="c" value="') + len('name="c" value="')
    return page[start:page.index('"', start)]


def test_a_preview_id_lends_its_settings_to_no_change_whoever_acts(app, client, console, svc):
    link = preview_link(client, console, "foodcourt", "foodcourt", unsaved=True)
    preview_id = parse_qs(urlsplit(link).query)["preview"][0]
    console.logout()
    token = real_shopper_token(app)
    queue = QueueStore(svc.db)
    for url, data in ((f"/v/demo/queue/foodcourt/take?preview={preview_id}", {"c": token, "party": "2"}),
                      ("/v/demo/queue/foodcourt/take", {"c": token, "party": "2", "preview": preview_id})):
        resp = client.post(url, data=data)
        assert resp.status_code == 403 and REFUSED in resp.text
    assert queue.my_ticket("demo", "foodcourt", "s-realshopper0000000000") is None
    assert client.post("/v/demo/queue/foodcourt/take", data={"c": token, "party": "2"}).status_code == 303


def test_the_preview_shopper_subscribes_to_no_push_and_takes_no_wifi(app, client, console):
    preview = token_of(preview_link(client, console, "kopi", "kopi"))
    console.logout()
    app.extensions["notify_vapid_public"] = "BK" + "A" * 85  # push on: the opt-in is reached
    sub = {"subscription": {"endpoint": "https://fcm.googleapis.com/fcm/send/x", "keys": {}}}
    resp = client.post("/api/v1/venues/demo/notify/push", json=sub, headers={"Authorization": f"Bearer {preview}"})
    assert resp.status_code == 403
    for path in ("/portal/continue", "/portal/extend"):
        resp = client.post(path, data={"c": preview})
        assert resp.status_code == 403 and REFUSED in resp.text, path
    real = real_shopper_token(app)
    resp = client.post("/api/v1/venues/demo/notify/push", json=sub, headers={"Authorization": f"Bearer {real}"})
    assert resp.status_code != 403


def test_the_preview_shopper_counts_no_click_and_records_no_event(app, client, svc, demo):
    """A GET changes nothing for the preview either: a partner link followed from the owner's preview counts no
    click and writes no referral event (the insights' figures are shoppers' only)."""
    from lightapps.activities.store import ActivityStore
    from portal.apps.preview import preview_shopper

    store = ActivityStore(svc.db)
    link = store.links_for_zone("demo", "atrium")[0]
    token = token_store(app).mint(preview_shopper("demo", "events"))
    before = svc.db.xlen("mp:{demo}:ev")
    resp = client.get(f"/v/demo/out/{link.id}?c={token}")
    assert resp.status_code == 302
    assert store.link("demo", link.id).clicks == 0 and svc.db.xlen("mp:{demo}:ev") == before
