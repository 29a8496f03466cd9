"""Every record a join writes about a shopper expires (a real Valkey): the activity's list of who joined
after the activity's end plus a grace period, "my activities" at least the shopper token's lifetime after
each join and never before the activities it lists; a join only moves an expiry later. Without these an
anonymous shopper's records would outlive the only token that can reach them, for ever."""

from __future__ import annotations

import pytest

from lightapps.activities.store import KEEP_AFTER_END_S, ActivityKeys, ActivityStore
from portal.apps.views import STORES

NOW = 1_900_000_000.0
DAY = 86400
TOKEN_LIFE = 30 * DAY
SLACK = 5


@pytest.fixture
def acts(db):
    return ActivityStore(db, shopper_ttl_s=TOKEN_LIFE)


def make(acts, kind: str, ends_in: float):
    fields = {"kind": kind, "title_en": kind, "ends_at": NOW + ends_in, "limit": 10}
    if kind == "event":
        fields["starts_at"] = NOW + 3600  # sign-up closes when it starts; it lasts until ends_at
    elif kind == "sale":
        fields["starts_at"] = NOW - 60
    else:
        fields["needed"] = 2
    return acts.create("demo", "atrium", fields, now=NOW - 60)


def join(acts, item, client: str = "anon-1") -> None:
    assert acts.join("demo", item.id, client, now=NOW).ok


@pytest.mark.parametrize("kind", ["event", "sale", "group"])
def test_a_join_gives_every_record_an_expiry_past_the_activitys_end(acts, db, kind):
    keys = ActivityKeys("demo")
    item = make(acts, kind, ends_in=10 * DAY)
    join(acts, item)
    usable = item.ends_at - NOW
    assert usable + KEEP_AFTER_END_S - SLACK <= db.ttl(keys.who(item.id)) <= usable + KEEP_AFTER_END_S
    assert db.ttl(keys.mine("anon-1")) >= max(TOKEN_LIFE, usable + KEEP_AFTER_END_S) - SLACK


def test_my_activities_outlive_the_longest_one_and_a_join_never_shortens_them(acts, db):
    mine = ActivityKeys("demo").mine("anon-1")
    join(acts, make(acts, "event", ends_in=300 * DAY))
    assert db.ttl(mine) >= 300 * DAY + KEEP_AFTER_END_S - SLACK
    join(acts, make(acts, "sale", ends_in=DAY))
    assert db.ttl(mine) >= 300 * DAY + KEEP_AFTER_END_S - SLACK


def test_a_second_join_refreshes_my_activities(acts, db):
    mine = ActivityKeys("demo").mine("anon-1")
    join(acts, make(acts, "sale", ends_in=DAY))
    db.expire(mine, 60)  # as if the first join were a month old
    join(acts, make(acts, "sale", ends_in=DAY))
    assert db.ttl(mine) >= TOKEN_LIFE - SLACK


def test_the_platform_builds_the_store_with_the_shopper_token_lifetime(app, svc):
    assert app.extensions[STORES]["activities"].shopper_ttl_s == svc.settings.shopper_token_ttl_s
