"""The landing benches' line on the claim's phones says why the phones were assumed: too few counted, or by choice
(bench/landing_replay.py --assumed-phones). Until 2026-12-07 the flag's run read "assumed N(0, 4 dB) (340 counted,
fewer than 30)"."""

from __future__ import annotations

from types import SimpleNamespace

from bench import landing_replay
from bench.landing import phones_line
from fingerprints.quality import MIN_MEASURED_PHONES, LiveAssumptions


def test_assumed_for_want_of_phones_or_by_choice():
    few = phones_line(LiveAssumptions(), MIN_MEASURED_PHONES - 1)
    assert f"({MIN_MEASURED_PHONES - 1} counted, fewer than {MIN_MEASURED_PHONES})" in few
    chosen = phones_line(LiveAssumptions(), 340, by_choice=True)
    assert "assumed by choice (--assumed-phones)" in chosen and "(340 counted)" in chosen and "fewer" not in chosen


def test_the_replay_says_its_flag_chose_them(monkeypatch, capsys):
    """Through the replay's main (its mall, replay and estimate stubbed: only the wording is under test)."""
    venue = SimpleNamespace(entrance_spots=lambda: [])
    monkeypatch.setattr(landing_replay, "generate_mall", lambda *a, **k: SimpleNamespace(venue=venue, shape="linear"))
    monkeypatch.setattr(landing_replay, "build_venue_model", lambda v: SimpleNamespace(groups={}))

    def replayed(*args, phone_mix, **kwargs):
        phone_mix[0] = 340  # plenty of phones counted: the claim would have measured them
        return []

    monkeypatch.setattr(landing_replay, "replay", replayed)
    monkeypatch.setattr(landing_replay, "summary", lambda outcomes, groups: {})
    headline = {"floor_first": 1.0, "error_mean_m": 2.0}
    monkeypatch.setattr(landing_replay, "live_estimate", lambda venue, assumptions, **k: SimpleNamespace(
        headline=lambda: headline, n_points=1, seconds=0.0, assumptions=assumptions))
    assert landing_replay.main(["--seed", "1", "--shoppers", "340", "--assumed-phones"]) == 0
    out = capsys.readouterr().out
    assert "the claim's phones: assumed by choice (--assumed-phones)" in out and "fewer than" not in out
