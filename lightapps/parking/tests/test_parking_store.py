"""The store against a real Valkey: events, occupancy counts, lookups, expiry, limits, concurrency."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from parking_fixtures import VENUE, garage_fixture  # noqa: F401 (the `garage` fixture)

from lightapps.parking import plates
from lightapps.parking.store import DAY_MS, Event, ParkingKeys, ParkingStore

KEY = "store-test-key"


@pytest.fixture
def store(db, garage) -> ParkingStore:
    return ParkingStore(db)


@pytest.fixture
def hasher() -> plates.PlateHasher:
    return plates.PlateHasher(KEY)


def bay_event(store, bay_id, status, ts):
    return Event("bay", int(ts * 1000), bay=store.bays(VENUE)[bay_id], status=status)


def plate_event(store, hasher, text, bay_id, ts):
    folded = plates.plate_from_system(text)
    return Event("plate", int(ts * 1000), bay=store.bays(VENUE)[bay_id], plate_hash=hasher.digest(VENUE, folded),
                 plate_text=folded)


def exit_event(hasher, text, ts):
    return Event("exit", int(ts * 1000), plate_hash=hasher.digest(VENUE, plates.plate_from_system(text)))


def lookup(store, hasher, query):
    folded = plates.query_from_shopper(query)
    return store.find(VENUE, hasher.digest(VENUE, folded), folded)


def counts(store):
    (level,) = store.level_counts(VENUE, "garage")
    return level.free, level.occupied, level.unknown


def test_demo_bays_lie_in_the_garage(store):
    bays = store.bays(VENUE, "garage")
    assert len(bays) == 95 and "G-A01" in bays and "G-E20" in bays
    assert all(0 < b.x < 40 and 0 < b.y < 60 and b.level == 0 for b in bays.values())
    assert not any(b.area == "E" and 24 < b.y < 36 for b in bays.values())  # the door to the mall stays free


def test_occupancy_counts_follow_events(store, hasher):
    now = time.time()
    assert counts(store) == (0, 0, 95)
    store.apply_events(VENUE, [bay_event(store, "G-A01", "occupied", now), bay_event(store, "G-A02", "free", now),
                               bay_event(store, "G-A03", "free", now)])
    assert counts(store) == (2, 1, 92)
    store.apply_events(VENUE, [bay_event(store, "G-A02", "occupied", now + 1)])
    assert counts(store) == (1, 2, 92)
    store.apply_events(VENUE, [plate_event(store, hasher, "SG1234A", "G-A03", now + 2)])  # a car seen = occupied
    assert counts(store) == (0, 3, 92)
    areas = {(a["level"], a["area"]): a for a in store.area_counts(VENUE, "garage")}
    assert areas[(0, "A")] == {"level": 0, "area": "A", "total": 20, "free": 0, "occupied": 3, "unknown": 17}


def test_duplicate_and_out_of_order_status_events(store):
    now = time.time()
    assert store.apply_events(VENUE, [bay_event(store, "G-A01", "occupied", now)]) == ["applied"]
    assert store.apply_events(VENUE, [bay_event(store, "G-A01", "occupied", now)]) == ["duplicate"]
    assert store.apply_events(VENUE, [bay_event(store, "G-A01", "free", now - 5)]) == ["stale"]
    assert counts(store) == (0, 1, 94)


def test_exact_lookup_gives_the_bay(store, hasher):
    store.apply_events(VENUE, [plate_event(store, hasher, "SG 1234-A", "G-B05", time.time())])
    result = lookup(store, hasher, "sg1234a")
    assert result.kind == "exact" and [m.bay for m in result.matches] == ["G-B05"]
    assert result.matches[0].area == "B" and result.matches[0].level == 0


def test_misread_o_and_zero_still_found(store, hasher):
    store.apply_events(VENUE, [plate_event(store, hasher, "SO1234", "G-B05", time.time())])
    assert lookup(store, hasher, "S01234").kind == "exact"


def test_chinese_plate_without_province_is_exact(store, hasher):
    store.apply_events(VENUE, [plate_event(store, hasher, "粤B12345", "G-C03", time.time())])
    result = lookup(store, hasher, "B12345")
    assert result.kind == "exact" and result.matches[0].bay == "G-C03"


def test_partial_lookup_is_coarse_and_capped(store, hasher):
    now = time.time()
    store.apply_events(VENUE, [plate_event(store, hasher, "SGA4711", "G-A01", now),
                               plate_event(store, hasher, "SGB4711", "G-B01", now),
                               plate_event(store, hasher, "SGC4711", "G-C01", now),
                               plate_event(store, hasher, "XY90210", "G-D01", now)])
    one = lookup(store, hasher, "Y902")
    assert one.kind == "partial" and [(m.level, m.area) for m in one.matches] == [(0, "D")]
    three = lookup(store, hasher, "4711")
    assert three.kind == "partial" and sorted(m.area for m in three.matches) == ["A", "B", "C"]
    store.apply_events(VENUE, [plate_event(store, hasher, "SGD4711", "G-D02", now)])
    assert lookup(store, hasher, "4711").kind == "too_many"
    assert lookup(store, hasher, "7777").kind == "none"


def test_fifty_matches_give_nothing(store, hasher):
    now = time.time()
    bays = list(store.bays(VENUE))[:50]
    store.apply_events(VENUE, [plate_event(store, hasher, f"Q{i:02d}5555", b, now) for i, b in enumerate(bays)])
    result = lookup(store, hasher, "5555")
    assert result.kind == "too_many" and result.matches == []


def test_car_moves_bays(store, hasher):
    now = time.time()
    store.apply_events(VENUE, [plate_event(store, hasher, "MOVE123", "G-A01", now)])
    store.apply_events(VENUE, [plate_event(store, hasher, "MOVE123", "G-D09", now + 60)])
    assert lookup(store, hasher, "MOVE123").matches[0].bay == "G-D09"
    store.apply_events(VENUE, [bay_event(store, "G-A01", "free", now + 70)])  # the old bay freed: no effect
    assert lookup(store, hasher, "MOVE123").matches[0].bay == "G-D09"
    store.apply_events(VENUE, [plate_event(store, hasher, "MOVE123", "G-A01", now + 30)])  # late, older event
    assert lookup(store, hasher, "MOVE123").matches[0].bay == "G-D09"


def test_bay_freed_after_the_car_was_seen_forgets_its_bay(store, hasher):
    now = time.time()
    store.apply_events(VENUE, [plate_event(store, hasher, "LEFT999", "G-A04", now)])
    store.apply_events(VENUE, [bay_event(store, "G-A04", "free", now + 10)])
    assert lookup(store, hasher, "LEFT999").kind == "none"


def test_another_car_at_the_bay_replaces_the_first(store, hasher):
    now = time.time()
    store.apply_events(VENUE, [plate_event(store, hasher, "FIRST11", "G-A05", now)])
    store.apply_events(VENUE, [plate_event(store, hasher, "SECOND22", "G-A05", now + 600)])
    assert lookup(store, hasher, "FIRST11").kind == "none"
    assert lookup(store, hasher, "SECOND22").matches[0].bay == "G-A05"


def test_exit_removes_the_plate_data(store, hasher, db):
    now = time.time()
    store.apply_events(VENUE, [plate_event(store, hasher, "EXIT777", "G-A06", now)])
    digest = hasher.digest(VENUE, "EX1T777")
    keys = ParkingKeys(VENUE)
    assert db.exists(keys.plate(digest))
    assert store.apply_events(VENUE, [exit_event(hasher, "EXIT777", now + 5)]) == ["applied"]
    assert not db.exists(keys.plate(digest))
    assert db.hget(keys.at(), "G-A06") is None and db.zscore(keys.live(), digest) is None
    assert lookup(store, hasher, "EXIT777").kind == "none"
    assert lookup(store, hasher, "T777").kind == "none"
    # repeated exit: idempotent; a late plate event from before the exit cannot bring the car back
    assert store.apply_events(VENUE, [exit_event(hasher, "EXIT777", now + 5)]) == ["duplicate"]
    assert store.apply_events(VENUE, [plate_event(store, hasher, "EXIT777", "G-A06", now + 1)]) == ["stale"]
    assert lookup(store, hasher, "EXIT777").kind == "none"
    # the tombstone holds the keyed hash only, and only for minutes
    assert 0 < db.pttl(keys.gone(digest)) <= 15 * 60 * 1000
    assert b"EX1T777" not in (db.get(keys.gone(digest)) or b"")


def test_exit_of_an_unknown_plate_is_harmless(store, hasher):
    assert store.apply_events(VENUE, [exit_event(hasher, "NEVER01", time.time())]) == ["unknown"]


def test_plate_data_has_a_24h_ttl(store, hasher, db):
    seen = time.time() - 3600
    store.apply_events(VENUE, [plate_event(store, hasher, "TTL4242", "G-A07", seen)])
    keys = ParkingKeys(VENUE)
    digest = hasher.digest(VENUE, "TTL4242")
    expected = int(seen * 1000) + DAY_MS
    assert db.pexpiretime(keys.plate(digest)) == expected  # 24 h after the plate was seen
    for key in (keys.at(), keys.at_exp(), keys.live()):  # the indexes expire with their newest entry
        assert db.pexpiretime(key) == expected
    assert db.zscore(keys.live(), digest) == expected


def test_plate_data_really_expires(store, hasher, db):
    # Seen 24 h ago less `margin`: the server drops it `margin` from now. The lookup before must end before that
    # instant to tell anything; when a busy machine made it end later, the plate is seen again with a longer margin.
    margin = 1.5
    while True:
        seen = time.time() - DAY_MS / 1000 + margin
        store.apply_events(VENUE, [plate_event(store, hasher, "OLD5151", "G-A08", seen)], now=seen + 1)
        expires = (int(seen * 1000) + DAY_MS) / 1000  # the plate's PEXPIREAT (test_plate_data_has_a_24h_ttl)
        before_expiry = lookup(store, hasher, "OLD5151").kind
        if time.time() < expires - 0.01:
            break
        assert margin < 60, "the machine never made a lookup within a minute"
        margin *= 2
    assert before_expiry == "exact"
    plate_key = ParkingKeys(VENUE).plate(hasher.digest(VENUE, "0LD5151"))
    deadline = time.monotonic() + 60
    while db.exists(plate_key):  # until the server drops it
        assert time.monotonic() < deadline, "the plate's data never expired"
        time.sleep(0.05)
    assert time.time() >= expires - 0.01  # not before its 24 h
    assert lookup(store, hasher, "OLD5151").kind == "none"
    assert lookup(store, hasher, "5151").kind == "none"
    # the next batch drops the expired links from the indexes too
    store.apply_events(VENUE, [bay_event(store, "G-B01", "free", time.time())])
    assert db.hget(ParkingKeys(VENUE).at(), "G-A08") is None
    assert db.zcard(ParkingKeys(VENUE).live()) == 0


def test_an_exit_left_owed_becomes_a_debt_until_paid(store, hasher, db):
    """The store's side of "leave first, pay after" that did not pay: the exit listed for the sweeper until
    settled, a debt with the plate for the office shown to the shopper who verified the stay, claimed by
    another who proves the plate, paid once (then the plate goes), a failed agreement charge owed."""
    digest, entered = hasher.digest(VENUE, "DEBT900"), time.time() - 7200
    entry_ms = int(entered * 1000)
    store.apply_events(VENUE, [Event("entry", entry_ms, plate_hash=digest)])
    assert store.note_shopper(VENUE, digest, entry_ms, "shopper-a") is True
    assert store.note_shopper(VENUE, digest, entry_ms + 1, "shopper-x") is False  # another visit: nothing
    assert store.note_order(VENUE, digest, entry_ms, "MP-0") is True  # (the fee page's open order)
    exit_ms = int(time.time() * 1000)
    store.apply_events(VENUE, [Event("exit", exit_ms, plate_hash=digest, plate_text="DEBT900")])
    assert store.exiting(VENUE, exit_ms) == [(digest, exit_ms)] and store.exiting(VENUE, exit_ms - 1) == []
    stay = store.stay(VENUE, digest)
    assert stay.shopper == "shopper-a" and store.settle_exit(VENUE, stay, "owed", 1500, client=stay.shopper)
    assert store.exiting(VENUE, exit_ms) == [] and b"DEBT900" not in b"".join(
        sum(db.hgetall(ParkingKeys(VENUE).stay(digest)).items(), ()))  # the plate moved to the debt
    (debt,) = store.open_debts(VENUE)
    assert (debt.plate, debt.due_fen, debt.client, debt.status) == ("DEBT900", 1500, "shopper-a", "owed")
    assert store.debts_of(VENUE, "shopper-a") == [debt] and store.plate_debts(VENUE, digest) == [debt]
    assert store.debt(VENUE, debt.id) == debt and store.debt(VENUE, "x" * 50) is None
    assert store.claim_debts(VENUE, "shopper-b", [debt]) == 1 and store.debts_of(VENUE, "shopper-b") == [debt]
    assert store.credit(VENUE, digest, entry_ms, "MP-1", 500, 0) == "ok"
    assert store.open_debts(VENUE)[0].due_fen == 1000
    assert store.credit(VENUE, digest, entry_ms, "MP-0", 1000, 0, paid_before=0) == "over"  # priced before MP-1
    assert store.credit(VENUE, digest, entry_ms, "MP-2", 1000, 0, paid_before=500) == "ok"
    assert store.credit(VENUE, digest, entry_ms, "MP-2", 1000, 0) == "dup"
    assert store.credit(VENUE, digest, entry_ms, "MP-3", 1000, 0) == "gone"  # paid already: refund that one
    cleared = store.debt(VENUE, debt.id)
    assert cleared.status == "cleared" and cleared.plate == "" and store.open_debts(VENUE) == []
    assert store.stay(VENUE, digest).status == "cleared"
    assert store.claim_debts(VENUE, "shopper-c", [cleared]) == 0  # nothing owed: nothing to show
    # an agreement's charge that did not go through: owed; an exit replaced by a new visit leaves the list
    other, again = hasher.digest(VENUE, "DEBT901"), int(time.time() * 1000)
    store.apply_events(VENUE, [Event("entry", again - 7_200_000, plate_hash=other),
                               Event("exit", again, plate_hash=other)])
    store.settle_exit(VENUE, store.stay(VENUE, other), "charging", 1500, "MP-9", client="member-1")
    assert store.mark_owed(VENUE, other, again - 7_200_000) is True
    assert store.mark_owed(VENUE, other, again - 7_200_000) is False
    assert store.open_debts(VENUE)[0].status == "owed" and store.stay(VENUE, other).status == "owed"
    store.drop_exiting(VENUE, other, again)
    assert store.export_shopper(VENUE, "member-1")["parking_fees_owed"][0]["due_fen"] == 1500
    assert store.forget_shopper(VENUE, "member-1") >= 2
    assert store.debts_of(VENUE, "member-1") == [] and store.open_debts(VENUE)[0].client == ""


def test_a_second_payment_for_the_same_fee_is_not_credited(store, hasher):
    """Each order is credited only while the stay (or its debt) has paid what the order was priced against:
    another payment credited since means it would pay the same fee again ("over": refund it); a replay
    credits nothing either; a later order priced after the first is credited; the stay's open order."""
    digest, entry_ms = hasher.digest(VENUE, "TWICE01"), int((time.time() - 3.5 * 3600) * 1000)
    store.apply_events(VENUE, [Event("entry", entry_ms, plate_hash=digest)])
    assert store.note_order(VENUE, digest, entry_ms, "MP-A") is True
    assert store.note_order(VENUE, digest, entry_ms + 1, "MP-X") is False  # another visit: nothing
    assert store.stay(VENUE, digest).open_order == "MP-A"
    until = int((time.time() + 900) * 1000)
    assert store.credit(VENUE, digest, entry_ms, "MP-A", 2000, until, paid_before=0) == "ok"
    assert store.credit(VENUE, digest, entry_ms, "MP-B", 2000, until, paid_before=0) == "over"
    assert store.credit(VENUE, digest, entry_ms, "MP-B", 2000, until, paid_before=0) == "over"  # replayed
    assert store.credit(VENUE, digest, entry_ms, "MP-A", 2000, until, paid_before=0) == "dup"
    assert store.stay(VENUE, digest).paid_fen == 2000
    assert store.credit(VENUE, digest, entry_ms, "MP-C", 500, until, paid_before=2000) == "ok"  # an hour later
    store.apply_events(VENUE, [Event("exit", int(time.time() * 1000), plate_hash=digest)])
    assert store.settle_exit(VENUE, store.stay(VENUE, digest), "owed", 3000)
    (debt,) = store.open_debts(VENUE)
    assert debt.due_fen == 500
    assert store.credit(VENUE, digest, entry_ms, "MP-D", 500, 0, paid_before=2000) == "over"  # priced too early
    assert store.credit(VENUE, digest, entry_ms, "MP-E", 500, 0, paid_before=2500) == "ok"
    assert store.credit(VENUE, digest, entry_ms, "MP-F", 500, 0, paid_before=2500) == "gone"  # paid already
    assert store.stay(VENUE, digest).paid_fen == 3000 and store.debt(VENUE, debt.id).paid_fen == 3000
    assert store.open_debts(VENUE) == []


