"""Moment rules in the operator and zone-owner consoles (Flask test client): create, bad input (422,
nothing stored), who may make what (owners: their zones, no webhooks), pause, the delivery log, replay."""

from __future__ import annotations

import re
import time

import pytest


def form(csrf, **over):
    data = {"csrf_token": csrf, "name": "Coffee hello", "trigger": "zone_enter", "zone": "kopi", "action": "offer",
            "message_en": "10% off today", "cap_per_day": "1", "cooldown_h": "12", "budget": "0"}
    data.update(over)
    return data


def as_deployed_ops(settings):
    """(client, csrf) of an app with WEBHOOK_ALLOW_PRIVATE unset, as deployed (the suite's settings allow
    loopback: its receivers listen there), signed in as the demo's operator."""
    from portal import create_app

    client = create_app(settings.with_(webhook_allow_private=False)).test_client()

    def csrf() -> str:
        page = client.get("/console/login").get_data(as_text=True)
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    assert client.post("/console/login", data={"username": "ops", "password": "mallportal-demo",
                                                "csrf_token": csrf()}).status_code == 303
    return client, csrf()


INTERNAL_URLS = ["http://127.0.0.1:8000/x", "http://localhost/x", "http://169.254.169.254/latest/meta-data/",
                 "http://10.1.2.3/x", "http://172.16.0.9/x", "http://192.168.1.1/x", "http://[::1]/x",
                 "http://[fe80::1]/x", "http://[::ffff:127.0.0.1]/x", "http://2130706433/x", "http://0x7f.1/x",
                 "http://100.64.0.1/x", "http://0.0.0.0/x", "http://metadata.google.internal/x", "http://crm/x"]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_a_webhook_to_an_internal_address_is_refused_when_saved(settings, demo, svc, url):
    """The server would POST from inside the mall's network (SSRF): 422, the address named, nothing stored."""
    client, csrf = as_deployed_ops(settings)
    resp = client.post("/console/ops/demo/moments", data=form(csrf, action="webhook", webhook_url=url))
    assert resp.status_code == 422 and "internal address" in resp.get_data(as_text=True)
    assert svc.moments.rules("demo") == []


def test_a_webhook_to_a_public_address_is_saved(settings, demo, svc):
    client, csrf = as_deployed_ops(settings)
    for url in ("https://crm.example/hook", "http://8.8.8.8/hook", "http://[2001:4860:4860::8888]/hook"):
        assert client.post("/console/ops/demo/moments", data=form(csrf, action="webhook", webhook_url=url,
                                                                   name=url)).status_code == 303, url
    assert len(svc.moments.rules("demo")) == 3


def test_operator_creates_pauses_and_sees_deliveries(client, console, svc):
    console.login("ops")
    csrf = console.csrf()
    assert client.post("/console/ops/demo/moments", data=form(csrf, trigger="nope")).status_code == 422
    assert client.post("/console/ops/demo/moments", data=form(csrf, action="webhook",
                                                              webhook_url="ftp://x")).status_code == 422
    assert svc.moments.rules("demo") == []
    assert client.post("/console/ops/demo/moments", data=form(csrf)).status_code == 303
    [rule] = svc.moments.rules("demo")
    svc.moments.ensure("demo", start="0")
    svc.consent.record("demo", "s-1", location=True, marketing=True)  # the rule asks for marketing consent
    svc.events.emit("demo", "landing", at=time.time(), device="d1", shopper="s-1", zone="atrium")
    svc.events.emit("demo", "zone_enter", at=time.time(), device="d1", zone="kopi")
    svc.moments.tick("demo")
    page = client.get("/console/ops/demo/moments").get_data(as_text=True)
    assert f'data-rule="{rule.id}"' in page and 'class="fired">1' in page and 'id="webhook-secret"' in page
    [d] = svc.moments.deliveries("demo")
    assert f'data-delivery="{d.id}"' in page
    assert f'data-delivery="{d.id}"' not in client.get("/console/ops/demo/moments?status=failed").get_data(as_text=True)
    assert client.post(f"/console/ops/demo/moments/replay/{d.id}", data={"csrf_token": csrf}).status_code == 303
    assert client.post("/console/ops/demo/moments/replay/nope", data={"csrf_token": csrf}).status_code == 404
    assert client.post(f"/console/ops/demo/moments/{rule.id}/active", data={"csrf_token": csrf,
                                                                          "active": "0"}).status_code == 303
    assert svc.moments.rule("demo", rule.id).active is False
    assert client.post(f"/console/ops/demo/moments/{rule.id}/active", data={"active": "1"}).status_code == 400


