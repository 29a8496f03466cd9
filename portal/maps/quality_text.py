"""The quality page's fixed sentences about its live estimate, and its charts' words, in the page's language.

fingerprints.quality writes them in English for the CLI's report (`CHECKED`, `CANNOT_KNOW`; no Flask there);
the page says the same from the same figures through the catalog. `portal.maps.init_app` makes them the
templates' `live_checked_text()` and `|cannot_know` (templates/operator/quality.html)."""

from __future__ import annotations

import numpy as np
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from fingerprints.quality import (
    CANNOT_KNOW,
    CHECK_RATES,
    CHECK_SEEDS,
    CHECK_VISITS,
    WHERE_SHOPPERS_ARE_UNMARKED,
    ChartWords,
    LiveAssumptions,
    check_differences,
    check_rates,
    compared_malls,
    own_configuration,
    rate_half_width,
)

# CHECK_RATES' probes as the sentence names them.
_PROBES = {"120 s": _l("120 s"), "30 s": _l("30 s"), "the first probe": _l("the first probe")}

# CANNOT_KNOW's lines, the same English as msgids (tests/maps/test_checklist_language.py: none left out).
_CANNOT_KNOW = dict(zip(CANNOT_KNOW, (
    _l("the real mix of shoppers' phones and the survey phone's own offset (a validation walk measures it)"),
    _l("how much shoppers' phones really differ in signal strength (the tracker measures them as about 70-80% as "
       "varied as they are; on one simulated mall an estimate with the measured mix read about a point higher than "
       "with the true one; validation walks with shoppers' phones check it)"),
    _l("crowds, moved fittings and radio changes since the survey"),
    _l("where shoppers really walk, join the WiFi and stand, and how often their phones transmit (those joining on "
       "arriving on foot are placed at the entrances the map marks, those arriving by car in the car park)"),
    _l("where shoppers really walk, join the WiFi and stand, and how often their phones transmit (the map marks no "
       "entrance, so those joining on arriving on foot are placed along the lobbies and corridors, which on "
       "simulated malls read the first probe about 3 points lower than with their street doors marked: mark the "
       "street doors as entrances on the walkways)"),
    _l("how the APs really report (the venue's feeds are assumed native every 3-6 s, a fifth once a minute, each "
       "report holding some phone, as in a mall in business: a quiet AP says less about who it does not hear)"),
    _l("the fingerprint between surveyed points (interpolated here from the nearest ones)"),
    _l("how loud the APs the survey did not hear at a spot are there (drawn below its hearing, from each AP's fall-off "
       "fitted to the survey)"),
), strict=True))


# A line's English before it changed, as the estimates stored until then hold it (kept live_jobs.KEEP_S): shown as the
# line reads now, in the page's language (else a stored line would show in English on the zh page).
_FORMER_LINES = {
    "where shoppers really walk, join the WiFi and stand, and how often their phones transmit":
        WHERE_SHOPPERS_ARE_UNMARKED,
    "where shoppers really walk, join the WiFi and stand, and how often their phones transmit (those joining on "
    "arriving on foot are placed along the lobbies and corridors, as the map does not mark its doors; on simulated "
    "malls whose shoppers came in at the street doors, the first probe landed more often than claimed)":
        WHERE_SHOPPERS_ARE_UNMARKED,
}
_CANNOT_KNOW.update({former: _CANNOT_KNOW[now] for former, now in _FORMER_LINES.items()})


