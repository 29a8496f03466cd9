"""A map change whose store fails around its write: EXEC ran but its reply was lost, or a fault came after it
(the registry, the lock's release, a listener). What was stored is said as stored, never "nothing was stored"
(the operator would make the change twice), and every stored change is announced (audited, model rebuilt),
late if need be. A change whose outcome the store cannot tell is said as "may have been saved"."""

from __future__ import annotations

import html
import io

import click
import pytest
import redis
from redis.connection import AbstractConnection

from core import storage
from core.storage import StoreBudget, store_budget
from fingerprints import edits
from fingerprints.model import Floor, VenueMap
from fingerprints.store import MapBusyError, MapChanged, MapSaveUnknownError, VenueKeysMap, VenueStore
from portal import setup_cli
from portal.auth import AuditLog

TINY = VenueMap(id="tiny", name="Tiny", name_zh="小", floors=[Floor(0, "G", 50, 30)])
V = "/console/ops/demo"


def lose_exec_reply(monkeypatch, store_down_after: bool = False) -> dict:
    """The next map write's MULTI/EXEC runs in the store but its reply never arrives (a connection reset);
    `store_down_after`: the store then stops answering, so the writer cannot ask what happened."""
    send, read = AbstractConnection.send_packed_command, AbstractConnection.read_response
    state = {"armed": True, "lose": None, "down": False}

    def sending(self, command, check_health=True):
        packed = b"".join(command) if isinstance(command, list) else bytes(command)
        if state["down"]:
            raise redis.ConnectionError("store unreachable")
        if state["armed"] and b"MULTI" in packed and b":map:v:" in packed:
            state["armed"], state["lose"] = False, self
        return send(self, command, check_health)

    def reading(self, *args, **kwargs):
        reply = read(self, *args, **kwargs)
        if state["lose"] is self:
            state["lose"], state["down"] = None, store_down_after
            self.disconnect()
            raise redis.ConnectionError("Connection reset by peer (reply lost)")
        return reply

    monkeypatch.setattr(AbstractConnection, "send_packed_command", sending)
    monkeypatch.setattr(AbstractConnection, "read_response", reading)
    return state


def tiny(db) -> tuple[VenueStore, list[MapChanged]]:
    venues = VenueStore(db)
    heard: list[MapChanged] = []
    venues.listen(heard.append)
    with venues.edit("tiny", "venue.create", create=TINY):
        pass
    return venues, heard


def place_ap(m: VenueMap) -> None:
    edits.place_ap(m, "f0:9f:c2:1a:00:01", 0, 10, 10, "AP-1", 3.0, "U6")


def test_a_lost_exec_reply_of_a_stored_edit_is_a_success(db, monkeypatch):
    venues, heard = tiny(db)
    lose_exec_reply(monkeypatch)
    with venues.edit("tiny", "ap.place") as m:
        place_ap(m)
    assert m.version == 2 and venues.versions("tiny") == [1, 2]  # once, not again as version 3
    assert [(e.action, e.version, e.previous) for e in heard][1:] == [("ap.place", 2, 1)]
    assert not db.exists(VenueKeysMap("tiny").unannounced())


def test_a_save_the_store_cannot_confirm_may_have_been_saved_and_is_announced_later(db, monkeypatch):
    venues, heard = tiny(db)
    state = lose_exec_reply(monkeypatch, store_down_after=True)
    with pytest.raises(MapSaveUnknownError), venues.edit("tiny", "ap.place", bssid="f0:9f:c2:1a:00:01") as m:
        place_ap(m)
    assert len(heard) == 1
    state["down"] = False  # the store is back
    db.delete(VenueKeysMap("tiny").edit_lock())  # the lock its writer could not release lapses
    assert venues.versions("tiny") == [1, 2]  # the operator looks: it was stored, and is announced now
    assert [(e.action, e.version, e.detail) for e in heard][1:] == [
        ("ap.place", 2, {"bssid": "f0:9f:c2:1a:00:01", "late": True})]
    assert venues.versions("tiny") == [1, 2] and len(heard) == 2  # once