def test_owner_makes_rules_for_its_zones_only(client, console, svc):
    assert client.get("/console/owner/demo/moments").status_code == 302
    console.login("kopi")
    csrf = console.csrf()
    assert client.post("/console/owner/demo/moments", data=form(csrf, zone="books")).status_code == 422
    assert client.post("/console/owner/demo/moments", data=form(csrf, action="webhook",
                                                                webhook_url="http://x/")).status_code == 422
    assert client.post("/console/owner/demo/moments", data=form(csrf, trigger="arrive", zone="")).status_code == 422
    assert svc.moments.rules("demo") == []
    assert client.post("/console/owner/demo/moments", data=form(csrf)).status_code == 303
    assert [r.owner for r in svc.moments.rules("demo")] == ["kopi"]
    assert 'data-rule="' in client.get("/console/owner/demo/moments").get_data(as_text=True)
    assert client.get("/console/ops/demo/moments").status_code == 403


def test_without_marketing_consent_no_offer(client, console, svc):
    console.login("ops")
    assert client.post("/console/ops/demo/moments", data=form(console.csrf())).status_code == 303
    svc.moments.ensure("demo", start="0")
    svc.consent.record("demo", "s-2", location=True, marketing=False)
    svc.events.emit("demo", "landing", at=time.time(), device="d2", shopper="s-2", zone="atrium")
    svc.events.emit("demo", "zone_enter", at=time.time(), device="d2", zone="kopi")
    svc.events.emit("demo", "zone_enter", at=time.time(), device="d3", zone="kopi")  # never landed: nobody to ask
    svc.moments.tick("demo")
    assert svc.moments.fired("demo") == {}


def _yesterday(app, svc, hour: int) -> float:
    """An instant yesterday, `hour` o'clock in the venue's time zone."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from portal.events.report import venue_tz

    with app.app_context():
        tz = ZoneInfo(venue_tz(svc, svc.venues.get_map("demo")))
    day = datetime.now(tz).date() - timedelta(days=1)
    return datetime.combine(day, datetime.min.time(), tz).timestamp() + hour * 3600


def _reachable(svc, device: str, at: float) -> None:
    """The phone's shopper landed and agreed to marketing and location: the rule may reach her."""
    svc.consent.record("demo", "s-" + device, location=True, marketing=True)
    svc.events.emit("demo", "landing", at=at - 30, device=device, shopper="s-" + device, zone="atrium")


def _owner_preview(client, console) -> str:
    import re

    console.login("kopi")
    assert client.post("/console/owner/demo/moments", data=form(console.csrf())).status_code == 303
    [cell] = re.findall(r'class="preview">([^<]*)<', client.get("/console/owner/demo/moments").get_data(as_text=True))
    return cell


def test_owner_preview_leaves_staff_out_and_hides_counts_below_k(app, client, console, svc):
    # Two phones entered kopi yesterday, one of them on the operator's staff list: one shopper, shown "<5",
    # as the insights page shows the zone (a raw "1" or "2" would single out a person).
    t = _yesterday(app, svc, 3)
    staff = svc.privacy.add_staff_mac("demo", "aa:bb:cc:dd:ee:01")
    for device in ("dev-lonely", staff, "dev-lonely-2"):
        _reachable(svc, device, t)
    svc.events.emit("demo", "zone_enter", at=t, device="dev-lonely", zone="kopi")
    svc.events.emit("demo", "zone_enter", at=t + 5, device=staff, zone="kopi")
    svc.events.emit("demo", "zone_enter", at=t + 10, device="dev-lonely-2", zone="books")  # not this rule's zone
    cell = _owner_preview(client, console)
    assert cell == "fewer than 10 phones, fewer than 10 times"  # an owner's preview: buckets
    with app.test_request_context():
        from portal.events.moments import parse_rule
        from portal.operator.moments import yesterday_previews

        rule = parse_rule(form(""), zones=["kopi", "books"], owner="kopi", may_webhook=False, owner_zones=["kopi"])
        got = yesterday_previews(svc.venues.get_map("demo"), [rule])[rule.id]
    assert (got.phones, got.fires) == (1, 1)  # the staff phone is not counted at all


