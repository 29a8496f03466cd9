"""The tracker's window reads parsed from the store's raw replies, compiled (`RssiStore.windows_from_replies`).

A batch of 256 phones reads ~50,000 readings ("ap|rssi|ts" members, RssiStore). Parsed by hiredis into one bytes
object each, then joined and read again by pyarrow (`RssiStore.parse_batch`), that cost the tracker ~80 us a phone,
more than the store spent sending them. Here the replies' bytes (RESP2, as the socket gave them: core/storage.py
RawReplies) are walked once in a compiled loop: each reply's array of members, each member's fields, its AP interned
to a code in the order the APs were first read, its numbers read as `float` reads them. A number is read only in
the form the store's writers give it (an optional minus, digits, an optional fraction; at most 15 digits): then
its value is the integer of its digits over a power of ten, both exact doubles, and IEEE division rounds that
quotient correctly, as `float` does (the fast path of correctly rounded decimal reading). Anything else (another
number form, a member of another shape, an error reply) makes the kernel refuse the batch, which is then parsed
the old way (tests/ingest/test_window_kernel.py holds the two to the same arrays).

Loaded only by the tracker's batch path (portal/tracking/locator.py): a web worker never imports numba."""

from __future__ import annotations

import numpy as np

from positioning.kernels import compiled

_POW10 = np.array([10.0 ** k for k in range(16)])  # exact doubles (10**15 < 2**53)
_MAX_DIGITS = 15
_LINES = (43, 45, 58, 95, 44, 35, 40)  # + - : _ , # (
_BLOBS = (36, 33, 61)  # $ ! =
_AGGREGATES = (42, 126, 37, 124)  # * ~ % (pairs) | (an attribute: pairs, then the reply it is about)


@compiled(inline="always")
def _line_int(buf, p: int, end: int):
    """The integer of a RESP header line starting at buf[p] (after its type byte) and the position after its CRLF;
    (0, -1) while the line is incomplete, (0, -2) when it is not an integer."""
    neg = False
    if p < end and buf[p] == 45:
        neg = True
        p += 1
    value, digits = 0, 0
    while p < end and buf[p] != 13:
        c = buf[p]
        if c < 48 or c > 57 or digits >= 18:
            return 0, -2
        value = value * 10 + (c - 48)
        digits += 1
        p += 1
    if p + 1 >= end:
        return 0, -1
    if buf[p + 1] != 10 or digits == 0:
        return 0, -2
    return (-value if neg else value), p + 2


@compiled()
def frame(buf, pos: int, end: int, want: int):
    """Replies (RESP2 or RESP3) in buf[pos:end]: (the position after the complete ones, how many, at most `want`);
    how many is -1 when the bytes are not replies this framing reads (a push message, which no command of the
    tracker's connection asks for, or not the protocol at all)."""
    done = 0
    while done < want:
        p, pending = pos, 1
        while pending > 0:
            if p >= end:
                return pos, done
            kind = buf[p]
            if kind in _LINES:  # + - : _ , # ( a line
                q = p + 1
                while q + 1 < end and not (buf[q] == 13 and buf[q + 1] == 10):
                    q += 1
                if q + 1 >= end:
                    return pos, done
                p = q + 2
            elif kind in _BLOBS or kind in _AGGREGATES:  # $ ! = a blob; * ~ % | an aggregate
                n, q = _line_int(buf, p + 1, end)
                if q == -1:
                    return pos, done
                if q == -2:
                    return pos, -1
                if kind in _BLOBS:
                    if n >= 0:
                        if q + n + 2 > end:
                            return pos, done
                        if buf[q + n] != 13 or buf[q + n + 1] != 10:
                            return pos, -1
                        q += n + 2
                elif n > 0:
                    pending += 2 * n if kind == 37 or kind == 124 else n
                if kind == 124:  # an attribute: the reply it describes follows, and is the element
                    pending += 1
                p = q
            else:
                return pos, -1
            pending -= 1
        pos = p
        done += 1
    return pos, done