def test_a_fault_after_the_write_is_not_an_error_and_the_change_is_announced_by_the_next(db, monkeypatch):
    venues, heard = tiny(db)
    real = VenueStore._register
    monkeypatch.setattr(VenueStore, "_register", lambda self, venue: (_ for _ in ()).throw(
        redis.ConnectionError("the registry's shard is down")))
    with venues.edit("tiny", "ap.place") as m:
        place_ap(m)
    assert m.version == 2 and len(heard) == 1  # stored; not announced yet
    monkeypatch.setattr(VenueStore, "_register", real)
    with venues.edit("tiny", "floor.add") as m:
        edits.add_floor(m, 1, "L1", 50, 30)
    assert [(e.action, e.version, e.detail.get("late")) for e in heard][1:] == [("ap.place", 2, True),
                                                                              ("floor.add", 3, None)]


def test_a_rollback_is_announced_though_the_lock_release_or_a_listener_fails(db, monkeypatch):
    venues, heard = tiny(db)
    with venues.edit("tiny", "ap.place") as m:
        place_ap(m)
    release = redis.lock.Lock.release
    monkeypatch.setattr(redis.lock.Lock, "release", lambda self: (_ for _ in ()).throw(
        redis.ConnectionError("reset")))
    venues.set_current("tiny", 1)  # the lock lapses by itself; the rollback is done and said
    assert heard[-1].action == "map.rollback" and heard[-1].version == 1
    monkeypatch.setattr(redis.lock.Lock, "release", release)
    db.delete(VenueKeysMap("tiny").edit_lock())  # as it lapses

    def audit_fails_once(event: MapChanged) -> None:
        if event.version == 2 and not event.detail.get("late"):
            raise redis.ConnectionError("audit log unreachable")

    venues.listen(audit_fails_once)
    venues.set_current("tiny", 2)
    assert venues.versions("tiny") == [1, 2]  # the rollback whose audit failed is announced again, late
    assert [(e.action, e.version, e.detail.get("late")) for e in heard][-2:] == [
        ("map.rollback", 2, None), ("map.rollback", 2, True)]


def import_three_points(client, ops):
    csv = client.get(V + "/setup/samples.csv").get_data(as_text=True).splitlines()
    small = ("\n".join(csv[:4]) + "\n").encode()  # three reference points
    return client.post(V + "/setup/import-samples", content_type="multipart/form-data",
                       data={"csrf_token": ops.csrf(), "mode": "append", "format": "auto",
                             "samples": (io.BytesIO(small), "walk.csv")})


def test_the_console_says_a_stored_import_was_stored(client, ops, svc, monkeypatch):
    """The auditor's case: a 3-row append whose EXEC reply was lost was reported as "nothing was stored" (the
    operator's retry then added the 3 points again), and never audited."""
    before = svc.venues.get_map("demo")
    audit_before = svc.db.llen("mp:{demo}:audit")
    ops.csrf()  # the page's token, read before the fault is armed
    lose_exec_reply(monkeypatch)
    resp = import_three_points(client, ops)
    after = svc.venues.get_map("demo")
    assert resp.status_code == 303
    assert after.version == before.version + 1 and len(after.samples) == len(before.samples) + 3
    assert "nothing was" not in html.unescape(client.get(V + "/setup").get_data(as_text=True)).lower()
    assert svc.db.llen("mp:{demo}:audit") == audit_before + 1


def test_the_console_and_the_cli_say_an_unconfirmed_save_may_have_been_saved(app, client, ops, monkeypatch):
    state = lose_exec_reply(monkeypatch, store_down_after=True)
    state["armed"] = False
    csv = client.get(V + "/setup/samples.csv")  # read while the store answers
    assert csv.status_code == 200
    state["armed"] = True
    try:
        resp = import_three_points(client, ops)
        body = html.unescape(resp.get_data(as_text=True))
        assert resp.status_code == 503 and "may have been saved" in body and "nothing was" not in body.lower()
        state["down"], state["armed"] = False, True
        # the lock the console's save could not release (the store was down) expires in EDIT_LOCK_S: gone now
        app.extensions["mallportal"].db.delete(VenueKeysMap("demo").edit_lock())
        with app.app_context(), pytest.raises(click.ClickException, match="may have been saved"):
            setup_cli.edit_map("demo", "ap.place", place_ap)
    finally:
        state["down"] = False


