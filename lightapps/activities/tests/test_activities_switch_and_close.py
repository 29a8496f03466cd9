"""What an owner cannot lose by one tap: a zone is not switched away from the activities while shoppers hold
something only their pages show (a sale being paid, a sign-up, a group buy's deposit: the `in_use` hook, 409,
nothing stored); Close asks for a ticked box saying what it does (a group buy's deposits refunded), else 422 and
nothing changed; and the create form sent twice (a double tap) makes one activity (its one-time token)."""

from __future__ import annotations

import re
import threading
import time

from lightapps.activities.deposits import DepositStore
from lightapps.activities.payment import RESERVE_S, SaleStock
from lightapps.activities.store import ActivityStore
from tests.pages import input_values

VENUE, ZONE = "demo", "atrium"
CONSOLE = f"/console/apps/activities/{VENUE}/{ZONE}"


def new_sale(acts: ActivityStore, now: float):
    return acts.create(VENUE, ZONE, {"kind": "sale", "title_en": "Last earbuds", "price": "¥10",
                                     "starts_at": now - 3600, "ends_at": now + 7200, "limit": 5})


def new_event(acts: ActivityStore, now: float):
    return acts.create(VENUE, ZONE, {"kind": "event", "title_en": "Robot race", "starts_at": now + 3600,
                                     "ends_at": now + 7200, "limit": 20})


def new_group(acts: ActivityStore, now: float):
    return acts.create(VENUE, ZONE, {"kind": "group", "title_en": "Hotpot for four", "price": "¥30",
                                     "ends_at": now + 3600, "needed": 4})


def counts(held: dict) -> dict:
    return {what: [(item.title_en, n) for item, n in found] for what, found in held.items() if found}


def test_what_shoppers_hold_is_named_per_activity_until_it_is_over(db):
    acts, stock, deposits = ActivityStore(db), SaleStock(db, 86400), DepositStore(db, 86400)
    now = time.time()
    sale, event, group = new_sale(acts, now), new_event(acts, now), new_group(acts, now)
    assert acts.held_by_shoppers(VENUE, ZONE, now) == {"paying": [], "signed_up": [], "deposits": []}
    assert stock.reserve(VENUE, sale.id, "alice", int(now * 1000)).status == "OK"
    assert acts.join(VENUE, event.id, "bob", now).ok and acts.join(VENUE, event.id, "carol", now).ok
    assert deposits.join_paid(VENUE, group.id, "dave", "MP-dave", now) == "OK"
    assert counts(acts.held_by_shoppers(VENUE, ZONE, now)) == {
        "paying": [("Last earbuds", 1)], "signed_up": [("Robot race", 2)], "deposits": [("Hotpot for four", 1)]}
    # A reservation left unpaid lapses; the event ends; the group's deposits come back: nothing is held then.
    later = now + 7200 + 1
    assert counts(acts.held_by_shoppers(VENUE, ZONE, now + RESERVE_S + 1)) == {
        "signed_up": [("Robot race", 2)], "deposits": [("Hotpot for four", 1)]}
    deposits.mark(VENUE, group.id, "refunded", done=True)
    assert counts(acts.held_by_shoppers(VENUE, ZONE, later)) == {}


def test_a_group_that_went_ahead_keeps_its_deposits_and_holds_nothing_back(db):
    acts, deposits = ActivityStore(db), DepositStore(db, 86400)
    now = time.time()
    group = acts.create(VENUE, ZONE, {"kind": "group", "title_en": "Pair", "price": "¥30", "ends_at": now + 60,
                                      "needed": 2})
    for client in ("a", "b"):
        assert deposits.join_paid(VENUE, group.id, client, f"MP-{client}", now) == "OK"
    assert [n for _item, n in acts.held_by_shoppers(VENUE, ZONE, now)["deposits"]] == [2]  # the organiser may cancel
    assert acts.held_by_shoppers(VENUE, ZONE, now + 61)["deposits"] == []  # succeeded at its deadline: kept


def save(client, console, data: dict):
    return client.post(f"/console/owner/{VENUE}/zone/{ZONE}?lang=en", data={"csrf_token": console.csrf(), **data})


def refusal(resp) -> str:
    found = re.search(r'id="form-errors"[^>]*>(.*?)</p>', resp.get_data(as_text=True), re.S)
    return re.sub(r"\s+", " ", found.group(1)) if found else ""


def test_a_zone_is_not_switched_away_while_shoppers_hold_activities(client, console, svc):
    acts, stock, deposits = ActivityStore(svc.db), SaleStock(svc.db, 86400), DepositStore(svc.db, 86400)
    console.login("events")
    now = time.time()
    sale, event, group = new_sale(acts, now), new_event(acts, now), new_group(acts, now)
    token = stock.reserve(VENUE, sale.id, "alice").token
    assert acts.join(VENUE, event.id, "bob").ok
    assert deposits.join_paid(VENUE, group.id, "carol", "MP-carol") == "OK"
    before = svc.zone_apps.get(VENUE, ZONE)
    resp = save(client, console, {"app": "games"})
    assert resp.status_code == 409 and svc.zone_apps.get(VENUE, ZONE) == before  # nothing stored
    words = refusal(resp)
    assert "1 shopper is paying for a flash sale right now (Last earbuds)" in words
    assert "1 shopper is signed up for events still to come or under way (Robot race)" in words
    assert "1 paid deposit is held for a group buy (Hotpot for four)" in words
    # The payment closes unpaid, the sign-up is cancelled, the group buy is closed and its deposit refunded.
    assert stock.release(VENUE, sale.id, "alice", token)
    assert acts.leave(VENUE, event.id, "bob") == "OK"
    assert save(client, console, {"app": "games"}).status_code == 409  # the deposit still
    deposits.mark(VENUE, group.id, "refunded", done=True)
    assert save(client, console, {"app": "games"}).status_code == 303
    assert svc.zone_apps.get(VENUE, ZONE)[0] == "games"