@compiled()
def index_windows(buf, pos: int, n: int):
    """Per reply of n window replies (arrays of bulk strings) from buf[pos]: where it starts (and, last, where the
    n replies end), where its first member's header starts, how many members, and its last member (start, length;
    -1 when none). ok False: a reply that is not an array of bulk strings (an error reply)."""
    ends = np.empty(n + 1, dtype=np.int64)
    starts = np.empty(n, dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    last = np.full((n, 2), -1, dtype=np.int64)
    end = buf.size
    for r in range(n):
        ends[r] = pos
        if pos >= end or buf[pos] != 42:
            return False, ends, starts, counts, last
        m, pos = _line_int(buf, pos + 1, end)
        if pos < 0 or m < 0:
            return False, ends, starts, counts, last
        starts[r], counts[r] = pos, m
        for _ in range(m):
            if pos >= end or buf[pos] != 36:
                return False, ends, starts, counts, last
            length, pos = _line_int(buf, pos + 1, end)
            if pos < 0 or length < 0 or pos + length + 2 > end:
                return False, ends, starts, counts, last
            last[r, 0], last[r, 1] = pos, length
            pos += length + 2
    ends[n] = pos
    return True, ends, starts, counts, last


@compiled(inline="always")
def _number(buf, p: int, e: int):
    """The number from buf[p] up to the next "|" (or e), as `float` reads it, when it is -?digits(.digits)? with at
    most 15 digits: (True, value, where it stops); else (False, 0.0, where it stops)."""
    neg = False
    if p < e and buf[p] == 45:
        neg = True
        p += 1
    mantissa, digits, fraction, point, ok = 0, 0, 0, False, True
    while p < e:
        c = buf[p]
        if c == 124:
            break
        if 48 <= c <= 57:
            digits += 1
            mantissa = mantissa * 10 + (c - 48)
            if point:
                fraction += 1
        elif c == 46 and not point and digits > 0:
            point = True
        else:
            ok = False
        p += 1
    if not ok or digits == 0 or digits > _MAX_DIGITS or (point and fraction == 0):
        return False, 0.0, p
    value = float(mantissa) / _POW10[fraction]
    return True, (-value if neg else value), p


@compiled(inline="always")
def _same(buf, a: int, b: int, length: int) -> bool:
    for k in range(length):  # noqa: SIM110 - a loop numba compiles (no generator)
        if buf[a + k] != buf[b + k]:
            return False
    return True


@compiled()
def read_windows(buf, starts, counts, include):
    """The members of the included replies (`index_windows`) as flat arrays, in order: (ok, per reading its AP's
    code, rssi, ts, associated; per AP code the (start, length) of its name). ok False: a member not of the shape
    "ap|rssi|ts" with an optional "|a" or "|p", or a number not of the form `_number` reads."""
    total = 0
    for r in range(starts.size):
        if include[r]:
            total += counts[r]
    code = np.empty(total, dtype=np.int64)
    rssi = np.empty(total, dtype=np.float64)
    ts = np.empty(total, dtype=np.float64)
    associated = np.zeros(total, dtype=np.bool_)
    size = 64
    while size < 2 * total + 2:
        size *= 2
    slots = np.full(size, -1, dtype=np.int64)  # open addressing: slot -> AP code
    names = np.empty((total + 1, 2), dtype=np.int64)
    n_names = 0
    j = 0
    for r in range(starts.size):
        if not include[r]:
            continue
        pos = starts[r]
        for _ in range(counts[r]):
            length, pos = _line_int(buf, pos + 1, buf.size)
            s, e = pos, pos + length
            pos = e + 2
            # the fields: AP | rssi | ts [| a or p]; the AP hashed (FNV-1a) as it is scanned
            h = np.uint64(14695981039346656037)
            p1 = s
            while p1 < e and buf[p1] != 124:
                h = (h ^ np.uint64(buf[p1])) * np.uint64(1099511628211)
                p1 += 1
            ok_r, value_r, p2 = _number(buf, p1 + 1, e)
            ok_t, value_t, p3 = _number(buf, p2 + 1, e)
            if p1 >= e or p2 >= e or not (ok_r and ok_t):
                return False, code[:0], rssi[:0], ts[:0], associated[:0], names[:0]
            if p3 < e:
                if p3 + 2 != e or (buf[p3 + 1] != 97 and buf[p3 + 1] != 112):
                    return False, code[:0], rssi[:0], ts[:0], associated[:0], names[:0]
                associated[j] = buf[p3 + 1] == 97
            rssi[j], ts[j] = value_r, value_t
            slot = np.int64(h & np.uint64(size - 1))
            while True:
                c = slots[slot]
                if c < 0:
                    slots[slot] = n_names
                    names[n_names, 0], names[n_names, 1] = s, p1 - s
                    code[j] = n_names
                    n_names += 1
                    break
                if names[c, 1] == p1 - s and _same(buf, names[c, 0], s, p1 - s):
                    code[j] = c
                    break
                slot = (slot + 1) & (size - 1)
            j += 1
    return True, code, rssi, ts, associated, names[:n_names]