# ---- the request's store budget, retries, late announcements (fingerprints/store.py) ---------------------------


class SpentAtMulti:
    """The budget's clock (as tests/faults/test_faults_store_budget.py): still, until the map write's MULTI is sent;
    the wait for its first reply then costs the whole budget, so the next reply is never waited for (StoreBudgetSpent)
    although the store has the whole transaction, EXEC included (sent at once)."""

    def __init__(self) -> None:
        self.now, self.reads_left = 0.0, 0

    def __call__(self) -> float:
        if self.reads_left:
            self.reads_left -= 1
            if not self.reads_left:  # the read's end: it took 100 s
                self.now += 100.0
        return self.now


def spend_budget_at_exec(monkeypatch) -> SpentAtMulti:
    clock = SpentAtMulti()
    send = AbstractConnection.send_packed_command

    def sending(self, command, check_health=True):
        packed = b"".join(command) if isinstance(command, list) else bytes(command)
        if b"MULTI" in packed and b":map:v:" in packed and not clock.now:
            clock.reads_left = 2  # the reply's start and end
        return send(self, command, check_health)

    monkeypatch.setattr(storage, "budget_clock", clock)
    monkeypatch.setattr(AbstractConnection, "send_packed_command", sending)
    return clock


def test_a_save_that_spends_the_request_budget_is_saved_and_frees_the_map(db, monkeypatch):
    """The auditor's case: said as a generic "busy" although stored, and the lock (released on the spent budget too)
    held the operator's retry for EDIT_LOCK_S, which then made the change twice."""
    venues, heard = tiny(db)
    clock = spend_budget_at_exec(monkeypatch)
    with store_budget(StoreBudget(3.0)) as budget:
        with venues.edit("tiny", "ap.place") as m:
            place_ap(m)
        assert budget.left() < 0 and clock.now == 100.0  # spent on the EXEC's replies
    assert m.version == 2 and venues.versions("tiny") == [1, 2]
    assert [(e.action, e.version) for e in heard][1:] == [("ap.place", 2)]  # announced at once
    assert not db.exists(VenueKeysMap("tiny").edit_lock()) and not db.exists(VenueKeysMap("tiny").unannounced())


def fail_multi_sends(monkeypatch, times: int) -> dict:
    """The map write's MULTI/EXEC cannot be sent `times` times (a reset): nothing runs; every other call answers."""
    send = AbstractConnection.send_packed_command
    state = {"left": times, "sent": 0}

    def sending(self, command, check_health=True):
        packed = b"".join(command) if isinstance(command, list) else bytes(command)
        if b"MULTI" in packed and b":map:v:" in packed:
            state["sent"] += 1
            if state["left"]:
                state["left"] -= 1
                self.disconnect()
                raise redis.ConnectionError("Connection reset by peer")
        return send(self, command, check_health)

    monkeypatch.setattr(AbstractConnection, "send_packed_command", sending)
    return state


def test_a_reset_save_that_is_not_ours_is_unknown_and_never_sent_again(db, monkeypatch):
    """Its EXEC may still reach the store (our answer came on another connection): sending it again could store the
    change twice; and a store that kept resetting EXEC while answering the rest held the request forever."""
    venues, heard = tiny(db)
    fail_multi_sends(monkeypatch, times=10)
    stage, staged = VenueStore._stage, []
    monkeypatch.setattr(VenueStore, "_stage", lambda self, *args: staged.append(1) or stage(self, *args))
    with pytest.raises(MapSaveUnknownError), venues.edit("tiny", "ap.place") as m:
        place_ap(m)
    assert len(staged) == 1 and venues.versions("tiny") == [1]  # (a cluster's pipeline resends a failed send itself)


