"""An event under way (between its start and its end) is shown as under way, not ended; and a shopper gives back
their place at a free event before it starts ("Cancel my sign-up": POST /activities/<id>/leave), from the item
page or "my activities": who may, bad input, idempotency, and the join budget that bounds join/leave churn.

No sleeps: events are created with times relative to the clock (hours away) or moved in the store."""

from __future__ import annotations

import time

from core.settings import DEFAULT_BUDGETS
from lightapps.activities import views
from lightapps.activities.store import ActivityKeys

UNDER_WAY = "Under way · sign-up closed"
NO_LEAVE = "Only free event sign-ups can be cancelled here"


def new_event(acts, capacity=1, starts_in=3600.0, lasts=7200.0, **over):
    now = time.time()
    fields = {"kind": "event", "title_en": "Kids workshop", "title_zh": "儿童工坊", "starts_at": now + starts_in,
              "ends_at": now + starts_in + lasts, "limit": capacity, **over}
    return acts.create("demo", "atrium", fields)


def join(client, item_id, c):
    return client.post(f"/v/demo/activities/{item_id}/join", data={"c": c})


def leave(http, item_id, c=None, **form):
    return http.post(f"/v/demo/activities/{item_id}/leave", data={**({"c": c} if c else {}), **form})


# ---- an event under way -------------------------------------------------------------------------------


def test_event_under_way_is_shown_as_under_way_until_it_ends(client, demo, acts, token):
    now = time.time()
    e = new_event(acts, capacity=20, starts_in=-60, lasts=7200)  # started a minute ago, two more hours to go
    assert acts.join("demo", e.id, "alice", now=e.starts_at - 600).ok  # signed up before it started
    c = token()
    page = client.get(f"/v/demo/activities/{e.id}?c={c}").get_data(as_text=True)
    assert UNDER_WAY in page and 'class="state-underway"' in page and ">Ended<" not in page
    assert 'id="join"' not in page and 'id="leave"' not in page  # sign-up closed; too late to cancel
    landing = client.get(f"/v/demo/zone/atrium/activities?c={c}").get_data(as_text=True)
    assert f'id="activity-{e.id}"' in landing and "state-underway" in landing and UNDER_WAY in landing
    mine = client.get(f"/v/demo/activities/mine?c={c}").get_data(as_text=True)
    assert f'id="mine-{e.id}"' in mine and UNDER_WAY in mine and "Ended" not in mine
    late = join(client, e.id, token("bob"))  # sign-up closed: said so, not "ended"
    assert late.status_code == 410 and "Sign-up has closed: the event is under way." in late.get_data(as_text=True)
    # After its end: ended (moved into the past in the store: no sleep racing a slow machine)
    acts.db.hset(ActivityKeys("demo").item(e.id), mapping={"starts_at": repr(now - 7200), "ends_at": repr(now - 1)})
    page = client.get(f"/v/demo/activities/{e.id}?c={c}").get_data(as_text=True)
    assert ">Ended<" in page and UNDER_WAY not in page
    assert f'id="activity-{e.id}"' not in client.get(f"/v/demo/zone/atrium/activities?c={c}").get_data(as_text=True)
    assert "Too late: this has ended." in join(client, e.id, token("carol")).get_data(as_text=True)


# ---- cancel my sign-up ----------------------------------------------------------------------------------


def test_leave_gives_the_place_back_to_the_next_shopper(client, demo, acts, token):
    e = new_event(acts, capacity=1)
    assert join(client, e.id, token("a")).status_code == 303
    assert join(client, e.id, token("b")).status_code == 409  # full
    page = client.get(f"/v/demo/activities/{e.id}?c={token('a')}").get_data(as_text=True)
    assert 'id="leave"' in page and "Cancel my sign-up" in page and NO_LEAVE not in page
    resp = leave(client, e.id, token("a"))
    assert resp.status_code == 303 and "left=1" in resp.headers["Location"] and "c=" in resp.headers["Location"]
    assert f"/activities/{e.id}" in resp.headers["Location"]
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Your sign-up is cancelled" in page and 'id="my-code"' not in page and 'id="join"' in page
    got = acts.get("demo", e.id)
    assert (got.taken, got.left) == (0, 1)
    assert acts.joined("demo", "a", [e.id]) == {} and acts.mine("demo", "a") == []
    # Again (a double tap, a stale tab): nothing changes, back to the page without the notice.
    again = leave(client, e.id, token("a"))
    assert again.status_code == 303 and "left" not in again.headers["Location"]
    assert acts.get("demo", e.id).taken == 0
    assert join(client, e.id, token("b")).status_code == 303  # the place went to the next shopper
    assert leave(client, e.id, token("a")).status_code == 303  # a leaving again does not free b's place
    assert acts.get("demo", e.id).taken == 1 and e.id in acts.joined("demo", "b", [e.id])


def test_leave_from_my_activities(client, demo, acts, token):
    e = new_event(acts, capacity=3)
    assert join(client, e.id, token()).status_code == 303
    mine = client.get(f"/v/demo/activities/mine?c={token()}").get_data(as_text=True)
    assert f'id="leave-{e.id}"' in mine and f"/activities/{e.id}/leave" in mine and 'name="from" value="mine"' in mine
    resp = leave(client, e.id, token(), **{"from": "mine"})
    assert resp.status_code == 303 and "/activities/mine?" in resp.headers["Location"]
    assert "left=1" in resp.headers["Location"]
    mine = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Your sign-up is cancelled" in mine and 'id="nothing"' in mine
    # Any other `from` is no target: the item page (redirects are built with url_for only)
    assert join(client, e.id, token()).status_code == 303
    resp = leave(client, e.id, token(), **{"from": "https://evil.example/"})
    assert resp.status_code == 303 and "evil" not in resp.headers["Location"]
    assert f"/activities/{e.id}?" in resp.headers["Location"]