def test_headlines_may_change_whatever_shoppers_hold(client, console, svc):
    acts = ActivityStore(svc.db)
    console.login("events")
    assert acts.join(VENUE, new_event(acts, time.time()).id, "bob").ok
    resp = save(client, console, {"app": "activities", "headline_en": "Come in", "headline_zh": "欢迎"})
    assert resp.status_code == 303 and svc.zone_apps.get(VENUE, ZONE)[1]["headline_en"] == "Come in"


# ---- Close asks first -----------------------------------------------------------------------------


def close(client, console, item_id: str, **extra):
    return client.post(f"{CONSOLE}/{item_id}/stop?lang=en", data={"csrf_token": console.csrf(), **extra})


def test_closing_a_group_buy_needs_the_tick_that_says_its_deposits_are_refunded(client, console, svc):
    acts, deposits = ActivityStore(svc.db), DepositStore(svc.db, 86400)
    console.login("events")
    group = new_group(acts, time.time())
    for shopper in ("alice", "bob"):
        assert deposits.join_paid(VENUE, group.id, shopper, f"MP-{shopper}") == "OK"
    page = client.get(f"{CONSOLE}/?lang=en").get_data(as_text=True)
    assert f'id="confirm-close-{group.id}"' in page
    assert "Cancel it for good: 2 paid deposits will be refunded and its members told." in page
    resp = close(client, console, group.id)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Tick the box beside Close to confirm closing Hotpot for four; nothing was changed." in html
    assert 'id="close-error"' in html and "2 paid deposits will be refunded" in html
    item = acts.get(VENUE, group.id)
    assert item.status == "live" and not item.outcome  # nothing changed
    assert close(client, console, group.id, confirm="yes").status_code == 303
    assert acts.get(VENUE, group.id).outcome == "cancelled"  # the payments sweep refunds its deposits


def test_closing_an_event_or_a_sale_needs_the_tick_too(client, console, svc):
    acts = ActivityStore(svc.db)
    console.login("events")
    now = time.time()
    event, sale = new_event(acts, now), new_sale(acts, now)
    assert acts.join(VENUE, event.id, "alice").ok
    page = client.get(f"{CONSOLE}/?lang=en").get_data(as_text=True)
    assert "Close it for good: no more sign-ups; shoppers already signed up keep their places." in page
    assert "Close it for good: no more sales; units already sold stay sold." in page
    for item in (event, sale):
        assert close(client, console, item.id).status_code == 422
        assert acts.get(VENUE, item.id).status == "live"
        assert close(client, console, item.id, confirm="yes").status_code == 303
        assert acts.get(VENUE, item.id).status == "stopped"
    assert acts.joined(VENUE, "alice", [event.id]) != {}  # her place is kept
    assert close(client, console, "99999", confirm="yes").status_code == 404


# ---- the create form, sent twice --------------------------------------------------------------------


def event_form(page: str, csrf: str) -> dict:
    """The new-event form as the page fills it (its one-time token, tomorrow's times), with a title and a capacity."""
    form = re.search(r'id="new-event".*?</form>', page, re.S).group(0)
    return {"csrf_token": csrf, **input_values(form, "nonce", "starts_at", "ends_at"), "title_en": "Double event",
            "capacity": "10"}


def test_the_create_form_sent_twice_makes_one_activity(client, console, svc):
    acts = ActivityStore(svc.db)
    console.login("events")
    form = event_form(client.get(f"{CONSOLE}/").get_data(as_text=True), console.csrf())
    first = client.post(f"{CONSOLE}/new/event", data=form)
    again = client.post(f"{CONSOLE}/new/event", data=form)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]  # both go to the one it made
    assert [a.title_en for a in acts.for_zone(VENUE, ZONE)].count("Double event") == 1
    audited = [e for e in svc.db.lrange("mp:{demo}:audit", 0, 20) if b"activities.create" in e]
    assert len(audited) == 1
    # A new page is a new form: the same text again is a second event, as the owner asked.
    form = event_form(client.get(f"{CONSOLE}/").get_data(as_text=True), console.csrf())
    assert client.post(f"{CONSOLE}/new/event", data=form).status_code == 303
    assert [a.title_en for a in acts.for_zone(VENUE, ZONE)].count("Double event") == 2


def test_taps_at_the_same_moment_make_one_activity(db):
    acts, barrier = ActivityStore(db), threading.Barrier(8)
    fields = {"kind": "sale", "title_en": "Tapped", "price": "¥10", "starts_at": time.time(),
              "ends_at": time.time() + 3600, "limit": 5}
    made = []

    def tap():
        barrier.wait()
        made.append(acts.create_by_form(VENUE, ZONE, fields, "form-token-0123456789"))

    threads = [threading.Thread(target=tap) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({item.id for item, _replayed in made}) == 1
    assert sorted(replayed for _item, replayed in made) == [False] + [True] * 7
    assert [a.title_en for a in acts.for_zone(VENUE, ZONE)] == ["Tapped"]
    # another kind's form with the same token is another form
    assert acts.create_by_form(VENUE, ZONE, {**fields, "kind": "event", "starts_at": time.time() + 60},
                               "form-token-0123456789")[1] is False