def test_no_plate_text_outside_the_plate_hash(store, hasher, db):
    store.apply_events(VENUE, [plate_event(store, hasher, "PRIV8080", "G-A09", time.time())])
    store.log_lookup(VENUE, "garage", "shopper-1", hasher.digest(VENUE, "PR1V8080"), "exact", 1)
    plate_key = ParkingKeys(VENUE).plate(hasher.digest(VENUE, "PR1V8080")).encode()
    for key in db.scan_iter(match=b"mp:{demo}:parking:*"):
        if key == plate_key:
            continue
        kind = db.type(key)
        dump = {b"hash": lambda k: b"".join(sum(db.hgetall(k).items(), ())),
                b"zset": lambda k: b"".join(db.zrange(k, 0, -1)),
                b"list": lambda k: b"".join(db.lrange(k, 0, -1)), b"set": lambda k: b"".join(db.smembers(k)),
                b"string": lambda k: db.get(k) or b""}[kind](key)
        assert b"PR1V8080" not in dump and b"PRIV8080" not in dump, key


def test_counts_never_drift_under_200_threads(store, redis_url, db):
    bays = list(store.bays(VENUE).values())[:20]
    base = time.time()

    def flip(i):
        own = ParkingStore(redis.Redis.from_url(redis_url))
        b = bays[i % len(bays)]
        return own.apply_events(VENUE, [Event("bay", int((base + i / 1000) * 1000), bay=b,
                                              status="free" if i % 3 else "occupied")])

    with ThreadPoolExecutor(max_workers=200) as pool:
        list(pool.map(flip, range(200)))
    states = store.states(VENUE)
    keys = ParkingKeys(VENUE)
    free = {m.decode() for m in db.smembers(keys.free("garage", 0))}
    occupied = {m.decode() for m in db.smembers(keys.occupied("garage", 0))}
    assert free == {b for b, s in states.items() if s == "free"}
    assert occupied == {b for b, s in states.items() if s == "occupied"}
    assert not free & occupied
    for i, b in enumerate(bays):  # the newest event of each bay won, whatever order they arrived in
        last = max(j for j in range(200) if j % len(bays) == i)
        assert states[b.id] == ("free" if last % 3 else "occupied")


