"""The owner console's preview is read-only, by one platform rule (portal/apps/preview.py `init_preview`): every
change a shopper page would make (any light app's shopper routes and the hub's, walked from the url_map so an app
added tomorrow is walked too) is refused under the preview shopper with a page that says nothing was saved and
leads back to the preview; the preview's links keep its unsaved settings; its token never becomes the browser's
shopper. Real shoppers are unaffected."""

from __future__ import annotations

import html
import re
from contextlib import nullcontext
from urllib.parse import parse_qs, urlsplit

import pytest

from lightapps.coupons.store import CouponStore
from lightapps.queue.store import QueueStore
from portal.apps import registry
from portal.apps.preview import preview_shopper
from portal.shopper import LEGACY_COOKIE, SAFE_METHODS, Shopper, cookie_name, token_store
from tests.security.test_route_fuzz import zones_for

REFUSED = 'id="preview-refused"'
BANNER = 'id="preview-banner"'


def preview_link(client, console, zone: str, account: str, unsaved: bool = False) -> str:
    """The zone page's preview link, of the saved settings, or (`unsaved`) of the same ones sent unsaved."""
    console.login(account)
    if unsaved:
        name, config = client.application.extensions["mallportal"].zone_apps.get("demo", zone)
        fields = {k: ("on" if v is True else str(v)) for k, v in config.items() if v not in (None, False)}
        page = client.post(f"/console/owner/demo/zone/{zone}", data={**fields, "csrf_token": console.csrf(),
                                                                     "app": name, "action": "preview"})
        assert page.status_code == 200, page.status_code
    else:
        page = client.get(f"/console/owner/demo/zone/{zone}")
    return html.unescape(re.search(r'id="preview-link" href="([^"]+)"', page.get_data(as_text=True)).group(1))


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["c"][0]


def form_action(page: str, path_part: str) -> str:
    return html.unescape(re.search(r'<form[^>]*action="([^"]*' + re.escape(path_part) + r'[^"]*)"', page).group(1))


def real_shopper_token(app) -> str:
    with app.app_context():
        return token_store(app).mint(Shopper("demo", "s-realshopper0000000000"))


