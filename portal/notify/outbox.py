"""The notification outbox: a per-venue Valkey stream read through a consumer group, a due-time sorted set
for what is sent later (reminders, retries) and a bounded dead-letter list the operator reads.

A message is a `Job`: who (the shopper id), what (`event`, e.g. ``queue.called``), the texts in both
languages and the page it links to (`data`), and, once fanned out, the one channel and target it is for.
Its `id` is the caller's: the same id is accepted once (a double tap, a retried request, two hosts), and
each (id, channel, target) is delivered at most once after it succeeded (a redelivered stream entry after
a crash is skipped). A worker claims each delivery before it sends it (`claim`), so two workers that hold
the same entry at once (one slow, the other reclaiming what looked abandoned) never both send it.

Keys (venue `v`, all in its slot):
  mp:{v}:notify:stream            STREAM  jobs to deliver now (MAXLEN ~ STREAM_MAXLEN), group "notify"
  mp:{v}:notify:due               ZSET    job key -> due time (reminders, retries with backoff)
  mp:{v}:notify:jobs              HASH    job key -> job JSON (the jobs the due set names)
  mp:{v}:notify:seen:<id>         STRING  the id was accepted (SET NX; SEEN_TTL_S)
  mp:{v}:notify:sent:<id>         SET     channel:target pairs delivered (SENT_TTL_S)
  mp:{v}:notify:claim:<id>:<channel>:<target>  STRING  the worker sending it now (SET NX; CLAIM_TTL_S)
  mp:{v}:notify:sending:<id>:<channel>:<target>  STRING  a send began and was neither marked sent nor released
                                  (SENDING_TTL_S): found without its claim, the delivery may have happened
  mp:{v}:notify:dead              LIST    dead letters, newest first (DEAD_KEPT)
  mp:{v}:notify:count             HASH    delivered / retried / dead / skipped / replayed / dropped counters

The operator lists, replays and drops dead letters at /console/ops/<venue>/outbox (portal/operator/outbox.py)
or with `flask outbox dead|replay|drop VENUE` (portal/notify/cli.py)."""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import redis

from core.errors import InputError
from core.storage import VenueKeys
from portal.notify.contacts import ContactKeys

GROUP = "notify"
STREAM_MAXLEN = 10_000  # per venue: a backlog past this drops the oldest (the operator sees it in the count)
SEEN_TTL_S = 3 * 86400
SENT_TTL_S = 3 * 86400
# A delivery being sent is claimed this long: far longer than a provider may take (SMS and Web Push time out
# after 10 s), so a claim never lapses under a live send. A delivery whose worker died mid-send (or could not
# record it sent) may have gone out: once its entry is reclaimed and the claim has lapsed, it is a dead letter
# for the operator to replay, never sent twice on its own.
CLAIM_TTL_S = 300
# A "sending" marker outlives every reclaim of its stream entry (the claim's lapse, a worker's restart).
SENDING_TTL_S = SENT_TTL_S
DEAD_KEPT = 1_000
MAX_DATA_BYTES = 4_000  # a Web Push payload is at most ~4 kB; SMS texts are shorter still
EVENT = re.compile(r"^[a-z][a-z0-9_]{0,30}\.[a-z][a-z0-9_]{0,30}$")
MESSAGE_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,120}$")


class NotifyKeys(VenueKeys):
    def stream(self) -> str:
        return self.key("notify", "stream")

    def due(self) -> str:
        return self.key("notify", "due")

    def jobs(self) -> str:
        return self.key("notify", "jobs")

    def seen(self, message_id: str) -> str:
        return self.key("notify", "seen", message_id)

    def sent(self, message_id: str) -> str:
        return self.key("notify", "sent", message_id)

    def claim(self, message_id: str, delivery: str) -> str:
        return self.key("notify", "claim", message_id, delivery)

    def sending(self, message_id: str, delivery: str) -> str:
        return self.key("notify", "sending", message_id, delivery)

    def dead(self) -> str:
        return self.key("notify", "dead")

    def counts(self) -> str:
        return self.key("notify", "count")


# A job's data field naming the consents (comma separated, portal/consent.py PURPOSES) the shopper must still
# give when it is sent, not only when it was queued: a marketing message queued before she withdrew is dropped.
NEEDS_CONSENT = "needs_consent"


class NotifyInputError(InputError):
    """A notification an app built wrongly (unknown shape, too large): a bug in the app, said clearly."""