def test_a_save_that_keeps_meeting_another_writer_gives_up(db, monkeypatch):
    venues, _ = tiny(db)
    stage, keys, conflicts = VenueStore._stage, VenueKeysMap("tiny"), []

    def another_writer_meanwhile(self, pipe, *args):
        version = stage(self, pipe, *args)
        if len(conflicts) < 10:
            conflicts.append(version)
            db.set(keys.current_version(), db.get(keys.current_version()))  # the WATCHed key touched: EXEC refused
        return version

    monkeypatch.setattr(VenueStore, "_stage", another_writer_meanwhile)
    with pytest.raises(MapBusyError):
        venues.put_map(venues.get_map("tiny", for_update=True))
    assert len(conflicts) == VenueStore.COMMIT_TRIES and venues.versions("tiny") == [1]


def test_a_late_announcement_names_who_made_the_change(app, client, ops, svc, monkeypatch):
    """Replayed by the next change (here the command line's), it was audited as that change's actor."""
    ops.csrf()
    real = VenueStore._register
    monkeypatch.setattr(VenueStore, "_register", lambda self, venue: (_ for _ in ()).throw(
        redis.ConnectionError("the registry's shard is down")))
    assert import_three_points(client, ops).status_code == 303  # stored, not announced
    monkeypatch.setattr(VenueStore, "_register", real)
    with app.app_context():
        setup_cli.edit_map("demo", "ap.place", place_ap)
    entries = AuditLog(svc.db).recent("demo", 2)
    assert [(e["user"], e["action"], e["detail"].get("late")) for e in entries] == [
        ("cli", "ap.place", None), ("ops", "samples.import", True)]


def test_a_late_announcement_naming_nobody_is_not_audited_as_the_request_running_it(client, ops, svc):
    with client:  # inside the operator's request
        assert client.get(V + "/setup").status_code == 200
        svc.venues.announce(MapChanged("demo", 7, 6, "ap.place", {"late": True}))  # a marker from before `by`
    assert AuditLog(svc.db).recent("demo", 1)[0]["user"] == "-"


@pytest.mark.parametrize("marker", [b"not json", b'{"venue": "tiny"}', b"[1, 2]", b'{"venue": "tiny", "version": 2, '
                                    b'"previous": 1, "action": "ap.place", "detail": [1]}'])
def test_an_unreadable_marker_is_dropped_not_a_map_that_can_no_longer_be_edited(db, marker):
    venues, heard = tiny(db)
    db.hset(VenueKeysMap("tiny").unannounced(), "0123456789abcdef", marker)
    with venues.edit("tiny", "ap.place") as m:
        place_ap(m)
    assert m.version == 2 and [e.action for e in heard] == ["venue.create", "ap.place"]
    assert not db.exists(VenueKeysMap("tiny").unannounced())


def test_a_listener_bug_does_not_keep_the_change_unannounced(db):
    venues, heard = tiny(db)

    def buggy(event: MapChanged) -> None:
        if event.action == "ap.place":
            raise redis.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")

    venues.listen(buggy)
    with venues.edit("tiny", "ap.place") as m:
        place_ap(m)
    with venues.edit("tiny", "floor.add") as m:
        edits.add_floor(m, 1, "L1", 50, 30)
    assert [(e.action, e.detail.get("late")) for e in heard][1:] == [("ap.place", None), ("floor.add", None)]
    assert not db.exists(VenueKeysMap("tiny").unannounced())


def test_late_announcements_that_keep_failing_end(db):
    venues, heard = tiny(db)

    def audit_down(event: MapChanged) -> None:
        if event.action == "ap.place":
            raise redis.ConnectionError("audit log unreachable")

    venues.listen(audit_down)
    with venues.edit("tiny", "ap.place") as m:
        place_ap(m)
    for level in range(1, VenueStore.LATE_TRIES + 3):
        with venues.edit("tiny", "floor.add") as m:
            edits.add_floor(m, level, f"L{level}", 50, 30)
    late = [e for e in heard if e.detail.get("late")]
    assert len(late) == VenueStore.LATE_TRIES and not db.exists(VenueKeysMap("tiny").unannounced())
    assert not db.exists(VenueKeysMap("tiny").announce_tries())
