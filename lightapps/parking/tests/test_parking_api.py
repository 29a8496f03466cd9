"""The parking system's event API: who may call it, validation (all or nothing), idempotency."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from parking_fixtures import API, VENUE, auth, bay, exit_, garage_fixture, plate, post_events  # noqa: F401

from lightapps.parking import api
from lightapps.parking.store import ParkingKeys, ParkingStore


def nothing_stored(db) -> bool:
    keys = ParkingKeys(VENUE)
    return not any(db.exists(k) for k in (keys.state(), keys.state_ts(), keys.at(), keys.live())) \
        and not list(db.scan_iter(match=b"mp:{demo}:parking:plate:*"))


def test_no_token_is_401(client, garage, db):
    resp = client.post(f"{API}/events", json={"events": [bay("G-A01", "free")]})
    assert resp.status_code == 401 and "token" in resp.get_json()["error"]
    assert nothing_stored(db)


def test_wrong_token_is_401(client, garage, db):
    resp = client.post(f"{API}/events", json={"events": [bay("G-A01", "free")]}, headers=auth("not-the-token"))
    assert resp.status_code == 401
    assert client.get(f"{API}/availability", headers=auth("nope")).status_code == 401
    assert nothing_stored(db)


def test_token_of_another_venue_is_401(client, garage, svc, db):
    other = svc.tokens.issue("elsewhere", "other-venue", scopes=["parking"])
    resp = client.post(f"{API}/events", json={"events": [bay("G-A01", "free")]}, headers=auth(other))
    assert resp.status_code == 401
    assert nothing_stored(db)


def test_unknown_venue_is_401_as_any_venue_the_token_is_not_for(client, garage):
    """The token is checked before the venue (portal.api.require_venue_source): no stranger learns which exist."""
    resp = client.post("/api/v1/venues/nowhere/parking/events", json={"events": []}, headers=auth(garage))
    assert resp.status_code == 401


def test_events_are_applied(client, garage):
    now = time.time()
    body = post_events(client, garage, bay("G-A01", "occupied", now), bay("G-A02", "free", now),
                       plate("sg 1234-a", "G-A01", now + 1))
    assert body == {"accepted": 3, "applied": 3, "results": ["applied", "applied", "applied"], "exits": []}
    levels = client.get(f"{API}/availability", headers=auth(garage)).get_json()["zones"]["garage"]
    assert levels == [{"level": 0, "name": "G", "total": 95, "free": 1, "occupied": 1, "unknown": 93}]


def test_repeated_batch_is_idempotent(client, garage):
    now = time.time()
    events = [bay("G-A01", "occupied", now), plate("SG1234A", "G-A01", now), exit_("SG1234A", now + 5)]
    assert post_events(client, garage, *events)["results"] == ["applied", "applied", "applied"]
    assert post_events(client, garage, *events)["results"] == ["stale", "stale", "duplicate"]  # freed since
    levels = client.get(f"{API}/availability", headers=auth(garage)).get_json()["zones"]["garage"]
    assert levels[0]["occupied"] == 0 and levels[0]["free"] == 1  # the exit freed the bay the car was seen at


def test_iso_times_with_offset_are_accepted(client, garage):
    from datetime import UTC, datetime, timedelta, timezone

    when = datetime.now(timezone(timedelta(hours=8))).replace(microsecond=0).isoformat()
    assert post_events(client, garage, bay("G-A01", "free", when))["applied"] == 1
    zulu = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "Z"
    assert post_events(client, garage, bay("G-A02", "free", zulu))["applied"] == 1


NOW = time.time()


@pytest.mark.parametrize("event, field, words", [
    (bay("G-Z99", "free", NOW), "events[1].bay", "not a bay"),
    (bay("", "free", NOW), "events[1].bay", "bay id"),
    ({"type": "bay", "status": "free", "ts": NOW}, "events[1].bay", "bay id"),
    (bay("G-A02", "parked", NOW), "events[1].status", "one of"),
    (plate("AB$123", "G-A02", NOW), "events[1].plate", "letters"),
    (plate("A", "G-A02", NOW), "events[1].plate", "2 to 10"),
    (plate("ABCDEFGHIJK", "G-A02", NOW), "events[1].plate", "2 to 10"),
    ({"type": "plate", "bay": "G-A02", "plate": 1234, "ts": NOW}, "events[1].plate", "string"),
    (plate("SG1234A", "G-NOPE", NOW), "events[1].bay", "not a bay"),
    (exit_("", NOW), "events[1].plate", "empty"),
    (bay("G-A02", "free", "yesterday"), "events[1].ts", "ISO 8601"),
    (bay("G-A02", "free", "2025-05-01T10:00:00"), "events[1].ts", "UTC offset"),
    (bay("G-A02", "free", True), "events[1].ts", "Unix seconds"),
    ({"type": "bay", "bay": "G-A02", "status": "free"}, "events[1].ts", "Unix seconds"),
    (bay("G-A02", "free", NOW + 3600), "events[1].ts", "clock skew"),
    (bay("G-A02", "free", NOW - 25 * 3600), "events[1].ts", "24 h"),
    ({"type": "teleport", "ts": NOW}, "events[1].type", "one of"),
    ("not an object", "events[1]", "object"),
])
def test_bad_event_rejects_the_whole_batch(client, garage, db, event, field, words):
    good = plate("GOOD123", "G-A01", NOW)  # valid, but must not be stored: the batch is all or nothing
    resp = client.post(f"{API}/events", json={"events": [good, event]}, headers=auth(garage))
    assert 400 <= resp.status_code < 500
    body = resp.get_json()
    assert body["field"] == field and words in body["error"], body
    assert nothing_stored(db)


@pytest.mark.parametrize("payload, status, field", [
    ([], 422, "$"),
    ({}, 422, "events"),
    ({"events": []}, 422, "events"),
    ({"events": "G-A01"}, 422, "events"),
    ({"events": [bay("G-A01", "free")] * 501}, 422, "events"),
])
def test_bad_batch_shape(client, garage, db, payload, status, field):
    resp = client.post(f"{API}/events", json=payload, headers=auth(garage))
    assert resp.status_code == status and resp.get_json()["field"] == field
    assert nothing_stored(db)


def test_not_json(client, garage, db):
    headers = {**auth(garage), "Content-Type": "application/json"}
    assert client.post(f"{API}/events", data="{not json", headers=headers).status_code == 400
    assert client.post(f"{API}/events", data="events=1", headers=auth(garage)).status_code == 415
    assert nothing_stored(db)


def test_a_time_of_hundreds_of_digits_is_a_422_not_a_server_error(client, garage):
    body = '{"events": [{"type": "bay", "bay": "G-A01", "status": "occupied", "ts": 1' + "0" * 400 + "}]}"
    resp = client.post(f"{API}/events", data=body, content_type="application/json", headers=auth(garage))
    assert resp.status_code == 422, resp.get_data(as_text=True)


def _stay_of(db) -> str:
    """The keyed hash of the one stay the test made."""
    (key,) = db.scan_iter(match=b"mp:{demo}:parking:stay:*")
    return key.decode().rsplit(":", 1)[1]


def test_a_retried_exit_says_again_what_the_car_left_owing(client, garage, svc, db):
    """The barrier system lost the first answer: its retry is a duplicate that settles nothing again, yet still
    names the exit's outcome, as it stands now (then paid later)."""
    now = time.time()
    events = [{"type": "entry", "plate": "SG1234A", "ts": now - 5 * 3600}, plate("SG1234A", "G-A01", now - 4 * 3600),
              exit_("SG1234A", now)]
    first = post_events(client, garage, *events)
    assert first["exits"] == [{"index": 2, "outcome": "owed", "due_fen": 2500}]  # 5 started hours at ¥5.00
    again = post_events(client, garage, *events)
    assert again["results"] == ["duplicate", "stale", "duplicate"]
    assert again["exits"] == [{"index": 2, "outcome": "owed", "due_fen": 2500, "duplicate": True}]
    store = ParkingStore(svc.db)
    h = _stay_of(db)
    assert [d.due_fen for d in store.open_debts(VENUE)] == [2500]  # one debt: the retry recorded nothing more
    entry_ms = store.stay(VENUE, h).entry_ms
    assert store.credit(VENUE, h, entry_ms, "order-1", 2500, 0) == "ok"  # the debt paid from Me
    paid = post_events(client, garage, exit_("SG1234A", now))
    assert paid["exits"] == [{"index": 0, "outcome": "paid_later", "due_fen": 0, "duplicate": True}]