def test_demo_seed_is_idempotent_and_parks_the_demo_car(app, svc, demo, demo_map, db):
    from lightapps.parking.demo import DEMO_PLATE, DEMO_PLATE_BAY, seed

    own = ParkingStore(db)
    before = (own.bays(VENUE), own.states(VENUE))
    assert len(before[0]) == 95 and len(before[1]) == 95  # every demo bay has a status
    seed(svc, demo_map)
    assert (own.bays(VENUE), own.states(VENUE)) == before
    folded = plates.query_from_shopper(DEMO_PLATE)
    result = own.find(VENUE, plates.PlateHasher(svc.settings.mac_hash_key).digest(VENUE, folded), folded)
    assert result.kind == "exact" and result.matches[0].bay == DEMO_PLATE_BAY


def test_a_province_typed_in_traditional_characters_finds_the_car(store, hasher):
    store.apply_events(VENUE, [plate_event(store, hasher, "粤B D8888", "G-C07", time.time())])
    result = lookup(store, hasher, "粵BD8888")  # a Hong Kong or Taiwan keyboard
    assert result.kind == "exact" and result.matches[0].bay == "G-C07"


def test_a_plate_read_without_its_province_is_found_by_the_whole_plate(store, hasher):
    store.apply_events(VENUE, [plate_event(store, hasher, "BD8888", "G-C07", time.time())])
    result = lookup(store, hasher, "粤BD8888")
    stored = hasher.digest(VENUE, plates.plate_from_system("BD8888"))
    assert result.kind == "exact" and result.matches[0].bay == "G-C07"
    assert result.plate_hash == stored  # guesses at the hour count on the stored plate
    assert lookup(store, hasher, "湘BD8888").kind == "exact"  # the reader could not tell which province


