"""The cinema cancels a showtime (its system's push with "status": "cancelled", or the zone owner's Cancel
button) or moves one that has tickets (the push, confirmed): holders are told, the show takes no new holds, a
cancelled show's tickets are cancelled; bad input and the wrong caller change nothing. Paid tickets:
test_cinema_cancel_paid.py."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import redis
from cinema_fixtures import mall_fixture, store_fixture, token_fixture  # noqa: F401 (the fixtures)

from lightapps.cinema.store import CinemaKeys, CinemaStore, ShowtimeInput
from portal.apps.locale import spoken_time
from portal.auth import AuditLog
from portal.captive.config import PortalConfigStore
from portal.notify.outbox import Job, NotifyKeys

VENUE, ZONE = "demo", "cinema"
BASE = f"/v/{VENUE}/cinema/{ZONE}"
URL = f"/api/v1/venues/{VENUE}/cinema/showtimes"
CONSOLE = f"/console/apps/cinema/{VENUE}/{ZONE}"


def local(ts: float) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")


def item(starts_at: int, **changes):
    data = {"id": "pos-77", "film_en": "Pushed Film", "film_zh": "推送电影", "auditorium": "1",
            "starts_at": local(starts_at), "price": 42}
    data.update(changes)
    return data


def push(client, token, *items):
    return client.post(URL, json={"zone": ZONE, "showtimes": list(items)},
                       headers={"Authorization": f"Bearer {token}"} if token else {})


def pushed_show(client, mall, store, starts_in_s: int = 3 * 3600):
    starts = (int(time.time()) + starts_in_s) // 60 * 60
    assert push(client, mall, item(starts)).status_code == 201
    [show] = [s for s in store.showtimes(VENUE, ZONE) if s.external_id == "pos-77"]
    return show


def book(store, show, client_id: str = "shopper-1", seats=("A4", "A5")) -> str:
    held = store.hold(VENUE, show, client_id, list(seats), ttl_s=480)
    return store.confirm(VENUE, held.token, client_id, ZONE).code


def queued(db, event: str) -> list[Job]:
    jobs = (Job.from_json(fields[b"job"]) for _id, fields in db.xrange(NotifyKeys(VENUE).stream()))
    return [job for job in jobs if job.event == event]


# ---- the cinema system's push -----------------------------------------------------------------------


def test_the_cinema_system_cancels_a_showtime(client, mall, store, token, db):
    show = pushed_show(client, mall, store)
    code = book(store, show)
    live = store.hold(VENUE, show, "shopper-2", ["C4", "C5"], ttl_s=480)
    resp = push(client, mall, item(show.starts_at, status="cancelled"))
    assert resp.status_code == 201, resp.get_json()
    assert (resp.get_json()["updated"], resp.get_json()["tickets_cancelled"]) == (1, 1)
    assert store.showtime(VENUE, show.id).cancelled and store.seat_states(VENUE, show.id) == {}
    assert store.booking(VENUE, code).status == "cancelled" and store.get_hold(VENUE, live.token).status == "cancelled"
    [notice] = queued(db, "cinema.show_cancelled")
    assert notice.shopper == "shopper-1" and code in notice.data["body_en"] and code in notice.data["body_zh"]
    assert "refunded" not in notice.data["body_en"]  # not paid online: nothing to refund
    assert notice.data["path"] == f"{BASE}/ticket/{code}"
    # Pushed again (the cinema system's next full sync): nothing more, no second notice.
    again = push(client, mall, item(show.starts_at, status="cancelled"))
    assert again.status_code == 201 and again.get_json()["tickets_cancelled"] == 0
    assert len(queued(db, "cinema.show_cancelled")) == 1
    listing = client.get(URL, headers={"Authorization": f"Bearer {mall}"}).get_json()["showtimes"]
    assert [s["status"] for s in listing if s["id"] == show.id] == ["cancelled"]


def test_shoppers_see_a_cancelled_showtime_and_cannot_hold_on_it(client, mall, store, token, db):
    show = pushed_show(client, mall, store, starts_in_s=600)  # today
    code = book(store, show)
    held = store.hold(VENUE, show, "shopper-1", ["D4", "D5"], ttl_s=480)
    assert push(client, mall, item(show.starts_at, status="cancelled")).status_code == 201
    c = token()
    landing = client.get(f"{BASE}?c={c}").get_data(as_text=True)
    assert f'id="show-{show.id}"' in landing and f"/show/{show.id}?" not in landing
    assert "Cancelled" in landing.split(f'id="show-{show.id}"')[1].split("</span>")[0]
    seats = client.get(f"{BASE}/show/{show.id}?c={c}").get_data(as_text=True)
    assert 'id="show-cancelled"' in seats and 'id="seat-form"' not in seats
    refused = client.post(f"{BASE}/show/{show.id}/hold", data={"seat": ["E4", "E5"], "c": c})
    assert refused.status_code == 409 and "The cinema cancelled this showtime." in refused.get_data(as_text=True)
    assert store.seat_states(VENUE, show.id) == {}
    ticket = client.get(f"{BASE}/ticket/{code}?c={c}").get_data(as_text=True)
    assert 'id="cancelled"' in ticket and 'id="show-cancelled"' in ticket and 'id="cancel-ticket"' not in ticket
    hold_page = client.get(f"{BASE}/hold/{held.token}?c={c}").get_data(as_text=True)
    assert "The cinema cancelled this showtime." in hold_page and 'id="confirm"' not in hold_page
    confirm = client.post(f"{BASE}/hold/{held.token}/confirm", data={"c": c})
    assert confirm.status_code == 409 and store.get_hold(VENUE, held.token).status == "cancelled"


def test_a_cancelled_showtime_cannot_be_scheduled_again(client, mall, store):
    show = pushed_show(client, mall, store)
    assert push(client, mall, item(show.starts_at, status="cancelled")).status_code == 201
    resp = push(client, mall, item(show.starts_at, status="scheduled"))
    assert resp.status_code == 409 and resp.get_json()["field"] == "showtimes[0].status"
    assert store.showtime(VENUE, show.id).cancelled


def test_bad_status_or_confirmation_is_422_naming_the_field_and_nothing_changes(client, mall, store, db):
    show = pushed_show(client, mall, store)
    code = book(store, show)
    for bad, field in [({"status": "paused"}, "status"), ({"status": 1}, "status"), ({"status": ""}, "status"),
                       ({"status": "CANCELLED"}, "status"), ({"status": "cancelled", "id": None}, "status"),
                       ({"confirm_time_change": "yes"}, "confirm_time_change"),
                       ({"confirm_time_change": 1}, "confirm_time_change")]:
        resp = push(client, mall, item(show.starts_at, price=1, **bad))
        assert resp.status_code == 422, bad
        assert resp.get_json()["field"] == f"showtimes[0].{field}", resp.get_json()
    # A bad item anywhere in the push: the good cancellation before it is not stored either.
    resp = push(client, mall, item(show.starts_at, status="cancelled"), item(show.starts_at, id="pos-78",
                                                                              status="off"))
    assert resp.status_code == 422 and resp.get_json()["field"] == "showtimes[1].status"
    stored = store.showtime(VENUE, show.id)
    assert not stored.cancelled and stored.price_cents == 4200 and store.booking(VENUE, code).status == "booked"
    assert queued(db, "cinema.show_cancelled") == []


def test_only_the_venues_cinema_token_may_cancel(client, mall, store, svc):
    show = pushed_show(client, mall, store)
    code = book(store, show)
    other_scope = svc.tokens.issue(VENUE, "reports", scopes=["reports"])
    assert push(client, None, item(show.starts_at, status="cancelled")).status_code == 401
    assert push(client, "wrong-token", item(show.starts_at, status="cancelled")).status_code == 401
    assert push(client, other_scope, item(show.starts_at, status="cancelled")).status_code == 403
    elsewhere = client.post("/api/v1/venues/othermall/cinema/showtimes", headers={"Authorization": f"Bearer {mall}"},
                            json={"showtimes": [item(show.starts_at, status="cancelled")]})
    assert elsewhere.status_code == 401  # the token is checked before the venue (portal.api.require_venue_source)
    assert not store.showtime(VENUE, show.id).cancelled and store.booking(VENUE, code).status == "booked"


def test_a_new_start_for_a_show_with_tickets_is_refused_unless_confirmed_then_holders_are_told(client, mall,
                                                                                                store, db):
    show = pushed_show(client, mall, store)
    code = book(store, show)
    later = show.starts_at + 45 * 60
    resp = push(client, mall, item(later))
    assert resp.status_code == 409 and resp.get_json()["field"] == "showtimes[0].starts_at"
    assert "confirm_time_change" in resp.get_json()["error"]
    assert store.showtime(VENUE, show.id).starts_at == show.starts_at and queued(db, "cinema.show_moved") == []
    resp = push(client, mall, item(later, confirm_time_change=True))
    assert resp.status_code == 201 and resp.get_json()["holders_told_of_new_times"] == 1
    assert store.showtime(VENUE, show.id).starts_at == later and store.booking(VENUE, code).status == "booked"
    [notice] = queued(db, "cinema.show_moved")
    assert notice.shopper == "shopper-1" and local(later)[-5:] in notice.data["body_en"]
    assert local(show.starts_at)[-5:] in notice.data["body_en"] and code in notice.data["body_zh"]
    # The same push again (confirmed or not) moves nothing and tells nobody again.
    assert push(client, mall, item(later, confirm_time_change=True)).status_code == 201
    assert push(client, mall, item(later)).status_code == 201
    assert len(queued(db, "cinema.show_moved")) == 1


# ---- the zone owner's console ------------------------------------------------------------------------


def console_show(store, starts_in_s: int = 3 * 3600):
    start = int(time.time()) + starts_in_s
    show_id = store.upsert_showtimes(VENUE, ZONE, [ShowtimeInput("Console Film", "控制台电影", "1", start, 4200)],
                                     source="test")["ids"][0]
    return store.showtime(VENUE, show_id)


def test_the_zone_owner_cancels_a_showtime(client, console, store, db):
    show = console_show(store)
    code = book(store, show)
    console.login("cinema")
    page = client.get(f"{CONSOLE}/showtimes/{show.id}").get_data(as_text=True)
    assert 'id="cancel-showtime"' in page and 'name="confirm"' in page
    resp = client.post(f"{CONSOLE}/showtimes/{show.id}/cancel", data={"confirm": "yes", "csrf_token": console.csrf()})
    assert resp.status_code == 303
    assert store.showtime(VENUE, show.id).cancelled and store.booking(VENUE, code).status == "cancelled"
    [notice] = queued(db, "cinema.show_cancelled")
    assert notice.shopper == "shopper-1"
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="show-cancelled"' in page and 'id="cancel-showtime"' not in page and "cancelled by the cinema" in page
    assert "Cancelled" in client.get(f"{CONSOLE}/").get_data(as_text=True).split(f'id="show-{show.id}"')[1]
    [entry] = [e for e in AuditLog(db).recent(VENUE) if e["action"] == "cinema.showtime.cancel"]
    assert (entry["user"], entry["detail"]["show"], entry["detail"]["tickets"]) == ("cinema", show.id, 1), entry
    again = client.post(f"{CONSOLE}/showtimes/{show.id}/cancel", data={"confirm": "yes", "csrf_token": console.csrf()})
    assert again.status_code == 303 and len(queued(db, "cinema.show_cancelled")) == 1


def test_cancelling_needs_the_box_ticked_and_nothing_changes_without(client, console, store):
    show = console_show(store)
    code = book(store, show)
    console.login("cinema")
    for data in ({}, {"confirm": "no"}, {"confirm": ""}):
        resp = client.post(f"{CONSOLE}/showtimes/{show.id}/cancel", data={**data, "csrf_token": console.csrf()})
        assert resp.status_code == 422, data
        assert 'data-field="confirm"' in resp.get_data(as_text=True)
    without_csrf = client.post(f"{CONSOLE}/showtimes/{show.id}/cancel", data={"confirm": "yes"})
    assert without_csrf.status_code == 400
    assert client.post(f"{CONSOLE}/showtimes/s0000000000/cancel",
                       data={"confirm": "yes", "csrf_token": console.csrf()}).status_code == 404
    assert client.post(f"{CONSOLE}/showtimes/bad%20id/cancel",
                       data={"confirm": "yes", "csrf_token": console.csrf()}).status_code == 404
    assert not store.showtime(VENUE, show.id).cancelled and store.booking(VENUE, code).status == "booked"


def test_only_the_zones_owner_may_cancel(client, console, store, token):
    show = console_show(store)
    code = book(store, show)
    # A shopper (their link, no console account) is sent to the console's login.
    as_shopper = client.post(f"{CONSOLE}/showtimes/{show.id}/cancel?c={token()}",
                             data={"confirm": "yes", "csrf_token": console.csrf(), "c": token()})
    assert as_shopper.status_code == 302 and "/console/login" in as_shopper.headers["Location"]
    console.login("kopi")  # another zone's owner
    other_owner = client.post(f"{CONSOLE}/showtimes/{show.id}/cancel",
                              data={"confirm": "yes", "csrf_token": console.csrf()})
    assert other_owner.status_code == 403
    assert not store.showtime(VENUE, show.id).cancelled and store.booking(VENUE, code).status == "booked"


# ---- what a failure cuts short is finished --------------------------------------------------------


def failing_once(real):
    """`real` (a CinemaStore method), except that its first call raises a store error."""
    calls = []

    def call(self, *args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise redis.ConnectionError("store gone for a moment")
        return real(self, *args, **kwargs)

    return call


def test_tickets_a_failed_cancel_push_left_booked_are_cancelled_from_the_console(client, console, demo, store, db,
                                                                                 svc, monkeypatch):
    show = pushed_show(client, demo, store, starts_in_s=3 * 86400)  # past the demo's shows: no clash in Hall 1
    code = book(store, show)
    monkeypatch.setattr(CinemaStore, "cancel_showtime", failing_once(CinemaStore.cancel_showtime))
    assert push(client, demo, item(show.starts_at, status="cancelled")).status_code == 503
    svc.breaker.record_success()  # the store is back
    assert store.showtime(VENUE, show.id).cancelled and store.booking(VENUE, code).status == "booked"
    console.login("cinema")
    page = client.get(f"{CONSOLE}/showtimes/{show.id}").get_data(as_text=True)
    # Not "Cancelled ... holders told": what is left, and a way to finish it now.
    assert 'id="show-cancelled"' not in page and 'id="show-cancelling"' in page
    assert "1 ticket is still to be cancelled, refunded or its holder told" in page and 'id="finish-cancelling"' in page
    resp = client.post(f"{CONSOLE}/showtimes/{show.id}/cancel", data={"confirm": "yes", "csrf_token": console.csrf()})
    assert resp.status_code == 303
    booking = store.booking(VENUE, code)
    assert (booking.status, booking.cancelled_by, booking.refund_outcome) == ("cancelled", "cinema", "none")
    [notice] = queued(db, "cinema.show_cancelled")
    assert notice.shopper == "shopper-1"
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="show-cancelled"' in page and 'id="show-cancelling"' not in page and 'id="finish-cancelling"' not in page
    [entry] = [e for e in AuditLog(db).recent(VENUE) if e["action"] == "cinema.showtime.cancel"]
    assert (entry["detail"]["tickets"], entry["detail"]["finished"]) == (1, True)
    # Pressed again (a double tap): nothing more, nothing audited.
    client.post(f"{CONSOLE}/showtimes/{show.id}/cancel", data={"confirm": "yes", "csrf_token": console.csrf()})
    assert len(queued(db, "cinema.show_cancelled")) == 1
    assert len([e for e in AuditLog(db).recent(VENUE) if e["action"] == "cinema.showtime.cancel"]) == 1


def test_a_cancellation_cut_short_is_finished_by_the_payments_sweep(client, mall, store, db, svc, monkeypatch):
    show = pushed_show(client, mall, store)
    code = book(store, show)
    monkeypatch.setattr(CinemaStore, "cancel_showtime", failing_once(CinemaStore.cancel_showtime))
    assert push(client, mall, item(show.starts_at, status="cancelled")).status_code == 503
    svc.breaker.record_success()
    svc.payments.sweep(VENUE)  # the cron's minute
    assert store.booking(VENUE, code).status == "cancelled" and store.seat_states(VENUE, show.id) == {}
    [notice] = queued(db, "cinema.show_cancelled")
    assert notice.data["path"] == f"{BASE}/ticket/{code}"


def test_holders_of_a_move_a_failure_cut_short_are_told_by_the_sweep(client, mall, store, db, svc, monkeypatch):
    show = pushed_show(client, mall, store)
    code = book(store, show)
    later = show.starts_at + 40 * 86400  # past the 30 days its booking was kept after the old start
    monkeypatch.setattr(CinemaStore, "keep_bookings", failing_once(CinemaStore.keep_bookings))
    assert push(client, mall, item(later, confirm_time_change=True)).status_code == 503
    svc.breaker.record_success()
    assert store.showtime(VENUE, show.id).starts_at == later and queued(db, "cinema.show_moved") == []
    # Pushed again, as the cinema system retries a 503: the same start is no move, but the holders are told.
    resp = push(client, mall, item(later, confirm_time_change=True))
    assert resp.status_code == 201 and resp.get_json()["holders_told_of_new_times"] == 1
    [notice] = queued(db, "cinema.show_moved")
    assert notice.shopper == "shopper-1" and code in notice.data["body_en"]
    assert local(show.starts_at)[-5:] in notice.data["body_en"]  # "was" the time they bought
    assert db.ttl(CinemaKeys(VENUE).booking(code)) > 40 * 86400  # kept past the new start
    svc.payments.sweep(VENUE)
    assert len(queued(db, "cinema.show_moved")) == 1


def test_a_move_cut_short_is_told_by_the_payments_sweep(client, mall, store, db, svc, monkeypatch):
    PortalConfigStore(db).set(VENUE, {"time_zone": "Asia/Kolkata"})  # +05:30: not the host's zone
    show = pushed_show(client, mall, store)
    code = book(store, show)
    later = show.starts_at + 40 * 86400
    monkeypatch.setattr(CinemaStore, "keep_bookings", failing_once(CinemaStore.keep_bookings))
    assert push(client, mall, item(later, confirm_time_change=True)).status_code == 503
    svc.breaker.record_success()
    svc.payments.sweep(VENUE)
    [notice] = queued(db, "cinema.show_moved")
    assert notice.shopper == "shopper-1" and notice.data["path"] == f"{BASE}/ticket/{code}"
    starts = store.showtime(VENUE, show.id).starts_at  # the push's local times were read as Kolkata's
    kolkata = datetime.fromtimestamp(starts, ZoneInfo("Asia/Kolkata")).strftime("%Y-%m-%d %H:%M")
    with client.application.app_context():  # the text says it as people read it, on the venue's wall clock too
        said = spoken_time(starts, "en", VENUE)
    assert notice.data["time"] == kolkata and said in notice.data["body_en"] and kolkata[-5:] in said
    assert db.ttl(CinemaKeys(VENUE).booking(code)) > 40 * 86400


def test_cancelling_an_id_never_pushed_is_422_naming_it_and_stores_nothing(client, mall, store, db):
    show = pushed_show(client, mall, store)
    resp = push(client, mall, item(show.starts_at, price=50), item(show.starts_at, id="pos-never", status="cancelled"))
    assert resp.status_code == 422 and resp.get_json()["field"] == "showtimes[1].id", resp.get_json()
    assert [s.external_id for s in store.showtimes(VENUE, ZONE)] == ["pos-77"]
    assert store.showtime(VENUE, show.id).price_cents == 4200


def test_a_push_without_status_leaves_a_cancelled_show_as_sold(client, mall, store):
    show = pushed_show(client, mall, store)
    assert push(client, mall, item(show.starts_at, status="cancelled")).status_code == 201
    resp = push(client, mall, item(show.starts_at + 3600, price=99, film_en="Renamed", auditorium="2"))
    assert resp.status_code == 201 and resp.get_json()["updated"] == 1
    stored = store.showtime(VENUE, show.id)
    assert stored.cancelled and (stored.starts_at, stored.price_cents, stored.film_en, stored.auditorium) == (
        show.starts_at, 4200, "Pushed Film", "1")
