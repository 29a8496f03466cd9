"""The tracker's batch reads on a single server (Locator._read_batch): the replies' raw bytes, the windows read by
a compiled loop (portal/ingest/window_kernel.py), give what the replies parsed by hiredis and read by
`RssiStore.parse_batch` gave: the same readings bit for bit, the same newest reading per phone, and so the same
stored positions, motion states, keys and TTLs after the tracker's rounds (partial matches, associated readings, a
phone with a kept position that still answers, phones not heard at all included)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from core.storage import RawReplies
from portal.ingest import window_kernel
from portal.ingest.observation import Observation
from portal.ingest.store import RssiKeys, RssiStore, WindowReplies
from portal.tracking import Tracker
from portal.tracking import footfall as footfall_module


def _resp(windows: list[list[bytes]]) -> np.ndarray:
    return np.frombuffer(b"".join(b"*%d\r\n" % len(m) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in m)
                                  for m in windows), dtype=np.uint8)


def _same(a, b) -> bool:
    return (a.n_phones == b.n_phones and a.aps == b.aps and a.phone.tolist() == b.phone.tolist()
            and a.ap.tolist() == b.ap.tolist() and a.ts.tobytes() == b.ts.tobytes()
            and a.rssi.tobytes() == b.rssi.tobytes() and a.associated.tolist() == b.associated.tolist())


def test_the_kernel_reads_the_members_as_parse_batch_does():
    rng = np.random.default_rng(3)
    aps = [f"aa:bb:cc:{i >> 8:02x}:{i & 255:02x}:{i * 7 & 255:02x}" for i in range(30)] + ["ünï", ""]
    for _ in range(150):
        windows = []
        for _phone in range(int(rng.integers(0, 10))):
            members = []
            for _reading in range(int(rng.integers(0, 25))):
                rssi = rng.choice([f"{int(rng.integers(-100, 1))}", f"{rng.uniform(-100, 0):.1f}", "-0", "007",
                                   "-67.25"])
                ts = rng.choice([f"{1764791234.123 + rng.random() * 60:.3f}", f"{1764791234 + int(rng.integers(60))}",
                                 f"{rng.random():.15f}"[:17], "123456789012345"])
                members.append(f"{aps[int(rng.integers(len(aps)))]}|{rssi}|{ts}{rng.choice(['', '|a', '|p'])}".encode())
            windows.append(members)
        replies = WindowReplies.of(_resp(windows), 0, len(windows))
        assert replies.newest == [m[-1] if m else None for m in windows]
        picked = {int(i) for i in rng.integers(0, max(1, len(windows)), size=len(windows))}
        some = sorted(picked & set(range(len(windows))))
        assert _same(replies.batch(some), RssiStore.parse_batch([windows[i] for i in some]))
        assert _same(replies.batch(range(len(windows))), RssiStore.parse_batch(windows))


@pytest.mark.parametrize("odd", [b"ap|1e-05|12.5", b"ap|+5|1", b"ap|.5|1", b"ap|5.|1", b"ap|inf|1", b"ap|nan|1",
                                 b"ap|-67|1234567890123456.5", b"ap|-67|1|x", b"ap|-67|1|a|b", b"ap|-67", b"ap|-67|1|",
                                 b"a|b|-67|123", b"ap|-67|12.25|a", b"x\r\ny|-1|2", b"\xff\xfe|-60|2"])
def test_a_member_the_kernel_does_not_read_is_read_as_parse_batch_reads_it(odd):
    windows = [[b"aa|-60|1.5", odd], [b"bb|-50|2.5|a"]]
    try:
        want = RssiStore.parse_batch(windows)
    except (ValueError, UnicodeDecodeError) as exc:
        with pytest.raises(type(exc)):
            WindowReplies.of(_resp(windows), 0, 2).batch([0, 1])
        return
    assert _same(WindowReplies.of(_resp(windows), 0, 2).batch([0, 1]), want)


def test_an_error_reply_among_the_windows_is_not_read_as_one():
    raw = np.frombuffer(b"*1\r\n$5\r\na|1|2\r\n-WRONGTYPE Operation against a key\r\n", dtype=np.uint8)
    assert WindowReplies.of(raw, 0, 2) is None
    assert isinstance(RawReplies.parsed(raw, 2)[1], Exception)


def test_framing_counts_whole_replies_of_either_protocol_however_the_bytes_arrive():
    raw = (b"%1\r\n$1\r\na\r\n$1\r\nb\r\n+OK\r\n*2\r\n_\r\n,1.5\r\n|1\r\n+k\r\n:1\r\n:7\r\n~2\r\n#t\r\n(123\r\n"
           b"=7\r\ntxt:abc\r\n!3\r\nerr\r\n$-1\r\n*-1\r\n$0\r\n\r\n*2\r\n*1\r\n:1\r\n-ERR x\r\n")
    buf = np.frombuffer(raw, dtype=np.uint8)
    assert window_kernel.frame(buf, 0, buf.size, 20) == (buf.size, 11)
    for cut in range(buf.size):
        at, done = window_kernel.frame(buf, 0, cut, 20)
        assert window_kernel.frame(buf, at, buf.size, 20 - done) == (buf.size, 11 - done)
    assert window_kernel.frame(np.frombuffer(b">2\r\n+a\r\n+b\r\n", dtype=np.uint8), 0, 11, 1)[1] == -1


def _heard(phones: int, seed: int) -> list[tuple[int, str, float, float, bool | None]]:
    rng = np.random.default_rng(seed)
    out = []
    for phone in range(phones):
        for k in range(int(rng.integers(0, 60))):
            age = 2.0 if phone % 5 == 0 else float(rng.uniform(0, 55))  # a fifth heard for seconds: partial matches
            out.append((phone, f"ap-{int(rng.integers(0, 40))}", float(rng.integers(-95, -40)), age,
                        True if (phone % 7 == 0 and k == 0) else None))
    return out


def _dump(db, venue: str) -> dict:
    out = {}
    for key in db.scan_iter(match=f"*{{{venue}}}*"):
        if key.endswith(b":map:edits"):  # each map save's random edit id (fingerprints/store.py): not the tracker's
            continue
        kind = db.type(key).decode()
        value = (db.hgetall(key) if kind == "hash" else db.get(key) if kind == "string"
                 else db.zrange(key, 0, -1, withscores=True) if kind == "zset"
                 else sorted(db.smembers(key)) if kind == "set" else db.lrange(key, 0, -1) if kind == "list"
                 # events in the order the batches were taken (SPOP's, random): as a multiset
                 else sorted(repr(sorted(f.items())) for _, f in db.xrange(key)) if kind == "stream" else None)
        out[key.decode()] = (kind, value, db.ttl(key))
    return out


def _tracked(svc, venue, heard, raw: bool, monkeypatch) -> tuple[list[dict], float]:
    """The store after each round, and how long (real seconds) the run took: the keys' TTLs count down in real
    time, so two runs' TTLs differ by up to that much on a busy machine."""
    started = time.monotonic()
    monkeypatch.setattr(RawReplies, "usable", staticmethod(lambda db: raw))
    svc.db.flushdb()
    svc.venues.put_map(venue)
    tracker = Tracker(svc.db, svc.venues, svc.locator, batch=16)
    aps = [ap.bssid for ap in venue.aps]
    dumps = []
    for round_, now in enumerate((1_800_000_000.0, 1_800_000_007.0)):
        svc.rssi.write(venue.id, [Observation(f"c{phone:03d}", aps[int(ap[3:]) % len(aps)], rssi + round_,
                                              now - age, associated=assoc)
                                  for phone, ap, rssi, age, assoc in heard], now)
        while tracker.step(venue.id, now + 0.5):
            pass
        dumps.append(_dump(svc.db, venue.id))
    # A phone marked again without a new reading: its kept position still answers (not positioned anew)
    svc.db.sadd(RssiKeys(venue.id).new_readings(), "c001")
    assert tracker.step(venue.id, 1_800_000_007.75) == 1
    dumps.append(_dump(svc.db, venue.id))
    return dumps, time.monotonic() - started


