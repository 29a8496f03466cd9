"""Activities store against the real (embedded) Valkey: owner input, joining events / flash sales /
group buys (limits, one per shopper, start time, deadline), the lazily settled group-buy outcome,
outbound links and their attribution; many threads on separate connections."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
import redis

from lightapps.activities.store import (
    FREE_PRICES,
    ActivityInputError,
    ActivityKeys,
    ActivityStore,
    attributed_url,
    check_target_url,
    parse_activity,
    parse_link,
)

NOW = 1_900_000_000.0


@pytest.fixture
def acts(db):
    return ActivityStore(db)


def local(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%dT%H:%M")


def event(acts, capacity=3, starts_in=3600, zone="atrium", now=NOW):
    return acts.create("demo", zone, {"kind": "event", "title_en": "Talk", "starts_at": now + starts_in,
                                      "ends_at": now + starts_in + 3600, "limit": capacity}, now=now)


def sale(acts, stock=3, opens_in=0, now=NOW):
    return acts.create("demo", "atrium", {"kind": "sale", "title_en": "Earbuds", "starts_at": now + opens_in,
                                          "ends_at": now + opens_in + 3600, "limit": stock}, now=now)


def group(acts, needed=3, limit=0, deadline_in=3600, now=NOW):
    return acts.create("demo", "atrium", {"kind": "group", "title_en": "Pack", "ends_at": now + deadline_in,
                                          "needed": needed, "limit": limit}, now=now)


# ---- owner input --------------------------------------------------------------------------------


def test_parse_event_sale_and_group():
    now = time.time()
    form = {"title_en": "Lion dance", "starts_at": local(now + 7200), "ends_at": local(now + 10800), "capacity": "50"}
    fields = parse_activity("event", form, now)
    assert fields["limit"] == 50 and fields["kind"] == "event"
    assert parse_activity("sale", {**form, "stock": "20"}, now)["limit"] == 20
    g = parse_activity("group", {"title_en": "Pack", "ends_at": local(now + 7200), "needed": "5"}, now)
    assert (g["needed"], g["limit"]) == (5, 0)


@pytest.mark.parametrize("kind, change, field", [
    ("event", {"title_en": ""}, "title_zh"),  # neither language: one is enough (portal/apps/bilingual.py)
    ("event", {"title_en": "x" * 81}, "title_en"),
    ("event", {"starts_at": "tomorrow"}, "starts_at"),
    ("event", {"starts_at": "2025-02-30T10:00"}, "starts_at"),
    ("event", {"starts_at": ""}, "starts_at"),
    ("event", {"ends_at": "PAST"}, "ends_at"),
    ("event", {"starts_at": "PAST", "ends_at": "LATER"}, "starts_at"),
    ("event", {"capacity": "0"}, "capacity"),
    ("event", {"capacity": "-3"}, "capacity"),
    ("event", {"capacity": "lots"}, "capacity"),
    ("event", {"capacity": "100001"}, "capacity"),
    ("event", {"ends_at": "FAR"}, "ends_at"),
    ("sale", {"stock": ""}, "stock"),
    ("group", {"needed": "1"}, "needed"),
    ("group", {"needed": "5", "limit": "3"}, "limit"),
    ("group", {"ends_at": "PAST"}, "ends_at"),
    ("party", {}, "kind"),
])
def test_bad_owner_input_names_the_field(kind, change, field):
    now = time.time()
    times = {"PAST": local(now - 7200), "LATER": local(now + 7200), "FAR": local(now + 400 * 86400)}
    form = {"title_en": "T", "starts_at": local(now + 3600), "ends_at": local(now + 7200), "capacity": "5",
            "stock": "5", "needed": "5"}
    form.update({k: times.get(v, v) for k, v in change.items()})
    with pytest.raises(ActivityInputError) as exc:
        parse_activity(kind, form, now)
    assert exc.value.field == field


@pytest.mark.parametrize("url", ["", "javascript:alert(1)", "//evil.example/x", "/local/path", "ftp://x.example/",
                                 "https://user:pw@x.example/", "https://x.example/a b", "https:///nohost",
                                 "https://x.example:99999/", "https://x.example/\\evil", "data:text/html,hi",
                                 "https://x.example/" + "a" * 500])
def test_bad_link_targets_are_refused(url):
    with pytest.raises(ActivityInputError) as exc:
        check_target_url(url)
    assert exc.value.field == "url"


def test_link_form():
    fields = parse_link({"label_en": "Shop", "url": "https://shop.example.com/x", "campaign": "Spring-2025"})
    assert fields["campaign"] == "spring-2025"
    with pytest.raises(ActivityInputError):
        parse_link({"label_en": "Shop", "url": "https://shop.example.com/x", "campaign": "no spaces"})
    with pytest.raises(ActivityInputError):
        parse_link({"label_en": "", "url": "https://shop.example.com/x"})


def test_attribution_replaces_utm_and_keeps_the_rest():
    url = attributed_url("https://shop.example.com/p?id=7&utm_source=them&x=&utm_campaign=old#frag", "spring-5")
    parts = urlsplit(url)
    assert parts.netloc == "shop.example.com" and parts.path == "/p" and parts.fragment == "frag"
    q = parse_qs(parts.query, keep_blank_values=True)
    assert q == {"id": ["7"], "x": [""], "utm_source": ["mallportal"], "utm_medium": ["wifi"],
                 "utm_campaign": ["spring-5"]}


# ---- joining --------------------------------------------------------------------------------------


def test_event_sign_up_capacity_and_one_per_shopper(acts):
    e = event(acts, capacity=2)
    first = acts.join("demo", e.id, "a", now=NOW)
    assert first.ok and len(first.code) == 8
    assert acts.join("demo", e.id, "a", now=NOW) == type(first)("ALREADY", first.code)
    assert acts.join("demo", e.id, "b", now=NOW).ok
    assert acts.join("demo", e.id, "c", now=NOW).status == "FULL"
    got = acts.get("demo", e.id, now=NOW)
    assert (got.taken, got.left, got.state(NOW)) == (2, 0, "full")
    assert [a.id for a, _code in acts.mine("demo", "a", now=NOW)] == [e.id]


def test_event_sign_up_closes_when_it_starts(acts):
    e = event(acts, starts_in=60)
    assert acts.join("demo", e.id, "late", now=NOW + 60).status == "ENDED"
    assert acts.get("demo", e.id, now=NOW + 60).state(NOW + 60) == "underway"  # sign-up closed, not ended


def test_event_is_under_way_from_its_start_and_ended_only_after_its_end(acts):
    e = event(acts, capacity=1, starts_in=60)  # runs an hour
    got = acts.get("demo", e.id, now=NOW)
    assert [got.state(t) for t in (NOW + 59, NOW + 60, NOW + 60 + 3599, NOW + 60 + 3600)] == [
        "open", "underway", "underway", "ended"]
    acts.join("demo", e.id, "a", now=NOW)
    assert acts.get("demo", e.id, now=NOW + 61).state(NOW + 61) == "underway"  # full, but under way says more
    acts.stop("demo", "atrium", e.id, now=NOW)
    assert acts.get("demo", e.id).state(NOW + 61) == "closed"


# ---- leaving an event ------------------------------------------------------------------------------


def test_leave_gives_the_place_back_once(acts):
    e = event(acts, capacity=1, starts_in=600)
    assert acts.join("demo", e.id, "a", now=NOW).ok
    assert acts.join("demo", e.id, "b", now=NOW).status == "FULL"
    assert acts.leave("demo", e.id, "b", now=NOW) == "NOT_JOINED"  # b cannot give back a's place
    assert acts.get("demo", e.id).taken == 1
    assert acts.leave("demo", e.id, "a", now=NOW + 10) == "OK"
    got = acts.get("demo", e.id)
    assert (got.taken, got.left) == (0, 1)
    assert acts.joined("demo", "a", [e.id]) == {} and acts.mine("demo", "a", now=NOW) == []
    assert acts.leave("demo", e.id, "a", now=NOW + 10) == "NOT_JOINED"  # again: nothing changes
    assert acts.get("demo", e.id).taken == 0
    assert acts.join("demo", e.id, "b", now=NOW + 20).ok
    assert acts.leave("demo", e.id, "b", now=NOW + 600) == "STARTED"  # too late: the place stays b's
    assert acts.get("demo", e.id).taken == 1 and e.id in acts.joined("demo", "b", [e.id])


def test_leave_refusals(acts):
    s, g = sale(acts), group(acts)
    for item in (s, g):
        assert acts.join("demo", item.id, "a", now=NOW).ok
        assert acts.leave("demo", item.id, "a", now=NOW) == "NOT_EVENT"
        assert acts.get("demo", item.id).taken == 1 and item.id in acts.joined("demo", "a", [item.id])
    e = event(acts)
    assert acts.leave("demo", "999", "a", now=NOW) == "NO_ITEM"
    assert acts.leave("demo", "bad id", "a", now=NOW) == "NO_ITEM"
    assert acts.leave("demo", e.id, "", now=NOW) == "NO_ITEM"
    assert acts.leave("demo", e.id, "nobody", now=NOW) == "NOT_JOINED"
    assert acts.get("demo", e.id).taken == 0


def test_leave_follows_the_one_rule_the_pages_show(acts):
    """`Activity.leavable` (what the pages offer) and LEAVE_LUA (what is done) are one rule: for every kind,
    price and time, a joined shopper's leave is OK exactly where the item says it is leavable; a priced event
    (paid at the counter) answers PRICED, checked in the script on the item as it is then."""
    cases = [("event", ""), ("event", "¥0"), ("event", "¥30"), ("event", "0元"), ("sale", ""), ("group", "")]
    for kind, price in cases:
        for at in (NOW, NOW + 3600):  # before the event's start; at it
            item = {"event": event, "sale": sale, "group": group}[kind](acts)
            acts.db.hset(ActivityKeys("demo").item(item.id), "price", price)
            assert acts.join("demo", item.id, "a", now=NOW).ok
            item = acts.get("demo", item.id)
            status = acts.leave("demo", item.id, "a", now=at)
            assert (status == "OK") == item.leavable(at), (kind, price, at, status)
            if kind == "event" and price not in FREE_PRICES:
                assert status == "PRICED"
                assert acts.get("demo", item.id).taken == 1 and item.id in acts.joined("demo", "a", [item.id])


def test_an_event_priced_after_the_page_was_read_is_not_left(acts):
    """The owner prices the event between the shopper's page and the leave: the script reads the price now."""
    e = event(acts)
    assert acts.join("demo", e.id, "a", now=NOW).ok
    acts.db.hset(ActivityKeys("demo").item(e.id), "price", "¥30")
    assert acts.leave("demo", e.id, "a", now=NOW) == "PRICED"
    assert acts.get("demo", e.id).taken == 1 and e.id in acts.joined("demo", "a", [e.id])