def test_owner_preview_shows_buckets_of_shoppers_without_staff(app, client, console, svc):
    """An owner's preview comes in buckets (portal/operator/moments.py PREVIEW_BUCKETS: exact counts of two rules an
    hour apart gave one shopper away by their difference); the staff phone is still not among them."""
    import re

    t = _yesterday(app, svc, 3)
    staff = svc.privacy.add_staff_mac("demo", "aa:bb:cc:dd:ee:02")
    for i in range(9):
        _reachable(svc, f"dev-{i}", t + i)
        svc.events.emit("demo", "zone_enter", at=t + i, device=f"dev-{i}", zone="kopi")
    _reachable(svc, staff, t + 19)
    svc.events.emit("demo", "zone_enter", at=t + 19, device=staff, zone="kopi")  # 10 raw, 9 shoppers
    assert _owner_preview(client, console) == "fewer than 10 phones, fewer than 10 times"
    _reachable(svc, "dev-9", t + 9)
    svc.events.emit("demo", "zone_enter", at=t + 9, device="dev-9", zone="kopi")  # the tenth shopper
    page = client.get("/console/owner/demo/moments").get_data(as_text=True)
    assert re.findall(r'class="preview">([^<]*)<', page) == ["10–19 phones, 10–19 times"]


def test_preview_counts_identified_events_only_with_location_consent(app, client, console, svc):
    """As the insights count: an event that names a shopper counts only when she gave location consent; and
    as the engine acts: only on a known shopper who agreed to marketing (and location, for a zone rule), so
    a presence event of a phone nobody landed from counts no hit."""
    t = _yesterday(app, svc, 3)
    svc.consent.record("demo", "s-yes", location=True, marketing=True)
    svc.consent.record("demo", "s-no", location=False, marketing=True)
    svc.events.emit("demo", "zone_enter", at=t, device="dev-yes", shopper="s-yes", zone="kopi")
    svc.events.emit("demo", "zone_enter", at=t + 1, device="dev-no", shopper="s-no", zone="kopi")
    svc.events.emit("demo", "zone_enter", at=t + 2, device="dev-never-asked", shopper="s-unknown", zone="kopi")
    svc.events.emit("demo", "zone_enter", at=t + 3, device="dev-anonymous", zone="kopi")
    with app.test_request_context():
        from portal.events.moments import parse_rule
        from portal.operator.moments import yesterday_previews

        rule = parse_rule(form(""), zones=["kopi"], owner="kopi", may_webhook=False, owner_zones=["kopi"])
        got = yesterday_previews(svc.venues.get_map("demo"), [rule])[rule.id]
    assert (got.phones, got.fires) == (1, 1)  # s-yes; not s-no, s-unknown or the anonymous presence


def test_one_phone_firing_a_rule_many_times_shows_no_count_to_the_owner(app, client, console, svc):
    """A rule with no cooldown fires once per zone entry: one phone entering kopi six times made "6" on the
    owner's page, both the rule's fired count and yesterday's preview, a count standing on one shopper."""
    import re

    t = _yesterday(app, svc, 3)
    _reachable(svc, "dev-bouncer", t)
    for i in range(6):
        svc.events.emit("demo", "zone_enter", at=t + 120 * i, device="dev-bouncer", zone="kopi")
    console.login("kopi")
    assert client.post("/console/owner/demo/moments", data=form(console.csrf(), cap_per_day="10",
                                                                cooldown_h="0")).status_code == 303
    [rule] = svc.moments.rules("demo")
    svc.moments.ensure("demo", start="0")
    _reachable(svc, "dev-bouncer", time.time())
    for i in range(6):
        svc.events.emit("demo", "zone_enter", at=time.time() + i, device="dev-bouncer", zone="kopi")
    svc.moments.tick("demo")
    assert svc.moments.fired("demo")[rule.id] >= 6  # yesterday's entries are in the stream too
    assert svc.moments.fired_people("demo", [rule.id]) == {rule.id: 1}
    page = client.get("/console/owner/demo/moments").get_data(as_text=True)
    [fired] = re.findall(r'class="fired">([^<]*)<', page)
    [preview] = re.findall(r'class="preview">([^<]*)<', page)
    assert fired.startswith("&lt;5") and preview == "fewer than 10 phones, fewer than 10 times"


def test_an_owner_sees_how_often_a_rule_fired_in_ranges():
    """k-safe over the people behind it first (one phone's many firings stay "<5"), then in the previews' ranges:
    6 and 7 firings of 6 and 7 shoppers read alike, so watching a count tells no one shopper's firing apart."""
    from portal.operator.moments import owner_fired

    assert owner_fired(12, 1) == "<5" and owner_fired(0, 0) == "0"
    assert owner_fired(6, 6) == owner_fired(7, 7) == "fewer than 10"
    assert owner_fired(12, 5) == "10–19"