def checked_text(assumptions: LiveAssumptions | None = None) -> str:
    """fingerprints.quality.checked_for(assumptions) in the page's language: per probe, claim minus measured over
    the malls, and the sampling error of such a difference, for the claim made with the phones `assumptions` say
    (the venue's counted ones or the assumed ones)."""
    rates = check_rates(assumptions)
    spans, sizes, inside = check_differences(rates)
    parts = [_("%(low)s to %(high)s at %(probe)s (±%(half)s)", low=f"{low:+d}", high=f"{high:+d}",
               probe=str(_PROBES.get(probe, probe)), half=f"{half:.0f}") for probe, low, high, half in spans]
    verdict = _("every difference lies within it.") if inside else _("not every difference lies within it.")
    phones = (_("(The claims checked were made with the phones the malls' trackers counted, on maps marking their "
                "street doors as entrances.)")
              if rates is CHECK_RATES else
              _("(The claims checked were made with the assumed phones, on maps marking their street doors as "
                "entrances.)"))
    compared = compared_malls(_("all of them"))  # not inside the sentence's _(): Babel extracts no nested call
    return _("checked against %(bench)s on simulated malls (%(seeds)s; %(compared)s were among the malls a rule was "
             "compared on, so this is not a fully held-out check): claim minus measured "
             "right-zone rate, in points: %(parts)s. ± is the sampling error, the 95%% binomial interval of such a "
             "difference with %(sizes)s probes measured per mall and %(visits)s visits claimed: %(verdict)s",
             bench="bench/landing_replay.py", seeds=", ".join(map(str, CHECK_SEEDS)),
             compared=compared, parts=", ".join(parts),
             sizes="/".join(sizes), visits=CHECK_VISITS, verdict=verdict) + " " + phones


def configuration_text(positioner) -> str | None:
    """fingerprints.quality.configuration_note(positioner) in the page's language: the venue's own positioner
    configuration, which the claim runs but its check did not; None under the live defaults."""
    own = own_configuration(positioner)
    if own is None:
        return None
    text, representation = own
    line = _("This venue's live model runs its own positioner configuration (%(config)s): the check above was made "
             "with the live defaults.", config=text)
    if representation:
        line += " " + _("With another representation than theirs, a training mall's claim read 6-24 points above "
                        "its measured landing at 30 s and 120 s.")
    return line


def cannot_know_text(line: str) -> str:
    """One of the live estimate's CANNOT_KNOW lines in the page's language (any other line as it is)."""
    return str(_CANNOT_KNOW.get(line, line))


def above_optimistic_text(live, report) -> str | None:
    """Why the live estimate's right-zone rate (2 min in) can exceed the survey's self-consistency, meant as
    the easier test: the two count different spots (visits dwell in shops, every reference point counts,
    corridors too) and, on a small venue, few of them, so each carries sampling noise. None when it does not
    exceed it. The figures stay as measured: neither is raised nor capped."""
    live_rate, loo_rate = live.settled_zone_rate, report.zone_hit_rate
    if not (np.isfinite(live_rate) and np.isfinite(loo_rate) and live_rate > loo_rate):
        return None
    half = 100 * rate_half_width((live_rate + loo_rate) / 2, max(live.n_points, 1), max(report.n_points, 1))
    return _("The live estimate (%(live)s right zone at 2 min, from %(visits)s simulated visits) is above the "
             "survey's self-consistency (%(loo)s, from %(points)s reference points), which should be the easier "
             "test. They do not count the same spots: the visits are to shops and other dwell zones, while every "
             "reference point counts, corridors and zone edges included; and few visits or a small survey leave "
             "each rate with sampling noise, about ±%(half)s points for their difference here. Read both as "
             "rough; a validation walk measures what phones get.",
             live=f"{100 * live_rate:.1f}%", loo=f"{100 * loo_rate:.1f}%", visits=live.n_points,
             points=report.n_points, half=f"{max(half, 0.1):.1f}")


def chart_words() -> ChartWords:
    """fingerprints.quality.ChartWords in the page's language: the templates translated, their %(fields)s
    filled in where the chart is drawn (gettext without variables leaves them as they are)."""
    return ChartWords(
        x_m=_("x (m)"), y_m=_("y (m)"), expected_error_m=_("expected error (m)"),
        error_title=_("%(venue)s: floor %(floor)s expected error (leave-one-point-out)"),
        live_error_title=_("%(venue)s: floor %(floor)s expected live error (simulated visits, 2 min in)"),
        share_of_true_zone=_("share of the true zone's points"), estimated_zone=_("estimated zone"),
        true_zone=_("true zone"), confusion_title=_("%(venue)s: zone confusion, %(scope)s (hit rate %(rate)s)"),
        floor_scope=_("floor %(floor)s"), all_floors=_("all floors"), rssi_dbm=_("RSSI (dBm)"),
        ap_title=_("%(ap)s (%(bssid)s) heard on floor %(floor)s"),
        fixes_per_cell=_("position fixes per %(cell)s m cell"),
        presence_title=_("%(venue)s: presence on floor %(floor)s, %(day)s"),
    )
