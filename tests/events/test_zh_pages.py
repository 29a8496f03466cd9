"""The insights, moments and my-data pages in Chinese show no English: every visible text run (and title,
placeholder, aria-label) with a Latin word is one of the names that stay as they are (brands, formats,
protocol names, ids the operator copies, accounts)."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

from portal.events.moments import MomentKeys, parse_rule
from portal.shopper import Shopper, shopper_token

# Latin words a Chinese page may show: the product and the language switch, file formats and protocols,
# the demo's account names and venue id, and the zone names that have no Chinese name in the demo mall.
ALLOWED = {"MallPortal", "English", "JSON", "CSV", "Parquet", "MAC", "WiFi", "Webhook", "HMAC", "SHA", "POST",
           "https", "http", "ops", "kopi", "demo", "body", "X-MallPortal-Signature", "HMAC-SHA", "unix",
           "iOS", "Android"}  # the MAC caveat (portal/operator/insights.py figure_definitions) names them


class Visible(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.runs: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "code"):
            self.hidden += 1
        self.runs += [v for k, v in attrs if k in ("title", "placeholder", "aria-label") and v]

    def handle_endtag(self, tag):
        if tag in ("script", "style", "code"):
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.runs.append(data)


def english(html: str) -> list[str]:
    parser = Visible()
    parser.feed(html)
    return [run.strip() for run in parser.runs
            if any(w not in ALLOWED for w in re.findall(r"[A-Za-z][A-Za-z-]{2,}", run))]


def test_console_pages_in_chinese(client, console, svc, demo):
    rule = parse_rule({"name": "规则", "trigger": "dwell", "dwell_min": "10", "zone": "kopi", "action": "offer",
                       "message_en": "x"}, zones=["kopi"], owner="ops", may_webhook=True)
    svc.moments.save("demo", rule)
    svc.moments.save("demo", parse_rule({"name": "回来", "trigger": "return", "action": "notify",
                                         "message_en": "x"}, zones=[], owner="ops", may_webhook=True))
    svc.consent.record("demo", "s-zh", location=True, marketing=True)
    svc.moments.ensure("demo", start="0")
    svc.events.emit("demo", "landing", at=time.time() - 900, device="d-zh", shopper="s-zh", zone="atrium")
    svc.events.emit("demo", "dwell", at=time.time() - 60, device="d-zh", zone="kopi", min=10, dwell_s=600.0)
    svc.moments.tick("demo")
    assert svc.db.zcard(MomentKeys("demo").deliveries()) == 1
    svc.privacy.audit_export("demo", "shopper (self)", "erasure", "3 records")
    svc.privacy.audit_export("demo", "shopper (self)", "my-data.json", "own data")
    for who, urls in (("ops", ["/console/ops/demo/insights?lang=zh", "/console/ops/demo/insights?lang=zh&period=month",
                               "/console/ops/demo/moments?lang=zh"]),
                      ("kopi", ["/console/owner/demo/insights?lang=zh", "/console/owner/demo/moments?lang=zh"])):
        console.login(who)
        for url in urls:
            page = client.get(url)
            assert page.status_code == 200 and english(page.get_data(as_text=True)) == [], url
        console.logout()


def test_rule_errors_in_chinese(client, console, demo):
    console.login("kopi")
    for bad in ({"name": ""}, {"trigger": "arrive", "zone": ""}, {"cap_per_day": "x"}, {"hour_from": "3",
                                                                                         "hour_to": "3"}):
        data = {"csrf_token": console.csrf(), "name": "n", "trigger": "zone_enter", "zone": "kopi",
                "action": "offer", "message_en": "m", **bad}
        page = client.post("/console/owner/demo/moments?lang=zh", data=data)
        assert page.status_code == 422
        error = re.search(r'id="rule-error"[^>]*>([^<]*)<', page.get_data(as_text=True)).group(1)
        assert error and english(f"<p>{error}</p>") == [], error


def test_my_data_in_chinese(app, client, svc, demo):
    svc.consent.record("demo", "s-zh", location=True, marketing=True)
    svc.events.emit("demo", "landing", at=time.time(), device="d-zh", shopper="s-zh", zone="kopi")
    with app.app_context():
        token = shopper_token(Shopper("demo", "s-zh"))
    page = client.get(f"/v/demo/my-data?c={token}&lang=zh")
    assert page.status_code == 200 and english(page.get_data(as_text=True)) == []