def test_a_retried_exit_of_a_stay_replaced_since_names_no_outcome(client, garage):
    """Another stay of the plate began after the exit: the retry is still a duplicate, and that stay is not its."""
    now = time.time()
    post_events(client, garage, {"type": "entry", "plate": "SG1234A", "ts": now - 600}, exit_("SG1234A", now - 300))
    post_events(client, garage, {"type": "entry", "plate": "SG1234A", "ts": now - 60})
    again = post_events(client, garage, exit_("SG1234A", now - 300))
    assert again["results"] == ["duplicate"] and again["exits"] == []


def _docstring_example(source: str, now: int) -> list[dict]:
    """The events of a module docstring's curl example, its shell times filled in as the shell would."""
    body = source.split("-d '", 1)[1].split("]}'", 1)[0] + "]}"
    body = body.replace("'$((NOW - 60))'", str(now - 60)).replace("'$((NOW - 55))'", str(now - 55))
    body = body.replace("'$(date -Iseconds)'", datetime.now(UTC).isoformat(timespec="seconds"))
    return json.loads(body)["events"]


def test_the_docstring_example_works_as_written(client, garage):
    """api.py's example, copied with its relative times, is answered as the docstring says."""
    events = _docstring_example(api.__doc__, int(time.time()))
    assert "1714550400" not in api.__doc__ and '"unknown"' in api.__doc__
    first = post_events(client, garage, *events)
    assert first == {"accepted": 3, "applied": 3, "results": ["applied", "applied", "applied"],
                     "exits": [{"index": 2, "outcome": "cleared", "due_fen": 0}]}
    assert post_events(client, garage, *events) == {
        "accepted": 3, "applied": 0, "results": ["stale", "stale", "duplicate"],
        "exits": [{"index": 2, "outcome": "cleared", "due_fen": 0, "duplicate": True}]}
