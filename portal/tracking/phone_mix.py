"""The venue's phones against its survey phone, as the tracker comes to know them.

Each phone's RSSI offset against the survey (positioning.phone_offset) is counted once a visit, when the tracker
has settled it (`phone_offset.settled`: known, and averaged over a full memory of reports), into a histogram per
UTC day of whole-dB bins. The quality
report's live estimate takes its phones from the last `DAYS` days of it (their mean and spread) once
`fingerprints.quality.MIN_MEASURED_PHONES` have been counted, instead of assuming them: a survey phone that
reads 6 dB louder than the shoppers' phones, or phone models that differ more than the assumed 4 dB, change
what shoppers get, most of all at the first probe (docs/landing-history.md, seventeenth pass).

"Once a visit" is once per motion state: a phone unheard for longer than the state's TTL (5 windows, 300 s)
starts afresh and is counted again when it settles again, and a phone that the tracker and a probe position in
the same instant from the same state is counted by both (rare: a probe answers from the kept position while it
is fresh). Either leans the counts toward phones that stay long, which is what the estimate's visits are.

Who moves the mix: only phones the APs report and the tracker positions; rounded to whole dB, it changes the
estimate's basis (`live_jobs.basis`, a computation of a minute or two) only when the last week's mean or spread
moves by a dB, and each basis's estimate expires after live_jobs.KEEP_S.

Counts only, per bin: no phone is named or can be told from the others."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import redis

from core.storage import VenueKeys
from fingerprints.quality import LiveAssumptions, measured_phones
from positioning.phone_offset import MAX_OFFSET_DB, offset_mix

DAY_S = 86_400
DAYS = 7  # the estimate's phones: those of the last week (a mall's mix of phones changes slowly)
KEPT_S = (DAYS + 1) * DAY_S  # a day's histogram outlives the window that reads it


class PhoneMixKeys(VenueKeys):
    def offsets(self, day: int) -> str:
        """HASH whole-dB offset -> phones whose offset settled on that UTC day (days since the epoch)."""
        return self.key("phone-mix", str(day))


def _day(now: float) -> int:
    return int(now // DAY_S)


def offset_bin(offset_db: float) -> int:
    """The histogram's bin of an offset: whole dB, within the offsets a phone can have."""
    return int(round(min(max(offset_db, -MAX_OFFSET_DB), MAX_OFFSET_DB)))


def count_into(histogram: dict[int, int], offsets: Iterable[float]) -> dict[int, int]:
    """`histogram` (whole-dB bin -> phones) with one more phone per offset; returned for chaining."""
    for bin_db in map(offset_bin, offsets):
        histogram[bin_db] = histogram.get(bin_db, 0) + 1
    return histogram


def phones_from_counts(counts: dict[int, int]) -> tuple[LiveAssumptions, int]:
    """The live estimate's assumptions from a histogram of counted phones (`measured_phones`), and how many."""
    return measured_phones(offset_mix(counts)), sum(counts.values())


class PhoneMixStore:
    def __init__(self, db: redis.Redis) -> None:
        self.db = db

    @staticmethod
    def queue_counts(pipe: redis.client.Pipeline, venue: str, offsets: Sequence[float], now: float) -> None:
        """Queue on `pipe` (the tracker's writes of a batch) one count per offset, in today's histogram."""
        if not offsets:
            return
        key = PhoneMixKeys(venue).offsets(_day(now))
        for bin_db, n in count_into({}, offsets).items():
            pipe.execute_command("HINCRBY", key, bin_db, n)
        pipe.execute_command("EXPIRE", key, KEPT_S)

    def counts(self, venue: str, now: float, days: int = DAYS) -> dict[int, int]:
        """Phones per whole-dB offset over the last `days` UTC days, today's included."""
        keys = PhoneMixKeys(venue)
        pipe = self.db.pipeline(transaction=False)  # one slot: the venue's
        for day in range(_day(now) - days + 1, _day(now) + 1):
            pipe.hgetall(keys.offsets(day))
        return _summed(pipe.execute())


def venue_phones(db: redis.Redis, venue: str, now: float) -> tuple[LiveAssumptions, int]:
    """The live estimate's assumptions for the venue: its own phones (`measured_phones`) once enough were
    counted, else the assumed ones; and how many were counted in the window."""
    return phones_from_counts(PhoneMixStore(db).counts(venue, now))


def _summed(histograms: Iterable[dict[bytes, bytes]]) -> dict[int, int]:
    """The days' histograms added up; a field that is not a whole number (not written here) is left out."""
    total: dict[int, int] = {}
    for histogram in histograms:
        for raw_bin, raw_n in histogram.items():
            try:
                bin_db, n = int(raw_bin), int(raw_n)
            except ValueError:
                continue
            total[bin_db] = total.get(bin_db, 0) + n
    return total