def test_many_threads_leaving_at_once_give_each_place_back_once(acts, redis_url):
    e = event(acts, capacity=20)
    for i in range(20):
        assert acts.join("demo", e.id, f"shopper-{i}", now=NOW).ok
    barrier = threading.Barrier(40)

    def leave(i):
        own = ActivityStore(redis.Redis.from_url(redis_url))
        barrier.wait()
        return own.leave("demo", e.id, f"shopper-{i % 20}", now=NOW)  # each shopper twice, at once

    with ThreadPoolExecutor(40) as pool:
        statuses = list(pool.map(leave, range(40)))
    assert (statuses.count("OK"), statuses.count("NOT_JOINED")) == (20, 20)
    assert acts.get("demo", e.id).taken == 0 and acts.db.hlen(ActivityKeys("demo").who(e.id)) == 0


def test_flash_sale_not_before_start_not_after_end(acts):
    s = sale(acts, stock=5, opens_in=600)
    assert acts.join("demo", s.id, "early", now=NOW + 599).status == "NOT_STARTED"
    assert acts.get("demo", s.id).taken == 0
    assert acts.join("demo", s.id, "ontime", now=NOW + 600).ok
    assert acts.join("demo", s.id, "late", now=NOW + 600 + 3600).status == "ENDED"