def test_only_the_shoppers_own_sign_up_is_cancelled(app, client, demo, acts, token):
    e = new_event(acts, capacity=2)
    assert join(client, e.id, token("a")).status_code == 303
    code = acts.joined("demo", "a", [e.id])[e.id]
    # Another shopper (naming a in the form changes nothing: who leaves is the token's shopper)
    assert leave(client, e.id, token("b"), client="a", who="a").status_code == 303
    # No token (a fresh browser: no cookie either) and a token of another venue: refused
    fresh = app.test_client()
    assert leave(fresh, e.id).status_code == 403
    assert leave(fresh, e.id, "not-a-token").status_code == 403
    assert leave(fresh, e.id, token("a", venue="othermall")).status_code == 403
    # Wrong method
    assert client.get(f"/v/demo/activities/{e.id}/leave?c={token('a')}").status_code == 405
    assert client.put(f"/v/demo/activities/{e.id}/leave", data={"c": token("a")}).status_code == 405
    assert acts.joined("demo", "a", [e.id]) == {e.id: code} and acts.get("demo", e.id).taken == 1
    assert [a.id for a, _code in acts.mine("demo", "a")] == [e.id]


def test_leave_bad_input_changes_nothing(client, svc, demo, acts, token):
    now = time.time()
    c = token()
    for bad in ("999", "x", "1" * 30, "..%2F..%2Fx"):
        assert leave(client, bad, c).status_code == 404
    sale = acts.create("demo", "atrium", {"kind": "sale", "title_en": "Earbuds", "starts_at": now - 60,
                                          "ends_at": now + 3600, "limit": 5})
    group = acts.create("demo", "atrium", {"kind": "group", "title_en": "Pack", "ends_at": now + 3600, "needed": 3})
    priced = new_event(acts, capacity=5, price="¥30")  # paid at the counter: ask the organiser
    started = new_event(acts, capacity=5)
    for item in (sale, group, priced, started):
        assert join(client, item.id, c).status_code == 303
    acts.db.hset(ActivityKeys("demo").item(started.id), "starts_at", repr(now - 1))  # it has started
    for item, text in ((sale, NO_LEAVE), (group, NO_LEAVE), (priced, NO_LEAVE),
                       (started, "Too late to cancel: the event has started.")):
        resp = leave(client, item.id, c)
        assert resp.status_code == 409 and text in resp.get_data(as_text=True), item.kind
        assert acts.get("demo", item.id).taken == 1 and item.id in acts.joined("demo", "alice", [item.id])
    # The item pages say so rather than offer a button
    for item in (sale, group, priced):
        page = client.get(f"/v/demo/activities/{item.id}?c={c}").get_data(as_text=True)
        assert 'id="no-leave"' in page and 'id="leave"' not in page
    mine = client.get(f"/v/demo/activities/mine?c={c}").get_data(as_text=True)
    assert "/leave" not in mine
    # An event of a zone that no longer runs the app: as any page of it, 404
    other = new_event(acts, capacity=5)
    assert join(client, other.id, c).status_code == 303
    svc.zone_apps.set("demo", "atrium", "directory", {})
    assert leave(client, other.id, c).status_code == 404
    assert acts.get("demo", other.id).taken == 1


def test_join_and_leave_in_a_loop_is_bounded_by_the_join_budget(client, demo, acts, token):
    e = new_event(acts, capacity=1)
    per_shopper = DEFAULT_BUDGETS["activities.join.shopper"][0]
    assert per_shopper < DEFAULT_BUDGETS["activities.join.ip"][0]  # the shopper's budget is the one that ends it
    for _ in range(per_shopper):
        assert join(client, e.id, token()).status_code == 303
        assert leave(client, e.id, token()).status_code == 303
    refused = join(client, e.id, token())
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert acts.get("demo", e.id).taken == 0  # the place stays free for someone else
    assert leave(client, e.id, token()).status_code == 303  # leaving again is free and changes nothing
    assert join(client, e.id, token("bob")).status_code == 303


def test_an_event_priced_while_the_shopper_asks_is_not_left(client, demo, acts, token, monkeypatch):
    """The rule is checked where the place is given back (LEAVE_LUA), not on the view's earlier read: the owner
    prices the event right after the view read it as free; the shopper is told to ask the organiser (409) and
    keeps the place. (The view used to decide "free" from its own read, then run a script that did not look.)"""
    e = new_event(acts, capacity=2)
    assert join(client, e.id, token()).status_code == 303
    read = views._item_or_404

    def read_then_priced(venue, item_id, now):
        item = read(venue, item_id, now)
        acts.db.hset(ActivityKeys("demo").item(e.id), "price", "¥30")  # the owner's edit lands just then
        return item

    monkeypatch.setattr(views, "_item_or_404", read_then_priced)
    resp = leave(client, e.id, token())
    assert resp.status_code == 409 and NO_LEAVE in resp.get_data(as_text=True)
    assert acts.get("demo", e.id).taken == 1 and e.id in acts.joined("demo", "alice", [e.id])
    monkeypatch.undo()
    page = client.get(f"/v/demo/activities/{e.id}?c={token()}").get_data(as_text=True)
    assert 'id="leave"' not in page and 'id="no-leave"' in page  # the page follows the same rule
