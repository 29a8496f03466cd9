"""The privacy notice and the two separate consents (PIPL): recorded per shopper, with the notice version and
time, readable by other host code, changeable from Me; works without JavaScript (plain forms)."""

import re

from portal.consent import KEEP_S, NOTICE_VERSION, ConsentKeys, ConsentStore


def test_store_records_version_and_time_and_reads_back(db):
    store = ConsentStore(db)
    assert store.get("demo", "s-1") is None
    assert not store.allows("demo", "s-1", "location")
    store.record("demo", "s-1", location=True, marketing=False, now=1_700_000_000)
    got = store.get("demo", "s-1")
    assert (got.location, got.marketing, got.version, got.at) == (True, False, NOTICE_VERSION, 1_700_000_000)
    assert store.allows("demo", "s-1", "location") and not store.allows("demo", "s-1", "marketing")
    key = ConsentKeys("demo").consent("s-1")
    assert "{demo}" in key and 0 < db.ttl(key) <= KEEP_S


def test_an_answer_to_an_older_notice_counts_as_no(db):
    key = ConsentKeys("demo").consent("s-2")
    db.hset(key, mapping={"location": 1, "marketing": 1, "version": "2020-01-01", "at": 1})
    consent = ConsentStore(db).get("demo", "s-2")
    assert not consent.current and not consent.allows("location")


def test_first_page_shows_the_notice_unticked_until_answered(client, shopper):
    who, token = shopper
    page = client.get(f"/v/demo/?c={token}&lang=en").get_data(as_text=True)
    assert 'id="privacy-notice"' in page
    for box in ("consent-location", "consent-marketing"):
        tag = re.search(rf'<input[^>]*id="{box}"[^>]*>', page).group(0)
        assert "checked" not in tag  # never pre-ticked
    resp = client.post("/v/demo/privacy", data={"c": token, "location": "1", "next": "/v/demo/"})
    assert resp.status_code == 303
    assert resp.headers["Location"].startswith("/v/demo/?c=")
    page = client.get(f"/v/demo/?c={token}").get_data(as_text=True)
    assert 'id="privacy-notice"' not in page


def test_choices_are_separate_and_changeable_from_me(client, app, svc, shopper):
    who, token = shopper
    client.post("/v/demo/privacy", data={"c": token, "marketing": "on"})
    consent = svc.consent.get("demo", who.client)
    assert (consent.location, consent.marketing) == (False, True)
    me = client.get(f"/v/demo/me?c={token}&lang=en").get_data(as_text=True)
    assert "Offers and news: <strong>on</strong>" in me
    privacy = client.get(f"/v/demo/privacy?c={token}&lang=zh").get_data(as_text=True)
    assert re.search(r'id="consent-marketing"[^>]*checked', privacy)
    client.post("/v/demo/privacy", data={"c": token, "location": "1"})
    consent = svc.consent.get("demo", who.client)
    assert (consent.location, consent.marketing) == (True, False)


def test_back_to_is_rebuilt_from_the_url_map_never_taken_as_given(client, shopper):
    _, token = shopper
    for bad in ("https://evil.example/x", "//evil.example/", "/console/login", "/v/other/", "/nope"):
        resp = client.post("/v/demo/privacy", data={"c": token, "next": bad})
        assert resp.status_code == 303
        assert resp.headers["Location"].startswith("/v/demo/me?c="), bad


def test_without_a_shopper_nothing_is_stored(client, db, demo):
    resp = client.post("/v/demo/privacy", data={"c": "demo." + "x" * 43, "location": "1"})
    assert resp.status_code == 400
    assert "token" not in resp.get_data(as_text=True)
    assert not db.keys("mp:{demo}:consent:*")


def test_unknown_venue_is_404(client, shopper):
    _, token = shopper
    assert client.post("/v/nowhere/privacy", data={"c": token}).status_code == 404
    assert client.get(f"/v/nowhere/me?c={token}").status_code == 404


def test_consoles_show_no_notice_and_no_hub(client, demo):
    page = client.get("/console/login").get_data(as_text=True)
    assert 'id="privacy-notice"' not in page and 'id="hub-nav"' not in page


def test_the_notice_says_how_long_each_kind_is_kept_as_the_venue_keeps_it(client, svc, shopper):
    """The periods are the venue's own (its retention setting, the footfall roll-up's), not a fixed text."""
    import html

    _who, token = shopper
    page = html.unescape(client.get(f"/v/demo/privacy?c={token}&lang=en").get_data(as_text=True))
    retention = re.search(r'<ul id="retention">(.*?)</ul>', page, re.S).group(1)
    assert "90 days under the keyed hash" in retention and "deleted after 395 days" in retention
    assert f"for up to {svc.settings.footfall_daily_days} days" in retention
    assert "Offers and notifications sent to you: 30 days" in retention  # the deliveries' retention
    assert "until you answer below they stay on" in page  # what happens before she answers, said as it is
    assert "Who sees it" in page and "Shops see totals for their own area" in page
    svc.privacy.set_retention("demo", {"events_anonymise": 30, "events_delete": 200, "deliveries_delete": 14})
    page = html.unescape(client.get(f"/v/demo/privacy?c={token}&lang=en").get_data(as_text=True))
    assert "30 days under the keyed hash" in page and "deleted after 200 days" in page