def test_the_tracker_stores_the_same_with_raw_replies_as_with_parsed_ones(svc, demo_map, monkeypatch):
    if not RawReplies.usable(svc.db):
        pytest.skip("a cluster reads its batch through redis-py's pipeline")
    monkeypatch.setattr(footfall_module, "new_salt", lambda: "one-salt-for-both-runs")  # the same HLL members
    heard = _heard(70, seed=5)
    parsed, parsed_s = _tracked(svc, demo_map, heard, False, monkeypatch)
    raw, raw_s = _tracked(svc, demo_map, heard, True, monkeypatch)
    slack = math.ceil(max(parsed_s, raw_s)) + 2  # a key's age at its dump: at most its run's length
    for before, after in zip(parsed, raw, strict=True):
        assert before.keys() == after.keys()
        for key in before:
            (kind, value, ttl), (kind2, value2, ttl2) = before[key], after[key]
            assert (kind, value) == (kind2, value2), key
            assert (ttl < 0) == (ttl2 < 0) and abs(ttl - ttl2) <= slack, key


@pytest.mark.parametrize("raw", [True, False])
def test_one_phones_unreadable_window_leaves_the_others_tracked(svc, demo_map, monkeypatch, caplog, raw):
    """A member no parse reads (an AP name that is not UTF-8) fails that phone alone, with raw replies as without."""
    if raw and not RawReplies.usable(svc.db):
        pytest.skip("a cluster reads its batch through redis-py's pipeline")
    monkeypatch.setattr(RawReplies, "usable", staticmethod(lambda db: raw))
    svc.db.flushdb()
    svc.venues.put_map(demo_map)
    now = 1_800_000_000.0
    heard = [(phone, ap, rssi, age, assoc) for phone, ap, rssi, age, assoc in _heard(12, seed=9) if phone % 5]
    aps = [ap.bssid for ap in demo_map.aps]
    svc.rssi.write(demo_map.id, [Observation(f"c{phone:03d}", aps[int(ap[3:]) % len(aps)], rssi, now - age,
                                             associated=assoc) for phone, ap, rssi, age, assoc in heard], now)
    svc.db.zadd(RssiKeys(demo_map.id).readings("c001"), {b"\xff\xfe|-60|%.3f" % (now - 1): now - 1})
    tracker = Tracker(svc.db, svc.venues, svc.locator)
    assert tracker.step(demo_map.id, now + 0.5) == len({phone for phone, *_ in heard})
    assert "positioning a client of venue" in caplog.text
    kept = {key.decode() for key in svc.db.scan_iter(match="*:kept:*")}
    assert len(kept) == len({phone for phone, *_ in heard}) - 1 and not any(k.endswith(":c001") for k in kept)