@dataclass(frozen=True)
class Job:
    id: str
    venue: str
    shopper: str
    event: str
    data: dict[str, str]
    created: float
    attempt: int = 0
    channel: str = ""  # "" until fanned out: every channel the shopper opted into (or the one named)
    target: str = ""  # the channel's target (a push subscription id, "phone"); "" until fanned out
    # A message queued for SMS alone ("text me this ticket") goes to the number the shopper had when it was
    # queued, not to whatever number they set later: that number, sealed as the contact keeps it (the
    # phone vault, portal/notify/contacts.py), pinned by the enqueue script. Last field: see PIN_SUFFIX.
    to: str = ""

    @property
    def key(self) -> str:
        """This job's key in the due set: one per message, channel and target."""
        return f"{self.id}|{self.channel}|{self.target}"

    @property
    def delivery(self) -> str:
        return f"{self.channel}:{self.target}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Job:
        return cls(**json.loads(raw))

    def next_try(self) -> Job:
        return replace(self, attempt=self.attempt + 1)

    def for_target(self, channel: str, target: str) -> Job:
        return replace(self, channel=channel, target=target)


@dataclass(frozen=True)
class Entry:
    """A stream entry read by a worker: its stream id (to acknowledge) and the job (None: trimmed away)."""

    stream_id: bytes
    job: Job | None


@dataclass
class DeadLetter:
    job: Job
    error: str
    at: float
    extra: dict[str, Any] = field(default_factory=dict)
    id: str = ""  # names this letter for a replay or a drop: a digest of the stored entry


def letter_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


LETTER_ID = re.compile(r"^[0-9a-f]{16}$")

# KEYS: dead. ARGV: a time. Pops the letters buried before it from the tail (the oldest end), at most 10,000 a call;
# stops at the first newer one, or one it cannot read (left for the operator). Returns how many went.
_DROP_DEAD_BEFORE = """
local n = 0
while n < 10000 do
  local raw = redis.call('LINDEX', KEYS[1], -1)
  if not raw then break end
  local ok, letter = pcall(cjson.decode, raw)
  if not ok or type(letter) ~= 'table' or not tonumber(letter.at) or tonumber(letter.at) >= tonumber(ARGV[1]) then
    break
  end
  redis.call('RPOP', KEYS[1])
  n = n + 1
end
return n
"""

# KEYS: dead, jobs, due, counts.  ARGV: the stored letter, job key ('' = drop it), job JSON, due time.
# Takes the one letter out of the dead list and (a replay) into the due set, in one step: two operators
# pressing "replay" at once send it once.
_TAKE_DEAD = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
if ARGV[2] == '' then
  redis.call('HINCRBY', KEYS[4], 'dropped', 1)
else
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
  redis.call('HINCRBY', KEYS[4], 'replayed', 1)
end
return 1
"""


# A channel whose single-channel messages are pinned to the shopper's target of the moment: channel -> the
# field of the contact hash (portal/notify/contacts.py) that holds it.
PINNED = {"sms": "phone"}
PIN_SUFFIX = '"to":""}'  # how an unpinned job's JSON ends (Job.to last, compact separators)

# KEYS: seen, stream | jobs, due, the shopper's contact.  ARGV: ttl, job JSON, maxlen, due time ('' = now),
# job key, the job JSON without its PIN_SUFFIX ('' = not pinned), the contact field to pin.
# Pinned: the contact's sealed target is read and written into the job in the same step as the queueing, so
# a number set a moment later by another request cannot take its place; no target, nothing queued.
_ENQUEUE = """
local job = ARGV[2]
if ARGV[6] ~= '' then
  local to = redis.call('HGET', KEYS[5], ARGV[7])
  if not to then return 0 end
  job = ARGV[6] .. '"to":' .. cjson.encode(to) .. '}'
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
if ARGV[4] == '' then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'job', job)
else
  redis.call('HSET', KEYS[3], ARGV[5], job)
  redis.call('ZADD', KEYS[4], ARGV[4], ARGV[5])
end
return 1
"""

# KEYS: sent, claim, stream, sending.  ARGV: channel:target, the worker's token, claim ttl (ms), the stream entry
# ('' = none), the group, sending ttl (s). Sent already, or its entry acknowledged since this worker read it
# (another worker handled it: sent, scheduled its retry or buried it): nothing to do. Else one claim per delivery
# (SET NX): the worker that gets it sends, its "sending" marker set with the claim; another finds it busy. A
# marker with no claim is a send that began, and whose claim lapsed before it was marked sent or released:
# it may have been delivered ('unsure').
_CLAIM = """
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 'sent' end
if ARGV[4] ~= '' and #redis.call('XPENDING', KEYS[3], ARGV[5], ARGV[4], ARGV[4], 1) == 0 then return 'done' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'busy' end
if redis.call('EXISTS', KEYS[4]) == 1 then return 'unsure' end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('SET', KEYS[4], ARGV[2], 'EX', ARGV[6])
return 'claimed'
"""

# KEYS: claim, sending.  ARGV: the worker's token. Gives a claim back (a failed try: nothing was delivered) unless
# it lapsed and is another's.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: due, jobs, stream.  ARGV: now, limit, maxlen.  Moves the due jobs onto the stream, atomically.
_PROMOTE = """
local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, k in ipairs(keys) do
  local job = redis.call('HGET', KEYS[2], k)
  if job then redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[3], '*', 'job', job) end
  redis.call('HDEL', KEYS[2], k)
  redis.call('ZREM', KEYS[1], k)