def test_stopped_activity_refuses_joins(acts):
    s = sale(acts)
    assert acts.stop("demo", "atrium", s.id, now=NOW)
    assert not acts.stop("demo", "kopi", s.id, now=NOW)  # another zone's owner cannot
    assert acts.join("demo", s.id, "x", now=NOW).status == "CLOSED"
    assert acts.join("demo", "999", "x", now=NOW).status == "NO_ITEM"
    assert acts.join("demo", "bad id", "x", now=NOW).status == "NO_ITEM"


def test_group_buy_succeeds_at_the_deadline(acts):
    g = group(acts, needed=3, deadline_in=600)
    for who in ("a", "b", "c", "d"):
        assert acts.join("demo", g.id, who, now=NOW + 10).ok
    before = acts.get("demo", g.id, now=NOW + 599)
    assert (before.taken, before.outcome, before.state(NOW + 599)) == (4, "", "open")
    assert before.reached_at == NOW + 10
    after = acts.get("demo", g.id, now=NOW + 600)
    assert (after.outcome, after.state(NOW + 600)) == ("succeeded", "succeeded")
    assert acts.join("demo", g.id, "e", now=NOW + 601).status == "ENDED"


def test_group_buy_fails_at_the_deadline_and_stays_failed(acts):
    g = group(acts, needed=3, deadline_in=600)
    acts.join("demo", g.id, "a", now=NOW)
    acts.join("demo", g.id, "b", now=NOW)
    assert acts.get("demo", g.id, now=NOW + 600).outcome == "failed"
    # A join stamped before the deadline but arriving after the settlement (a slow server clock) is refused.
    assert acts.join("demo", g.id, "c", now=NOW + 500).status == "ENDED"
    assert acts.get("demo", g.id, now=NOW + 700).taken == 2
    assert [a.outcome for a in acts.for_zone("demo", "atrium", now=NOW + 700)] == ["failed"]