def test_a_preview_takes_no_queue_number(app, client, console):
    link = preview_link(client, console, "foodcourt", "foodcourt", unsaved=True)
    page = client.get(link).get_data(as_text=True)
    assert BANNER in page
    action = form_action(page, "/take")
    assert "preview=" in action  # the form keeps the unsaved settings, as every link of the page
    resp = client.post(action, data={"c": token_of(link), "party": "2"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 403 and REFUSED in body and "nothing was saved" in body
    back = html.unescape(re.search(r'id="back-to-preview" href="([^"]+)"', body).group(1))
    assert urlsplit(back).path == urlsplit(link).path
    assert parse_qs(urlsplit(back).query)["preview"] == parse_qs(urlsplit(link).query)["preview"]
    with app.app_context():
        assert QueueStore(app.extensions["mallportal"].db).my_ticket("demo", "foodcourt", "preview-foodcourt") is None


def test_a_preview_claims_no_coupon(app, client, console, db):
    link = preview_link(client, console, "kopi", "kopi")
    page = client.get(link).get_data(as_text=True)
    with app.app_context():  # the owner console's preview shopper is the one the rule knows
        assert token_store(app).resolve(token_of(link)) == preview_shopper("demo", "kopi")
    coupons = CouponStore(db)
    before = coupons.for_zone("demo", "kopi")
    resp = client.post(form_action(page, "/claim"), data={"c": token_of(link)})
    assert resp.status_code == 403 and REFUSED in resp.get_data(as_text=True)
    assert coupons.for_zone("demo", "kopi") == before and coupons.wallet("demo", "preview-kopi") == []


def test_a_real_shopper_still_takes_a_number_and_sees_no_banner(app, client, demo):
    token = real_shopper_token(app)
    page = client.get(f"/v/demo/queue/foodcourt?c={token}&lang=en")
    assert BANNER not in page.get_data(as_text=True)
    assert any(c.startswith(f"{cookie_name('demo')}={token};") for c in page.headers.getlist("Set-Cookie"))
    resp = client.post("/v/demo/queue/foodcourt/take", data={"c": token, "party": "2"})
    assert resp.status_code == 303
    with app.app_context():
        assert QueueStore(app.extensions["mallportal"].db).my_ticket("demo", "foodcourt", "s-realshopper0000000000")


def test_the_preview_links_keep_the_unsaved_settings(client, console):
    link = preview_link(client, console, "foodcourt", "foodcourt", unsaved=True)
    preview_id = parse_qs(urlsplit(link).query)["preview"][0]
    page = client.get(link).get_data(as_text=True)
    same_app = [html.unescape(u) for u in re.findall(r'href="(/v/demo/queue/foodcourt[^"]*)"', page)]
    assert same_app and all(parse_qs(urlsplit(u).query).get("preview") == [preview_id] for u in same_app)
    # another app's pages know nothing of these settings: no id carried there
    home = [u for u in re.findall(r'href="(/v/demo/\?[^"]*)"', page)]
    assert home and not any("preview=" in u for u in home)


def test_the_preview_token_never_becomes_the_browsers_shopper(app, client, console):
    link = preview_link(client, console, "foodcourt", "foodcourt")
    resp = client.get(link)
    assert not any(c.startswith((f"{LEGACY_COOKIE}=", cookie_name("demo"))) for c in resp.headers.getlist("Set-Cookie"))
    # a browser that kept one before (a preview of an earlier release) is let go of it
    client.set_cookie(LEGACY_COOKIE, token_of(link))
    resp = client.get("/v/demo/queue/foodcourt?lang=en")
    assert any(c.startswith(f'{LEGACY_COOKIE}=;') or c.startswith(f'{LEGACY_COOKIE}=""')
               for c in resp.headers.getlist("Set-Cookie"))


def shopper_changes(flask_app) -> list:
    """Every rule a shopper's browser may change something through: any light app's shopper pages (the
    registry's blueprints) and the rest of /v/, with a method that is not safe."""
    shopper_blueprints = {registry.parts(app.name).shopper_blueprint.name for app in registry.all_apps()}
    return [rule for rule in flask_app.url_map.iter_rules() if set(rule.methods or ()) - SAFE_METHODS
            and (rule.endpoint.rpartition(".")[0] in shopper_blueprints or rule.rule.startswith("/v/"))]


def filled(rule, zone: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: {"venue": "demo", "zone": zone}.get(m.group(1), "x"),
                  rule.rule)


@pytest.mark.parametrize("who", ["preview", "real"])
def test_every_change_a_shopper_page_makes_is_refused_under_the_preview_only(app, client, console, svc, who):
    token = token_of(preview_link(client, console, "kopi", "kopi")) if who == "preview" else real_shopper_token(app)
    console.logout()
    rules = shopper_changes(app)
    apps = {registry.parts(a.name).shopper_blueprint.name: a for a in registry.all_apps()}
    assert {"queue.take", "coupons.claim", "cinema.hold", "games.draw", "hub.save_privacy"} <= {
        r.endpoint for r in rules}
    walked = []
    for rule in rules:
        owner = apps.get(rule.endpoint.rpartition(".")[0])
        with zones_for(svc, owner) if owner is not None else nullcontext(("kopi", None)) as (zone, _off):
            for method in sorted(set(rule.methods) - SAFE_METHODS):
                resp = client.open(filled(rule, zone), method=method, data={"c": token})
                walked.append((f"{method} {rule.rule}", resp.status_code == 403 and REFUSED in resp.text))
    wrong = [path for path, refused in walked if refused != (who == "preview")]
    assert not wrong, wrong