def test_a_plate_of_another_province_is_another_car(store, hasher):
    store.apply_events(VENUE, [plate_event(store, hasher, "湘BD5555", "G-C07", time.time())])
    assert lookup(store, hasher, "粤BD5555").kind == "none"
    assert lookup(store, hasher, "粵BD5555").kind == "none"


def test_a_missing_province_reveals_no_more_than_before(store, hasher):
    """A province character is no wildcard: it does not make a query of 3 characters, nor widen a partial
    search; and a whole-enough match that is not one plate is answered by the partial cap."""
    now = time.time()
    store.apply_events(VENUE, [plate_event(store, hasher, "BD8", "G-A01", now),
                               plate_event(store, hasher, "粤BD7777", "G-A02", now),
                               plate_event(store, hasher, "湘BD7777", "G-A03", now),
                               plate_event(store, hasher, "BD66661", "G-A04", now)])
    assert lookup(store, hasher, "粤BD8").kind == "none"
    assert lookup(store, hasher, "粤BD6666").kind == "none"  # part of a plate read without a province
    two = lookup(store, hasher, "BD7777")
    assert two.kind == "partial" and sorted(m.area for m in two.matches) == ["A", "A"]


def test_a_plate_stored_before_the_fold_knew_its_character_is_still_found(store, hasher):
    """Plates are kept 24 h: one stored as 粵BD8888 (before traditional characters were folded) is found by
    粤BD8888 and 粵BD8888 alike, as the plate it was stored as."""
    legacy = hasher.digest(VENUE, "粵BD8888")
    store.apply_events(VENUE, [Event("plate", int(time.time() * 1000), bay=store.bays(VENUE)["G-C07"],
                                     plate_hash=legacy, plate_text="粵BD8888")])
    for typed in ("粤BD8888", "粵BD8888", "BD8888"):
        result = lookup(store, hasher, typed)
        assert result.kind == "exact" and result.plate_hash == legacy, typed