def test_group_buy_with_a_cap_and_a_cancelled_one(acts):
    g = group(acts, needed=2, limit=2)
    assert acts.join("demo", g.id, "a", now=NOW).ok and acts.join("demo", g.id, "b", now=NOW).ok
    assert acts.join("demo", g.id, "c", now=NOW).status == "FULL"
    h = group(acts, needed=2)
    acts.stop("demo", "atrium", h.id, now=NOW)
    assert acts.get("demo", h.id, now=NOW + 9999).outcome == "cancelled"


def test_many_threads_never_oversell_and_never_twice(acts, redis_url):
    s = sale(acts, stock=20)
    barrier = threading.Barrier(40)

    def buy(i):
        own = ActivityStore(redis.Redis.from_url(redis_url))
        barrier.wait()
        return own.join("demo", s.id, f"shopper-{i % 100}", now=NOW).status

    with ThreadPoolExecutor(40) as pool:
        statuses = list(pool.map(buy, range(200)))
    assert statuses.count("OK") == 20
    assert acts.get("demo", s.id).taken == 20
    assert acts.db.hlen(ActivityKeys("demo").who(s.id)) == 20


# ---- links --------------------------------------------------------------------------------------


def test_links_count_clicks_and_shoppers(acts):
    s = sale(acts)
    link = acts.create_link("demo", "atrium", {"label_en": "Shop", "url": "https://shop.example.com/",
                                               "campaign": "", "activity": s.id})
    assert link.campaign == f"earbuds-{s.id}"
    for client in ("a", "a", "b", None):
        acts.click("demo", link.id, client)
    got = acts.link("demo", link.id)
    assert (got.clicks, got.shoppers) == (4, 2)
    late = datetime(2026, 3, 14, 23, 30, tzinfo=UTC).timestamp()  # 07:30 on the 15th in Shanghai
    acts.click("demo", link.id, "c", now=late, tz=ZoneInfo("Asia/Shanghai"))
    assert acts.db.hget(ActivityKeys("demo").link_days(link.id), "2026-03-15") == b"1"  # the mall's day
    assert acts.click("demo", "nosuchlink", "a") is None
    assert acts.link("demo", "../../etc") is None
    plain = acts.create_link("demo", "atrium", {"label_en": "Our blog!", "url": "https://blog.example.com/",
                                                "campaign": "", "activity": ""})
    assert plain.campaign == "atrium-our-blog"
    assert [x.id for x in acts.links_for_zone("demo", "atrium")] == [plain.id, link.id]