end
return #keys
"""


def check_message(event: str, data: Mapping[str, Any], message_id: str | None) -> dict[str, str]:
    """The data as strings; NotifyInputError for an event name, id or payload an app got wrong."""
    if not isinstance(event, str) or not EVENT.match(event):
        raise NotifyInputError("event", "event must be '<app>.<what>' in lower case, e.g. queue.called")
    if message_id is not None and not MESSAGE_ID.match(message_id):
        raise NotifyInputError("id", "id must be 1-120 letters, digits or _.:-")
    clean = {str(k): "" if v is None else str(v) for k, v in data.items()}
    if len(json.dumps(clean, ensure_ascii=False).encode()) > MAX_DATA_BYTES:
        raise NotifyInputError("data", f"notification data must be under {MAX_DATA_BYTES} bytes")
    return clean


class Outbox:
    def __init__(self, db: redis.Redis, maxlen: int = STREAM_MAXLEN) -> None:
        self.db = db
        self.maxlen = maxlen
        self._enqueue = db.register_script(_ENQUEUE)
        self._promote = db.register_script(_PROMOTE)
        self._take = db.register_script(_TAKE_DEAD)
        self._drop_dead_before = db.register_script(_DROP_DEAD_BEFORE)
        self._claim = db.register_script(_CLAIM)
        self._release = db.register_script(_RELEASE)

    # ---- apps ---------------------------------------------------------------------------------------

    def enqueue(self, venue: str, shopper: str, event: str, data: Mapping[str, Any], message_id: str,
                at: float | None = None, now: float | None = None, channel: str = "") -> bool:
        """Queue a message for the shopper (now, or at `at`; on every channel they opted into, or only on
        `channel`); False when this id was queued before. A message for SMS alone is for the number the
        shopper has now (PINNED): False, nothing queued, when they have none."""
        clean = check_message(event, data, message_id)
        now = time.time() if now is None else now
        job = Job(id=message_id, venue=venue, shopper=shopper, event=event, data=clean, created=now, channel=channel)
        keys = NotifyKeys(venue)
        later = "" if at is None or at <= now else repr(float(at))
        text = job.to_json()
        field = PINNED.get(channel, "")
        head = text[: -len(PIN_SUFFIX)] if field and text.endswith(PIN_SUFFIX) else ""
        return bool(self._enqueue(keys=[keys.seen(message_id), keys.stream(), keys.jobs(), keys.due(),
                                        ContactKeys(venue).contact(shopper)],
                                  args=[SEEN_TTL_S, text, self.maxlen, later, job.key, head, field]))

    def cancel(self, venue: str, message_id: str) -> bool:
        """Withdraw a message not sent yet (a reminder for a cancelled booking); True if one was waiting."""
        keys = NotifyKeys(venue)
        key = f"{message_id}||"  # a scheduled message's key (not fanned out; see Job.key)
        pipe = self.db.pipeline(transaction=True)
        pipe.zrem(keys.due(), key)
        pipe.hdel(keys.jobs(), key)
        removed, _ = pipe.execute()
        return bool(removed)

    # ---- the worker ---------------------------------------------------------------------------------

    def promote_due(self, venue: str, now: float | None = None, limit: int = 100) -> int:
        keys = NotifyKeys(venue)
        now = time.time() if now is None else now
        return int(self._promote(keys=[keys.due(), keys.jobs(), keys.stream()], args=[repr(now), limit, self.maxlen]))

    def ensure_group(self, venue: str) -> None:
        try:
            self.db.xgroup_create(NotifyKeys(venue).stream(), GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self, venue: str, consumer: str, count: int = 50, reclaim_idle_s: float = 60.0) -> list[Entry]:
        """Entries another worker took but never acknowledged for `reclaim_idle_s` (it died), then new ones."""
        stream = NotifyKeys(venue).stream()
        try:
            _next, claimed, *_ = self.db.xautoclaim(stream, GROUP, consumer, int(reclaim_idle_s * 1000),
                                                    start_id="0-0", count=count)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self.ensure_group(venue)  # the venue's first message: its group, from the stream's start
            claimed = []
        fresh = self.db.xreadgroup(GROUP, consumer, {stream: ">"}, count=count)
        entries = list(claimed)
        for _name, items in fresh or []:
            entries.extend(items)
        return [Entry(stream_id, _job(fields)) for stream_id, fields in entries]

    def ack(self, venue: str, stream_id: bytes) -> None:
        stream = NotifyKeys(venue).stream()
        pipe = self.db.pipeline(transaction=True)
        pipe.xack(stream, GROUP, stream_id)
        pipe.xdel(stream, stream_id)
        pipe.execute()

    def schedule(self, job: Job, at: float) -> None:
        """Put a fanned-out job (a retry) in the due set."""
        keys = NotifyKeys(job.venue)
        pipe = self.db.pipeline(transaction=True)
        pipe.hset(keys.jobs(), job.key, job.to_json())
        pipe.zadd(keys.due(), {job.key: at})
        pipe.hincrby(keys.counts(), "retried", 1)
        pipe.execute()

    def claim(self, job: Job, token: str, stream_id: bytes | None = None) -> str:
        """Take a fanned-out job's delivery before sending it: "claimed" (send it, then `mark_sent` or
        `release`), "sent" (delivered before), "done" (its stream entry was acknowledged since it was read:
        another worker handled it), "busy" (another worker is sending it now) or "unsure" (a send of it began and
        its claim lapsed before it was marked sent or released: it may have been delivered; never sent again
        on its own, `bury` it for the operator to decide)."""
        keys = NotifyKeys(job.venue)
        entry = stream_id.decode() if isinstance(stream_id, bytes) else (stream_id or "")
        answer = self._claim(keys=[keys.sent(job.id), keys.claim(job.id, job.delivery), keys.stream(),
                                   keys.sending(job.id, job.delivery)],
                             args=[job.delivery, token, CLAIM_TTL_S * 1000, entry, GROUP, SENDING_TTL_S])
        return answer.decode() if isinstance(answer, bytes) else str(answer)

    def release(self, job: Job, token: str) -> None:
        """Give a claim back after a try that did not deliver (its retry, or another worker, may send it)."""
        keys = NotifyKeys(job.venue)
        self._release(keys=[keys.claim(job.id, job.delivery), keys.sending(job.id, job.delivery)], args=[token])

    def mark_sent(self, job: Job) -> None:
        """Delivered: never again (the claim goes, the sent set says so from now on)."""
        keys = NotifyKeys(job.venue)
        pipe = self.db.pipeline(transaction=True)
        pipe.sadd(keys.sent(job.id), job.delivery)
        pipe.expire(keys.sent(job.id), SENT_TTL_S)
        pipe.delete(keys.claim(job.id, job.delivery), keys.sending(job.id, job.delivery))
        pipe.hincrby(keys.counts(), f"sent.{job.channel}", 1)
        pipe.execute()

    def count(self, venue: str, what: str) -> None:
        self.db.hincrby(NotifyKeys(venue).counts(), what, 1)

    def bury(self, job: Job, error: str, now: float | None = None) -> None:
        """Give up on a job: into the dead letters (bounded), counted. Its delivery is no longer being sent (its
        "sending" marker goes), so a replay sends it."""
        keys = NotifyKeys(job.venue)
        letter = {"job": json.loads(job.to_json()), "error": error[:300], "at": time.time() if now is None else now}
        pipe = self.db.pipeline(transaction=True)
        pipe.delete(keys.sending(job.id, job.delivery))
        pipe.lpush(keys.dead(), json.dumps(letter, ensure_ascii=False))
        pipe.ltrim(keys.dead(), 0, DEAD_KEPT - 1)
        pipe.hincrby(keys.counts(), "dead", 1)
        pipe.execute()

    def drop_dead_before(self, venue: str, before: float) -> int:
        """Retention (the privacy job, with the moments deliveries' days): the dead letters buried before `before`,
        the oldest first from the list's tail, in one script; how many went. A letter names its shopper and its
        message: the count bound (DEAD_KEPT) alone kept a quiet venue's letters for ever."""
        return int(self._drop_dead_before(keys=[NotifyKeys(venue).dead()], args=[repr(float(before))]))

    # ---- the privacy centre ------------------------------------------------------------------------

    def forget_shopper(self, venue: str, shopper: str) -> int:
        """Erasure: the shopper's messages not delivered yet (queued, scheduled, dead letters) are dropped."""
        keys, removed = NotifyKeys(venue), 0
        doomed = [entry_id for entry_id, fields in self.db.xrange(keys.stream())
                  if (job := _job(fields)) is not None and job.shopper == shopper]
        if doomed:
            removed += int(self.db.xdel(keys.stream(), *doomed))
        for job_key, raw in self.db.hgetall(keys.jobs()).items():
            if Job.from_json(raw).shopper == shopper:
                pipe = self.db.pipeline(transaction=True)
                pipe.zrem(keys.due(), job_key)
                pipe.hdel(keys.jobs(), job_key)
                removed += int(pipe.execute()[1])
        for raw in self.db.lrange(keys.dead(), 0, -1):
            if json.loads(raw)["job"]["shopper"] == shopper:
                removed += int(self.db.lrem(keys.dead(), 0, raw))
        return removed

    # ---- the operator -------------------------------------------------------------------------------

    def dead_letters(self, venue: str, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        """The dead letters, newest first."""
        out = []
        for raw in self.db.lrange(NotifyKeys(venue).dead(), offset, offset + limit - 1):
            letter = json.loads(raw)
            out.append(DeadLetter(Job(**letter["job"]), letter["error"], float(letter["at"]), id=letter_id(raw)))
        return out

    def replay_dead(self, venue: str, letter: str, now: float | None = None) -> bool:
        """Send one dead letter again (a fresh try, now); False when no letter has that id (any more)."""
        return self._take_dead(venue, letter, replay=True, now=now)

    def drop_dead(self, venue: str, letter: str) -> bool:
        """Forget one dead letter; False when no letter has that id (any more)."""
        return self._take_dead(venue, letter, replay=False)

    def drop_all_dead(self, venue: str) -> int:
        keys = NotifyKeys(venue)
        pipe = self.db.pipeline(transaction=True)
        pipe.llen(keys.dead())
        pipe.delete(keys.dead())
        dropped, _deleted = pipe.execute()
        if dropped:
            self.db.hincrby(keys.counts(), "dropped", int(dropped))
        return int(dropped)

    def _take_dead(self, venue: str, letter: str, replay: bool, now: float | None = None) -> bool:
        if not LETTER_ID.match(letter or ""):
            return False
        keys = NotifyKeys(venue)
        raw = next((r for r in self.db.lrange(keys.dead(), 0, DEAD_KEPT - 1) if letter_id(r) == letter), None)
        if raw is None:
            return False
        job = replace(Job(**json.loads(raw)["job"]), attempt=0)
        now = time.time() if now is None else now
        args = [raw, job.key, job.to_json(), repr(now)] if replay else [raw, "", "", ""]
        return bool(self._take(keys=[keys.dead(), keys.jobs(), keys.due(), keys.counts()], args=args))

    def retry_dead(self, venue: str, now: float | None = None) -> int:
        """Send every dead letter again (after the operator fixed the cause): each becomes a fresh try."""
        keys = NotifyKeys(venue)
        now = time.time() if now is None else now
        moved = 0
        while raw := self.db.rpop(keys.dead()):
            job = replace(Job(**json.loads(raw)["job"]), attempt=0)
            self.schedule(job, now)
            moved += 1
        return moved

    def act_on_dead(self, venue: str, action: str, letter: str | None) -> tuple[str, int]:
        """The operator's two actions on dead letters (the console page and the CLI): `action` "replay" or
        "drop", on one letter or (letter None) all. Returns (the audit action's name, how many were done:
        0 when the one letter is gone)."""
        if action not in ("replay", "drop"):
            raise ValueError(action)
        if letter is None:
            done = self.retry_dead(venue) if action == "replay" else self.drop_all_dead(venue)
            return f"outbox.{action}_all", done
        done = self.replay_dead(venue, letter) if action == "replay" else self.drop_dead(venue, letter)
        return f"outbox.{action}", int(done)

    def stats(self, venue: str) -> dict[str, int]:
        keys = NotifyKeys(venue)
        pipe = self.db.pipeline(transaction=False)
        pipe.hgetall(keys.counts())
        pipe.xlen(keys.stream())
        pipe.zcard(keys.due())
        pipe.llen(keys.dead())
        counts, queued, due, dead = pipe.execute()
        out = {k.decode(): int(v) for k, v in counts.items()}
        out.update(queued=int(queued), scheduled=int(due), dead_letters=int(dead))
        return out


def _job(fields: dict | None) -> Job | None:
    if not fields or b"job" not in fields:
        return None
    try:
        return Job.from_json(fields[b"job"])
    except (TypeError, ValueError, KeyError):
        return None
